"""The store seam: the small interface ingestion and search talk to, and its values.

Every backend (Qdrant Edge in :mod:`patent_rag.stores.edge`, qdrant-client server and local mode
in :mod:`patent_rag.stores.qdrant`) implements :class:`Store`, translates its engine's exceptions
into :mod:`patent_rag.errors` once, and states what it does differently in a log line or a
warning. Values crossing the seam are small frozen dataclasses.

Example:
    >>> from patent_rag.stores import open_store
    >>> store = open_store("qdrant-local::memory:")
    >>> store.exists()
    False
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.errors import IndexOutdatedError, InvalidVectorError, StoreError
from patent_rag.stores.filters import SearchFilter
from patent_rag.stores.layout import LAYOUT_VERSION
from patent_rag.stores.sparse import Bm25Encoder, SparseTerms

__all__ = [
    "RRF_K",
    "Fusion",
    "GroupBy",
    "HitGroup",
    "IndexInfo",
    "IndexMetadata",
    "SearchHit",
    "SearchMode",
    "Store",
    "StoredPoint",
    "check_dense",
    "open_or_create",
]

SearchMode = Literal["dense", "bm25", "hybrid"]
Fusion = Literal["rrf", "dbsf"]
GroupBy = Literal["publication_number", "family"]
# Reciprocal rank fusion constant, passed explicitly so every backend fuses with the same formula
# (sum of 1 / (k + rank), rank from 0 on Edge, local mode and server alike).
RRF_K = 60


@dataclass(frozen=True)
class StoredPoint:
    """One chunk as written: id, dense vector (float32 [dim]), BM25 terms and payload."""

    id: str
    dense: np.ndarray
    sparse: SparseTerms | None
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class SearchHit:
    """A chunk found by a search (or fetched, score 0.0) with its payload."""

    id: str
    score: float
    payload: dict[str, Any]

    @property
    def publication_number(self) -> str:
        return str(self.payload.get("publication_number", ""))


@dataclass(frozen=True)
class HitGroup:
    """The best chunks of one patent (or family), best first; the first one decides the rank."""

    key: str
    hits: tuple[SearchHit, ...]

    @property
    def score(self) -> float:
        return self.hits[0].score


@dataclass(frozen=True)
class IndexMetadata:
    """What is stored with an index: the encoder fingerprint, the layout version and BM25's settings."""

    fingerprint: Fingerprint
    layout_version: int = LAYOUT_VERSION
    bm25: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "patent_rag.index",
            "layout_version": self.layout_version,
            "fingerprint": self.fingerprint.as_dict(),
            "bm25": dict(self.bm25),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, location: str, rebuild: str) -> IndexMetadata:
        """Read stored metadata; ``rebuild`` says how to rebuild this index (a backend's words).

        Raises:
            StoreError: the data is not patent_rag metadata, or comes from a newer patent_rag.
            IndexOutdatedError: the index was built by an earlier patent_rag (an older layout).
        """
        if data.get("format") != "patent_rag.index" or "fingerprint" not in data:
            raise StoreError(
                f"{location} is not a patent_rag index (no patent_rag metadata); point --index at an index "
                "made by `patent-rag ingest`, or at a new location to create one"
            )
        version = int(data.get("layout_version", 0))
        if version < LAYOUT_VERSION:
            raise IndexOutdatedError(
                f"{location} was built by an earlier version of patent_rag (index layout {version}; this "
                f"version reads layout {LAYOUT_VERSION} only); {rebuild}"
            )
        if version > LAYOUT_VERSION:
            raise StoreError(
                f"{location} uses index layout {version}, made by a newer patent_rag; this one reads layout "
                f"{LAYOUT_VERSION}. Upgrade patent_rag to read it."
            )
        return cls(Fingerprint.from_dict(dict(data["fingerprint"])), version, dict(data.get("bm25", {})))


