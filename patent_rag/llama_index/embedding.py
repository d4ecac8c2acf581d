"""LlamaIndex adapter: :class:`PatentEmbedding`, a ``BaseEmbedding`` that applies the right prompt per side.

Queries get the chosen task's query prompt; texts (documents, nodes) get the document prompt fixed
for the index. llama-index's stock ``HuggingFaceEmbedding`` cannot do this for patembed: it sends
``prompts={"query": ..., "text": ...}`` by name, so the model's own document prompt is never used.
"""

from __future__ import annotations

import asyncio
import os

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.callbacks import CallbackManager

from patent_rag.encoding.encoder import Encoder, Precision
from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.encoding.models import ModelProfile

__all__ = ["PatentEmbedding"]


class PatentEmbedding(BaseEmbedding):
    """Patent embeddings for LlamaIndex with task prompts applied per side.

    Works as ``Settings.embed_model`` and inside ``VectorStoreIndex`` unchanged.

    Example:
        >>> from llama_index.core import Document, Settings, VectorStoreIndex
        >>> Settings.embed_model = PatentEmbedding(model="all-minilm-l6-v2")
        >>> index = VectorStoreIndex.from_documents([Document(text="A hinge for a folding phone.")])
        >>> index.as_retriever(similarity_top_k=1).retrieve("foldable display hinge")[0].score > 0
        True
    """

    query_task: str | None = Field(
        default=None, description="Task whose query prompt is used (None: the profile's default task)."
    )
    document_task: str | None = Field(
        default=None, description="Task whose document prompt is used for texts; fixed for an index."
    )
    embed_batch_size: int = Field(
        default=256,
        gt=0,
        le=2048,
        description="Texts per encoder call; larger batches let the encoder length-sort more input at once.",
    )
    _encoder: Encoder = PrivateAttr()

    def __init__(
        self,
        *,
        model: str | ModelProfile = "all-minilm-l6-v2",
        model_path: str | os.PathLike[str] | None = None,
        query_task: str | None = None,
        document_task: str | None = None,
        device: str = "auto",
        precision: Precision = "auto",
        batch_tokens: int | None = None,
        embed_batch_size: int = 256,
        encoder: Encoder | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        encoder = encoder or Encoder(
            model,
            model_path=model_path,
            device=device,
            precision=precision,
            document_task=document_task,
            batch_tokens=batch_tokens,
        )
        encoder.profile.prompts(query_task)  # fail early on an unknown task
        super().__init__(
            model_name=encoder.profile.name,
            embed_batch_size=embed_batch_size,
            callback_manager=callback_manager or CallbackManager([]),
        )
        self.query_task = query_task
        self.document_task = encoder.document_task
        self._encoder = encoder

    @classmethod
    def class_name(cls) -> str:
        return "PatentEmbedding"

    @property
    def encoder(self) -> Encoder:
        """The underlying :class:`~patent_rag.encoding.encoder.Encoder` (shared, not copied)."""
        return self._encoder

    @property
    def fingerprint(self) -> Fingerprint:
        return self._encoder.fingerprint

    def with_query_task(self, task: str) -> PatentEmbedding:
        """The same model and document prompt, querying with ``task``'s query prompt."""
        return PatentEmbedding(
            encoder=self._encoder,
            query_task=task,
            embed_batch_size=self.embed_batch_size,
            callback_manager=self.callback_manager,
        )

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._encoder.encode_query(query, task=self.query_task).tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._encoder.encode_documents([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._encoder.encode_documents(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)
