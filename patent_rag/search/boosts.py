"""Bibliographic rescoring of a patent query's candidates: what examiners' citations share.

Text similarity alone misses much of what examiners cite. Cited prior art tends to share the
query's classification codes, its applicant and inventors (self-citation), and to have been
published around the time the query was filed. :class:`MetadataBoosts` adds these signals to the
retrieval score of the first ``depth`` patents of a search *by patent* (a free-text query has no
bibliography to compare with)::

    score = norm(retrieval score)
          + classification x Jaccard(query codes, candidate codes)    # full CPC symbols, else IPC
          + uspc           x Jaccard(query USPC symbols, candidate USPC symbols)
          + assignee       x [they share an applicant/assignee]
          + inventor       x [they share an inventor]
          + date_proximity x exp(-|candidate publication date - query earliest date| / date_scale_years)

``norm`` maps the candidates' retrieval scores through the distribution-based normalisation that
DBSF uses (mean +/- 3 standard deviations of the candidates onto [0, 1]), so the weights mean the
same whatever the search mode or fusion.

Rescoring can only reorder what the text search found. ``classified`` adds what an examiner's
classified search finds: the retriever runs the same query again within the query patent's own
classification symbols and fuses the two lists before rescoring, which reaches relevant patents
whose text ranks them too deep.

The default weights are the optimum of a coarse grid on patent citations, which is flat around it
(see docs/benchmarks.md): they are not fitted to the last digit.

Example:
    >>> MetadataBoosts().classification
    0.3
    >>> MetadataBoosts(assignee=0.0).active
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from patent_rag.errors import ConfigurationError
from patent_rag.search.hits import PatentHit
from patent_rag.search.query import PatentQuery
from patent_rag.search.ranking import distribution_normalized
from patent_rag.stores.layout import assignee_key

__all__ = ["MetadataBoosts", "apply_boosts"]

_DAYS_PER_YEAR = 365.25


@dataclass(frozen=True, kw_only=True)
class MetadataBoosts:
    """Weights of the bibliographic signals added to a patent query's retrieval scores.

    Args:
        classification: weight of the Jaccard overlap of full classification symbols (CPC when
            both patents have CPC codes, else IPC).
        uspc: weight of the Jaccard overlap of US national classification symbols (``class/subclass``,
            on US documents up to 2015). USPC subclasses are much finer than IPC groups, which makes
            this the strongest single signal on examiner citations (see docs/benchmarks.md).
        assignee: weight of sharing an applicant/assignee (names compared case- and
            punctuation-insensitively).
        inventor: weight of sharing an inventor.
        date_proximity: weight of ``exp(-|years between the candidate's publication and the
            query's earliest date| / date_scale_years)``.
        date_scale_years: the decay scale of ``date_proximity``.
        depth: how many of the best patents are rescored (the retriever fetches this many).
        classified: how many patents a second, *classified* search adds to the candidates: the same
            query restricted to patents sharing one of the query's USPC symbols (else one of its
            CPC symbols), its scores fused with the main search's the way DBSF fuses (each
            list's mean +/- 3 standard deviations onto [0, 1], summed). 0 turns it off.
    """

    classification: float = 0.3
    uspc: float = 1.5
    assignee: float = 0.5
    inventor: float = 0.3
    date_proximity: float = 0.75
    date_scale_years: float = 3.0
    depth: int = 200
    classified: int = 100

    def __post_init__(self) -> None:
        weights = (self.classification, self.uspc, self.assignee, self.inventor, self.date_proximity)
        if any(not math.isfinite(w) or w < 0 for w in weights):
            raise ConfigurationError(f"boost weights must be finite and >= 0, got {weights}")
        if not self.date_scale_years > 0:
            raise ConfigurationError(f"date_scale_years must be > 0, got {self.date_scale_years}")
        if self.classified < 0:
            raise ConfigurationError(f"classified must be >= 0, got {self.classified}")
        if self.depth < 1:
            raise ConfigurationError(f"depth must be at least 1, got {self.depth}")

    @property
    def active(self) -> bool:
        """Whether any weight or the classified search is on (else the retriever skips both)."""
        return self.classified > 0 or any(
            (self.classification, self.uspc, self.assignee, self.inventor, self.date_proximity)
        )


def _keys(names: Iterable[str]) -> set[str]:
    return {key for key in (assignee_key(name) for name in names) if key}


def _jaccard(a: set[str], b: set[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def _proximity(published: date | None, anchor: date | None, scale: float) -> float:
    if published is None or anchor is None:
        return 0.0
    return math.exp(-abs((published - anchor).days) / _DAYS_PER_YEAR / scale)


def apply_boosts(query: PatentQuery, hits: Sequence[PatentHit], boosts: MetadataBoosts) -> list[PatentHit]:
    """``hits`` (one patent query's candidates) rescored and re-sorted; the new score replaces theirs."""
    if not hits or not boosts.active:
        return list(hits)
    base = distribution_normalized(np.array([hit.score for hit in hits], dtype=np.float64), flat=1.0)
    cpc, ipc, uspc = set(query.cpc), set(query.ipc), set(query.uspc)
    assignees, inventors = _keys(query.assignees), _keys(query.inventors)
    anchor = query.earliest_date
    scores = []
    for hit, score in zip(hits, base, strict=True):
        codes = _jaccard(cpc, set(hit.cpc)) if cpc and hit.cpc else _jaccard(ipc, set(hit.ipc))
        score += boosts.classification * codes
        score += boosts.uspc * _jaccard(uspc, set(hit.uspc))
        score += boosts.assignee * bool(assignees & _keys(hit.assignees))
        score += boosts.inventor * bool(inventors & _keys(hit.inventors))
        score += boosts.date_proximity * _proximity(hit.publication_date, anchor, boosts.date_scale_years)
        scores.append(float(score))
    order = sorted(range(len(hits)), key=lambda i: -scores[i])  # stable: retrieval order on ties
    return [hits[i].model_copy(update={"score": scores[i]}) for i in order]
