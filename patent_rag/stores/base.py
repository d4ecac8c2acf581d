"""The store seam: the small interface ingestion and the retriever talk to, and its values.

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

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.errors import InvalidVectorError, StoreError
from patent_rag.stores.filters import SearchFilter
from patent_rag.stores.layout import ID_SCHEME, LAYOUT_VERSION
from patent_rag.stores.sparse import Bm25Encoder, SparseTerms

__all__ = [
    "RRF_K",
    "Capabilities",
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
    "check_query",
    "collect_hashes",
    "group_hits",
    "open_or_create",
    "ordered_hits",
    "payload_key",
    "widening_groups",
]

SearchMode = Literal["dense", "bm25", "hybrid"]
Fusion = Literal["rrf", "dbsf"]
GroupBy = Literal["publication_number", "family"]
GROUP_FIELDS: dict[str, str] = {"publication_number": "publication_number", "family": "family_key"}
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
class Capabilities:
    """What a backend does in the engine rather than in Python."""

    server_side_grouping: bool
    server_side_fusion: bool
    payload_indexes: bool
    approximate_search: bool


@dataclass(frozen=True)
class IndexMetadata:
    """What is stored with an index: the encoder fingerprint, the layout, BM25 and point-id versions.

    ``id_scheme`` is how the index's point ids are made (:func:`~patent_rag.stores.layout.point_id`);
    an index keeps the scheme it was created with (metadata without one predates scheme 2).
    """

    fingerprint: Fingerprint
    layout_version: int = LAYOUT_VERSION
    bm25: dict[str, Any] = field(default_factory=dict)
    id_scheme: int = ID_SCHEME

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "patent_rag.index",
            "layout_version": self.layout_version,
            "id_scheme": self.id_scheme,
            "fingerprint": self.fingerprint.as_dict(),
            "bm25": dict(self.bm25),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, location: str) -> IndexMetadata:
        if data.get("format") != "patent_rag.index" or "fingerprint" not in data:
            raise StoreError(
                f"{location} is not a patent_rag index (no patent_rag metadata); point --index at an index "
                "made by `patent-rag ingest`, or at a new location to create one"
            )
        version = int(data.get("layout_version", 0))
        if version != LAYOUT_VERSION:
            raise StoreError(
                f"{location} uses index layout {version}; this patent_rag reads layout {LAYOUT_VERSION}. "
                "Re-ingest into a new index with this version."
            )
        scheme = int(data.get("id_scheme", 1))
        if scheme not in (1, ID_SCHEME):
            raise StoreError(
                f"{location} uses point-id scheme {scheme}, made by a newer patent_rag; this one knows "
                f"schemes 1 and {ID_SCHEME}. Upgrade patent_rag to read it."
            )
        return cls(
            Fingerprint.from_dict(dict(data["fingerprint"])), version, dict(data.get("bm25", {})), scheme
        )


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
    def capabilities(self) -> Capabilities: ...
    @property
    def bm25(self) -> Bm25Encoder:
        """The BM25 encoder whose terms this index stores (queries must use the same)."""
        ...

    @property
    def metadata(self) -> IndexMetadata:
        """The metadata of the open index (raises if not open)."""
        ...

    def exists(self) -> bool: ...
    def create(self, *, fingerprint: Fingerprint, overwrite: bool = False) -> IndexInfo: ...
    def open(self, *, fingerprint: Fingerprint | None = None) -> IndexInfo: ...
    def describe(self) -> IndexInfo: ...
    def upsert(self, points: Sequence[StoredPoint]) -> None: ...
    def delete_points(self, ids: Sequence[str]) -> None: ...
    def delete_patents(self, publication_numbers: Sequence[str]) -> None: ...
    def existing_hashes(self, publication_numbers: Sequence[str]) -> dict[str, dict[str, str]]: ...
    def fetch(self, search_filter: SearchFilter, *, limit: int = 1000) -> list[SearchHit]: ...
    def search(
        self,
        *,
        dense: Sequence[float] | np.ndarray | None = None,
        text: str | None = None,
        mode: SearchMode = "dense",
        search_filter: SearchFilter | None = None,
        limit: int = 10,
        candidates: int | None = None,
        fusion: Fusion = "rrf",
    ) -> list[SearchHit]: ...
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
    ) -> list[HitGroup]: ...
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


def check_query(
    *, dense: Sequence[float] | np.ndarray | None, text: str | None, mode: str, dim: int, limit: int
) -> np.ndarray | None:
    """Validate a search's inputs once for every backend; returns the dense query as float32."""
    if mode not in ("dense", "bm25", "hybrid"):
        raise StoreError(f"unknown search mode {mode!r}; choose dense, bm25 or hybrid")
    if limit < 1:
        raise StoreError(f"limit must be at least 1, got {limit}")
    if mode in ("dense", "hybrid") and dense is None:
        raise StoreError(f"mode {mode!r} needs a dense query vector (dense=...)")
    if mode in ("bm25", "hybrid") and not (text and text.strip()):
        raise StoreError(f"mode {mode!r} needs query text (text=...)")
    if dense is None or mode == "bm25":
        return None
    query = np.asarray(dense, dtype=np.float32).reshape(1, -1)
    check_dense(query, dim=dim)
    return query[0]


