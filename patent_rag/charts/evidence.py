"""Evidence search: for each claim element and each reference, the passage of that reference that
best discloses it, found with the index's own model and BM25 within that reference only, and a
claim charted against references with its coverage (all retrieval; an LLM's opinion of the cells
is the separate, optional :func:`patent_rag.charts.judge.judge_chart`).

How passages are found and scored, and what a cell's score means, is in :mod:`.scoring`; how they
are charted is one :class:`~patent_rag.charts.options.ChartOptions`.

Example:
    >>> chart = chart_claim(searcher, "US8089324B2", claim=1, top=3)  # doctest: +SKIP
    >>> [(ref.publication_number, ref.found) for ref in chart.references]  # doctest: +SKIP
    >>> cell = chart.cell("1[a]", chart.references[0].publication_number)  # doctest: +SKIP
    >>> cell.location.label, round(cell.score, 1), cell.found  # doctest: +SKIP
    ('description ¶14', 5.3, True)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date

from patent_rag.charts._passages import ReferenceText
from patent_rag.charts.coverage import assess_coverage
from patent_rag.charts.model import Cell, ClaimChart, ClaimElement, Reference, SegmentedClaim
from patent_rag.charts.options import DEFAULT_THRESHOLD, ChartOptions
from patent_rag.charts.scoring import ScoredPassage, cells_from, load_references, rank_references
from patent_rag.charts.segment import segment_patent_claim
from patent_rag.documents.record import PatentDocument
from patent_rag.errors import ConfigurationError
from patent_rag.search.patents import read_patent
from patent_rag.search.searcher import PatentSearcher

__all__ = [
    "DEFAULT_THRESHOLD",
    "ChartOptions",
    "ScoredPassage",
    "chart_claim",
    "find_passages",
    "rank_passages",
]

logger = logging.getLogger(__name__)

_DEFAULT_OPTIONS = ChartOptions()


def find_passages(
    searcher: PatentSearcher,
    elements: Sequence[ClaimElement],
    references: Sequence[str],
    *,
    options: ChartOptions = _DEFAULT_OPTIONS,
) -> list[Cell]:
    """The best passage of each reference for each element: one :class:`Cell` per element and
    reference (elements outer, references in the order given), also when it is not found.

    Raises:
        PatentNotFoundError: a reference that is not in the index (all of them named).
        ConfigurationError: no elements, or a mode that needs the encoder the searcher lacks.

    Example:
        >>> claim = segment_claim("A lamp comprising: a base; and a bulb.")  # doctest: +SKIP
        >>> cells = find_passages(searcher, claim.elements, ["US7315219B2"])  # doctest: +SKIP
        >>> cells[0].location.label, cells[0].found  # doctest: +SKIP
        ('description ¶12', True)
    """
    loaded = load_references(searcher.store, references)
    return cells_from(rank_references(searcher, elements, loaded, options=options), options.threshold)


def rank_passages(
    searcher: PatentSearcher,
    elements: Sequence[ClaimElement],
    references: Sequence[str],
    *,
    options: ChartOptions = _DEFAULT_OPTIONS,
) -> dict[tuple[str, str], list[ScoredPassage]]:
    """The ``options.passages`` best passages per (element label, reference), best first: what
    :func:`find_passages` chooses from (a benchmark reads the ranks below the first here).

    Raises:
        PatentNotFoundError: a reference that is not in the index (all of them named).
        ConfigurationError: no elements, or a mode that needs the encoder the searcher lacks.

    Example:
        >>> ranked = rank_passages(searcher, claim.elements, ["US7315219B2"])  # doctest: +SKIP
        >>> [p.location.label for p in ranked[("1[a]", "US7315219B2")]]  # doctest: +SKIP
        ['description ¶12', 'claim 1', 'description ¶3']
    """
    loaded = load_references(searcher.store, references)
    return rank_references(searcher, elements, loaded, options=options)


def chart_claim(
    searcher: PatentSearcher,
    patent: str | PatentDocument,
    *,
    claim: int = 1,
    references: Sequence[str] | None = None,
    top: int = 3,
    options: ChartOptions = _DEFAULT_OPTIONS,
) -> ClaimChart:
    """Chart claim ``claim`` of ``patent`` element by element against references.

    Args:
        searcher: a searcher over the index that holds the references (and the patent, when it is
            given by number); its encoder scores the passages.
        patent: a publication number in the index, or a record (its claims are read from it).
        claim: the claim to chart; a dependent claim is charted with the elements it inherits.
        references: publication numbers in the index to chart against, in this order before
            ranking; the patent itself may be one (self-support). None: the ``top`` results of
            ``searcher.prior_art(patent)``.
        top: prior-art references taken when ``references`` is None.
        options: how passages are found and scored (:class:`ChartOptions`).

    Raises:
        PatentNotFoundError: the patent (given by number) or a reference is not in the index; every
            missing reference is named.
        ConfigurationError: no such claim (the claims there are are listed), ``top`` below 1.

    Example:
        >>> chart = chart_claim(searcher, "US8089324B2", references=["US7315219B2"])  # doctest: +SKIP
        >>> chart.anticipation, chart.references[0].found  # doctest: +SKIP
        ([], ['1[pre]', '1[b]'])
    """
    if top < 1:
        raise ConfigurationError(f"top must be at least 1, got {top}")
    number, title, earliest, segmented = _claim_of(searcher, patent, claim)
    notes: list[str] = []
    if references is None:
        numbers = [hit.publication_number for hit in searcher.prior_art(patent, top_k=top)]
        if not numbers:
            notes.append("The prior-art search found no references to chart against.")
    else:
        numbers = list(references)
    loaded = load_references(searcher.store, numbers)
    elements = segmented.elements
    cells = cells_from(rank_references(searcher, elements, loaded, options=options), options.threshold)
    labels = [element.label for element in elements]
    coverage = assess_coverage(labels, [ref.publication_number for ref in loaded], cells)
    by_number = {ref.publication_number: ref for ref in loaded}
    ranked = [by_number[reference] for reference in coverage.ranking]
    position = {reference.publication_number: i for i, reference in enumerate(ranked)}
    label_order = {label: i for i, label in enumerate(labels)}
    cells.sort(key=lambda cell: (label_order[cell.element], position[cell.reference]))
    notes += _notes(number, earliest, ranked)
    return ClaimChart(
        publication_number=number,
        title=title,
        claim=segmented,
        references=[
            Reference(
                publication_number=ref.publication_number,
                title=ref.title,
                earliest_date=ref.earliest_date,
                full_text=ref.full_text,
                found=coverage.found[ref.publication_number],
            )
            for ref in ranked
        ],
        cells=cells,
        threshold=options.threshold,
        anticipation=coverage.anticipation,
        combinations=coverage.combinations,
        notes=notes,
    )


def _claim_of(
    searcher: PatentSearcher, patent: str | PatentDocument, claim: int
) -> tuple[str, str, date | None, SegmentedClaim]:
    """The patent's number, title, earliest date and the claim segmented."""
    if isinstance(patent, PatentDocument):
        return (
            patent.publication_number,
            patent.title or "",
            patent.earliest_date,
            segment_patent_claim(patent.claims, claim),
        )
    record = read_patent(searcher.store, patent)
    if not record.claims:
        raise ConfigurationError(f"the index holds no claims of {record.publication_number} to chart")
    return (
        record.publication_number,
        record.title,
        record.earliest_date,
        segment_patent_claim(record.claims, claim),
    )


def _notes(number: str, earliest: date | None, references: Sequence[ReferenceText]) -> list[str]:
    notes = []
    for ref in references:
        if ref.publication_number == number:
            notes.append(f"{number} is the charted patent itself (self-support, not prior art).")
        elif earliest and ref.earliest_date and ref.earliest_date >= earliest:
            notes.append(
                f"{ref.publication_number} is dated {ref.earliest_date}, not before the patent's "
                f"{earliest}: not prior art by date."
            )
        if not ref.full_text:
            notes.append(
                f"{ref.publication_number}: the index holds only its title, abstract and claims, "
                "so 'not found' there says less than for a full-text reference."
            )
    return notes
