"""Patent-level search results: what a search returns to every front end.

A :class:`PatentHit` is one patent (or one family) with the chunks that matched it as
:class:`Evidence`, best first; the best chunk decides the patent's rank. Front ends translate it
(LlamaIndex: :func:`patent_rag.llama_index.nodes.to_node`).

Example:
    >>> hit = PatentHit(rank=1, publication_number="US8613112B2", score=0.83,
    ...                 evidence=[Evidence(chunk_id="a", section="claim", claim_number=1, text="A hinge ...",
    ...                                    score=0.83)])
    >>> hit.best.claim_number, hit.best.label
    (1, 'claim 1')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from patent_rag.stores.base import SearchHit

__all__ = [
    "Bibliography",
    "Evidence",
    "PatentHit",
    "bibliography_from_payload",
    "chunk_label",
    "evidence_from_hit",
    "hit_from_hits",
    "payload_date",
    "strip_title",
]

_SNIPPET = 240


def payload_date(value: object) -> date | None:
    """A payload date (``"2012-01-03T00:00:00Z"`` or ``"2012-01-03"``) as a ``date``; None if absent."""
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def chunk_label(
    section: str, claim_number: int | None = None, first: int | None = None, last: int | None = None
) -> str:
    """Where a chunk sits, as a reader cites it: ``"claim 3"``, ``"abstract"``, or the description
    paragraphs it covers counted from 1 (``first``/``last`` are the stored 0-based indices)."""
    if claim_number is not None:
        return f"claim {claim_number}"
    if first is not None:
        end = last if last is not None and last > first else first
        return f"{section} ¶{first + 1}" + (f"-{end + 1}" if end > first else "")
    return section


class Evidence(BaseModel):
    """One matching chunk of a patent."""

    model_config = ConfigDict(frozen=True)

    chunk_id: str
    section: str
    claim_number: int | None = None
    paragraph_start: int | None = Field(
        default=None, description="First description paragraph of the chunk (0-based index)."
    )
    paragraph_end: int | None = Field(
        default=None, description="Last description paragraph of the chunk (0-based, inclusive)."
    )
    text: str
    score: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        """``"claim 3"``, ``"abstract"``, ``"description ¶12-14"``... (see :func:`chunk_label`)."""
        return chunk_label(self.section, self.claim_number, self.paragraph_start, self.paragraph_end)

    def snippet(self, width: int = _SNIPPET) -> str:
        """The chunk text on one line, cut at a word boundary to at most ``width`` characters."""
        text = " ".join(self.text.split())
        if len(text) <= width:
            return text
        cut = text[: width - 1].rsplit(" ", 1)[0]
        return cut + "…"


class Bibliography(BaseModel):
    """Who, when and in which classes: what every patent-level result says about its patent."""

    model_config = ConfigDict(frozen=True)

    publication_number: str
    family_id: str | None = None
    title: str = ""
    country: str = ""
    kind: str | None = None
    priority_date: date | None = None
    filing_date: date | None = None
    publication_date: date | None = None
    cpc: list[str] = Field(default_factory=list)
    ipc: list[str] = Field(default_factory=list)
    uspc: list[str] = Field(default_factory=list)
    assignees: list[str] = Field(default_factory=list)
    inventors: list[str] = Field(default_factory=list)

    @property
    def earliest_date(self) -> date | None:
        """Priority date, else filing date: the date that makes a document prior art."""
        return self.priority_date or self.filing_date

    def bibliography(self) -> dict[str, Any]:
        """These fields alone, to build another result about the same patent."""
        return {name: getattr(self, name) for name in Bibliography.model_fields}


def bibliography_from_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`Bibliography` fields of a stored chunk's payload (every chunk carries them)."""
    return {
        "publication_number": str(payload.get("publication_number", "")),
        "family_id": payload.get("family_id"),
        "title": str(payload.get("title") or ""),
        "country": str(payload.get("country") or ""),
        "kind": payload.get("kind"),
        "priority_date": payload_date(payload.get("priority_date")),
        "filing_date": payload_date(payload.get("filing_date")),
        "publication_date": payload_date(payload.get("publication_date")),
        **{key: list(payload.get(key) or []) for key in ("cpc", "ipc", "uspc", "assignees", "inventors")},
    }


class PatentHit(Bibliography):
    """One ranked patent (or family) and the chunks that matched it, best first."""

    rank: int
    score: float
    evidence: list[Evidence] = Field(default_factory=list)

    @property
    def best(self) -> Evidence:
        """The chunk that decided the rank."""
        return self.evidence[0]


def strip_title(text: str, title: str) -> str:
    """``text`` without the ``"<title>. "`` the chunker may put before every chunk as context."""
    prefix = f"{title}. "
    return text[len(prefix) :] if title and text.startswith(prefix) else text


def evidence_from_hit(hit: SearchHit) -> Evidence:
    """A chunk hit as evidence; its text without the title context (the hit carries the title)."""
    payload = hit.payload
    claim, first, last = (payload.get(key) for key in ("claim_number", "paragraph_start", "paragraph_end"))
    return Evidence(
        chunk_id=hit.id,
        section=str(payload.get("section", "")),
        claim_number=int(claim) if claim is not None else None,
        paragraph_start=int(first) if first is not None else None,
        paragraph_end=int(last) if last is not None else None,
        text=strip_title(str(payload.get("text", "")), str(payload.get("title") or "")),
        score=hit.score,
    )


def hit_from_hits(hits: Iterable[SearchHit], *, rank: int, score: float, limit: int) -> PatentHit:
    """A :class:`PatentHit` from one patent's chunk hits (any order; deduplicated, best first)."""
    best: dict[str, SearchHit] = {}
    for hit in hits:
        if hit.id not in best or hit.score > best[hit.id].score:
            best[hit.id] = hit
    ordered = sorted(best.values(), key=lambda hit: -hit.score)[: max(limit, 1)]
    return PatentHit(
        rank=rank,
        score=score,
        evidence=[evidence_from_hit(hit) for hit in ordered],
        **bibliography_from_payload(ordered[0].payload),
    )
