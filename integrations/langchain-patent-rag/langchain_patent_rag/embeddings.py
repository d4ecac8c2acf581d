"""LangChain adapter: :class:`PatentEmbeddings`, an ``Embeddings`` that applies the right prompt per side.

Queries get the chosen task's query prompt; documents get the document prompt fixed for the index
(the :class:`~patent_rag.encoding.encoder.Encoder` decides both; this class only converts its
arrays to the lists of floats LangChain expects). The semantics are those of the LlamaIndex
adapter, :class:`patent_rag.llama_index.embedding.PatentEmbedding`. The async methods are
LangChain's: the sync ones run in its executor.
"""

from __future__ import annotations

import os

from langchain_core.embeddings import Embeddings

from patent_rag.encoding.encoder import Encoder, Precision
from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.encoding.models import ModelProfile
from patent_rag.errors import ConfigurationError

__all__ = ["PatentEmbeddings"]

DEFAULT_MODEL = "all-minilm-l6-v2"


class PatentEmbeddings(Embeddings):
    """Patent embeddings for LangChain, with task prompts applied per side.

    Either loads a model (``model=``: a profile name, hub id, model folder or
    :class:`~patent_rag.encoding.models.ModelProfile`; default ``"all-minilm-l6-v2"``) or wraps a
    loaded :class:`~patent_rag.encoding.encoder.Encoder` (``encoder=``, shared, not copied).

    Args:
        model: the model to load (not with ``encoder``).
        model_path, device, precision, batch_tokens: how to load it (see ``Encoder``; not with
            ``encoder``).
        query_task: the task whose query prompt :meth:`embed_query` uses (default: the profile's
            default task).
        document_task: the task whose document prompt :meth:`embed_documents` uses, fixed for an
            index (default: the profile's default task; with ``encoder``, the encoder's).
        encoder: an encoder to wrap instead of loading a model.

    Raises:
        ConfigurationError: ``encoder`` together with loading arguments, or a task the model does
            not know (the message lists its tasks).

    Example:
        >>> embeddings = PatentEmbeddings(model="all-minilm-l6-v2")
        >>> len(embeddings.embed_query("foldable display hinge"))
        384
        >>> len(embeddings.embed_documents(["A hinge for a folding phone."])[0])
        384
    """

    def __init__(
        self,
        *,
        model: str | ModelProfile | None = None,
        model_path: str | os.PathLike[str] | None = None,
        device: str | None = None,
        precision: Precision | None = None,
        batch_tokens: int | None = None,
        query_task: str | None = None,
        document_task: str | None = None,
        encoder: Encoder | None = None,
    ) -> None:
        if encoder is not None:
            loading = {
                "model": model,
                "model_path": model_path,
                "device": device,
                "precision": precision,
                "batch_tokens": batch_tokens,
            }
            given = [name for name, value in loading.items() if value is not None]
            if given:
                raise ConfigurationError(
                    f"pass encoder=... or the model to load ({', '.join(given)}), not both"
                )
            if document_task is not None:
                encoder = encoder.with_document_task(document_task)
        else:
            encoder = Encoder(
                model if model is not None else DEFAULT_MODEL,
                model_path=model_path,
                device=device or "auto",
                precision=precision or "auto",
                document_task=document_task,
                batch_tokens=batch_tokens,
            )
        encoder.profile.prompts(query_task)  # an unknown task fails here, listing the known ones
        self._encoder = encoder
        self._query_task = query_task

    def __repr__(self) -> str:
        return (
            f"PatentEmbeddings(model={self._encoder.profile.name!r}, query_task={self._query_task!r}, "
            f"document_task={self.document_task!r})"
        )

    @property
    def encoder(self) -> Encoder:
        """The underlying :class:`~patent_rag.encoding.encoder.Encoder` (shared, not copied)."""
        return self._encoder

    @property
    def query_task(self) -> str | None:
        """The task whose query prompt queries get (None: the profile's default task)."""
        return self._query_task

    @property
    def document_task(self) -> str:
        """The task whose document prompt documents get."""
        return self._encoder.document_task

    @property
    def fingerprint(self) -> Fingerprint:
        """What an index built with these embeddings records (model, pooling, document prompt...)."""
        return self._encoder.fingerprint

    def with_query_task(self, task: str) -> PatentEmbeddings:
        """The same model and document prompt, querying with ``task``'s query prompt."""
        return PatentEmbeddings(encoder=self._encoder, query_task=task)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Document vectors, with the document prompt."""
        vectors: list[list[float]] = self._encoder.encode_documents(texts).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """One query vector, with the query task's query prompt."""
        vector: list[float] = self._encoder.encode_query(text, task=self._query_task).tolist()
        return vector