@dataclass(frozen=True)
class IndexInfo:
    """A description of an open index, the same fields on every backend."""

    backend: str
    location: str
    chunks: int
    patents: int
    fingerprint: Fingerprint
    layout_version: int
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["details"] = dict(self.details)
        return data


@runtime_checkable
class Store(Protocol):
    """An index of patent chunks. Create or open it before anything else; close it when done."""

    @property
    def backend(self) -> str: ...
    @property
    def location(self) -> str:
        """A printable location; never contains credentials."""
        ...

    @property
    def bm25(self) -> Bm25Encoder:
        """The BM25 encoder whose terms this index stores (queries must use the same)."""
        ...

    @property
    def is_open(self) -> bool:
        """Whether ``open()`` or ``create()`` succeeded and ``close()`` was not called since."""
        ...

    @property
    def metadata(self) -> IndexMetadata:
        """The metadata of the open index (raises :class:`StoreError` if not open)."""
        ...

    def exists(self) -> bool: ...
    def create(self, *, fingerprint: Fingerprint, overwrite: bool = False) -> IndexInfo: ...
    def open(self, *, fingerprint: Fingerprint | None = None) -> IndexInfo: ...
    def describe(self) -> IndexInfo: ...
    def upsert(self, points: Sequence[StoredPoint]) -> None: ...
    def delete_points(self, ids: Sequence[str]) -> None: ...
    def existing_hashes(self, publication_numbers: Sequence[str]) -> dict[str, dict[str, str]]: ...
    def fetch(self, search_filter: SearchFilter, *, limit: int = 1000) -> list[SearchHit]: ...
    def search_groups(
        self,
        *,
        dense: Sequence[float] | np.ndarray | None = None,
        text: str | None = None,
        mode: SearchMode = "dense",
        search_filter: SearchFilter | None = None,
        limit: int = 10,
        group_by: GroupBy = "publication_number",
        group_size: int = 3,
        candidates: int | None = None,
        fusion: Fusion = "rrf",
    ) -> list[HitGroup]:
        """The best ``limit`` patents (or families) with their best ``group_size`` chunks each.

        The arguments are checked and planned once (:func:`~patent_rag.stores.plan.plan_query`):
        a dense vector, BM25 query text, or both fused in the engine (``hybrid``, RRF or DBSF),
        each hybrid prefetch ``candidates`` chunks deep at least.
        """
        ...

    def optimize(self, *, progress: Callable[[str], None] | None = None) -> None: ...
    def flush(self) -> None: ...
    def warm(self) -> None:
        """Make the first searches after ``open()`` as fast as later ones (worth it before many searches)."""
        ...

    def close(self) -> None: ...
    def delete_index(self) -> None: ...


def open_or_create(store: Store, *, fingerprint: Fingerprint) -> IndexInfo:
    """Open the index checking ``fingerprint``, or create it with that fingerprint."""
    if store.exists():
        return store.open(fingerprint=fingerprint)
    return store.create(fingerprint=fingerprint)


def check_dense(vectors: np.ndarray, *, dim: int, ids: Sequence[str] = ()) -> None:
    """Refuse vectors that are the wrong size, not finite or all zero (cosine of zero is undefined)."""
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise InvalidVectorError(
            f"vectors have shape {tuple(vectors.shape)}; the index holds {dim}-dimensional vectors "
            "(use the encoder the index was built with)"
        )
    finite = np.isfinite(vectors).all(axis=1)
    nonzero = np.abs(vectors).max(axis=1, initial=0.0) > 0 if vectors.size else np.ones(len(vectors), bool)
    bad = np.flatnonzero(~(finite & nonzero))
    if len(bad):
        row = int(bad[0])
        what = "NaN or infinite values" if not finite[row] else "only zeros"
        name = f" (point {ids[row]})" if row < len(ids) else ""
        raise InvalidVectorError(
            f"{len(bad)} vector(s) refused before writing: vector {row}{name} has {what}. "
            "Check the encoder (precision, input text); nothing of this batch was written."
        )
