"""A search planned once: its inputs checked, its query vectors made and its filter compiled.

Every backend searches from a :class:`QueryPlan` and only translates it into its engine's request
(Qdrant Edge in :mod:`patent_rag.stores._edge_convert`, qdrant-client in
:mod:`patent_rag.stores._qdrant_convert`), so the checks, the BM25 query terms and the filter are
the same on every backend and made once per search, whatever the backend fetches afterwards.

Example:
    >>> from patent_rag.stores.sparse import Bm25Encoder
    >>> plan = plan_query(text="wireless charging", mode="bm25", dim=8, bm25=Bm25Encoder())
    >>> plan.mode, len(plan.sparse.indices), plan.group_field, plan.matches_nothing
    ('bm25', 2, 'publication_number', False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

import numpy as np

from patent_rag.errors import StoreError
from patent_rag.stores.base import (
    Fusion,
    GroupBy,
    HitGroup,
    IndexMetadata,
    SearchHit,
    SearchMode,
    check_dense,
)
from patent_rag.stores.filters import CompiledFilter, SearchFilter, compile_filter
from patent_rag.stores.sparse import Bm25Encoder, SparseTerms

__all__ = ["GROUP_FIELDS", "PlannedSearches", "QueryPlan", "plan_query"]

# The payload field each grouping reads.
GROUP_FIELDS: dict[str, str] = {"publication_number": "publication_number", "family": "family_key"}


@dataclass(frozen=True)
class QueryPlan:
    """One search as every backend runs it.

    Attributes:
        mode: ``dense``, ``bm25`` or ``hybrid`` (both fused with ``fusion``).
        fusion: ``rrf`` or ``dbsf``; used by hybrid searches only.
        dense: the dense query (float32 values); None in BM25 mode.
        sparse: the BM25 query terms; None in dense mode and when the text has no term.
        filter: the compiled filter (empty: no restriction).
        limit: how many chunks (``search``) or groups (``search_groups``) to return.
        group_field: the payload field groups are keyed by.
        group_size: how many chunks each group keeps.
        candidates: how deep each hybrid prefetch goes, at least (None: as deep as the fetch).
    """

    mode: SearchMode
    fusion: Fusion
    dense: tuple[float, ...] | None
    sparse: SparseTerms | None
    filter: CompiledFilter
    limit: int
    group_field: str
    group_size: int
    candidates: int | None

    @property
    def matches_nothing(self) -> bool:
        """A BM25 search whose text holds only stop words: no chunk can match it."""
        return self.mode == "bm25" and self.sparse is None


def _choices(values: tuple[str, ...]) -> str:
    return f"{', '.join(values[:-1])} or {values[-1]}"


def plan_query(
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
    dim: int,
    bm25: Bm25Encoder,
) -> QueryPlan:
    """Check a search's inputs against an index of ``dim``-dimensional vectors and plan it.

    Raises:
        StoreError: an unknown mode, fusion or grouping (the message lists the valid ones), a limit
            or group size below 1, or a mode without the query it needs.
        InvalidVectorError: a dense query of the wrong size, not finite or all zero.
    """
    if mode not in get_args(SearchMode):
        raise StoreError(f"unknown search mode {mode!r}; choose {_choices(get_args(SearchMode))}")
    if fusion not in get_args(Fusion):
        raise StoreError(f"unknown fusion {fusion!r}; choose {_choices(get_args(Fusion))}")
    if group_by not in get_args(GroupBy):
        raise StoreError(f"unknown grouping {group_by!r}; choose {_choices(get_args(GroupBy))}")
    if limit < 1:
        raise StoreError(f"limit must be at least 1, got {limit}")
    if group_size < 1:
        raise StoreError(f"group_size must be at least 1, got {group_size}")
    if mode in ("dense", "hybrid") and dense is None:
        raise StoreError(f"mode {mode!r} needs a dense query vector (dense=...)")
    if mode in ("bm25", "hybrid") and not (text and text.strip()):
        raise StoreError(f"mode {mode!r} needs query text (text=...)")
    vector = None
    if dense is not None and mode != "bm25":
        query = np.asarray(dense, dtype=np.float32).reshape(1, -1)
        check_dense(query, dim=dim)
        vector = tuple(query[0].tolist())
    terms = bm25.embed_query(text) if mode != "dense" and text else None
    return QueryPlan(
        mode=mode,
        fusion=fusion,
        dense=vector,
        sparse=terms or None,
        filter=compile_filter(search_filter),
        limit=limit,
        group_field=GROUP_FIELDS[group_by],
        group_size=group_size,
        candidates=candidates,
    )


class PlannedSearches:
    """The searches every backend offers, planned here once: a backend implements only the
    translation of a plan (``_search`` for chunks, ``_groups`` for patents or families)."""

    _bm25: Bm25Encoder

    @property
    def metadata(self) -> IndexMetadata:
        raise NotImplementedError

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
    ) -> list[SearchHit]:
        """Best chunks for a dense vector, BM25 text, or both fused in the engine (RRF or DBSF)."""
        plan = plan_query(
            dense=dense,
            text=text,
            mode=mode,
            search_filter=search_filter,
            limit=limit,
            candidates=candidates,
            fusion=fusion,
            dim=self.metadata.fingerprint.dim,
            bm25=self._bm25,
        )
        return [] if plan.matches_nothing else self._search(plan)

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
        """The best ``limit`` patents (or families) with their best ``group_size`` chunks each."""
        plan = plan_query(
            dense=dense,
            text=text,
            mode=mode,
            search_filter=search_filter,
            limit=limit,
            group_by=group_by,
            group_size=group_size,
            candidates=candidates,
            fusion=fusion,
            dim=self.metadata.fingerprint.dim,
            bm25=self._bm25,
        )
        return [] if plan.matches_nothing else self._groups(plan)

    def _search(self, plan: QueryPlan) -> list[SearchHit]:
        raise NotImplementedError

    def _groups(self, plan: QueryPlan) -> list[HitGroup]:
        raise NotImplementedError
