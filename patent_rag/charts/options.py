"""How a claim is charted: one frozen, validated :class:`ChartOptions` that every front end passes
down whole, and the provisional threshold of "found".

Example:
    >>> ChartOptions(mode="bm25").mode
    'bm25'
    >>> ChartOptions(candidates=0)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    patent_rag.errors.ConfigurationError: candidates must be at least 1 (or None: all), got 0
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, get_args

from patent_rag.errors import ConfigurationError
from patent_rag.search.options import choices
from patent_rag.stores.base import SearchMode

__all__ = ["DEFAULT_THRESHOLD", "ChartOptions"]

# Chosen with all-MiniLM-L6-v2 on the hand-labelled claim support of benchmarks/chart_passages.py
# (140 elements, 19 patents): F1 of "found" is flat at 0.97-0.98 from 3.4 to 4.0; at 3.5 precision is
# 0.97 and recall 0.98 against the best passages of patents that do not disclose the element, so
# "not found" rarely hides a disclosure. Fits on held-out patents spread over 3.0-4.1
# (docs/benchmarks.md, "Claim charts").
DEFAULT_THRESHOLD = 3.5


@dataclass(frozen=True, kw_only=True)
class ChartOptions:
    """How a claim is charted: one frozen, validated value every front end passes down whole.

    Args:
        mode: the signals passages are found and scored with: ``"hybrid"`` (the index's model and
            BM25), ``"dense"`` or ``"bm25"`` alone (for comparisons).
        threshold: the standardized score a passage needs to count as found (what it means:
            :mod:`patent_rag.charts.scoring`).
        candidates: chunks of each reference the first stage keeps per element; their passages are
            rescored. None: every passage of every reference is rescored (exact, slower on long
            descriptions; on the labelled benchmark it ranked the right paragraph first as often as
            4 did, and among the first three a little more often).
        lexical_weight: in hybrid mode, the weight of the BM25 z score next to the dense one (1.0);
            0.5 to 1.0 measured best, 0 (dense scores on hybrid candidates) worst.
        background: passages sampled from the index to standardize scores against.
        passages: ranked passages :func:`~patent_rag.charts.evidence.rank_passages` keeps per element
            and reference.
        query_task: the task whose query prompt encodes elements (None: the searcher's).

    Raises:
        ConfigurationError: a value outside its choices or range, naming the valid ones.

    Example:
        >>> ChartOptions(mode="dense", threshold=3.5).mode
        'dense'
    """

    mode: SearchMode = "hybrid"
    threshold: float = DEFAULT_THRESHOLD
    candidates: int | None = 4
    lexical_weight: float = 0.5
    background: int = 128
    passages: int = 3
    query_task: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in get_args(SearchMode):
            raise ConfigurationError(f"mode must be one of {choices(SearchMode)}, got {self.mode!r}")
        if not math.isfinite(self.threshold):
            raise ConfigurationError(f"threshold must be a finite number, got {self.threshold!r}")
        if self.candidates is not None and self.candidates < 1:
            raise ConfigurationError(f"candidates must be at least 1 (or None: all), got {self.candidates}")
        if not (math.isfinite(self.lexical_weight) and self.lexical_weight >= 0):
            raise ConfigurationError(f"lexical_weight must be 0 or more, got {self.lexical_weight!r}")
        if self.background < 8:
            raise ConfigurationError(f"background must be at least 8 passages, got {self.background}")
        if self.passages < 1:
            raise ConfigurationError(f"passages must be at least 1, got {self.passages}")

    def replace(self, **changes: Any) -> ChartOptions:
        """These options with ``changes`` (validated again); unknown names are refused, listing the known."""
        known = {field.name for field in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown chart option(s) {', '.join(unknown)}; the options are {', '.join(sorted(known))}"
            )
        return dataclasses.replace(self, **changes)
