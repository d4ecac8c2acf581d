"""Claim charts: each element of a claim mapped to the passage of each reference that best discloses it.

:mod:`.model` holds the values, :mod:`.segment` splits a claim into its elements, :mod:`.evidence`
finds each element's passages in the references (:mod:`.scoring`, :mod:`.options`) and charts a
claim, :mod:`.coverage` says which references cover which elements.
"""

from __future__ import annotations

from patent_rag.charts.coverage import Coverage, assess_coverage
from patent_rag.charts.evidence import chart_claim, find_passages, rank_passages
from patent_rag.charts.judge import judge_chart
from patent_rag.charts.model import (
    Cell,
    ClaimChart,
    ClaimElement,
    Judgement,
    Location,
    Reference,
    SegmentedClaim,
)
from patent_rag.charts.options import ChartOptions
from patent_rag.charts.render import chart_html, chart_markdown, chart_table
from patent_rag.charts.scoring import ScoredPassage
from patent_rag.charts.segment import segment_claim, segment_patent_claim

__all__ = [
    "Cell",
    "ChartOptions",
    "ClaimChart",
    "ClaimElement",
    "Coverage",
    "Judgement",
    "Location",
    "Reference",
    "ScoredPassage",
    "SegmentedClaim",
    "assess_coverage",
    "chart_claim",
    "chart_html",
    "chart_markdown",
    "chart_table",
    "find_passages",
    "judge_chart",
    "rank_passages",
    "segment_claim",
    "segment_patent_claim",
]
