"""PatentEmbeddings: the query side gets the query task's prompt, the document side the index's
document prompt, checked against the plain (prompt-less) MiniLM fed each prompt as text."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from langchain_patent_rag import PatentEmbeddings

from patent_rag.encoding.encoder import Encoder
from patent_rag.errors import ConfigurationError, UnknownTaskError

TEXT = "A voltage controlled oscillator with a ring of inverters tuned by a bias current."


def with_prompt(minilm: Encoder, prompt: str, text: str = TEXT) -> np.ndarray:
    """The vector the prompt-less model gives ``prompt + text``."""
    return minilm.encode_documents([prompt + text])[0]


def test_queries_and_documents_get_their_own_prompts(asymmetric: Encoder, minilm: Encoder) -> None:
    embeddings = PatentEmbeddings(encoder=asymmetric)

    query = embeddings.embed_query(TEXT)
    (document,) = embeddings.embed_documents([TEXT])

    np.testing.assert_allclose(query, with_prompt(minilm, "query: "), atol=1e-5)
    np.testing.assert_allclose(document, with_prompt(minilm, "passage: "), atol=1e-5)
    assert not np.allclose(query, document, atol=1e-3)


def test_query_task_chooses_the_query_prompt(asymmetric: Encoder, minilm: Encoder) -> None:
    embeddings = PatentEmbeddings(encoder=asymmetric, query_task="claims")

    expected = with_prompt(minilm, "prior art for this claim: ")
    np.testing.assert_allclose(embeddings.embed_query(TEXT), expected, atol=1e-5)
    np.testing.assert_allclose(
        PatentEmbeddings(encoder=asymmetric).with_query_task("claims").embed_query(TEXT), expected, atol=1e-5
    )
    # The document side stays the index's.
    np.testing.assert_allclose(
        embeddings.embed_documents([TEXT])[0], with_prompt(minilm, "passage: "), atol=1e-5
    )


def test_document_task_chooses_the_document_prompt(asymmetric: Encoder, minilm: Encoder) -> None:
    embeddings = PatentEmbeddings(encoder=asymmetric, document_task="claims")

    np.testing.assert_allclose(
        embeddings.embed_documents([TEXT])[0], with_prompt(minilm, "claim text: "), atol=1e-5
    )
    assert embeddings.document_task == "claims"
    assert embeddings.fingerprint.document_prompt == "claim text: "
    assert asymmetric.document_task == "retrieval"  # the given encoder is not changed


def test_vectors_are_plain_lists_of_floats(minilm: Encoder) -> None:
    embeddings = PatentEmbeddings(encoder=minilm)

    vectors = embeddings.embed_documents([TEXT, "light emitting diode"])

    assert type(vectors) is list and all(type(vector) is list for vector in vectors)
    assert all(type(value) is float for value in vectors[0])
    assert [len(vector) for vector in vectors] == [384, 384]
    assert embeddings.embed_documents([]) == []


def test_built_from_a_profile_name_matches_the_encoder(minilm: Encoder) -> None:
    embeddings = PatentEmbeddings(model="all-minilm-l6-v2", precision="fp32")

    assert embeddings.encoder is not minilm
    assert embeddings.fingerprint == minilm.fingerprint
    np.testing.assert_allclose(embeddings.embed_query(TEXT), minilm.encode_query(TEXT), atol=1e-5)


def test_async_gives_the_sync_vectors(asymmetric: Encoder) -> None:
    embeddings = PatentEmbeddings(encoder=asymmetric)

    async def both() -> tuple[list[float], list[list[float]]]:
        return await embeddings.aembed_query(TEXT), await embeddings.aembed_documents([TEXT])

    query, documents = asyncio.run(both())

    np.testing.assert_allclose(query, embeddings.embed_query(TEXT), atol=1e-6)
    np.testing.assert_allclose(documents, embeddings.embed_documents([TEXT]), atol=1e-6)


def test_unknown_task_is_refused_listing_the_tasks(asymmetric: Encoder) -> None:
    with pytest.raises(
        UnknownTaskError,
        match=r"model 'minilm-asymmetric' has no task 'nope'; choose one of \['claims', 'retrieval'\]",
    ):
        PatentEmbeddings(encoder=asymmetric, query_task="nope")


def test_an_encoder_and_a_model_to_load_are_refused(minilm: Encoder) -> None:
    with pytest.raises(
        ConfigurationError, match=r"pass encoder=\.\.\. or the model to load \(model, device\), not both"
    ):
        PatentEmbeddings(encoder=minilm, model="all-minilm-l6-v2", device="cpu")


def test_repr_names_the_model_and_tasks(asymmetric: Encoder) -> None:
    assert repr(PatentEmbeddings(encoder=asymmetric, query_task="claims")) == (
        "PatentEmbeddings(model='minilm-asymmetric', query_task='claims', document_task='retrieval')"
    )
