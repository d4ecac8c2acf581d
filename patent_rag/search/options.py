"""How a search runs: one frozen, validated value shared by every front end.

:class:`SearchOptions` holds everything that shapes a search except the index and the encoder:
mode and fusion, grouping and evidence, the prior-art cutoff, query planning, filters, boosts,
prefetch depth, reranking and MMR. It is validated once, when it is made; a variant is another value
(``dataclasses.replace(options, top_k=5)`` or ``PatentSearcher.with_options(top_k=5)``), never a
mutated one. The valid choices of each option are declared once, as a ``Literal``, and error messages
list them from there.

Example:
    >>> SearchOptions(mode="bm25", top_k=5).mode
    'bm25'
    >>> SearchOptions(mode="sparse")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    patent_rag.errors.ConfigurationError: mode must be one of dense, bm25, hybrid, got 'sparse'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, get_args

from patent_rag.errors import ConfigurationError
from patent_rag.search.boosts import MetadataBoosts
from patent_rag.search.query import CutoffField, QuerySource, query_sources
from patent_rag.search.ranking import Reranker
from patent_rag.stores.base import Fusion, SearchMode
from patent_rag.stores.filters import SearchFilter

__all__ = [
    "GROUP_FIELDS",
    "CutoffField",
    "Fusion",
    "GroupLevel",
    "QuerySource",
    "SearchMode",
    "SearchOptionValues",
    "SearchOptions",
    "choices",
]

GroupLevel = Literal["patent", "family"]
# The payload field each group level groups chunks by.
GROUP_FIELDS: dict[GroupLevel, Literal["publication_number", "family"]] = {
    "patent": "publication_number",
    "family": "family",
}


def choices(literal: Any, *, quote: bool = False) -> str:
    """The values of a ``Literal`` as a comma-separated list, for messages and help texts."""
    return ", ".join(repr(value) if quote else str(value) for value in get_args(literal))


@dataclass(frozen=True, kw_only=True)
class SearchOptions:
    """Everything that shapes a search, but the index and the encoder.

    Args:
        mode: ``"dense"``, ``"bm25"`` or ``"hybrid"`` (both, fused in the engine).
        fusion: ``"dbsf"`` (distribution-based score fusion, the default: the better of the two on
            patent citations, see docs/benchmarks.md) or ``"rrf"`` (reciprocal rank fusion), for
            hybrid mode.
        group_by: one result per ``"patent"`` or per ``"family"``.
        evidence: matching chunks kept per result.
        top_k: patents (or families) returned.
        cutoff: which date of a candidate must be strictly before the cutoff date in patent queries
            (``"priority"``, ``"filing"``, ``"publication"``; None: no automatic cutoff). See
            :mod:`patent_rag.search.query`.
        include_undated: keep candidates that lack the cutoff date (default: drop them).
        query_task: the task whose query prompt encodes queries (default: the encoder's default
            task, which is prior-art search for patent models).
        query_sources: what of a query patent is searched: its independent ``"claims"`` and/or
            ``"abstract"``.
        filters: a typed :class:`SearchFilter` applied to every search.
        boosts: for patent queries, a classified search within the query's own USPC (else CPC)
            symbols fused with the main search, then bibliographic rescoring (see
            :mod:`patent_rag.search.boosts`); on by default, None (or boosts that are all off) turns
            both off. Free-text queries are never boosted.
        candidates: chunks each side of hybrid search prefetches before fusion (default
            ``max(100, 3 x depth)``: enough to fuse, and the grouping widens it when a patent has
            many chunks; deeper prefetches cost time without finding more); for dense and BM25,
            the first fetch of Edge's grouping.
        reranker: ``(query, texts) -> scores`` or a sentence-transformers ``CrossEncoder``;
            reorders the first ``rerank_depth`` patents.
        rerank_depth: patents the reranker reorders.
        mmr: diversity in [0, 1] for maximal marginal relevance over the first ``mmr_depth``
            patents (None: off).
        mmr_depth: patents MMR chooses from.

    Raises:
        ConfigurationError: a value outside its choices or range, naming the valid ones.
    """

    mode: SearchMode = "hybrid"
    fusion: Fusion = "dbsf"
    group_by: GroupLevel = "patent"
    evidence: int = 3
    top_k: int = 10
    cutoff: CutoffField | None = "priority"
    include_undated: bool = False
    query_task: str | None = None
    query_sources: Sequence[QuerySource] = ("claims", "abstract")
    filters: SearchFilter | None = None
    boosts: MetadataBoosts | None = MetadataBoosts()  # noqa: RUF009 (frozen, so a safe default)
    candidates: int | None = None
    reranker: Reranker | None = None
    rerank_depth: int = 30
    mmr: float | None = None
    mmr_depth: int = 30

    def __post_init__(self) -> None:
        if self.mode not in get_args(SearchMode):
            raise ConfigurationError(f"mode must be one of {choices(SearchMode)}, got {self.mode!r}")
        if self.fusion not in get_args(Fusion):
            raise ConfigurationError(f"fusion must be one of {choices(Fusion)}, got {self.fusion!r}")
        if self.group_by not in get_args(GroupLevel):
            raise ConfigurationError(f"group_by must be one of {choices(GroupLevel)}, got {self.group_by!r}")
        if self.cutoff is not None and self.cutoff not in get_args(CutoffField):
            raise ConfigurationError(
                f"cutoff must be {choices(CutoffField, quote=True)} or None, got {self.cutoff!r}"
            )
        if self.top_k < 1 or self.evidence < 1:
            raise ConfigurationError(
                f"top_k and evidence must be at least 1, got {self.top_k} and {self.evidence}"
            )
        for name in ("rerank_depth", "mmr_depth", "candidates"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigurationError(f"{name} must be at least 1, got {value}")
        if self.mmr is not None and not 0.0 <= self.mmr <= 1.0:
            raise ConfigurationError(f"mmr must be between 0 and 1 (diversity), got {self.mmr}")
        # Normalised once, so equal options compare equal and searches need not re-check them.
        object.__setattr__(self, "query_sources", query_sources(self.query_sources))
        if self.boosts is not None and not self.boosts.active:
            object.__setattr__(self, "boosts", None)

    def replace(self, **changes: Any) -> SearchOptions:
        """These options with ``changes`` (validated again); unknown names are refused, listing the known."""
        unknown = sorted(set(changes) - _FIELDS)
        if unknown:
            raise ConfigurationError(
                f"unknown search option(s) {', '.join(unknown)}; the options are {', '.join(sorted(_FIELDS))}"
            )
        return dataclasses.replace(self, **changes)


_FIELDS = frozenset(field.name for field in dataclasses.fields(SearchOptions))


class SearchOptionValues(TypedDict, total=False):
    """The fields of :class:`SearchOptions` as keyword arguments (for constructors that take them loose)."""

    mode: SearchMode
    fusion: Fusion
    group_by: GroupLevel
    evidence: int
    top_k: int
    cutoff: CutoffField | None
    include_undated: bool
    query_task: str | None
    query_sources: Sequence[QuerySource]
    filters: SearchFilter | None
    boosts: MetadataBoosts | None
    candidates: int | None
    reranker: Reranker | None
    rerank_depth: int
    mmr: float | None
    mmr_depth: int
