"""Coverage: which elements each reference discloses (by retrieval), the references ranked by it, the
anticipation candidates (one reference, every element) and the obviousness pairs (two references
that together, and neither alone, disclose every element).

These are retrieval findings, shown as such: "found" means a passage cleared the chart's threshold,
not that an examiner or a model agreed.

Example:
    >>> from patent_rag.charts.model import Cell, Location
    >>> def cell(element, reference, found):
    ...     return Cell(element=element, reference=reference, text="...", score=5.0 if found else 1.0,
    ...                 location=Location(section="abstract"), found=found)
    >>> cells = [cell("1[a]", "A", True), cell("1[b]", "A", False), cell("1[a]", "B", False),
    ...          cell("1[b]", "B", True)]
    >>> result = assess_coverage(["1[a]", "1[b]"], ["A", "B"], cells)
    >>> result.anticipation, result.combinations
    ([], [['A', 'B']])
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from patent_rag.charts.model import Cell

__all__ = ["Coverage", "assess_coverage"]


@dataclass(frozen=True)
class Coverage:
    """What the cells say about the references.

    Attributes:
        found: per reference, the labels of the elements found, in claim order.
        ranking: the references, most elements found first (ties: the higher summed score of the
            cells, then the order given).
        anticipation: references that each disclose every element, in ranking order.
        combinations: pairs of references that together disclose every element while neither does
            alone, in ranking order of the first, then of the second.
    """

    found: dict[str, list[str]]
    ranking: list[str]
    anticipation: list[str]
    combinations: list[list[str]]


def assess_coverage(elements: Sequence[str], references: Sequence[str], cells: Sequence[Cell]) -> Coverage:
    """Coverage of ``elements`` (labels) by ``references`` according to ``cells``.

    A cell of an element or reference not listed is ignored; an element without a cell for a
    reference counts as not found there. With no elements, nothing is anticipated or combined.
    """
    labels = list(dict.fromkeys(elements))
    order = list(dict.fromkeys(references))
    wanted = set(labels)
    found: dict[str, set[str]] = {reference: set() for reference in order}
    total: dict[str, float] = dict.fromkeys(order, 0.0)
    for cell in cells:
        if cell.reference not in found or cell.element not in wanted:
            continue
        total[cell.reference] += cell.score
        if cell.found:
            found[cell.reference].add(cell.element)
    position = {reference: i for i, reference in enumerate(order)}
    ranking = sorted(order, key=lambda ref: (-len(found[ref]), -total[ref], position[ref]))
    complete = {ref for ref in order if labels and found[ref] >= wanted}
    anticipation = [ref for ref in ranking if ref in complete]
    combinations = [
        [first, second]
        for first, second in itertools.combinations(ranking, 2)
        if labels
        and first not in complete
        and second not in complete
        and found[first] | found[second] >= wanted
    ]
    return Coverage(
        found={ref: [label for label in labels if label in found[ref]] for ref in ranking},
        ranking=ranking,
        anticipation=anticipation,
        combinations=combinations,
    )
