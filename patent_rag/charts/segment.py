"""A claim split into preamble, transition and elements, the way claims are written.

A claim reads ``<preamble> <transition> <element>; <element>; and <element>.``: the transition is
"comprising", "consisting of", "characterized in that" and kin; elements are separated by ``;``
(or numbered ``(a) ... (b) ...``); an element ending in ``:`` opens sub-elements, which run to the
one introduced by "and" (or to the next element numbered like the top level). A dependent claim
("The device of claim 1, wherein ...") has its reference to the parent as preamble and the text
after its connective as elements; :func:`segment_patent_claim` adds the parent chain's elements.

Every character of the claim lands in exactly one piece (separators keep the punctuation, the
"and" and the item numbers), so a chart can quote each element verbatim and nothing is lost.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate
from typing import Protocol

from patent_rag.charts.model import ClaimElement, ElementRole, SegmentedClaim
from patent_rag.documents.parsers.claims import claim_references
from patent_rag.errors import ConfigurationError

__all__ = ["segment_claim", "segment_patent_claim"]

logger = logging.getLogger(__name__)

# Transitions that close the preamble wherever they stand (Jepson's "the improvement comprising"
# first, so it wins over its own "comprising"); EP's characterising clause in en, de, fr.
_CHARACTERISED = (
    r"characteri[sz]ed\s+(?:in\s+that|by)|dadurch\s+gekennzeichnet(?:\s*,?\s*da(?:ss|ß))?"
    r"|gekennzeichnet\s+durch|caract[ée]ris[ée]e?s?\s+(?:en\s+ce\s+que|par)"
)
_STRONG = (
    r"(?:wherein\s+)?the\s+improvement\s+(?:which\s+)?(?:comprising|comprises|consisting\s+of)"
    rf"|{_CHARACTERISED}|(?:which|that)\s+(?:comprises|consists(?:\s+essentially)?\s+of)"
    r"|consisting\s+essentially\s+of|consisting\s+of|comprising|comprises|comprenant|umfassend"
)
# Weak transitions also occur inside preambles ("A valve having a seat, comprising:"): they count
# only when no strong one does.
_WEAK = r"(?:which|that)\s+includes|including|having|containing|aufweisend|enthaltend"
# A dependent claim's connective after "The device of claim 1".
_CONNECTIVE = (
    r"(?:and\s+)?further\s+(?:comprising|comprises|including|includes|having)"
    r"|(?:and\s+)?(?:wherein|whereby|where|in\s+which|in\s+that)"
)
# "..., the method comprising:" names the claimed thing again: that transition wins over an earlier
# "comprising" ("A method of doping a substrate comprising silicon, the method comprising: ...").
_SUBJECT = re.compile(r"[,;]\s*(?:(?:the|said)\s+(?:[\w-]+\s+){0,2}(?P<noun>[\w-]+)\s+)?$", re.IGNORECASE)
# After the transition word: a method claim's "the (following) steps (of)", then ":" or ",".
_TAIL = r"(?:\s+(?:the\s+)?(?:following\s+|further\s+)?steps?(?:\s+of)?)?(?:\s*[:,])?\s*"
_TRANSITION = re.compile(rf"\b(?:(?P<strong>{_STRONG})|(?P<weak>{_WEAK}))\b{_TAIL}", re.IGNORECASE)
_DEPENDENT_TRANSITION = re.compile(rf"\b(?:{_CONNECTIVE}|{_STRONG}|{_WEAK})\b{_TAIL}", re.IGNORECASE)
# "claim 1", "claims 1 to 3", "Anspruch 1 oder 2", "any preceding claim": what makes a claim dependent.
_REFERENCE = re.compile(
    r"(?:\bclaims?|anspr(?:uch|üche)\w*|\brevendications?)\s+\d{1,3}"
    r"(?:\s*(?:,|or|and|to|through|-|–|oder|und|bis|ou|et|à)\s*(?:claims?\s+)?\d{1,3})*"
    r"|\b(?:preceding|previous|foregoing)\s+claims?\b",
    re.IGNORECASE,
)
# Between elements: ";" with its "and"/"or"; a colon followed by a space (not "2.7:1"), which opens
# sub-elements; an EP characterising clause after a "comprising" preamble. Each starts with its
# token, not with optional space, so that long runs of spaces or commas cost linear time.
_SEPARATOR = re.compile(
    rf";\s*(?:(?P<conj>and|or|and/or)\b\s*)?|(?P<colon>:\s+)|(?P<char>\b(?:{_CHARACTERISED})\b\s*[:,]?\s*)",
    re.IGNORECASE,
)
# "(a) ", "a) ", "a. ", "(iv) ", "1. ", "A) " numbering an element, or a bullet ("- ", "• ");
# counted only in runs of two or more.
_MARKER = re.compile(
    r"(?:(?P<open>\()?(?P<value>[ivx]{1,6}|[IVX]{1,6}|[a-zA-Z]|\d{1,2})(?(open)\)|[.)])|(?P<bullet>[-–•]))\s+"
)
# Where a numbered element may also continue a list: after a comma ("A) ..., B) ..., and C) ...") or
# a period ("core. • Applying a primer").
_COMMA = re.compile(r"[,.]\s*(?:(?P<conj>and|or|und|oder|et|ou)\s+)?")
# A transition that announces a list; in such a list with no other separator, a comma before
# "a"/"an"/"at least one" ... starts the next element ("comprising a stator, a rotor, and a cam").
_LISTING = re.compile(r"\b(?:compris|consist|includ|having|contain)", re.IGNORECASE)
_LISTED = re.compile(r",\s*(?:(?P<conj>and)\s+)?(?=(?:a|an|at\s+least\s+one|one\s+or\s+more|two|three)\s)")
# "and wherein ...": a clause that ends a list of sub-elements.
_CLAUSE = re.compile(r"(?:and\s+)?(?:wherein|whereby)\b", re.IGNORECASE)
# Without a transition word, a colon ends the preamble; a dependent claim's connective comes
# before its first ";" or ":".
_COLON = re.compile(r":\s")
_BREAK = re.compile(r"[;:]\s")
_WORD = re.compile(r"\w")
_ROMAN_TENS = ("", "x", "xx", "xxx", "xl", "l", "lx", "lxx", "lxxx", "xc")
_ROMAN_ONES = ("", "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix")


class _Claim(Protocol):
    """A claim of a patent: ``ClaimText`` (``.parent``) or the parser's ``Claim`` (``.depends_on``)."""

    @property
    def number(self) -> int: ...
    @property
    def text(self) -> str: ...


