"""The operations every patent_rag server offers, over one index opened once.

:class:`PatentService` is what the MCP server and the HTTP API call: search by text, prior art for
a publication number, chart a claim against references, read a patent, describe the index. It takes
the bounded requests of :mod:`.requests`, runs them on a
:class:`~patent_rag.search.searcher.PatentSearcher`, and returns typed results (pydantic models:
their JSON schema is the servers' output schema). Servers translate these calls and the error tree
into their protocol and add nothing to the search.

The index is opened and warmed once; the service is safe to call from several threads at once (the
searcher holds no per-search state and the stores' engines serve concurrent reads).

Example:
    >>> service = PatentService.open("my-index")  # doctest: +SKIP
    >>> result = service.search(SearchRequest(query="CMOS oscillator", top_k=5))  # doctest: +SKIP
    >>> [hit.publication_number for hit in result.hits]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from patent_rag.charts.model import ClaimChart
from patent_rag.search.hits import PatentHit
from patent_rag.search.options import SearchOptions
from patent_rag.search.patents import PatentRecord, read_patent
from patent_rag.search.requests import (
    MAX_QUERY_CHARS,
    MAX_TOP_K,
    ChartRequest,
    FilterFields,
    PriorArtRequest,
    SearchRequest,
)
from patent_rag.search.searcher import PatentSearcher
from patent_rag.stores import open_store

__all__ = ["IndexSummary", "PatentService", "SearchResult"]

logger = logging.getLogger(__name__)


class SearchResult(BaseModel):
    """Ranked patents and what was searched: the query text, or the patent whose prior art this is."""

    model_config = ConfigDict(frozen=True)

    query: str | None = None
    publication_number: str | None = Field(
        default=None, description="The patent whose prior art was searched (its canonical number)."
    )
    title: str | None = Field(default=None, description="That patent's title.")
    mode: str
    before: date | None = Field(
        default=None, description="The cutoff applied: documents dated strictly before this day."
    )
    hits: list[PatentHit]


class IndexSummary(BaseModel):
    """What an index holds and how it is searched."""

    model_config = ConfigDict(frozen=True)

    backend: str
    location: str
    patents: int
    chunks: int
    model: str = Field(description="The embedding model the index was built with.")
    dim: int
    layout_version: int
    mode: str = Field(description="The default search mode.")
    top_k: int = Field(description="Patents returned when a request does not say.")
    max_top_k: int = MAX_TOP_K
    max_query_chars: int = MAX_QUERY_CHARS


class PatentService:
    """Search, prior art, patent records and index facts over one open index.

    Args:
        searcher: the searcher to serve.
        owns_store: close the searcher's store on :meth:`close` (else its owner does).
    """

    def __init__(self, *, searcher: PatentSearcher, owns_store: bool = False) -> None:
        self._searcher = searcher
        self._owns_store = owns_store

    @classmethod
    def open(
        cls,
        index: str,
        *,
        model: str | None = None,
        model_path: Path | None = None,
        index_api_key_env: str | None = None,
        options: SearchOptions | None = None,
    ) -> PatentService:
        """Open ``index`` with the encoder it was built with (or ``model``), warmed for searching.

        Raises:
            IndexNotFoundError, IndexLockedError, IndexCorruptError, BackendUnavailableError: the
                index cannot be opened.
            FingerprintMismatchError: ``model`` is not the model the index was built with.
            ModelUnavailableError: the index's model cannot be loaded here.
        """
        from patent_rag.encoding.resolve import encoder_for_index

        chosen = options or SearchOptions()
        store = open_store(index, api_key_env=index_api_key_env)
        try:
            store.open()
            encoder = encoder_for_index(store.metadata.fingerprint, model=model, model_path=model_path)
            searcher = PatentSearcher(index=store, encoder=encoder, options=chosen)
            store.warm()
        except BaseException:
            store.close()
            raise
        return cls(searcher=searcher, owns_store=True)

    def __repr__(self) -> str:
        return f"PatentService({self._searcher!r})"

    def __enter__(self) -> PatentService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the index (when this service opened it)."""
        self._searcher.close()
        if self._owns_store:
            self._searcher.store.close()

    @property
    def searcher(self) -> PatentSearcher:
        return self._searcher

    @property
    def is_open(self) -> bool:
        return self._searcher.store.is_open

    def search(self, request: SearchRequest) -> SearchResult:
        """Ranked patents for free text.

        Raises:
            ConfigurationError: a filter value that is not a valid code or symbol.
        """
        searcher = self._for(request)
        hits = searcher.search(
            request.query, top_k=request.top_k, before=request.before, filters=request.search_filter()
        )
        return SearchResult(query=request.query, mode=searcher.options.mode, before=request.before, hits=hits)

    def prior_art(self, request: PriorArtRequest) -> SearchResult:
        """Prior art for a patent of the index, cut off at its earliest priority date.

        Raises:
            PatentNotFoundError: the patent is not in the index.
            ConfigurationError: a bad filter value; a number matching several patents.
        """
        searcher = self._for(request)
        target = searcher.patent_query(request.publication_number)
        before = request.before or target.earliest_date
        hits = searcher.prior_art(
            target.publication_number, top_k=request.top_k, before=before, filters=request.search_filter()
        )
        cutoff = before if searcher.options.cutoff is not None else None
        return SearchResult(
            publication_number=target.publication_number,
            title=target.title,
            mode=searcher.options.mode,
            before=cutoff,
            hits=hits,
        )

    def patent(self, publication_number: str, *, passages: int = 0, start: int = 0) -> PatentRecord:
        """A patent's bibliography, abstract and claims, and a page of its description.

        Raises:
            PatentNotFoundError: the patent is not in the index.
        """
        return read_patent(self._searcher.store, publication_number, passages=passages, start=start)

    def info(self) -> IndexSummary:
        """The index's size, model and search defaults."""
        described = self._searcher.store.describe()
        fingerprint = described.fingerprint
        options = self._searcher.options
        return IndexSummary(
            backend=described.backend,
            location=described.location,
            patents=described.patents,
            chunks=described.chunks,
            model=fingerprint.model_id,
            dim=fingerprint.dim,
            layout_version=described.layout_version,
            mode=options.mode,
            top_k=options.top_k,
        )

    def chart(self, request: ChartRequest) -> ClaimChart:
        """A claim of a patent of the index charted element by element against references: the
        numbers requested, or else the patent's top prior art. Retrieval only (no LLM judgement).

        Raises:
            PatentNotFoundError: the patent or a reference is not in the index.
            ConfigurationError: the patent has no claim of that number; a number matching several
                patents.

        Example:
            >>> request = ChartRequest(publication_number="US8089324B2", claim=1)
            >>> chart = service.chart(request)  # doctest: +SKIP
            >>> [(ref.publication_number, len(ref.found)) for ref in chart.references]  # doctest: +SKIP
        """
        from patent_rag.charts.evidence import ChartOptions, chart_claim

        searcher, options = self._searcher, ChartOptions()
        if request.mode is not None:
            options = options.replace(mode=request.mode)
            if request.mode != searcher.options.mode:
                searcher = searcher.with_options(mode=request.mode)
        return chart_claim(
            searcher,
            request.publication_number,
            claim=request.claim,
            references=request.references,
            top=request.top,
            options=options,
        )

    def _for(self, request: FilterFields) -> PatentSearcher:
        changes: dict[str, Any] = {}
        if request.mode is not None and request.mode != self._searcher.options.mode:
            changes["mode"] = request.mode
        return self._searcher.with_options(**changes) if changes else self._searcher
