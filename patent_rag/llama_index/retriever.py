"""The prior-art retriever: ranked patents, with their matching chunks as evidence.

:class:`PriorArtRetriever` is a LlamaIndex ``BaseRetriever`` over any patent_rag index (the
embedded Qdrant Edge default, qdrant-client local mode, a Qdrant server). It searches by free text
or by patent (a publication number in the index, or a :class:`~patent_rag.documents.PatentDocument`),
returns one result per patent or family (the best chunk decides the rank), and applies the
prior-art date cutoff of :mod:`patent_rag.search.query` to patent queries.

Filtering, grouping and dense/BM25/hybrid fusion run in the engine (Qdrant's group-by on
qdrant-client backends; exact client-side grouping on Edge, see
:meth:`~patent_rag.stores.edge.EdgeStore.search_groups`). Python only fuses the rankings of a
patent's several query texts (RRF), and applies the optional reranker and MMR.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from datetime import date
from typing import Literal

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle

from patent_rag.documents.record import PatentDocument
from patent_rag.encoding.encoder import Encoder
from patent_rag.errors import ConfigurationError, StoreError
from patent_rag.llama_index.embedding import PatentEmbedding
from patent_rag.search.boosts import MetadataBoosts, apply_boosts
from patent_rag.search.hits import PatentHit, hit_from_hits
from patent_rag.search.query import (
    CutoffField,
    PatentQuery,
    QuerySource,
    cutoff_filter,
    merge_filters,
    query_from_document,
    query_from_store,
)
from patent_rag.search.ranking import Reranker, fuse_rankings, fuse_scores, mmr_select, rerank
from patent_rag.stores import open_store
from patent_rag.stores.base import Fusion, HitGroup, SearchHit, SearchMode, Store
from patent_rag.stores.filters import SearchFilter

__all__ = ["GroupLevel", "PriorArtRetriever"]

logger = logging.getLogger(__name__)

GroupLevel = Literal["patent", "family"]
_GROUP_FIELD = {"patent": "publication_number", "family": "family"}
_MODES = ("dense", "bm25", "hybrid")


class PriorArtRetriever(BaseRetriever):
    """Ranked prior art from a patent_rag index, for LlamaIndex and for plain Python.

    Args:
        index: an index location (a directory for Qdrant Edge, ``qdrant-local:PATH``, an
            ``http(s)://`` URL) or a :class:`~patent_rag.stores.Store` (open or not).
        embedding: the :class:`Encoder` or :class:`PatentEmbedding` the index was built with; its
            fingerprint must match the index's (else :class:`FingerprintMismatchError` naming both).
            Only ``mode="bm25"`` works without one.
        top_k: patents (or families) returned.
        mode: ``"dense"``, ``"bm25"`` or ``"hybrid"`` (both, fused in the engine).
        fusion: ``"dbsf"`` (distribution-based score fusion, the default: best on the PatSnap dev
            split, see the README) or ``"rrf"`` (reciprocal rank fusion) for hybrid mode.
        group_by: one result per ``"patent"`` or per ``"family"``.
        evidence: matching chunks kept per result.
        cutoff: which date of a candidate must be strictly before the cutoff date in patent queries
            (``"priority"``, ``"filing"``, ``"publication"``; None: no automatic cutoff). See
            :mod:`patent_rag.search.query`.
        include_undated: keep candidates that lack the cutoff date (default: drop them).
        query_task: the task whose query prompt encodes queries (default: the embedding's, else
            the model's default task, which is prior-art search for patent models).
        query_sources: what of a query patent is searched: its independent ``"claims"`` and/or
            ``"abstract"``.
        filters: a typed :class:`SearchFilter` applied to every search.
        boosts: for patent queries, a classified search within the query's own USPC (else CPC)
            symbols fused with the main search, then bibliographic rescoring (shared classification,
            assignee, inventor, publication near the query's filing; see :mod:`patent_rag.search.boosts`);
            on by default with the settings chosen on the PatSnap dev split; None turns both off.
            Free-text queries are never boosted.
        candidates: chunks each side of hybrid search prefetches before fusion (default
            ``max(100, 3 x depth)``: enough to fuse, and the grouping widens it when a patent has
            many chunks; deeper prefetches were no better on the PatSnap dev split, and slower);
            for dense and BM25, the first fetch of Edge's grouping.
        reranker: ``(query, texts) -> scores`` or a sentence-transformers ``CrossEncoder``;
            reorders the first ``rerank_depth`` patents.
        mmr: diversity in [0, 1] for maximal marginal relevance over the first ``mmr_depth``
            patents (None: off).

    Example:
        >>> retriever = PriorArtRetriever(index="my-index", embedding=Encoder("all-minilm-l6-v2"))
        >>> for hit in retriever.prior_art("US8089324B2"):  # doctest: +SKIP
        ...     print(hit.rank, hit.publication_number, hit.priority_date, hit.best.label)
        >>> nodes = retriever.retrieve("voltage controlled oscillator")  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        index: str | Store,
        embedding: Encoder | PatentEmbedding | None = None,
        top_k: int = 10,
        mode: SearchMode = "hybrid",
        fusion: Fusion = "dbsf",
        group_by: GroupLevel = "patent",
        evidence: int = 3,
        cutoff: CutoffField | None = "priority",
        include_undated: bool = False,
        query_task: str | None = None,
        query_sources: Sequence[QuerySource] = ("claims", "abstract"),
        filters: SearchFilter | None = None,
        boosts: MetadataBoosts | None = MetadataBoosts(),  # noqa: B008 (frozen, so a safe default)
        candidates: int | None = None,
        reranker: Reranker | None = None,
        rerank_depth: int = 30,
        mmr: float | None = None,
        mmr_depth: int = 30,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager=callback_manager)
        _check_options(mode, fusion, group_by, top_k, evidence, cutoff, mmr)
        if embedding is None and (mode != "bm25" or mmr is not None):
            raise ConfigurationError(
                f"mode {mode!r}{' with mmr' if mmr is not None else ''} needs the encoder the index was "
                "built with: pass embedding=Encoder(...) or PatentEmbedding(...) (only mode='bm25' works "
                "without one)"
            )
        if isinstance(embedding, PatentEmbedding):
            query_task = query_task or embedding.query_task
            embedding = embedding.encoder
        self._encoder: Encoder | None = embedding
        if self._encoder is not None:
            self._encoder.profile.prompts(query_task)  # an unknown task fails here, listing the known ones
        self._owns_store = isinstance(index, str)
        self._store: Store = open_store(index) if isinstance(index, str) else index
        self._open_checked()
        self.top_k, self.mode, self.fusion, self.group_by, self.evidence = (
            top_k,
            mode,
            fusion,
            group_by,
            evidence,
        )
        self.cutoff, self.include_undated, self.query_task = cutoff, include_undated, query_task
        self.query_sources = tuple(query_sources)
        self.filters = filters or SearchFilter()
        self.boosts = boosts if boosts is not None and boosts.active else None
        self.candidates, self.reranker, self.rerank_depth = candidates, reranker, rerank_depth
        self.mmr, self.mmr_depth = mmr, mmr_depth

    def _open_checked(self) -> None:
        fingerprint = self._encoder.fingerprint if self._encoder is not None else None
        try:
            stored = self._store.metadata.fingerprint
        except StoreError:  # not open yet: open() checks the fingerprint before anything is read
            try:
                self._store.open(fingerprint=fingerprint)
            except BaseException:
                if self._owns_store:
                    self._store.close()
                raise
            return
        if fingerprint is not None:
            fingerprint.ensure_matches(stored, index_name=self._store.location)

    # -- plumbing --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        model = self._encoder.profile.name if self._encoder else None
        where = self._store.location
        return f"PriorArtRetriever(index={where!r}, model={model!r}, mode={self.mode!r}, top_k={self.top_k})"

    def __enter__(self) -> PriorArtRetriever:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the index if this retriever opened it from a location string."""
        if self._owns_store:
            self._store.close()

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
            before: the cutoff date (default for a patent: its earliest priority date; for text: none).
            filters: applied on top of the retriever's own filters.

        Example:
            >>> hits = retriever.search("phase locked loop with varactor", top_k=5)  # doctest: +SKIP
            >>> hits[0].publication_number, hits[0].best.snippet(80)  # doctest: +SKIP
        """
        if (query is None) == (patent is None):
            raise ConfigurationError(
                "pass exactly one of a query text or patent=... (a publication number or record)"
            )
        k = top_k or self.top_k
        if k < 1:
            raise ConfigurationError(f"top_k must be at least 1, got {k}")
        if patent is not None:
            target = self._patent_query(patent)
            cutoff = before or target.earliest_date
            if self.cutoff and cutoff is None:
                logger.warning(
                    "%s has no priority or filing date: no prior-art cutoff applied",
                    target.publication_number,
                )
            exclude = SearchFilter(
                exclude_publication_numbers=(target.publication_number,),
                exclude_family_ids=(target.family_id,) if target.family_id else (),
            )
            date_filter = cutoff_filter(self.cutoff, cutoff, include_undated=self.include_undated)
            texts = [text.text for text in target.texts]
            extra = [exclude, date_filter]
        else:
            target = None
            if not query or not query.strip():
                raise ConfigurationError("the query text is empty; type what the prior art should disclose")
            texts = [query]
            extra = [cutoff_filter(self.cutoff or "priority", before, include_undated=self.include_undated)]
        search_filter = merge_filters(self.filters, filters, *extra)
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
        return self._patent_query(patent)

    def _patent_query(self, patent: str | PatentDocument) -> PatentQuery:
        if isinstance(patent, PatentDocument):
            return query_from_document(patent, sources=self.query_sources)
        return query_from_store(self._store, patent, sources=self.query_sources)

    def _depth(self, k: int, boosted: bool) -> int:
        depth = max(k, self.boosts.depth) if boosted and self.boosts else k
        if self.reranker is not None:
            depth = max(depth, self.rerank_depth)
        if self.mmr is not None:
            depth = max(depth, self.mmr_depth)
        return depth

    def _run(
        self, texts: list[str], search_filter: SearchFilter, k: int, target: PatentQuery | None
    ) -> list[PatentHit]:
        depth = self._depth(k, target is not None)
        # Several texts (a patent's claims and abstract) are fused by rank: fetch deeper lists.
        limit = depth if len(texts) == 1 else max(depth, 3 * k)
        vectors = (
            self._encoder.encode_queries(
                [_fit(self._encoder, t, self.query_task) for t in texts], task=self.query_task
            )
            if self._encoder is not None and self.mode != "bm25"
            else [None] * len(texts)
        )
        classified = (
            _classified_filter(target, search_filter)
            if target and self.boosts and self.boosts.classified
            else None
        )
        rankings: list[list[tuple[str, float, list[SearchHit]]]] = []
        for text, vector in zip(texts, vectors, strict=True):
            groups = self._groups(text, vector, search_filter, limit)
            if classified is not None and self.boosts:
                # The examiner's classified search: the same query within the query's own classes
                # reaches relevant patents that text similarity alone ranks too deep.
                extra = self._groups(text, vector, classified, self.boosts.classified)
                rankings.append(fuse_scores([groups, extra]))
            else:
                rankings.append([(group.key, group.score, list(group.hits)) for group in groups])
        if len(rankings) == 1:
            fused = rankings[0]
        else:
            fused = fuse_rankings([[HitGroup(key, tuple(hits)) for key, _, hits in r] for r in rankings])
        hits = [
            hit_from_hits(chunks, rank=i + 1, score=score, limit=self.evidence)
            for i, (_, score, chunks) in enumerate(fused[:depth])
        ]
        if self.boosts is not None and target is not None:
            hits = apply_boosts(target, hits, self.boosts)
        if self.reranker is not None:
            hits = rerank(texts[0], hits[: self.rerank_depth], self.reranker) + hits[self.rerank_depth :]
        if self.mmr is not None and hits:
            pool = hits[: self.mmr_depth]
            vectors_ = self._encoder.encode_documents([hit.best.text for hit in pool])  # type: ignore[union-attr]
            hits = mmr_select(pool, vectors_, diversity=self.mmr, top_k=k)
        return [hit.model_copy(update={"rank": i + 1}) for i, hit in enumerate(hits[:k])]

    def _groups(
        self, text: str, vector: list[float] | None, search_filter: SearchFilter, limit: int
    ) -> list[HitGroup]:
        # Prefetch depth matters to hybrid fusion only; dense/BM25 grouping sizes its own fetch.
        candidates = self.candidates or (max(100, 3 * limit) if self.mode == "hybrid" else None)
        return self._store.search_groups(
            dense=vector,
            text=text,
            mode=self.mode,
            search_filter=search_filter,
            limit=limit,
            group_by=_GROUP_FIELD[self.group_by],  # type: ignore[arg-type]
            group_size=self.evidence,
            candidates=candidates,
            fusion=self.fusion,
        )

    # -- LlamaIndex ------------------------------------------------------------------------------
    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [hit.to_node() for hit in self.search(query_bundle.query_str)]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._retrieve, query_bundle)


def _classified_filter(target: PatentQuery, search_filter: SearchFilter) -> SearchFilter | None:
    """``search_filter`` narrowed to the query patent's own USPC symbols, else its CPC symbols; None
    when it has neither, or when the user already filters on classification. (Not IPC: on the PatSnap
    dev split an IPC-restricted search cost 0.012 R@100 after boosting.)"""
    if search_filter.uspc or search_filter.cpc or search_filter.ipc:
        return None
    for field in ("uspc", "cpc"):
        if symbols := getattr(target, field):
            return dataclasses.replace(search_filter, **{field: symbols})
    return None


def _fit(encoder: Encoder, text: str, task: str | None) -> str:
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


def _check_options(
    mode: str, fusion: str, group_by: str, top_k: int, evidence: int, cutoff: str | None, mmr: float | None
) -> None:
    if mode not in _MODES:
        raise ConfigurationError(f"mode must be one of {', '.join(_MODES)}, got {mode!r}")
    if fusion not in ("rrf", "dbsf"):
        raise ConfigurationError(f"fusion must be 'rrf' or 'dbsf', got {fusion!r}")
    if group_by not in _GROUP_FIELD:
        raise ConfigurationError(f"group_by must be 'patent' or 'family', got {group_by!r}")
    if top_k < 1 or evidence < 1:
        raise ConfigurationError(f"top_k and evidence must be at least 1, got {top_k} and {evidence}")
    if cutoff not in ("priority", "filing", "publication", None):
        raise ConfigurationError(
            f"cutoff must be 'priority', 'filing', 'publication' or None, got {cutoff!r}"
        )
    if mmr is not None and not 0.0 <= mmr <= 1.0:
        raise ConfigurationError(f"mmr must be between 0 and 1 (diversity), got {mmr}")
