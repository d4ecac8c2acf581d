"""Claim text shared by the parsers: which earlier claims a claim refers to, and claim numbering.

EP publications, CSV exports and old USPTO text carry claim dependencies only in the wording
("according to claim 1", "nach einem der Ansprüche 1 bis 3", "selon la revendication 2"), so they
are read from the text in English, German and French: explicit numbers, lists and ranges,
"any preceding claim" (every earlier claim), ordinals ("the first or second claim") and the
"claim I" of scanned documents. A claim that refers to an earlier one is dependent, which also
makes "a method using the device of claim 1" dependent (it does not stand alone either).
"""

from __future__ import annotations

import re

__all__ = ["claim_references", "split_numbered_claims", "strip_claim_number"]

# No \b before "anspr": German compounds ("nach Patentanspruch 1") refer to claims too.
_CLAIM_WORD = r"(?:\bclaims?|anspr(?:uch|uchs|üche|üchen)|\brevendications?)"
_CONNECTOR = r"(?:,|;|-|–|to|bis|à|and/or|und/oder|et/ou|and|und|et|or|oder|ou)"
_NUMBERS = rf"\d{{1,3}}(?:\s*{_CONNECTOR}\s*(?:(?:the|la|le)\s+)?(?:{_CLAIM_WORD}\s*)?\d{{1,3}})*"
_REFERENCE = re.compile(rf"{_CLAIM_WORD}\s*(?:no\.?\s*|nr\.?\s*|n°\s*)?({_NUMBERS})(?!\d)", re.IGNORECASE)
_RANGE = re.compile(
    r"(\d{1,3})\s*(?:-|–|to|bis|à)\s*(?:(?:the|la|le)\s+)?(?:" + _CLAIM_WORD + r"\s*)?(\d{1,3})"
)
_PRECEDING = re.compile(
    r"\b(?:preceding|previous|foregoing|aforementioned)\s+claims?\b"
    r"|\bvor\w{0,6}?(?:stehend|gehend|gegangen|herig)(?:en|er|e)?\s+Anspr(?:uch|üche|üchen)\b"
    r"|\brevendications?\s+(?:pr[ée]c[ée]dentes?|ant[ée]rieures?)\b",
    re.IGNORECASE,
)
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
_ORDINAL = "|".join(_ORDINALS)
_ORDINAL_REFERENCE = re.compile(
    rf"\bthe\s+((?:{_ORDINAL})(?:\s*(?:,|or|and)\s*(?:the\s+)?(?:{_ORDINAL}))*)\s+claims?\b", re.IGNORECASE
)
# Scanned publications write "claim I" for "claim 1".
_OCR_ONE = re.compile(r"\b(?i:claim)\s+[Il](?=[\s,.;:]|$)")
_LEADING_NUMBER = re.compile(r"^\s*(\d{1,3})\s*(?:\.\)|\.|\))(?!\d)\s*")
_CLAIM_START = re.compile(r"(?:^|(?<=\s))(\d{1,3})\s*[.)]+(?!\d)\s*")


def claim_references(text: str, number: int) -> list[int]:
    """Earlier claims that claim ``number`` refers to, read from its text (en, de, fr).

    "any preceding claim" refers to every earlier claim. References to the claim itself or to
    later claims are ignored (they are never dependencies, and usually misreadings).

    Example:
        >>> claim_references("The device as claimed in any one of claims 1 to 3, wherein", 5)
        [1, 2, 3]
        >>> claim_references("Vorrichtung nach Anspruch 1 oder 2, dadurch gekennzeichnet", 4)
        [1, 2]
        >>> claim_references("A method according to the first or second claim", 3)
        [1, 2]
    """
    found: set[int] = set()
    for match in _REFERENCE.finditer(text):
        listing = match.group(1)
        found.update(int(value) for value in re.findall(r"\d{1,3}", listing))
        for low, high in _RANGE.findall(listing):
            found.update(range(int(low), min(int(high), number - 1) + 1))
    for match in _ORDINAL_REFERENCE.finditer(text):
        found.update(_ORDINALS.index(word.lower()) + 1 for word in re.findall(_ORDINAL, match.group(1), re.I))
    if _OCR_ONE.search(text):
        found.add(1)
    if _PRECEDING.search(text):
        found.update(range(1, number))
    return sorted(value for value in found if 1 <= value < number)


def strip_claim_number(text: str, number: int | None = None) -> tuple[int | None, str]:
    """Remove a leading ``"1."`` / ``"1.)"`` from a claim's text; return its number and the rest.

    The leading number is kept in the text when it disagrees with a known ``number``.

    Example:
        >>> strip_claim_number("2.) Verfahren nach Anspruch 1")
        (2, 'Verfahren nach Anspruch 1')
    """
    lead = _LEADING_NUMBER.match(text)
    if lead and (number is None or int(lead.group(1)) == number):
        return number or int(lead.group(1)), text[lead.end() :]
    return number, text


def split_numbered_claims(text: str) -> list[tuple[int, str]]:
    """Cut a claim set written as one text at ``1.``, ``2.``, ... taken in sequence.

    A claim starts with its number, a period or parenthesis and a capital letter; other numbers
    ("heated to 2. bar", "3. The" out of sequence) stay in the text. Text that does not start
    with ``1.`` is one claim numbered 1.

    Example:
        >>> split_numbered_claims("1. A pump. 2. The pump of claim 1, with 3 vanes.")
        [(1, 'A pump.'), (2, 'The pump of claim 1, with 3 vanes.')]
    """
    text = text.strip()
    pieces: list[tuple[int, str]] = []
    expected, start = 1, None
    for match in _CLAIM_START.finditer(text):
        if int(match.group(1)) != expected or (expected == 1 and match.start() != 0):
            continue
        if not text[match.end() : match.end() + 1].isupper():
            continue  # "heated to 2. bar": a claim starts with a capital
        if start is not None:
            pieces.append((expected - 1, text[start : match.start()].strip()))
        start, expected = match.end(), expected + 1
    if start is None:
        return [(1, text)] if text else []
    pieces.append((expected - 1, text[start:].strip()))
    return pieces
