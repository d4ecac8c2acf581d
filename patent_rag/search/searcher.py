"""The search engine every front end shares: ranked patents, with their matching chunks as evidence.

:class:`PatentSearcher` searches any patent_rag index (the embedded Qdrant Edge default,
qdrant-client local mode, a Qdrant server) by free text or by patent (a publication number in the
index, or a :class:`~patent_rag.documents.PatentDocument`), returns one
:class:`~patent_rag.search.hits.PatentHit` per patent or family (the best chunk decides the rank),
and applies the prior-art date cutoff of :mod:`patent_rag.search.query` to patent queries. How it
searches is one frozen :class:`~patent_rag.search.options.SearchOptions`; another configuration is
another searcher over the same index (:meth:`PatentSearcher.with_options`).

Filtering, grouping and dense/BM25/hybrid fusion run in the engine (Qdrant's group-by on
qdrant-client backends; exact client-side grouping on Edge, see
:meth:`~patent_rag.stores.edge.EdgeStore.search_groups`). Python only fuses the rankings of a
patent's several query texts (RRF), the classified search of the boosts (DBSF), and applies the
bibliographic rescoring, the optional reranker and MMR.

Example:
    >>> searcher = PatentSearcher(index="my-index", encoder=Encoder("all-minilm-l6-v2"))  # doctest: +SKIP
    >>> for hit in searcher.prior_art("US8089324B2"):  # doctest: +SKIP
    ...     print(hit.rank, hit.publication_number, hit.priority_date, hit.best.label)
    >>> searcher.with_options(mode="bm25", top_k=3).search("voltage controlled oscillator")  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from datetime import date
from typing import TYPE_CHECKING, Protocol

from patent_rag.documents.record import PatentDocument
from patent_rag.errors import ConfigurationError
from patent_rag.search.boosts import apply_boosts
from patent_rag.search.hits import PatentHit, hit_from_hits
from patent_rag.search.options import GROUP_FIELDS, SearchOptions
from patent_rag.search.query import (
    PatentQuery,
    cutoff_filter,
    merge_filters,
    query_from_document,
    query_from_store,
)
from patent_rag.search.ranking import fuse_rankings, fuse_scores, mmr_select, rerank
from patent_rag.stores import open_store
from patent_rag.stores.base import HitGroup, SearchHit, SearchMode, Store
from patent_rag.stores.filters import SearchFilter

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from patent_rag.encoding.encoder import Encoder
    from patent_rag.search.options import SearchOptionValues

__all__ = ["HasSearcher", "PatentSearcher", "fit_query", "prefetch_depth"]

logger = logging.getLogger(__name__)

_DEFAULT_OPTIONS = SearchOptions()


class HasSearcher(Protocol):
    """A front end that wraps a :class:`PatentSearcher` (LlamaIndex's retriever, for one)."""

    @property
    def searcher(self) -> PatentSearcher: ...


def prefetch_depth(mode: SearchMode, limit: int, candidates: int | None = None) -> int | None:
    """Chunks each side of a search prefetches for ``limit`` groups: ``candidates`` when given, else
    ``max(100, 3 x limit)`` for hybrid search (enough to fuse; the grouping widens it when a patent
    has many chunks) and None for dense and BM25 (their grouping sizes its own fetch)."""
    return candidates or (max(100, 3 * limit) if mode == "hybrid" else None)


class PatentSearcher:
    """Ranked prior art from a patent_rag index.

    Args:
        index: an index location (a directory for Qdrant Edge, ``qdrant-local:PATH``, an
            ``http(s)://`` URL) or a :class:`~patent_rag.stores.Store` (open or not). A location is
            opened here and closed by :meth:`close`; a store given open stays the caller's to close.
        encoder: the :class:`~patent_rag.encoding.encoder.Encoder` the index was built with; its
            fingerprint must match the index's (else :class:`FingerprintMismatchError` naming both).
            Only ``mode="bm25"`` without MMR works without one.
        options: how to search (default: hybrid DBSF search with the prior-art boosts, 10 patents).

    Raises:
        ConfigurationError: a mode that needs the missing encoder, a query task the encoder does not
            know.
        FingerprintMismatchError: the index was built with another model or prompt.

    Example:
        >>> searcher = PatentSearcher(index="my-index", encoder=Encoder("all-minilm-l6-v2"),
        ...                           options=SearchOptions(top_k=5))  # doctest: +SKIP
        >>> hits = searcher.search("phase locked loop with varactor")  # doctest: +SKIP
        >>> hits[0].publication_number, hits[0].best.snippet(80)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        index: str | Store,
        encoder: Encoder | None = None,
        options: SearchOptions = _DEFAULT_OPTIONS,
    ) -> None:
        _check_encoder(options, encoder)
        self._options = options
        self._encoder = encoder
        self._owns_store = isinstance(index, str)
        self._store: Store = open_store(index) if isinstance(index, str) else index
        self._open_checked()

    def _open_checked(self) -> None:
        fingerprint = self._encoder.fingerprint if self._encoder is not None else None
        if not self._store.is_open:  # open() checks the fingerprint before anything is read
            try:
                self._store.open(fingerprint=fingerprint)
            except BaseException:
                if self._owns_store:
                    self._store.close()
                raise
            return
        if fingerprint is not None:
            fingerprint.ensure_matches(self._store.metadata.fingerprint, index_name=self._store.location)

    def with_options(
        self, options: SearchOptions | None = None, /, **changes: Unpack[SearchOptionValues]
    ) -> PatentSearcher:
        """A searcher over the same index and encoder with other options; this one is unchanged.

        ``options`` replaces these options whole; ``changes`` then replace single fields. The new
        searcher does not close the index: its owner does.

        Example:
            >>> quick = searcher.with_options(mode="bm25", top_k=3, boosts=None)  # doctest: +SKIP
        """
        chosen = (options or self._options).replace(**changes)
        _check_encoder(chosen, self._encoder)
        derived = copy.copy(self)
        derived._options = chosen
        derived._owns_store = False
        return derived

    # -- plumbing --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        model = self._encoder.profile.name if self._encoder else None
        return (
            f"PatentSearcher(index={self._store.location!r}, model={model!r}, "
            f"mode={self._options.mode!r}, top_k={self._options.top_k})"
        )

    def __enter__(self) -> PatentSearcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the index if this searcher opened it from a location string."""
        if self._owns_store:
            self._store.close()

    @property
    def options(self) -> SearchOptions:
        return self._options

    @property
    def store(self) -> Store:
        return self._store

    @property
    def encoder(self) -> Encoder | None:
        return self._encoder

    # -- searching -------------------------------------------------------------------------------
    def search(
        self,
        query: str | None = None,
        *,
        patent: str | PatentDocument | None = None,
        top_k: int | None = None,
        before: date | None = None,
        filters: SearchFilter | None = None,
    ) -> list[PatentHit]:
        """Ranked patents for free text ``query`` or for a ``patent`` (exactly one of them).

        Args:
            patent: a publication number in the index, or a record; searched by its claims and/or
                abstract, excluding itself and its family, with the prior-art cutoff applied.
            top_k: patents returned (default: the options').
            before: the cutoff date (default for a patent: its earliest priority date; for text: none).
            filters: applied on top of the options' filters.

        Example:
            >>> hits = searcher.search("phase locked loop with varactor", top_k=5)  # doctest: +SKIP
            >>> hits[0].publication_number, hits[0].best.snippet(80)  # doctest: +SKIP
        """
        options = self._options
        if (query is None) == (patent is None):
            raise ConfigurationError(
                "pass exactly one of a query text or patent=... (a publication number or record)"
            )
        k = top_k or options.top_k
        if k < 1:
            raise ConfigurationError(f"top_k must be at least 1, got {k}")
        if patent is not None:
            target = self.patent_query(patent)
            cutoff = before or target.earliest_date
            if options.cutoff and cutoff is None:
                logger.warning(
                    "%s has no priority or filing date: no prior-art cutoff applied",
                    target.publication_number,
                )
            exclude = SearchFilter(
                exclude_publication_numbers=(target.publication_number,),
                exclude_family_ids=(target.family_id,) if target.family_id else (),
            )
            date_filter = cutoff_filter(options.cutoff, cutoff, include_undated=options.include_undated)
            texts = [text.text for text in target.texts]
            extra = [exclude, date_filter]
        else:
            target = None
            if not query or not query.strip():
                raise ConfigurationError("the query text is empty; type what the prior art should disclose")
            texts = [query]
            extra = [
                cutoff_filter(options.cutoff or "priority", before, include_undated=options.include_undated)
            ]
        search_filter = merge_filters(options.filters, filters, *extra)
        return self._run(texts, search_filter, k, target)

    def prior_art(
        self,
        patent: str | PatentDocument,
        *,
        top_k: int | None = None,
        before: date | None = None,
        filters: SearchFilter | None = None,
    ) -> list[PatentHit]:
        """Prior art for a patent: ``search(patent=...)``."""
        return self.search(patent=patent, top_k=top_k, before=before, filters=filters)

    def patent_query(self, patent: str | PatentDocument) -> PatentQuery:
        """The texts, identity and dates a patent is searched with (useful to inspect a search)."""
        sources = self._options.query_sources
        if isinstance(patent, PatentDocument):
            return query_from_document(patent, sources=sources)
        return query_from_store(self._store, patent, sources=sources)

    def _depth(self, k: int, boosted: bool) -> int:
        options = self._options
        depth = max(k, options.boosts.depth) if boosted and options.boosts else k
        if options.reranker is not None:
            depth = max(depth, options.rerank_depth)
        if options.mmr is not None:
            depth = max(depth, options.mmr_depth)
        return depth

    def _run(
        self, texts: list[str], search_filter: SearchFilter, k: int, target: PatentQuery | None
    ) -> list[PatentHit]:
        options, encoder, boosts = self._options, self._encoder, self._options.boosts
        depth = self._depth(k, target is not None)
        # Several texts (a patent's claims and abstract) are fused by rank: fetch deeper lists.
        limit = depth if len(texts) == 1 else max(depth, 3 * k)
        vectors = (
            encoder.encode_queries(
                [fit_query(encoder, t, options.query_task) for t in texts], task=options.query_task
            )
            if encoder is not None and options.mode != "bm25"
            else [None] * len(texts)
        )
        classified = (
            _classified_filter(target, search_filter) if target and boosts and boosts.classified else None
        )
        rankings: list[list[tuple[str, float, list[SearchHit]]]] = []
        for text, vector in zip(texts, vectors, strict=True):
            groups = self._groups(text, vector, search_filter, limit)
            if classified is not None and boosts:
                # The examiner's classified search: the same query within the query's own classes
                # reaches relevant patents that text similarity alone ranks too deep.
                extra = self._groups(text, vector, classified, boosts.classified)
                rankings.append(fuse_scores([groups, extra]))
            else:
                rankings.append([(group.key, group.score, list(group.hits)) for group in groups])
        if len(rankings) == 1:
            fused = rankings[0]
        else:
            fused = fuse_rankings([[HitGroup(key, tuple(hits)) for key, _, hits in r] for r in rankings])
        hits = [
            hit_from_hits(chunks, rank=i + 1, score=score, limit=options.evidence)
            for i, (_, score, chunks) in enumerate(fused[:depth])
        ]
        if boosts is not None and target is not None:
            hits = apply_boosts(target, hits, boosts)
        if options.reranker is not None:
            hits = (
                rerank(texts[0], hits[: options.rerank_depth], options.reranker)
                + hits[options.rerank_depth :]
            )
        if options.mmr is not None and hits:
            pool = hits[: options.mmr_depth]
            vectors_ = encoder.encode_documents([hit.best.text for hit in pool])  # type: ignore[union-attr]
            hits = mmr_select(pool, vectors_, diversity=options.mmr, top_k=k)
        return [hit.model_copy(update={"rank": i + 1}) for i, hit in enumerate(hits[:k])]

    def _groups(
        self, text: str, vector: list[float] | None, search_filter: SearchFilter, limit: int
    ) -> list[HitGroup]:
        options = self._options
        return self._store.search_groups(
            dense=vector,
            text=text,
            mode=options.mode,
            search_filter=search_filter,
            limit=limit,
            group_by=GROUP_FIELDS[options.group_by],
            group_size=options.evidence,
            candidates=prefetch_depth(options.mode, limit, options.candidates),
            fusion=options.fusion,
        )


def _check_encoder(options: SearchOptions, encoder: Encoder | None) -> None:
    """What the options need of the encoder: one for dense vectors and MMR, the query task known."""
    if encoder is None and (options.mode != "bm25" or options.mmr is not None):
        raise ConfigurationError(
            f"mode {options.mode!r}{' with mmr' if options.mmr is not None else ''} needs the encoder the "
            "index was built with: pass the Encoder (LlamaIndex: embedding=Encoder(...) or "
            "PatentEmbedding(...)); only mode='bm25' works without one"
        )
    if encoder is not None:
        encoder.profile.prompts(options.query_task)  # an unknown task fails here, listing the known ones


def _classified_filter(target: PatentQuery, search_filter: SearchFilter) -> SearchFilter | None:
    """``search_filter`` narrowed to the query patent's own USPC symbols, else its CPC symbols; None
    when it has neither, or when the user already filters on classification. (Not IPC: a search
    restricted to the query's IPC groups lost recall after boosting, see docs/benchmarks.md.)"""
    if search_filter.uspc or search_filter.cpc or search_filter.ipc:
        return None
    for field in ("uspc", "cpc"):
        if symbols := getattr(target, field):
            return dataclasses.replace(search_filter, **{field: symbols})
    return None


def fit_query(encoder: Encoder, text: str, task: str | None) -> str:
    """The longest word prefix of ``text`` the model reads whole (a long claim's head, as the model
    would truncate it anyway, without the truncation warning meant for documents)."""
    budget = encoder.max_seq_length - 3 - encoder.count_tokens(encoder.prompts(task).query)
    if encoder.count_tokens(text) <= budget:
        return text
    words = text.split()
    low, high = 1, len(words)
    while low < high:  # the largest word count that fits
        middle = (low + high + 1) // 2
        if encoder.count_tokens(" ".join(words[:middle])) <= budget:
            low = middle
        else:
            high = middle - 1
    logger.debug("query text of %d words cut to %d to fit %d tokens", len(words), low, budget)
    return " ".join(words[:low])
