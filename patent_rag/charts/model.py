"""The values of a claim chart: a claim split into elements, and for each element and reference the
passage that best discloses it, with its location, its score and whether it clears the threshold.

A cell always holds the best passage found, also when it does not clear the threshold: a reader can
see why the element was judged "not found". An LLM's opinion of a cell, when asked for, is a separate
:class:`Judgement`, always labelled as model judgement; it never replaces the retrieved passage.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from patent_rag.search.hits import chunk_label

__all__ = [
    "Cell",
    "ClaimChart",
    "ClaimElement",
    "Judgement",
    "Location",
    "Reference",
    "SegmentedClaim",
]

ElementRole = Literal["preamble", "transition", "element", "separator"]
Verdict = Literal["discloses", "partly", "does not disclose"]
MODEL_JUDGEMENT: Literal["model judgement"] = "model judgement"


class ClaimElement(BaseModel):
    """One piece of a claim's text: ``text == claim_text[start:end]``.

    The pieces of a :class:`SegmentedClaim` (preamble, transition, elements and the separators
    between them) partition the claim text: joined in order they give it back exactly.
    """

    model_config = ConfigDict(frozen=True)

    label: str = Field(description="'1[pre]', '1[a]', '1[b][i]' ...; separators and transitions: ''.")
    role: ElementRole
    text: str
    start: int
    end: int
    depth: int = Field(default=0, description="0 for top-level elements, 1 for their sub-elements ...")


class SegmentedClaim(BaseModel):
    """A claim as preamble, transition and elements; a dependent claim also lists what it inherits."""

    model_config = ConfigDict(frozen=True)

    number: int
    text: str
    parent: int | None = Field(default=None, description="The claim a dependent claim refers to.")
    pieces: list[ClaimElement] = Field(description="All pieces in order; they join to ``text``.")
    inherited: list[ClaimElement] = Field(
        default_factory=list,
        description="A dependent claim's preamble and elements from the claims it depends on, "
        "labelled with their own claim numbers (their offsets are in their own claim's text).",
    )

    @property
    def preamble(self) -> ClaimElement | None:
        return next((piece for piece in self.pieces if piece.role == "preamble"), None)

    @property
    def elements(self) -> list[ClaimElement]:
        """The elements to chart: inherited first, then this claim's own. A dependent claim's own
        preamble ("The method of claim 14,") only names its parent, so it is not charted."""
        roles = ("element",) if self.parent is not None else ("preamble", "element")
        own = [piece for piece in self.pieces if piece.role in roles]
        return [*self.inherited, *own]


class Location(BaseModel):
    """Where a passage sits in its patent."""

    model_config = ConfigDict(frozen=True)

    section: Literal["title", "abstract", "claim", "description"]
    claim_number: int | None = None
    paragraph: int | None = Field(default=None, description="Description paragraph, counted from 1.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        """``"claim 3"``, ``"abstract"``, ``"description ¶12"``."""
        index = self.paragraph - 1 if self.paragraph is not None else None
        return chunk_label(self.section, self.claim_number, index, index)


class Judgement(BaseModel):
    """An LLM's opinion of one cell: model judgement, shown as such, next to the retrieved passage."""

    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    reason: str = Field(description="One sentence, quoting the passage.")
    model: str = Field(description="The LLM that judged.")
    kind: Literal["model judgement"] = MODEL_JUDGEMENT


class Cell(BaseModel):
    """The best passage of one reference for one claim element."""

    model_config = ConfigDict(frozen=True)

    element: str = Field(description="The element's label, e.g. '1[b]'.")
    reference: str = Field(description="The reference's publication number.")
    text: str = Field(description="The passage (one paragraph, claim or abstract); untrusted patent text.")
    location: Location
    score: float = Field(
        description="How well the passage matches the element (higher is better); for retrieved cells, "
        "standard deviations above the element's score on an ordinary passage of the index."
    )
    found: bool = Field(description="The score clears the chart's threshold.")
    dense: float | None = Field(
        default=None,
        description="Raw cosine of element and passage with the index's model (None: not used).",
    )
    lexical: float | None = Field(
        default=None,
        description="Raw BM25 of element and passage, per unit of the element's IDF (None: not used).",
    )
    judgement: Judgement | None = None


class Reference(BaseModel):
    """A document the claim is charted against, and how much of the claim it covers."""

    model_config = ConfigDict(frozen=True)

    publication_number: str
    title: str = ""
    earliest_date: date | None = None
    full_text: bool = Field(
        description="The index holds its description; False: only title, abstract and claims were "
        "searched, so 'not found' says less."
    )
    found: list[str] = Field(default_factory=list, description="Labels of the elements found.")


class ClaimChart(BaseModel):
    """A claim of a patent, charted element by element against references."""

    model_config = ConfigDict(frozen=True)

    publication_number: str
    title: str = ""
    claim: SegmentedClaim
    references: list[Reference] = Field(description="Ranked by coverage, most elements found first.")
    cells: list[Cell] = Field(description="One per element and reference.")
    threshold: float = Field(description="The score a passage needs to count as found.")
    anticipation: list[str] = Field(
        default_factory=list, description="References that each disclose every element (retrieval only)."
    )
    combinations: list[list[str]] = Field(
        default_factory=list,
        description="Pairs of references that together disclose every element, none alone doing so.",
    )
    notes: list[str] = Field(default_factory=list)

    def cell(self, element: str, reference: str) -> Cell:
        """The cell of an element label and a reference; KeyError if there is none."""
        for cell in self.cells:
            if cell.element == element and cell.reference == reference:
                return cell
        raise KeyError((element, reference))
