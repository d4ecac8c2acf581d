"""BM25 sparse vectors, the same on every backend.

Qdrant stores BM25 as a sparse vector per chunk holding the saturated, length-normalised term
frequencies; the IDF factor is applied at query time by the collection's ``Modifier.IDF`` from
the live document frequencies, so adding documents never requires re-encoding old ones. The
tokenizer and term weights come from Qdrant Edge's built-in ``Bm25`` embedder (Rust, English
stemming and stop words, Qdrant's own BM25 definition) and are used for every backend, so an
index built on Edge and one built on a server score a query identically. Queries are embedded
with the same tokenizer (each distinct term weight 1.0).

Example:
    >>> encoder = Bm25Encoder()
    >>> vector = encoder.embed_query("wireless charging")
    >>> len(vector.indices)
    2
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import qdrant_edge

__all__ = ["Bm25Encoder", "SparseTerms"]


@dataclass(frozen=True)
class SparseTerms:
    """A sparse vector: term ids and their weights."""

    indices: tuple[int, ...]
    values: tuple[float, ...]

    def __bool__(self) -> bool:
        return bool(self.indices)


class Bm25Encoder:
    """Document and query BM25 term vectors with fixed, recorded parameters.

    The parameters are part of the index metadata: ``k`` and ``b`` shape the stored term
    weights, ``avg_len`` (in tokens) normalises chunk length; the defaults are Qdrant's.
    """

    def __init__(self, *, k: float = 1.2, b: float = 0.75, avg_len: float = 256.0) -> None:
        self.k = k
        self.b = b
        self.avg_len = avg_len
        self._model = qdrant_edge.Bm25(qdrant_edge.Bm25Config(k=k, b=b, avg_len=avg_len, language="english"))

    def __repr__(self) -> str:
        return f"Bm25Encoder(k={self.k}, b={self.b}, avg_len={self.avg_len})"

    @property
    def config(self) -> dict[str, Any]:
        """What is stored with the index, so a later reader can tell whether its tokenizer agrees."""
        return {
            "k": self.k,
            "b": self.b,
            "avg_len": self.avg_len,
            "language": "english",
            "tokenizer": f"qdrant-edge-py {importlib.metadata.version('qdrant-edge-py')}",
        }

    def embed_documents(self, texts: Sequence[str]) -> list[SparseTerms]:
        """Term-frequency vectors of chunk texts (IDF is applied by Qdrant)."""
        out = []
        for text in texts:
            vector = self._model.embed_document(text)
            out.append(SparseTerms(tuple(vector.indices), tuple(vector.values)))
        return out

    def embed_query(self, text: str) -> SparseTerms:
        """The query side: every distinct term once, weight 1.0."""
        vector = self._model.embed_query(text)
        return SparseTerms(tuple(vector.indices), tuple(vector.values))
