"""Hand-built claim charts for the renderer and judge tests: no index, no model, no segmenter.

Not a conftest: test modules import what they need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from patent_rag.charts.model import (
    Cell,
    ClaimChart,
    ClaimElement,
    Judgement,
    Location,
    Reference,
    SegmentedClaim,
)

CLAIM = (
    "A voltage controlled oscillator comprising: a ring of inverters; a current source biasing the "
    "inverters with a control current; and an output buffer coupled to the ring."
)
PARTS = (
    ("preamble", "1[pre]", "A voltage controlled oscillator"),
    ("transition", "", "comprising:"),
    ("element", "1[a]", "a ring of inverters"),
    ("element", "1[b]", "a current source biasing the inverters with a control current"),
    ("element", "1[c]", "an output buffer coupled to the ring"),
)
LABELS = ("1[pre]", "1[a]", "1[b]", "1[c]")
FULL, SHORT = "US7863991B1", "US7315219B2"
PASSAGE = (
    "The oscillator 10 has five inverter stages connected in a ring, each stage driving the next. "
    "A bias circuit 12 supplies a control current to each inverter, which sets its delay and so the "
    "frequency of oscillation. The output buffer 14 is coupled to the last stage of the ring and drives "
    "the load. Other embodiments use differential stages, which reject supply noise better, and a "
    "replica bias that tracks temperature."
)
# Markup of every kind the renderings must show as text: rich, HTML, Markdown, terminal escapes.
HOSTILE = (
    '[bold red]RICH[/] <script>alert(1)</script> <img src=x onerror="x()"> | pipe *em* _u_ '
    "[link](javascript:alert(1)) `code` \x1b[2J\x1b]8;;http://evil\x07click\x1b]8;;\x07 \u202eevil"
)


def segmented(
    text: str = CLAIM,
    parts: Sequence[tuple[str, str, str]] = PARTS,
    *,
    number: int = 1,
    parent: int | None = None,
) -> SegmentedClaim:
    """``text`` split at the given (role, label, text) parts, separators in between."""
    pieces: list[ClaimElement] = []
    position = 0
    for role, label, part in parts:
        start = text.index(part, position)
        if start > position:
            pieces.append(
                ClaimElement(label="", role="separator", text=text[position:start], start=position, end=start)
            )
        pieces.append(ClaimElement(label=label, role=role, text=part, start=start, end=start + len(part)))  # type: ignore[arg-type]
        position = start + len(part)
    if position < len(text):
        pieces.append(
            ClaimElement(label="", role="separator", text=text[position:], start=position, end=len(text))
        )
    return SegmentedClaim(number=number, text=text, parent=parent, pieces=pieces)


def make_chart(
    *,
    found: Mapping[str, Sequence[str]] | None = None,
    passage: str = PASSAGE,
    title: str = "Varactor-free oscillator",
    ref_title: str = "CMOS VCO with a ring of inverters",
    judgements: dict[tuple[str, str], Judgement] | None = None,
    references: Sequence[str] = (FULL, SHORT),
    claim: SegmentedClaim | None = None,
    skip: Sequence[tuple[str, str]] = (),
    notes: Sequence[str] = (),
) -> ClaimChart:
    """A chart of :data:`CLAIM` against ``references`` (FULL with its description, the others not);
    ``found`` lists the labels found per reference (default: FULL all but 1[c], SHORT only 1[c]).
    Found cells score 0.8, the others 0.1 + 0.05 x the element's position; ``skip`` leaves cells out."""
    claim = claim or segmented()
    labels = [element.label for element in claim.elements]
    found = found if found is not None else {FULL: labels[:-1], SHORT: labels[-1:]}
    judgements = judgements or {}
    refs = [
        Reference(
            publication_number=number,
            title=ref_title if number == FULL else "Multiphase oscillator",
            earliest_date=date(2008, 10, 6) if number == FULL else None,
            full_text=number == FULL,
            found=[label for label in labels if label in found.get(number, ())],
        )
        for number in references
    ]
    cells = []
    for position, label in enumerate(labels):
        for ref in refs:
            if (label, ref.publication_number) in skip:
                continue
            hit = label in ref.found
            location = (
                Location(section="description", paragraph=12 + position)
                if ref.full_text
                else Location(section="claim", claim_number=position + 1)
            )
            cells.append(
                Cell(
                    element=label,
                    reference=ref.publication_number,
                    text=passage,
                    location=location,
                    score=0.8 if hit else 0.1 + 0.05 * position,
                    found=hit,
                    judgement=judgements.get((label, ref.publication_number)),
                )
            )
    everything = [ref.publication_number for ref in refs if len(ref.found) == len(labels)]
    pairs = (
        [[refs[0].publication_number, refs[1].publication_number]]
        if len(refs) > 1 and not everything and set(refs[0].found) | set(refs[1].found) == set(labels)
        else []
    )
    return ClaimChart(
        publication_number="US8089324B2",
        title=title,
        claim=claim,
        references=refs,
        cells=cells,
        threshold=0.5,
        anticipation=everything,
        combinations=pairs,
        notes=list(notes),
    )