def widening_groups(
    search: Callable[[int], list[SearchHit]],
    *,
    key: Callable[[SearchHit], str | None],
    limit: int,
    group_size: int,
    start: int,
) -> list[HitGroup]:
    """Client-side group-by with exact top groups: fetch more chunks until ``limit`` groups are seen.

    Every group not among the fetched hits has no chunk scoring above the last fetched one, so
    once ``limit`` distinct groups are seen (or the index is exhausted) the top ``limit`` groups by
    best chunk are exact; a group's further evidence chunks are the best among those fetched. The
    next fetch is sized from the chunks per group seen so far (at least twice the last one).
    """
    fetch = max(start, 1)
    while True:
        hits = search(fetch)
        distinct = len({key(hit) for hit in hits})
        if distinct >= limit or len(hits) < fetch:
            return group_hits(hits, key=key, limit=limit, group_size=group_size)
        fetch = max(2 * fetch, math.ceil(1.25 * limit * len(hits) / max(distinct, 1)))


def payload_key(field: str) -> Callable[[SearchHit], str | None]:
    """A group key read from a payload field (None when the field is missing)."""

    def key(hit: SearchHit) -> str | None:
        value = hit.payload.get(field)
        return None if value is None else str(value)

    return key


def collect_hashes(publication_numbers: Sequence[str], records: Iterable[Any]) -> dict[str, dict[str, str]]:
    """``{publication number: {point id: content hash}}`` from scrolled records (id + payload)."""
    found: dict[str, dict[str, str]] = {number: {} for number in publication_numbers}
    for record in records:
        payload = record.payload or {}
        found.setdefault(payload.get("publication_number", ""), {})[str(record.id)] = payload.get(
            "content_hash", ""
        )
    return found


def ordered_hits(records: Iterable[Any]) -> list[SearchHit]:
    """Scrolled records as score-0 hits in patent and chunk order."""
    hits = [SearchHit(str(record.id), 0.0, dict(record.payload or {})) for record in records]
    return sorted(hits, key=lambda hit: (hit.publication_number, hit.payload.get("ordinal", 0)))


def group_hits(
    hits: Sequence[SearchHit], *, key: Callable[[SearchHit], str | None], limit: int, group_size: int
) -> list[HitGroup]:
    """Group score-ordered hits by ``key`` (None: dropped), groups ranked by their best hit.

    Equal scores (identical texts, e.g. an application and its grant) are ordered by chunk id and
    group key: engines return ties in no fixed order, and a ranking should not change between runs.
    """
    groups: dict[str, list[SearchHit]] = {}
    for hit in sorted(hits, key=lambda hit: (-hit.score, hit.id)):
        group = key(hit)
        if group is None:
            continue
        members = groups.setdefault(group, [])
        if len(members) < group_size:
            members.append(hit)
    ranked = sorted(groups.items(), key=lambda item: (-item[1][0].score, item[0]))
    return [HitGroup(group, tuple(members)) for group, members in ranked[:limit]]
