"""Field helpers shared by the USPTO parsers (v4 XML in :mod:`.uspto`, ST.32/pap in :mod:`.uspto_sgml`).

Claims with their dependencies, packed IPC symbols, names, cited numbers and description paragraphs
are read the same way in every USPTO format; keeping them here lets both parser modules import them
without importing each other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date

from lxml import etree

from patent_rag.documents.parsers._xml import text_of
from patent_rag.documents.parsers.claims import claim_references
from patent_rag.documents.record import Claim, Paragraph, normalize_publication_number

__all__ = ["build_claim", "cited_number", "claim_number", "earliest", "packed_ipc", "paragraphs", "person"]

_CLAIM_NUMBER = re.compile(r"^\s*\(?\d+(?:\s*\.?\s*[-–]\s*\d+)?\s*[.):]\s*")
_PACKED_IPC = re.compile(r"^([A-H]\d\d[A-Z])(.{1,3})(\d*)$")


def build_claim(number: int, text: str, refs: Iterable[str]) -> Claim:
    """A claim from its number, raw text and referenced claim ids (``CLM-00001``) or numbers."""
    text = _CLAIM_NUMBER.sub("", text, count=1) if text[:1].isdigit() or text[:1] == "(" else text
    depends: set[int] = set()
    for ref in refs:
        digits = re.findall(r"\d+", ref)
        if digits and 0 < int(digits[-1]) != number:
            depends.add(int(digits[-1]))
    if not depends:
        # pap v1.5 and some v4.0 claims say "The method of claim 1" without a claim-ref element.
        depends = set(claim_references(text[:400], number))
    return Claim(number=number, text=text, independent=not depends, depends_on=sorted(depends))


def claim_number(value: str | None, position: int) -> int:
    """The claim number in an id or num attribute (``CLM-00007``, ``00001-00018``), else the position."""
    found = re.search(r"\d+", value or "")
    return int(found.group(0)) if found else position


def packed_ipc(value: str | None) -> str | None:
    """An IPC-7 symbol; the packed form (subclass, 3-character main group, subgroup) is unpacked.

    ``"A47L  514"`` -> ``"A47L5/14"``; ``"A41D013/00"`` is returned as is (normalized later);
    anything else (a design patent's Locarno class) -> None.
    """
    value = (value or "").strip()
    if "/" in value:
        return value
    match = _PACKED_IPC.match(value)
    if not match or not match.group(2).strip().isdigit():
        return None
    return f"{match.group(1)}{match.group(2).strip()}/{match.group(3) or '00'}"


def earliest(dates: Iterable[date | None]) -> date | None:
    found = [value for value in dates if value is not None]
    return min(found) if found else None


def person(first: str | None, last: str | None, middle: str | None = None) -> str:
    """``"First Middle Last"`` from name parts, whitespace normalized."""
    return " ".join(" ".join(part.split()) for part in (first, middle, last) if part and part.strip())


def cited_number(country: str | None, number: str | None, kind: str | None) -> str | None:
    """Normalized number of a cited patent, or None when the citation has no number."""
    number = (number or "").strip()
    if not number:
        return None
    country = (country or "US").strip().upper() or "US"
    if number.isdigit():  # the common case, without the general normalizer's regexes
        return f"{country}{number.lstrip('0') or '0'}{(kind or '').strip().upper()}"
    if not number.upper().startswith(country):
        number = country + number
    return normalize_publication_number(number, kind=(kind or "").strip() or None)


def paragraphs(
    container: etree._Element | None,
    *,
    headings: frozenset[str],
    paragraphs: frozenset[str],
    sections: dict[str, str] | None = None,
    number: Callable[[etree._Element], str | None] = lambda element: element.get("num"),
) -> list[Paragraph]:
    """Description paragraphs in document order with the heading each falls under.

    Containers that are neither heading nor paragraph are descended into; a container named in
    ``sections`` (or a ``<?BRFSUM description=... end="lead"?>`` processing instruction) starts a
    section whose label serves as heading until a real heading appears.
    """
    found: list[Paragraph] = []
    if container is None:
        return found
    heading: list[str | None] = [None]

    def walk(element: etree._Element) -> None:
        for child in element:
            tag = child.tag
            if tag is etree.PI:
                if child.get("end") == "lead" and child.get("description"):
                    heading[0] = child.get("description")
            elif tag in headings:
                heading[0] = text_of(child) or heading[0]
            elif tag in paragraphs:
                text = text_of(child)
                if text:
                    label = number(child)
                    if label and text.startswith(label):
                        text = text[len(label) :].lstrip()
                    found.append(
                        Paragraph(text=text, heading=heading[0], number=label and label.strip("[]. "))
                    )
            elif isinstance(tag, str):
                if sections and tag in sections:
                    heading[0] = sections[tag]
                walk(child)

    walk(container)
    return found
