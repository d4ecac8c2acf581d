"""Patent-level ranking after the engine: fusing several queries, reranking, MMR diversity.

The engine ranks chunks and groups them per patent; what is left for Python is what needs the
whole patent list: reciprocal rank fusion of the rankings of a patent's several query texts, an
optional reranker (e.g. a sentence-transformers ``CrossEncoder``) and maximal marginal relevance.

Example:
    >>> from patent_rag.stores.base import HitGroup, SearchHit
    >>> a = [HitGroup("US1", (SearchHit("1", 0.9, {}),)), HitGroup("US2", (SearchHit("2", 0.8, {}),))]
    >>> b = [HitGroup("US2", (SearchHit("3", 0.7, {}),))]
    >>> [key for key, _, _ in fuse_rankings([a, b])]
    ['US2', 'US1']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from patent_rag.errors import ConfigurationError
from patent_rag.search.hits import PatentHit
from patent_rag.stores.base import RRF_K, HitGroup, SearchHit

__all__ = [
    "CrossEncoderLike",
    "Reranker",
    "distribution_normalized",
    "fuse_rankings",
    "fuse_scores",
    "mmr_select",
    "rerank",
]


@runtime_checkable
class CrossEncoderLike(Protocol):
    """Anything with sentence-transformers ``CrossEncoder.predict(pairs)``."""

    def predict(self, sentences: Any, *args: Any, **kwargs: Any) -> Any: ...


Reranker = Callable[[str, Sequence[str]], Sequence[float]] | CrossEncoderLike
"""A callable ``(query, candidate_texts) -> scores`` (higher is better), or a ``CrossEncoder``."""


def fuse_rankings(
    rankings: Sequence[Sequence[HitGroup]], *, k: int = RRF_K
) -> list[tuple[str, float, list[SearchHit]]]:
    """Reciprocal rank fusion of patent rankings: ``sum(1 / (k + rank))``, rank from 0.

    Returns ``(key, fused score, every chunk hit of that patent)`` best first; ties keep the order
    in which patents were first seen, so fusing one ranking returns it unchanged.
    """
    scores: dict[str, float] = {}
    hits: dict[str, list[SearchHit]] = {}
    for ranking in rankings:
        for rank, group in enumerate(ranking):
            scores[group.key] = scores.get(group.key, 0.0) + 1.0 / (k + rank)
            hits.setdefault(group.key, []).extend(group.hits)
    order = sorted(scores, key=lambda key: -scores[key])  # stable: first-seen order on ties
    return [(key, scores[key], hits[key]) for key in order]


def distribution_normalized(scores: np.ndarray, *, flat: float) -> np.ndarray:
    """``scores`` mapped the way DBSF maps a list: mean +/- 3 standard deviations onto [0, 1];
    every score becomes ``flat`` when they are all equal."""
    spread = scores.std()
    if not spread > 0:
        return np.full_like(scores, flat)
    return (scores - (scores.mean() - 3 * spread)) / (6 * spread)


def fuse_scores(rankings: Sequence[Sequence[HitGroup]]) -> list[tuple[str, float, list[SearchHit]]]:
    """Distribution-based score fusion of patent rankings (what DBSF does to an engine's prefetches).

    Each ranking's scores are mapped through its own mean +/- 3 standard deviations onto [0, 1] and
    summed per patent; a ranking adds nothing for a patent it lacks. Returns ``(key, fused score,
    the patent's chunk hits from every ranking, best first)`` best first; ties keep first-seen order.

    Example:
        >>> from patent_rag.stores.base import HitGroup, SearchHit
        >>> a = [HitGroup(k, (SearchHit(k, s, {}),)) for k, s in (("US1", 0.9), ("US2", 0.8), ("US3", 0.7))]
        >>> b = [HitGroup(k, (SearchHit(k, s, {}),)) for k, s in (("US3", 0.6), ("US4", 0.5))]
        >>> [(key, round(score, 2)) for key, score, _ in fuse_scores([a, b])]
        [('US3', 0.96), ('US1', 0.7), ('US2', 0.5), ('US4', 0.33)]
    """
    scores: dict[str, float] = {}
    hits: dict[str, dict[str, SearchHit]] = {}
    for ranking in rankings:
        if not ranking:
            continue
        values = np.array([group.score for group in ranking], dtype=np.float64)
        for group, value in zip(ranking, distribution_normalized(values, flat=0.5), strict=True):
            scores[group.key] = scores.get(group.key, 0.0) + float(value)
            chunks = hits.setdefault(group.key, {})
            for hit in group.hits:
                chunks.setdefault(hit.id, hit)
    order = sorted(scores, key=lambda key: -scores[key])  # stable: first-seen order on ties
    return [(key, scores[key], sorted(hits[key].values(), key=lambda hit: -hit.score)) for key in order]


def _scores(reranker: Reranker, query: str, texts: list[str]) -> list[float]:
    if isinstance(reranker, CrossEncoderLike):
        raw = reranker.predict([(query, text) for text in texts], show_progress_bar=False)
    elif callable(reranker):
        raw = reranker(query, texts)
    else:
        raise ConfigurationError(
            "reranker must be a callable (query, texts) -> scores or a CrossEncoder, "
            f"got {type(reranker).__name__}"
        )
    values = np.asarray(raw, dtype=np.float64).reshape(-1)
    if len(values) != len(texts):
        raise ConfigurationError(f"the reranker returned {len(values)} scores for {len(texts)} texts")
    return values.tolist()


def rerank(query: str, hits: Sequence[PatentHit], reranker: Reranker) -> list[PatentHit]:
    """Reorder patents by the reranker's score of (query, best evidence text); the score replaces theirs."""
    if not hits:
        return []
    texts = [f"{hit.title}. {hit.best.text}" if hit.title else hit.best.text for hit in hits]
    scores = _scores(reranker, query, texts)
    order = sorted(range(len(hits)), key=lambda i: -scores[i])
    return [hits[i].model_copy(update={"score": float(scores[i])}) for i in order]


def mmr_select(
    hits: Sequence[PatentHit], vectors: np.ndarray, *, diversity: float, top_k: int
) -> list[PatentHit]:
    """Maximal marginal relevance: trade relevance (min-max scaled scores) against similarity to
    the patents already picked (cosine of ``vectors``, one row per hit).

    ``diversity`` 0 keeps the relevance order; 1 picks the most dissimilar patents.
    """
    if not 0.0 <= diversity <= 1.0:
        raise ConfigurationError(f"mmr diversity must be between 0 and 1, got {diversity}")
    if not hits:
        return []
    scores = np.array([hit.score for hit in hits], dtype=np.float64)
    spread = scores.max() - scores.min()
    relevance = (scores - scores.min()) / spread if spread > 0 else np.ones_like(scores)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    chosen: list[int] = []
    left = list(range(len(hits)))
    while left and len(chosen) < top_k:
        redundancy = similarity[np.ix_(left, chosen)].max(axis=1) if chosen else np.zeros(len(left))
        value = (1.0 - diversity) * relevance[left] - diversity * redundancy
        pick = left[int(np.argmax(value))]
        chosen.append(pick)
        left.remove(pick)
    return [hits[i] for i in chosen]
