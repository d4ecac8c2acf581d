"""PatentEmbedding inside LlamaIndex: right prompt per side, works in VectorStoreIndex unchanged."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from llama_index.core import Document, Settings, VectorStoreIndex

from patent_rag.encoding.encoder import Encoder
from patent_rag.errors import UnknownTaskError
from patent_rag.llama_index.embedding import PatentEmbedding
from tests.test_encoder import patembed_profile

PATENTS = [
    Document(text="A hinge assembly lets a foldable smartphone display bend without creasing.", id_="hinge"),
    Document(text="Uplink transmit power of a user equipment is set from path-loss estimates.", id_="power"),
    Document(text="A yeast strain ferments wort into low-alcohol beer.", id_="beer"),
]


@pytest.fixture(scope="module")
def minilm_embedding(minilm_encoder: Encoder) -> PatentEmbedding:
    return PatentEmbedding(encoder=minilm_encoder)


def test_vector_store_index_retrieves_the_right_node(minilm_embedding: PatentEmbedding) -> None:
    index = VectorStoreIndex.from_documents(PATENTS, embed_model=minilm_embedding)
    hits = index.as_retriever(similarity_top_k=1).retrieve("mobile phone transmission power control")
    assert hits[0].node.ref_doc_id == "power"


def test_works_as_settings_embed_model(minilm_embedding: PatentEmbedding) -> None:
    previous = Settings._embed_model
    Settings.embed_model = minilm_embedding
    try:
        index = VectorStoreIndex.from_documents(PATENTS)
        hits = index.as_retriever(similarity_top_k=1).retrieve("flexible screen folding mechanism")
        assert hits[0].node.ref_doc_id == "hinge"
    finally:
        Settings._embed_model = previous


def test_each_side_gets_its_prompt(tiny_patembed_dir: Path) -> None:
    encoder = Encoder(patembed_profile(tiny_patembed_dir), precision="fp32")
    embedding = PatentEmbedding(encoder=encoder, query_task="retrieval_IN")
    text = "A hinge for a foldable display."
    np.testing.assert_allclose(
        embedding.get_query_embedding(text), encoder.encode_query(text, task="retrieval_IN"), atol=1e-6
    )
    np.testing.assert_allclose(
        embedding.get_text_embedding(text), encoder.encode_documents([text])[0], atol=1e-6
    )
    batch = embedding.get_text_embedding_batch([text, "another"])
    np.testing.assert_allclose(batch, encoder.encode_documents([text, "another"]), atol=1e-6)
    out = embedding.with_query_task("retrieval_OUT")
    np.testing.assert_allclose(
        out.get_query_embedding(text), encoder.encode_query(text, task="retrieval_OUT"), atol=1e-6
    )
    assert out.encoder is encoder and out.document_task == "retrieval_MIXED"


def test_async_methods_match_sync(minilm_embedding: PatentEmbedding) -> None:
    async def both() -> tuple[list[float], list[list[float]]]:
        query = await minilm_embedding.aget_query_embedding("hinge")
        texts = await minilm_embedding.aget_text_embedding_batch(["hinge", "beer"])
        return query, texts

    query, texts = asyncio.run(both())
    np.testing.assert_allclose(query, minilm_embedding.get_query_embedding("hinge"), atol=1e-6)
    np.testing.assert_allclose(texts, minilm_embedding.get_text_embedding_batch(["hinge", "beer"]), atol=1e-6)


def test_unknown_query_task_fails_at_construction(minilm_encoder: Encoder) -> None:
    with pytest.raises(UnknownTaskError, match=r"model 'all-minilm-l6-v2' has no task 'retrieval_IN'"):
        PatentEmbedding(encoder=minilm_encoder, query_task="retrieval_IN")


def test_class_name_and_model_name(minilm_embedding: PatentEmbedding) -> None:
    assert PatentEmbedding.class_name() == "PatentEmbedding"
    assert minilm_embedding.model_name == "all-minilm-l6-v2"
    assert minilm_embedding.to_dict()["query_task"] is None
