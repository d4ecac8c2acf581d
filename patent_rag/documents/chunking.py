"""Section-aware chunking of patent documents.

A :class:`Chunker` turns one :class:`~patent_rag.documents.PatentDocument` into the chunks that are
embedded and stored, in a fixed order: the abstract (or, for a title-only record, the title), each
claim, then the description paragraphs packed up to the token budget.

- Budgets are measured with the model's own tokenizer on the exact chunk text (title prefix and
  overlap included), never by adding up counts: subword token counts are not additive over
  concatenation. Build the chunker with :meth:`Chunker.for_encoder`, whose budget already leaves
  room for the special tokens and the document prompt, so no chunk is ever silently truncated.
- Text over budget is cut at sentence ends, then at ``;``/``:``, then at commas, then between
  words; a single "word" longer than the budget (a sequence string) is cut between characters.
- Only the main-language text is chunked; ``doc.translations`` are not (one language per index
  keeps scores comparable, and EP translations repeat the same claims).
- Paragraph headings are not written into chunk text; ``paragraph_start`` lets a caller look them up.
- A record with neither title, abstract, claims nor description yields no chunks.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from patent_rag.documents.record import PatentDocument
from patent_rag.errors import ConfigurationError

__all__ = ["Chunk", "Chunker", "Section"]

logger = logging.getLogger(__name__)

Section = Literal["title", "abstract", "claim", "description"]


class Chunk(BaseModel):
    """One piece of a patent that is embedded and stored as one point.

    ``claim_number`` / ``parent_claim`` are set for claims (the parent is the first claim a
    dependent claim refers to); ``paragraph_start`` / ``paragraph_end`` are 0-based inclusive
    indices into ``doc.description`` of the paragraphs whose text the chunk adds (a leading
    overlap repeats the previous chunk's tail and is not counted in the range). ``ordinal`` runs
    0..n-1 over the document; ``content_hash`` is the sha256 of section, position and text.
    """

    model_config = ConfigDict(frozen=True)

    publication_number: str
    section: Section
    ordinal: int
    text: str
    claim_number: int | None = None
    parent_claim: int | None = None
    paragraph_start: int | None = None
    paragraph_end: int | None = None
    content_hash: str


class _TokenBudgeted(Protocol):
    def count_tokens(self, text: str) -> int: ...

    @property
    def document_token_budget(self) -> int: ...


# Cut points, coarsest first. A sentence ends at . ! ? (and closing quotes/brackets) followed by
# space and not by a lower-case letter, unless the word before is a common abbreviation.
_SENTENCE = re.compile(r"[.!?][\"')\]]*\s+(?![a-z\s])")
_ABBREVIATION = re.compile(
    r"al|appl|approx|co|corp|e\.g|eq|etc|figs?|i\.e|inc|ltd|nos?|pat|ref|se[cr]|u\.s|vol|vs"
)
_BOUNDARIES = (_SENTENCE, re.compile(r"[;:]\s+"), re.compile(r",\s+"), re.compile(r"\s+"))
_CHARACTERS = len(_BOUNDARIES) + 1  # level of single-character spans: the last resort


@dataclass(frozen=True)
class _Span:
    """``texts[source][start:end]``, cut at ``level`` (0 = a whole unit, then _BOUNDARIES, chars)."""

    source: int
    start: int
    end: int
    level: int


@dataclass(frozen=True)
class _Piece:
    text: str
    first: int
    last: int


def _cuts(text: str, span: _Span, level: int) -> list[int]:
    if level == _CHARACTERS:
        return list(range(span.start + 1, span.end))
    cuts = []
    for match in _BOUNDARIES[level - 1].finditer(text, span.start, span.end):
        if level == 1:
            before = text[max(span.start, match.start() - 8) : match.start()].rsplit(None, 1)
            if before and _ABBREVIATION.fullmatch(before[-1].lower()):
                continue
        if match.end() < span.end:
            cuts.append(match.end())
    return cuts


def _refine(text: str, span: _Span) -> list[_Span]:
    """Split a span at the next finer level that cuts it at all; [] for a single character."""
    for level in range(span.level + 1, _CHARACTERS + 1):
        cuts = _cuts(text, span, level)
        if cuts:
            bounds = [span.start, *cuts, span.end]
            return [
                _Span(span.source, start, start + len(text[start:end].rstrip()), level)
                for start, end in itertools.pairwise(bounds)
            ]
    return []


class Chunker:
    """Split patent documents into budget-sized, section-aware chunks.

    Args:
        count_tokens: The model's tokenizer as a counter (content tokens, no special tokens).
        max_tokens: Most tokens a chunk's text may have, title prefix and overlap included.
        title_context: Start every chunk with ``"<title>. "`` (counted in the budget; skipped when
            the title alone would take more than half of it, and for a whole abstract, claim or
            paragraph that fits only without it).
        overlap_tokens: Repeat up to this many tokens of the previous description chunk's tail
            (whole words) at the start of the next one; skipped where the next paragraph or
            sentence would not fit beside it.

    Example:
        >>> from patent_rag.documents.record import Claim, PatentDocument
        >>> doc = PatentDocument(publication_number="US1234567B2", title="Hinge",
        ...                      claims=[Claim(number=1, text="A hinge."),
        ...                              Claim(number=2, text="The hinge of claim 1.",
        ...                                    independent=False, depends_on=[1])])
        >>> chunker = Chunker(count_tokens=lambda text: len(text.split()), max_tokens=64)
        >>> [(c.ordinal, c.section, c.claim_number, c.parent_claim, c.text) for c in chunker.chunk(doc)]
        [(0, 'claim', 1, None, 'Hinge. A hinge.'), (1, 'claim', 2, 1, 'Hinge. The hinge of claim 1.')]
    """

    def __init__(
        self,
        *,
        count_tokens: Callable[[str], int],
        max_tokens: int,
        title_context: bool = True,
        overlap_tokens: int = 0,
    ) -> None:
        if max_tokens < 1:
            raise ConfigurationError(
                f"max_tokens must be at least 1, got {max_tokens}; use the encoder's "
                "document_token_budget (Chunker.for_encoder does) or a positive number"
            )
        if not 0 <= overlap_tokens < max_tokens:
            raise ConfigurationError(
                f"overlap_tokens must be between 0 and max_tokens - 1 = {max_tokens - 1}, "
                f"got {overlap_tokens}"
            )
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.title_context = title_context
        self.overlap_tokens = overlap_tokens

    @classmethod
    def for_encoder(
        cls, encoder: _TokenBudgeted, *, title_context: bool = True, overlap_tokens: int = 0
    ) -> Chunker:
        """A chunker whose budget is the encoder's document budget (prompt and special tokens excluded).

        Example:
            >>> chunker = Chunker.for_encoder(Encoder("all-minilm-l6-v2"))  # doctest: +SKIP
        """
        return cls(
            count_tokens=encoder.count_tokens,
            max_tokens=encoder.document_token_budget,
            title_context=title_context,
            overlap_tokens=overlap_tokens,
        )

    def __repr__(self) -> str:
        return (
            f"Chunker(max_tokens={self.max_tokens}, title_context={self.title_context}, "
            f"overlap_tokens={self.overlap_tokens})"
        )

    def chunk(self, doc: PatentDocument) -> list[Chunk]:
        """Chunk one document: abstract (or title), claims, description, ordinals 0..n-1.

        Example:
            >>> from patent_rag.documents.record import PatentDocument
            >>> chunker = Chunker(count_tokens=lambda text: len(text.split()), max_tokens=8)
            >>> doc = PatentDocument(publication_number="EP1000000A1", title="Widget",
            ...                      abstract="A widget. It spins fast and never stops spinning.")
            >>> [chunk.text for chunk in chunker.chunk(doc)]
            ['Widget. A widget.', 'Widget. It spins fast and never stops spinning.']
        """
        cache: dict[str, int] = {}

        def count(text: str) -> int:
            if text not in cache:
                cache[text] = self.count_tokens(text)
            return cache[text]

        title = " ".join((doc.title or "").split())
        abstract = (doc.abstract or "").strip()
        claims = [claim for claim in doc.claims if claim.text.strip()]
        paragraphs = {i: p.text.strip() for i, p in enumerate(doc.description) if p.text.strip()}
        drafts: list[tuple[Section, str, int | None, int | None, int | None, int | None]] = []
        if not (abstract or claims or paragraphs):
            for piece in self._pack(count, {0: title} if title else {}, "", overlap=False):
                drafts.append(("title", piece.text, None, None, None, None))
        prefix = self._prefix(title, count) if self.title_context else ""
        for piece in self._pack(count, {0: abstract} if abstract else {}, prefix, overlap=False):
            drafts.append(("abstract", piece.text, None, None, None, None))
        for claim in claims:
            parent = None if claim.independent or not claim.depends_on else claim.depends_on[0]
            for piece in self._pack(count, {0: claim.text.strip()}, prefix, overlap=False):
                drafts.append(("claim", piece.text, claim.number, parent, None, None))
        for piece in self._pack(count, paragraphs, prefix, overlap=self.overlap_tokens > 0):
            drafts.append(("description", piece.text, None, None, piece.first, piece.last))

        chunks = []
        parts: dict[tuple[object, ...], int] = {}
        for ordinal, (section, text, number, parent, first, last) in enumerate(drafts):
            position = (section, number, first, last)
            part = parts[position] = parts.get(position, -1) + 1
            payload = json.dumps([section, number, first, last, part, text], ensure_ascii=False)
            chunks.append(
                Chunk(
                    publication_number=doc.publication_number,
                    section=section,
                    ordinal=ordinal,
                    text=text,
                    claim_number=number,
                    parent_claim=parent,
                    paragraph_start=first,
                    paragraph_end=last,
                    content_hash=hashlib.sha256(payload.encode("utf-8")).hexdigest(),
                )
            )
        logger.debug("%s: %d chunks", doc.publication_number, len(chunks))
        return chunks

    def _prefix(self, title: str, count: Callable[[str], int]) -> str:
        if not title:
            return ""
        prefix = f"{title} " if title[-1] in ".!?" else f"{title}. "
        if count(prefix) > self.max_tokens // 2:
            logger.debug("title %r takes over half of the %d-token budget; not used", title, self.max_tokens)
            return ""
        return prefix

    def _pack(
        self, count: Callable[[str], int], texts: dict[int, str], prefix: str, *, overlap: bool
    ) -> list[_Piece]:
        """Greedy packing: each chunk takes as many following spans as fit beside its lead."""
        spans = [_Span(source, 0, len(text), 0) for source, text in texts.items()]
        pieces: list[_Piece] = []
        previous = ""
        i = 0
        while i < len(spans):
            tail = self._tail(previous, count) if overlap and previous else ""
            leads = [prefix + tail + ("\n\n" if spans[i].start == 0 else " ")] if tail else []
            leads += [prefix, ""] if spans[i].level == 0 and prefix else [prefix]
            for lead in leads:
                end = self._furthest(count, texts, spans, i, lead)
                if end > i:
                    break
            else:
                finer = _refine(texts[spans[i].source], spans[i])
                if finer:
                    spans[i : i + 1] = finer
                    continue
                lead = ""
                end = self._furthest(count, texts, spans, i, lead)
                if end == i:
                    text = texts[spans[i].source][spans[i].start : spans[i].end]
                    raise ConfigurationError(
                        f"max_tokens={self.max_tokens} is too small: {text!r} alone takes "
                        f"{count(text)} tokens; use a budget of at least {count(text)}"
                    )
            previous = self._content(texts, spans, i, end)
            pieces.append(_Piece(lead + previous, spans[i].source, spans[end - 1].source))
            i = end
        return pieces

    def _furthest(
        self, count: Callable[[str], int], texts: dict[int, str], spans: list[_Span], i: int, lead: str
    ) -> int:
        """Largest ``end`` such that ``lead`` + spans[i:end] fits (galloping, then bisection); i if none."""

        def fits(end: int) -> bool:
            return count(lead + self._content(texts, spans, i, end)) <= self.max_tokens

        if not fits(i + 1):
            return i
        # A span is at least one token, so more than max_tokens spans never fit.
        limit = min(len(spans), i + self.max_tokens)
        good, bad = i + 1, limit + 1
        while good < limit:
            probe = min(limit, i + 2 * (good - i))
            if not fits(probe):
                bad = probe
                break
            good = probe
        while bad - good > 1:
            middle = (good + bad) // 2
            good, bad = (middle, bad) if fits(middle) else (good, middle)
        return good

    @staticmethod
    def _content(texts: dict[int, str], spans: list[_Span], i: int, end: int) -> str:
        parts: list[str] = []
        start = i
        for k in range(i, end):
            if k + 1 == end or spans[k + 1].source != spans[k].source:
                parts.append(texts[spans[k].source][spans[start].start : spans[k].end])
                start = k + 1
        return "\n\n".join(parts)

    def _tail(self, previous: str, count: Callable[[str], int]) -> str:
        """The longest whole-word tail of ``previous`` that has at most overlap_tokens tokens."""
        starts = [match.start() for match in re.finditer(r"\S+", previous)]
        if not starts or count(previous[starts[-1] :]) > self.overlap_tokens:
            return ""
        low, high = 0, len(starts) - 1  # previous[starts[high]:] is known to fit
        while low < high:
            middle = (low + high) // 2
            if count(previous[starts[middle] :]) <= self.overlap_tokens:
                high = middle
            else:
                low = middle + 1
        return previous[starts[high] :]