_Style = tuple[str, str, str]  # an item number's (opening bracket, closing mark, kind): ("(", ")", "lower")


@dataclass
class _Cut:
    """A separator between elements, and what it says about the element after it."""

    start: int
    end: int
    opens: bool = False  # a colon: the next elements are sub-elements of the one before
    breaks: bool = False  # a characterising clause: back to the top level
    conj: bool = False  # "; and": the next element is the last of its list
    comma: bool = False  # only a comma: a separator only when an item number follows
    style: _Style | None = None


@dataclass
class _Item:
    start: int
    end: int
    cut: _Cut
    depth: int = 0


def _trimmed(char: str) -> bool:
    """Space and commas at the edges of a preamble or an element belong to the separators."""
    return char.isspace() or char == ","


def _to_roman(number: int) -> str:
    """1 -> 'i', 14 -> 'xiv'; past 100 "c" repeats, still unique."""
    return "c" * (number // 100) + _ROMAN_TENS[number // 10 % 10] + _ROMAN_ONES[number % 10]


def _letters(index: int) -> str:
    """0 -> 'a', 25 -> 'z', 26 -> 'aa', like spreadsheet columns."""
    label, index = "", index + 1
    while index:
        index, rest = divmod(index - 1, 26)
        label = chr(ord("a") + rest) + label
    return label


_ROMANS = {_to_roman(number): number for number in range(1, 40)}


def _readings(value: str) -> list[tuple[str, int]]:
    """The ways an item number can be read, as (kind, ordinal): "i" is a letter or a roman one."""
    if not value.isalnum():
        return [("bullet", 0)]  # any bullet continues a list of the same bullets
    if value.isdigit():
        return [("digit", int(value))]
    case = "upper" if value.isupper() else "lower"
    readings = [(case, ord(value.lower()) - ord("a") + 1)] if len(value) == 1 else []
    if value.lower() in _ROMANS:
        readings.append((f"roman-{case}", _ROMANS[value.lower()]))
    return readings


def _bracket_depth(text: str) -> list[int]:
    """For each position, how many matched brackets enclose it (unmatched ones are ignored)."""
    closing, stack = {")": "(", "]": "[", "}": "{"}, []
    diff = [0] * (len(text) + 1)
    for index, char in enumerate(text):
        if char in "([{":
            stack.append((char, index))
        elif char in closing and stack and stack[-1][0] == closing[char]:
            diff[stack.pop()[1] + 1] += 1
            diff[index] -= 1
    return list(accumulate(diff[:-1]))


def _number_items(text: str, cuts: list[_Cut]) -> None:
    """Extend the cuts over the item numbers after them ("; (b) "); runs of one are not numbering."""
    runs: dict[_Style, tuple[int, int]] = {}  # style -> (last ordinal, run id)
    found: list[tuple[_Cut, int, _Style, int]] = []
    for cut in cuts:
        marker = _MARKER.match(text, cut.end)
        if marker is None:
            continue
        form = (marker["open"] or "", marker.group(0).rstrip()[-1])
        for kind, ordinal in _readings(marker["value"] or marker["bullet"]):
            style = (*form, kind)
            last = runs.get(style)
            if last and last[0] in (ordinal - 1, ordinal):
                runs[style] = (ordinal, last[1])
            elif ordinal <= 1 and not cut.comma:  # a run starts at the body or after ";" or ":"
                runs[style] = (ordinal, len(found))
            else:
                continue
            found.append((cut, marker.end(), style, runs[style][1]))
            break
    sizes = Counter(run for *_, run in found)
    for cut, end, style, run in found:
        if sizes[run] > 1:
            cut.end, cut.style, cut.comma = end, style, False


def _position(cut: _Cut) -> tuple[int, bool]:
    return cut.start, cut.comma


def _items(text: str, start: int, *, listing: bool) -> list[_Item]:
    """The elements of the body ``text[start:]``, each with the separator before it.

    ``listing``: the transition announces a list ("comprising"), whose elements may be separated
    by commas alone.
    """
    depths = _bracket_depth(text)
    cuts = [_Cut(start, start)]
    for match in _SEPARATOR.finditer(text, start):
        if match.end() > match.start() and not depths[match.start()]:
            opens, breaks, conj = (bool(match[name]) for name in ("colon", "char", "conj"))
            cuts.append(_Cut(match.start(), match.end(), opens=opens, breaks=breaks, conj=conj))
    for match in _COMMA.finditer(text, start):
        if not depths[match.start()]:
            cuts.append(_Cut(match.start(), match.end(), conj=bool(match["conj"]), comma=True))
    cuts.sort(key=_position)
    _number_items(text, cuts)
    if listing and all(cut.comma or cut.breaks for cut in cuts[1:]):  # no ";", ":" or numbers
        end = next((cut.start for cut in cuts if cut.breaks), len(text))  # a list, not a sentence
        listed = (m for m in _LISTED.finditer(text, start, end) if not depths[m.start()])
        cuts = sorted(
            [*cuts, *(_Cut(m.start(), m.end(), conj=bool(m["conj"])) for m in listed)], key=_position
        )
    kept: list[_Cut] = []
    for cut in cuts:
        if not cut.comma and (not kept or cut.start >= kept[-1].end):
            kept.append(cut)
    items = []
    for cut, after in zip(kept, [*kept[1:], None], strict=True):
        begin, end = cut.end, after.start if after else len(text)
        while begin < end and _trimmed(text[begin]):
            begin += 1
        while end > begin and (_trimmed(text[end - 1]) or (after is None and text[end - 1] == ".")):
            end -= 1  # the claim's closing period, and space or commas next to a separator
        if begin < end:
            items.append(_Item(begin, end, cut))
    return items


def _nest(text: str, items: list[_Item]) -> None:
    """Sub-elements: after a colon, up to the one after "and", the next item numbered otherwise, or
    a "wherein" clause (which qualifies the whole claim more often than the last sub-element)."""
    depth, sub_style, last = 0, None, False
    for index, item in enumerate(items):
        cut, clause = item.cut, _CLAUSE.match(text, item.start)
        if cut.opens and index and depth == 0 and not clause:
            depth, sub_style, last = 1, cut.style, False
        elif depth and (cut.breaks or clause or (cut.style != sub_style if cut.style or sub_style else last)):
            depth = 0
        last = last or bool(depth and cut.conj)
        item.depth = depth


def _names_the_claim(text: str, word: int, head: str) -> bool:
    """``text[:word]`` ends with ", comprising" or with ", the <noun> comprising", the noun in ``head``."""
    subject = _SUBJECT.search(text, max(0, word - 80), word)
    noun = subject and subject["noun"]
    return bool(subject) and (
        not noun or re.search(rf"\b{re.escape(noun)}\b", head, re.IGNORECASE) is not None
    )


def _transition(text: str) -> tuple[int, int] | None:
    """Where the word closing the preamble starts and where the body starts, or None."""
    first_word = _WORD.search(text)
    matches = [m for m in _TRANSITION.finditer(text) if first_word and first_word.start() < m.start()]
    colon = [m for m in matches if m.group(0).rstrip().endswith(":")]
    strong = [m for m in matches if m["strong"]]
    head = text[: min(strong[0].start() if strong else len(text), 300)]  # where the claimed thing is named
    subject = [m for m in colon[:8] if _names_the_claim(text, m.start(), head)]
    chosen = next((group[0] for group in (subject, strong, colon, matches) if group), None)
    reference = _REFERENCE.search(text, 0, chosen.start() if chosen else len(text))
    if reference:  # a dependent claim: its own connective after the reference to its parent
        chosen = _DEPENDENT_TRANSITION.search(text, reference.end())
        stop = _BREAK.search(text, reference.end())  # the connective comes before the first list
        if not chosen or (stop and stop.start() < chosen.start()):
            return reference.end(), reference.end()
    if chosen is None and first_word:  # "An element configured to: determine ...; transmit ..."
        opening = _COLON.search(text, first_word.end())
        return (opening.start(), opening.start()) if opening else None
    return (chosen.start(), chosen.end()) if chosen else None


def _piece(
    text: str, start: int, end: int, role: ElementRole, label: str = "", depth: int = 0
) -> ClaimElement:
    return ClaimElement(label=label, role=role, text=text[start:end], start=start, end=end, depth=depth)


def segment_claim(text: str, *, number: int = 1, parent: int | None = None) -> SegmentedClaim:
    """Split one claim into preamble, transition, elements and the separators between them.

    Args:
        text: The claim, without its leading number.
        number: The claim's number, used in the labels ("2[pre]", "2[a]", "2[a][i]").
        parent: The claim it depends on; by default the first claim its preamble refers to.

    Returns:
        The pieces, which join to ``text`` exactly. A claim with neither a transition nor a colon
        has no preamble: its body is all elements.

    Example:
        >>> claim = segment_claim("A lamp comprising: a base; a bulb; and a switch.")
        >>> [(piece.label, piece.text) for piece in claim.elements]
        [('1[pre]', 'A lamp'), ('1[a]', 'a base'), ('1[b]', 'a bulb'), ('1[c]', 'a switch')]
    """
    spans: list[ClaimElement] = []
    found = _transition(text)
    body = 0
    if found:
        word, body = found
        lead, end = len(text) - len(text.lstrip()), word
        while _trimmed(text[end - 1]):
            end -= 1
        spans.append(_piece(text, lead, end, "preamble", f"{number}[pre]"))
        if body > end:  # none when a dependent claim goes on without a connective
            spans.append(_piece(text, end, body, "transition"))
    listing = bool(found and _LISTING.search(text, found[0], body))
    items = _items(text, body, listing=listing)
    _nest(text, items)
    top, sub = -1, 0
    for item in items:
        top, sub = (top + 1, 0) if item.depth == 0 else (top, sub + 1)
        label = f"{number}[{_letters(top)}]" + (f"[{_to_roman(sub)}]" if item.depth else "")
        spans.append(_piece(text, item.start, item.end, "element", label, item.depth))
    pieces, position = [], 0
    for span in spans:
        if span.start > position:
            pieces.append(_piece(text, position, span.start, "separator"))
        pieces.append(span)
        position = span.end
    if position < len(text):
        pieces.append(_piece(text, position, len(text), "separator"))
    if parent is None:
        references = claim_references(text[:body], number)
        parent = references[0] if references else None
    return SegmentedClaim(number=number, text=text, parent=parent, pieces=pieces)


def _declared_parent(claim: _Claim) -> int | None:
    parent = getattr(claim, "parent", None)
    if parent is None:
        depends_on = getattr(claim, "depends_on", None) or []
        parent = depends_on[0] if depends_on else None
    return parent if isinstance(parent, int) else None


def segment_patent_claim(claims: Iterable[_Claim], number: int) -> SegmentedClaim:
    """Segment claim ``number`` of a patent, with the elements it inherits from its parent chain.

    A dependent claim's ``inherited`` holds the independent claim's preamble and elements, then those
    of each intermediate claim (not their "The device of claim 1" preambles), labelled with their own
    claim numbers. A missing parent or a cycle ends the chain: what was found is kept.

    Args:
        claims: Every claim of the patent: objects with ``.number``, ``.text`` and ``.parent``
            (:class:`~patent_rag.search.patents.ClaimText`) or ``.depends_on``
            (:class:`~patent_rag.documents.record.Claim`, the first is taken).
        number: The claim to segment.

    Raises:
        ConfigurationError: No claim has that number; the message lists those there are.

    Example:
        >>> from patent_rag.search.patents import ClaimText
        >>> claims = [ClaimText(number=1, text="A lamp comprising a base; and a bulb."),
        ...           ClaimText(number=2, parent=1, text="The lamp of claim 1, wherein the bulb is red.")]
        >>> [piece.label for piece in segment_patent_claim(claims, 2).elements]
        ['1[pre]', '1[a]', '1[b]', '2[a]']
    """
    by_number: dict[int, _Claim] = {}
    for claim in claims:
        by_number.setdefault(claim.number, claim)
    if number not in by_number:
        known = ", ".join(str(n) for n in sorted(by_number)) or "none"
        raise ConfigurationError(f"there is no claim {number}; the claims are: {known}")
    segments: dict[int, SegmentedClaim] = {}

    def segment(n: int) -> SegmentedClaim:
        if n not in segments:
            claim = by_number[n]
            segments[n] = segment_claim(claim.text, number=n, parent=_declared_parent(claim))
        return segments[n]

    chain, current = [segment(number)], segment(number).parent
    while current is not None and current in by_number and current not in segments:
        chain.append(segment(current))
        current = chain[-1].parent
    if current is not None and current not in by_number:
        logger.debug("claim %d depends on claim %d, which is missing; its chain ends there", number, current)
    inherited: list[ClaimElement] = []
    for index, ancestor in enumerate(reversed(chain[1:])):
        inherited += [piece for piece in ancestor.elements if index == 0 or piece.role != "preamble"]
    return chain[0].model_copy(update={"inherited": inherited})
