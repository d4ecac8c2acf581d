"""The patent record: one typed model for one patent publication.

The JSON form of :class:`PatentDocument` (``model_dump_json()``, one per line) is the project's
JSONL record format; every parser produces it and the JSONL reader reads it back unchanged.

Every entry point (the constructor, JSONL, CSV, the XML parsers) goes through the same checks: a
publication number must hold digits and no control characters, and a priority date may be given as
a list (``"1988-12-22 | 1989-03-31"``, as citation exports write it), of which the earliest is kept.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Claim",
    "Paragraph",
    "PatentDocument",
    "SourceLocation",
    "Translation",
    "normalize_classification",
    "normalize_publication_number",
    "normalize_uspc",
]

# A list of dates in one field, as citation exports write several priorities.
DATE_LIST_SEPARATORS = re.compile(r"\s*[|;,]\s*|\s+")
_KIND = re.compile(r"[A-Z]\d?$")
_PUBNO = re.compile(r"^([A-Z]{2})[\s\-/.]*([A-Z]{0,2}\d[\d\s\-/.,]*?)[\s\-/.]*([A-Z]\d?)?$")


def normalize_publication_number(value: str, *, country: str | None = None, kind: str | None = None) -> str:
    """Return ``CC`` + number + kind with separators and leading zeros removed.

    >>> normalize_publication_number("US 8,613,112 B2")
    'US8613112B2'
    >>> normalize_publication_number("08613112", country="US", kind="B2")
    'US8613112B2'
    >>> normalize_publication_number("EP-1 000 000-A1")
    'EP1000000A1'
    """
    text = value.strip().upper()
    if country and not text[:2].isalpha():
        text = country.strip().upper() + text
    match = _PUBNO.match(text)
    if not match:
        return re.sub(r"[\s\-/.,]", "", text)
    cc, number, found_kind = match.groups()
    number = re.sub(r"[\s\-/.,]", "", number)
    # Design (D), reissue (RE), plant (PP) keep their letters; pure numbers lose leading zeros.
    prefix = re.match(r"^[A-Z]*", number).group(0)  # type: ignore[union-attr]
    digits = number[len(prefix) :].lstrip("0") or "0"
    kind_part = (found_kind or kind or "").strip().upper()
    return f"{cc}{prefix}{digits}{kind_part}"


def normalize_classification(value: str) -> str:
    """Normalize a CPC/IPC symbol: ``"H04W 52/02"`` -> ``"H04W52/02"``.

    Whitespace goes; a main group padded with zeros (``"H04W0052/02"``) loses them.

    >>> normalize_classification("H04W  52/02")
    'H04W52/02'
    >>> normalize_classification("h04w0052/0200")
    'H04W52/02'
    """
    text = re.sub(r"\s+", "", value).upper()
    match = re.match(r"^([A-HY]\d\d[A-Z])0*(\d+)(?:/(\d+))?", text)
    if not match:
        return text
    subclass, group, subgroup = match.groups()
    if subgroup is None:
        return f"{subclass}{group}"
    subgroup = subgroup.rstrip("0") if len(subgroup) > 2 else subgroup
    return f"{subclass}{group}/{subgroup.ljust(2, '0')}"


_USPC_SLASHED = re.compile(r"^([A-Z]*)0*(\d*)/(DIG)?0*(\d*)(?:\.(\d+))?([A-Z]*)$")


def normalize_uspc(value: str) -> str | None:
    """Normalize a US national classification (USPC) symbol to ``class/subclass``, else None.

    Takes the slashed form and the USPTO's packed form: class in characters 1-3, the subclass's
    integer part in 4-6, then its decimal digits and/or letters (leading spaces matter there).

    >>> normalize_uspc(" 24129 R"), normalize_uspc(" 15104002"), normalize_uspc(" 24 305 S")
    ('24/129R', '15/104.002', '24/30.5S')
    >>> normalize_uspc("705026010"), normalize_uspc(" 16DIG 12"), normalize_uspc("D14480")
    ('705/26.01', '16/DIG12', 'D14/480')
    >>> normalize_uspc("134/104.3"), normalize_uspc("2/46- 48")
    ('134/104.3', None)
    """
    text = value.rstrip().upper()
    if "/" not in text:
        if len(text) < 4 or not text[3:].strip():
            return None
        main, rest = text[3:6].strip(), "".join(text[6:].split())
        digits = re.match(r"\d*", rest).group(0)  # type: ignore[union-attr]
        if main.isdigit() and digits:  # a decimal subclass, e.g. 104.002
            rest = f".{digits}{rest[len(digits) :]}"
        text = f"{text[:3].strip()}/{main}{rest}"
    match = _USPC_SLASHED.match(re.sub(r"\s+", "", text))
    if not match or not (match.group(2) or match.group(1)) or not (match.group(4) or match.group(3)):
        return None
    prefix, number, dig, subclass, decimal, letters = match.groups()
    decimal = (decimal or "").rstrip("0")
    return f"{prefix}{number}/{dig or ''}{subclass}{'.' + decimal if decimal else ''}{letters}"


class Claim(BaseModel):
    """One claim. Dependent claims name the claims they refer to."""

    model_config = ConfigDict(frozen=True)

    number: int
    text: str
    independent: bool = True
    depends_on: list[int] = Field(default_factory=list)


class Paragraph(BaseModel):
    """One description paragraph and the heading it falls under."""

    model_config = ConfigDict(frozen=True)

    text: str
    heading: str | None = None
    number: str | None = None


class Translation(BaseModel):
    """Text of the same publication in a language other than the main one (EP A/B kinds)."""

    model_config = ConfigDict(frozen=True)

    language: str
    title: str | None = None
    abstract: str | None = None
    claims: list[Claim] = Field(default_factory=list)
    description: list[Paragraph] = Field(default_factory=list)


class SourceLocation(BaseModel):
    """Where a record came from: file, 0-based document index within it, 1-based line."""

    model_config = ConfigDict(frozen=True)

    file: str
    index: int = 0
    line: int | None = None


class PatentDocument(BaseModel):
    """One patent publication.

    Example:
        >>> doc = PatentDocument(publication_number="US 8,613,112 B2", title="Hinge")
        >>> doc.publication_number, doc.country, doc.kind
        ('US8613112B2', 'US', 'B2')
    """

    model_config = ConfigDict(frozen=True)

    publication_number: str
    country: str = ""
    kind: str | None = None
    application_number: str | None = None
    family_id: str | None = None
    priority_date: date | None = None
    filing_date: date | None = None
    publication_date: date | None = None
    title: str | None = None
    abstract: str | None = None
    claims: list[Claim] = Field(default_factory=list)
    description: list[Paragraph] = Field(default_factory=list)
    cpc: list[str] = Field(default_factory=list)
    ipc: list[str] = Field(default_factory=list)
    uspc: list[str] = Field(default_factory=list)
    assignees: list[str] = Field(default_factory=list)
    inventors: list[str] = Field(default_factory=list)
    cited_patents: list[str] = Field(default_factory=list)
    language: str | None = None
    translations: list[Translation] = Field(default_factory=list)
    source: SourceLocation | None = None

    @field_validator("publication_number", mode="before")
    @classmethod
    def _normalize_number(cls, value: str) -> str:
        text = str(value)
        control = next((c for c in text if unicodedata.category(c)[0] == "C" and c not in "\t\n\r"), None)
        if control is not None:
            raise ValueError(
                f"publication number {text!r} contains the control character U+{ord(control):04X}; "
                "a publication number is a country code, a number and a kind code, e.g. US8613112B2"
            )
        number = normalize_publication_number(text)
        if not number:
            raise ValueError("publication number is empty; every record needs one, e.g. US8613112B2")
        if not any(char.isdigit() for char in _KIND.sub("", number[2:])):
            raise ValueError(
                f"publication number {text!r} has no digits; "
                "expected a country code, a number and a kind code, e.g. US8613112B2"
            )
        return number

    @field_validator("priority_date", mode="before")
    @classmethod
    def _earliest_priority(cls, value: Any) -> Any:
        # A patent's priority date is its earliest priority; exports list them all in one field.
        parts = _date_parts(value)
        if parts is None:
            return _one_date(value)
        try:
            return min((_one_date(part) for part in parts), default=None)
        except ValueError:
            raise ValueError(
                f"priority dates {value!r} are not YYYY-MM-DD dates separated by '|', ';', ',' or spaces"
            ) from None

    @field_validator("filing_date", "publication_date", mode="before")
    @classmethod
    def _single_date(cls, value: Any) -> Any:
        if _date_parts(value) is not None:
            raise ValueError(f"expected one date (YYYY-MM-DD), got {value!r}")
        return _one_date(value)

    @field_validator("cpc", "ipc", mode="before")
    @classmethod
    def _normalize_codes(cls, values: list[str]) -> list[str]:
        seen: dict[str, None] = {}
        for value in values or []:
            code = normalize_classification(str(value))
            if code:
                seen.setdefault(code, None)
        return list(seen)

    @field_validator("uspc", mode="before")
    @classmethod
    def _normalize_uspc(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(code for value in values or [] if (code := normalize_uspc(str(value)))))

    def model_post_init(self, __context: object) -> None:
        # Derive country/kind from the normalized number when the source did not give them.
        match = re.match(r"^([A-Z]{2}).*?([A-Z]\d?)?$", self.publication_number)
        if match:
            if not self.country:
                object.__setattr__(self, "country", match.group(1))
            if self.kind is None and match.group(2) and not self.publication_number[2:].isalpha():
                object.__setattr__(self, "kind", match.group(2))

    @property
    def earliest_date(self) -> date | None:
        """Priority date, else filing date: the date that decides what counts as prior art."""
        return self.priority_date or self.filing_date

    @property
    def independent_claims(self) -> list[Claim]:
        return [claim for claim in self.claims if claim.independent]


def _date_parts(value: Any) -> list[Any] | None:
    """The dates of a field that lists several (a JSON list, or text with separators); None for one."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str) and DATE_LIST_SEPARATORS.search(text := value.strip()):
        try:
            datetime.fromisoformat(text)  # one datetime, "1988-12-22 00:00:00"
        except ValueError:
            return [part for part in DATE_LIST_SEPARATORS.split(text) if part]
    return None


def _one_date(value: Any) -> Any:
    """An ISO date (``1988-12-22``, ``19881222``, or a datetime at any time of that day) as a ``date``;
    other values are left to the field's own validation."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}") from None
