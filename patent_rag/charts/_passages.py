"""A patent's citable passages read back from its stored chunks: the abstract, each claim, and each
description paragraph with its number.

The index stores chunks that pack several description paragraphs (joined with ``"\\n\\n"``, their
0-based range in the payload's ``paragraph_start``/``paragraph_end``), and splits a paragraph or
claim that is over the model's budget into several chunks. Here the chunks are undone: every
paragraph is one passage again (its parts joined), and each passage remembers the pieces it was
stored in, so that a passage is scored piece by piece (each piece fits the model) and shown whole.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from patent_rag.charts.model import Location
from patent_rag.search.hits import payload_date, strip_title
from patent_rag.stores.base import SearchHit

__all__ = ["Passage", "ReferenceText", "reference_text"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Passage:
    """One citable passage: ``text`` as a reader sees it, ``pieces`` as the index stored it."""

    location: Location
    text: str
    pieces: tuple[str, ...]


@dataclass(frozen=True)
class ReferenceText:
    """A patent's passages in document order, and which passages each stored chunk holds."""

    publication_number: str
    title: str
    earliest_date: date | None
    passages: tuple[Passage, ...]
    chunk_passages: Mapping[str, tuple[int, ...]]

    @property
    def full_text(self) -> bool:
        """Whether the index holds description paragraphs of this patent."""
        return any(passage.location.section == "description" for passage in self.passages)


def _description_parts(text: str, first: int, last: int) -> list[tuple[int, str]]:
    """``(paragraph index, text)`` of a description chunk. A leading overlap (the previous chunk's
    tail, not counted in the range) is dropped; a chunk that does not split into its range is
    credited to its first paragraph whole."""
    parts = [part.strip() for part in text.split("\n\n")]
    expected = last - first + 1
    if len(parts) == expected + 1:
        parts = parts[1:]
    if len(parts) != expected:
        logger.debug("description chunk of paragraphs %d-%d does not split into them", first, last)
        return [(first, " ".join(text.split()))]
    return [(first + i, part) for i, part in enumerate(parts) if part]


def reference_text(chunks: Sequence[SearchHit]) -> ReferenceText:
    """A patent's passages from all its stored chunks (in chunk order, as ``patent_chunks`` returns).

    Raises:
        ValueError: no chunks.
    """
    if not chunks:
        raise ValueError("a patent without chunks has no passages")
    first = chunks[0].payload
    title = str(first.get("title") or "")
    # Passage key -> its pieces in chunk order, and chunk id -> the keys it holds.
    pieces: dict[tuple[str, int | None, int | None], list[str]] = {}
    held: dict[str, list[tuple[str, int | None, int | None]]] = {}
    for chunk in chunks:
        payload = chunk.payload
        section = str(payload.get("section", ""))
        text = strip_title(str(payload.get("text", "")), title).strip()
        if not text:
            continue
        keyed: list[tuple[tuple[str, int | None, int | None], str]] = []
        if section == "description" and payload.get("paragraph_start") is not None:
            start = int(payload["paragraph_start"])
            last = payload.get("paragraph_end")
            end = int(last) if last is not None else start
            keyed = [
                (("description", None, index), part) for index, part in _description_parts(text, start, end)
            ]
        elif section == "claim" and payload.get("claim_number") is not None:
            keyed = [(("claim", int(payload["claim_number"]), None), text)]
        elif section in ("abstract", "title"):
            keyed = [((section, None, None), text)]
        for key, part in keyed:
            pieces.setdefault(key, []).append(part)
            held.setdefault(chunk.id, []).append(key)
    order = {"title": 0, "abstract": 1, "claim": 2, "description": 3}
    keys = sorted(pieces, key=lambda key: (order[key[0]], key[1] or 0, key[2] or 0))
    index = {key: i for i, key in enumerate(keys)}
    passages = tuple(
        Passage(
            location=Location(
                section=section,  # type: ignore[arg-type]
                claim_number=claim,
                paragraph=paragraph + 1 if paragraph is not None else None,
            ),
            text=" ".join(pieces[(section, claim, paragraph)]),
            pieces=tuple(pieces[(section, claim, paragraph)]),
        )
        for section, claim, paragraph in keys
    )
    return ReferenceText(
        publication_number=str(first.get("publication_number", "")),
        title=title,
        earliest_date=payload_date(first.get("priority_date")) or payload_date(first.get("filing_date")),
        passages=passages,
        chunk_passages={
            chunk: tuple(dict.fromkeys(index[key] for key in chunk_keys))
            for chunk, chunk_keys in held.items()
        },
    )
