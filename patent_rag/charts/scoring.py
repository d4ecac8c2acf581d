"""Scoring passages of references against claim elements (the machinery of :mod:`.evidence`).

Two stages per element:

1. **Candidates, in the engine.** One grouped search restricted to the references (the index's
   hybrid search by default: its dense vectors and its BM25 with the index's IDF) returns each
   reference's best ``candidates`` chunks.
2. **Passages, rescored.** Those chunks are split into the passages a reader cites (one
   description paragraph, one claim, the abstract) and each passage is scored against the element
   on its own: the cosine of the element (the index model's query prompt) and the passage (its
   document prompt), and BM25 with the index's tokenizer. A passage the index split into several
   chunks scores as its best piece.

A score means something only against what the element scores elsewhere: each signal is
standardized against the element's scores on a fixed sample of the index's passages
(:mod:`patent_rag.charts._background`), the two z scores are added (BM25 weighted by
``lexical_weight``) and the sum standardized again on the same sample. So a passage's score is "so
many standard deviations above an ordinary passage of this index" whatever the model, and
``score >= threshold`` is what "found" means.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from patent_rag.charts._background import Background, background_for, unit_rows
from patent_rag.charts._passages import ReferenceText, reference_text
from patent_rag.charts.model import Cell, ClaimElement, Location
from patent_rag.charts.options import ChartOptions
from patent_rag.errors import ConfigurationError, PatentNotFoundError
from patent_rag.search.query import patent_chunks
from patent_rag.search.searcher import PatentSearcher, fit_query, prefetch_depth
from patent_rag.stores.base import Store
from patent_rag.stores.filters import SearchFilter
from patent_rag.stores.sparse import SparseTerms

if TYPE_CHECKING:
    from patent_rag.encoding.encoder import Encoder

__all__ = [
    "ScoredPassage",
    "cells_from",
    "load_references",
    "query_text",
    "rank_references",
]

logger = logging.getLogger(__name__)

# Smallest spread a signal's background may have: a sample where (almost) no passage shares a term
# with the element must not turn one shared term into an enormous z. 0.1 (a tenth of "every term
# once") kept the unrelated references' tail lowest at the same accuracy (0.05 and 0.2 measured too,
# on benchmarks/chart_passages.py's labels).
_MIN_SPREAD = {"dense": 1e-3, "lexical": 0.1}
_TRAILING = re.compile(r"(?:[\s;,:.]|\band\b|\bor\b)+$", re.IGNORECASE)


@dataclass(frozen=True)
class ScoredPassage:
    """A passage of a reference scored against an element.

    Attributes:
        score: the standardized score the threshold applies to.
        dense: the raw cosine of element and passage (None in BM25 mode).
        lexical: the raw BM25 score, normalised by the element's total IDF (None in dense mode).
    """

    element: str
    reference: str
    location: Location
    text: str
    score: float
    dense: float | None
    lexical: float | None


def load_references(store: Store, references: Sequence[str]) -> list[ReferenceText]:
    """The passages of each reference (deduplicated, in the order given).

    Raises:
        PatentNotFoundError: naming every reference that is not in the index.
        ConfigurationError: a number without kind code that matches several patents.
    """
    texts: dict[str, ReferenceText] = {}
    missing: list[str] = []
    for number in dict.fromkeys(references):
        try:
            text = reference_text(patent_chunks(store, number))
        except PatentNotFoundError:
            missing.append(number)
            continue
        texts.setdefault(text.publication_number, text)
    if missing:
        raise PatentNotFoundError(
            f"not in the index at {store.location}: {', '.join(missing)}; ingest "
            f"{'them' if len(missing) > 1 else 'it'} first, or chart against references in the index"
        )
    return list(texts.values())


def cells_from(ranked: dict[tuple[str, str], list[ScoredPassage]], threshold: float) -> list[Cell]:
    """The cells of ranked passages: each (element, reference) with its best passage."""
    return [
        Cell(
            element=best.element,
            reference=best.reference,
            text=best.text,
            location=best.location,
            score=best.score,
            found=best.score >= threshold,
            dense=best.dense,
            lexical=best.lexical,
        )
        for best in (passages[0] for passages in ranked.values() if passages)
    ]


def query_text(element: ClaimElement) -> str:
    """An element as a query: its text without the trailing ``;``, ``and`` or ``or`` of the claim."""
    text = " ".join(element.text.split())
    return _TRAILING.sub("", text) or text


def rank_references(
    searcher: PatentSearcher,
    elements: Sequence[ClaimElement],
    references: Sequence[ReferenceText],
    *,
    options: ChartOptions,
) -> dict[tuple[str, str], list[ScoredPassage]]:
    """The ``options.passages`` best passages per (element label, reference), best first, for
    references already loaded (:func:`load_references`).

    Raises:
        ConfigurationError: no elements, or a mode that needs the encoder the searcher lacks.
    """
    if not elements:
        raise ConfigurationError("there are no claim elements to chart")
    if not references:
        return {}
    encoder = searcher.encoder
    dense = options.mode != "bm25"
    if dense and encoder is None:
        raise ConfigurationError(
            f"chart mode {options.mode!r} needs the encoder the index was built with; "
            "only mode='bm25' works without one"
        )
    task = options.query_task if options.query_task is not None else searcher.options.query_task
    queries = [query_text(element) for element in elements]
    background = background_for(searcher.store, options.background)
    vectors = (
        # A long element is encoded as the head the model reads whole, as the searcher does.
        unit_rows(encoder.encode_queries([fit_query(encoder, query, task) for query in queries], task=task))
        if dense and encoder
        else None
    )
    scorer = _Scorer(background, queries, vectors, options, encoder)
    candidates = _candidates(searcher, queries, vectors, references, options)
    scorer.prepare(references, candidates)
    ranked: dict[tuple[str, str], list[ScoredPassage]] = {}
    for e, element in enumerate(elements):
        for r, reference in enumerate(references):
            scored = [scorer.score(e, element.label, reference, index) for index in candidates[e][r]]
            scored.sort(key=lambda passage: -passage.score)  # stable: document order breaks ties
            ranked[(element.label, reference.publication_number)] = scored[: options.passages]
    return ranked


def _candidates(
    searcher: PatentSearcher,
    queries: list[str],
    vectors: np.ndarray | None,
    references: Sequence[ReferenceText],
    options: ChartOptions,
) -> list[list[list[int]]]:
    """Per element and reference, the passages (indices) to rescore: those of the reference's best
    chunks for the element (all its passages if the search returned none, or ``candidates=None``)."""
    every = [list(range(len(reference.passages))) for reference in references]
    if options.candidates is None:
        return [every for _ in queries]
    position = {reference.publication_number: r for r, reference in enumerate(references)}
    restrict = SearchFilter(publication_numbers=tuple(position))
    limit = len(references)
    out: list[list[list[int]]] = []
    for e, query in enumerate(queries):
        chosen = [list(passages) for passages in every]
        groups = searcher.store.search_groups(
            dense=vectors[e] if vectors is not None else None,
            text=query,
            mode=options.mode,
            search_filter=restrict,
            limit=limit,
            group_by="publication_number",
            group_size=options.candidates,
            candidates=prefetch_depth(options.mode, limit, searcher.options.candidates),
            fusion=searcher.options.fusion,
        )
        for group in groups:
            r = position.get(group.key)
            if r is None:
                continue
            held = references[r].chunk_passages
            picked = dict.fromkeys(index for hit in group.hits for index in held.get(hit.id, ()))
            if picked:
                chosen[r] = sorted(picked)
        out.append(chosen)
    return out


class _Scorer:
    """Standardized scores of passages for elements; each passage piece is encoded once."""

    def __init__(
        self,
        background: Background,
        queries: list[str],
        vectors: np.ndarray | None,
        options: ChartOptions,
        encoder: Encoder | None,
    ) -> None:
        self._background = background
        self._lexicon = background.lexicon
        self._vectors = vectors
        self._encoder = encoder
        self._weight = options.lexical_weight if options.mode == "hybrid" else 0.0
        self._lexical = options.mode != "dense"
        self._terms = [self._lexicon.query(query) for query in queries] if self._lexical else []
        self._piece_vectors: dict[str, np.ndarray] = {}
        self._piece_terms: dict[str, SparseTerms] = {}
        # Per element: (mean, spread) of the dense and lexical signal and of their combination.
        bg_dense = vectors @ background.vectors(encoder).T if vectors is not None and encoder else None
        bg_lexical = (
            np.array([[self._lexicon.score(q, terms) for terms in background.terms] for q in self._terms])
            if self._lexical
            else None
        )
        self._dense_stats = _spread(bg_dense, _MIN_SPREAD["dense"]) if bg_dense is not None else None
        self._lexical_stats = _spread(bg_lexical, _MIN_SPREAD["lexical"]) if bg_lexical is not None else None
        self._combined_stats = _spread(self._combine(bg_dense, bg_lexical, slice(None)), 1e-6)

    def _combine(self, dense: np.ndarray | None, lexical: np.ndarray | None, rows: Any) -> np.ndarray:
        """The combined z of raw scores, before its own standardization (rows: the elements)."""
        parts = []
        if dense is not None and self._dense_stats is not None:
            mean, spread = self._dense_stats
            parts.append((dense - mean[rows]) / spread[rows])
        if lexical is not None and self._lexical_stats is not None:
            mean, spread = self._lexical_stats
            weight = self._weight if dense is not None else 1.0
            parts.append(weight * (lexical - mean[rows]) / spread[rows])
        return np.sum(parts, axis=0)

    def _prepare(self, pieces: Sequence[str]) -> None:
        new = [piece for piece in dict.fromkeys(pieces) if piece not in self._piece_terms]
        if not new:
            return
        if self._vectors is not None and self._encoder is not None:
            self._piece_vectors.update(self._background.passage_vectors(self._encoder, new))
        for piece, terms in zip(new, self._lexicon.terms(new), strict=True):
            self._piece_terms[piece] = terms

    def prepare(self, references: Sequence[ReferenceText], candidates: list[list[list[int]]]) -> None:
        """Encode every candidate piece in one batch."""
        pieces = [
            piece
            for per_element in candidates
            for r, indices in enumerate(per_element)
            for index in indices
            for piece in references[r].passages[index].pieces
        ]
        self._prepare(pieces)

    def score(self, e: int, label: str, reference: ReferenceText, index: int) -> ScoredPassage:
        """Passage ``index`` of ``reference`` scored for element ``e``: its best piece's scores."""
        passage = reference.passages[index]
        self._prepare(passage.pieces)
        scored = []
        for piece in passage.pieces:
            dense = (
                float(self._vectors[e] @ self._piece_vectors[piece]) if self._vectors is not None else None
            )
            lexical = self._lexicon.score(self._terms[e], self._piece_terms[piece]) if self._lexical else None
            combined = self._combine(
                np.array([[dense]]) if dense is not None else None,
                np.array([[lexical]]) if lexical is not None else None,
                slice(e, e + 1),
            )
            mean, spread = self._combined_stats
            scored.append((float((combined[0, 0] - mean[e, 0]) / spread[e, 0]), dense, lexical))
        z, dense, lexical = max(scored, key=lambda item: item[0])
        return ScoredPassage(
            element=label,
            reference=reference.publication_number,
            location=passage.location,
            text=passage.text,
            score=round(z, 4),
            dense=round(dense, 4) if dense is not None else None,
            lexical=round(lexical, 4) if lexical is not None else None,
        )


def _spread(scores: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row (element): the mean and the spread (floored) of its background scores."""
    if scores.shape[1] == 0:  # an empty index has no background: raw scores stand
        return np.zeros((len(scores), 1)), np.ones((len(scores), 1))
    return scores.mean(axis=1, keepdims=True), np.maximum(scores.std(axis=1, keepdims=True), floor)
