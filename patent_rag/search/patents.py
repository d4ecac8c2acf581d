"""One patent read back from the index: its bibliography, abstract, claims and description passages.

The index stores chunks, not documents; :func:`read_patent` joins a patent's chunks again: claims
split over several chunks become one claim, the title context the chunker puts before each chunk is
dropped, and the description comes as the stored passages with the paragraphs each one covers. The
description is long (hundreds of paragraphs), so it is returned only on request and a page at a time.

Example:
    >>> record = read_patent(store, "US8089324B2", passages=5)  # doctest: +SKIP
    >>> record.claims[0].number, record.description[0].label  # doctest: +SKIP
    (1, 'description ¶1-3')
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, computed_field

from patent_rag.errors import ConfigurationError
from patent_rag.search.hits import Bibliography, bibliography_from_payload, chunk_label, strip_title
from patent_rag.search.query import patent_chunks
from patent_rag.stores.base import Store

__all__ = ["MAX_PASSAGES", "ClaimText", "Passage", "PatentRecord", "read_patent"]

MAX_PASSAGES = 50


class ClaimText(BaseModel):
    """One claim; ``parent`` is the claim a dependent claim refers to (None: independent)."""

    model_config = ConfigDict(frozen=True)

    number: int
    parent: int | None = None
    text: str


class Passage(BaseModel):
    """One stored description passage and the paragraphs it covers (0-based, inclusive)."""

    model_config = ConfigDict(frozen=True)

    paragraph_start: int | None = None
    paragraph_end: int | None = None
    text: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        """``"description ¶4-6"`` (paragraphs counted from 1)."""
        return chunk_label("description", None, self.paragraph_start, self.paragraph_end)


class PatentRecord(Bibliography):
    """A patent as the index holds it."""

    abstract: str = ""
    claims: list[ClaimText] = Field(default_factory=list)
    description: list[Passage] = Field(
        default_factory=list, description="The requested page of description passages."
    )
    description_start: int = Field(default=0, description="Index of the first passage returned.")
    description_total: int = Field(default=0, description="Description passages the index holds.")


def read_patent(store: Store, publication_number: str, *, passages: int = 0, start: int = 0) -> PatentRecord:
    """A patent of the index with its claims, and ``passages`` description passages from ``start``.

    Args:
        publication_number: with or without its kind code (``US8089324`` finds ``US8089324B2``).
        passages: description passages to return (0 to :data:`MAX_PASSAGES`).
        start: the first passage to return (paging through a long description).

    Raises:
        PatentNotFoundError: the patent is not in the index.
        ConfigurationError: ``passages`` or ``start`` out of range; a number without kind code
            that matches several patents.
    """
    if not 0 <= passages <= MAX_PASSAGES:
        raise ConfigurationError(f"passages must be between 0 and {MAX_PASSAGES}, got {passages}")
    if start < 0:
        raise ConfigurationError(f"start must be 0 or more, got {start}")
    chunks = patent_chunks(store, publication_number)
    first = chunks[0].payload
    title = str(first.get("title") or "")
    abstract: list[str] = []
    claims: dict[int, tuple[int | None, list[str]]] = {}
    description: list[Passage] = []
    for chunk in chunks:
        payload = chunk.payload
        text = strip_title(str(payload.get("text", "")), title)
        section = payload.get("section")
        if section == "abstract":
            abstract.append(text)
        elif section == "claim" and payload.get("claim_number") is not None:
            parent = payload.get("parent_claim")
            number = int(payload["claim_number"])
            claims.setdefault(number, (int(parent) if parent is not None else None, []))[1].append(text)
        elif section == "description":
            description.append(
                Passage(
                    paragraph_start=payload.get("paragraph_start"),
                    paragraph_end=payload.get("paragraph_end"),
                    text=text,
                )
            )
    return PatentRecord(
        **bibliography_from_payload(first),
        abstract=" ".join(abstract),
        claims=[
            ClaimText(number=number, parent=parent, text=" ".join(parts))
            for number, (parent, parts) in sorted(claims.items())
        ],
        description=description[start : start + passages],
        description_start=start,
        description_total=len(description),
    )
