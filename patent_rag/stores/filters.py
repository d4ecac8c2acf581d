"""Typed search filters and their backend-neutral form.

A :class:`SearchFilter` is built from typed values (dates, classification prefixes, country
codes...), normalised on construction, and compiled by :func:`compile_filter` into a few neutral
conditions that each backend maps onto its own filter classes. No user text is ever spliced into
a query string.

Example:
    >>> from datetime import date
    >>> f = SearchFilter(cpc=["h04w 52/02"], dates=[DateRange(field="priority", before=date(2010, 1, 1))])
    >>> f.cpc
    ('H04W52/02',)
    >>> [type(c).__name__ for c in compile_filter(f).must]
    ['DateWindow', 'AnyOf']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import date
from typing import Literal

from patent_rag.documents.record import normalize_classification, normalize_publication_number, normalize_uspc
from patent_rag.errors import ConfigurationError
from patent_rag.stores.layout import assignee_key, rfc3339

__all__ = [
    "AnyOf",
    "CompiledFilter",
    "DateField",
    "DateRange",
    "DateWindow",
    "SearchFilter",
    "compile_filter",
]

DateField = Literal["priority", "filing", "publication", "earliest"]
_DATE_FIELDS = ("priority", "filing", "publication", "earliest")
_SECTIONS = ("title", "abstract", "claim", "description")


@dataclass(frozen=True)
class DateRange:
    """Keep documents whose ``field`` date is on/after ``since`` and strictly before ``before``.

    ``earliest`` is the priority date, or the filing date when a record has no priority date.
    Documents without that date are dropped unless ``include_missing``.
    """

    field: DateField = "earliest"
    since: date | None = None
    before: date | None = None
    include_missing: bool = False

    def __post_init__(self) -> None:
        if self.field not in _DATE_FIELDS:
            raise ConfigurationError(
                f"unknown date field {self.field!r}; choose one of {', '.join(_DATE_FIELDS)}"
            )
        for name in ("since", "before"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, date):
                raise ConfigurationError(f"{name} must be a datetime.date, got {value!r}")
        if self.since is not None and self.before is not None and self.since >= self.before:
            raise ConfigurationError(f"since ({self.since}) must be earlier than before ({self.before})")


def _tuple(values: Iterable[str] | str | None) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    cleaned = (str(value).strip() for value in values)
    return tuple(dict.fromkeys(value for value in cleaned if value))


def _uspc(value: str) -> str:
    """A USPC class (``"382"``, ``"D14"``) or full symbol (``"382/118"``), normalized."""
    text = value.strip().upper()
    if "/" in text:
        symbol = normalize_uspc(text)
    elif text.isdigit():
        symbol = text.lstrip("0")
    elif text[:1].isalpha() and text.isalnum():  # D14, PLT
        symbol = text
    else:
        symbol = None
    if not symbol:
        raise ConfigurationError(
            f"{value!r} is not a USPC class or class/subclass symbol (e.g. 382 or 382/118)"
        )
    return symbol


_NORMALIZE: dict[str, Callable[[str], str]] = {
    "cpc": normalize_classification,
    "cpc_exclude": normalize_classification,
    "ipc": normalize_classification,
    "ipc_exclude": normalize_classification,
    "uspc": _uspc,
    "countries": str.upper,
    "kinds": str.upper,
    "assignees": assignee_key,
    "publication_numbers": normalize_publication_number,
    "exclude_publication_numbers": normalize_publication_number,
}


@dataclass(frozen=True)
class SearchFilter:
    """What a search may return. Empty fields do not restrict; several values in one field are ORed.

    Values are normalised on construction (lists become tuples). Classification fields take a
    prefix at any level: section ``H``, class ``H04``, subclass ``H04W``, main group ``H04W52`` or
    a full symbol ``H04W52/02``; ``uspc`` takes a US class (``382``) or a full ``class/subclass``
    symbol; assignees match case- and punctuation-insensitively.
    """

    dates: tuple[DateRange, ...] = ()
    cpc: tuple[str, ...] = ()
    cpc_exclude: tuple[str, ...] = ()
    ipc: tuple[str, ...] = ()
    ipc_exclude: tuple[str, ...] = ()
    uspc: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    publication_numbers: tuple[str, ...] = ()
    exclude_publication_numbers: tuple[str, ...] = ()
    exclude_family_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        dates = (self.dates,) if isinstance(self.dates, DateRange) else tuple(self.dates or ())
        if not all(isinstance(window, DateRange) for window in dates):
            raise ConfigurationError("dates must be DateRange values")
        object.__setattr__(self, "dates", dates)
        for f in fields(self):
            if f.name == "dates":
                continue
            values = _tuple(getattr(self, f.name))
            normalize = _NORMALIZE.get(f.name)
            if normalize is not None:
                values = tuple(dict.fromkeys(normalize(value) for value in values))
            object.__setattr__(self, f.name, values)
        unknown = set(self.sections) - set(_SECTIONS)
        if unknown:
            raise ConfigurationError(
                f"unknown section(s) {sorted(unknown)}; choose from {', '.join(_SECTIONS)}"
            )


@dataclass(frozen=True)
class AnyOf:
    """The payload field holds (one of) these values."""

    key: str
    values: tuple[str | int, ...]


@dataclass(frozen=True)
class DateWindow:
    """``gte <= field < lt`` on an RFC 3339 datetime field; missing values match if asked."""

    key: str
    gte: str | None
    lt: str | None
    include_missing: bool


@dataclass(frozen=True)
class CompiledFilter:
    """All of ``must`` and none of ``must_not``."""

    must: tuple[AnyOf | DateWindow, ...] = ()
    must_not: tuple[AnyOf, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.must or self.must_not)


def compile_filter(search_filter: SearchFilter | None) -> CompiledFilter:
    """Turn a :class:`SearchFilter` into the neutral conditions backends translate."""
    if search_filter is None:
        return CompiledFilter()
    f = search_filter
    must: list[AnyOf | DateWindow] = [
        DateWindow(
            key=f"{window.field}_date",
            gte=rfc3339(window.since) if window.since else None,
            lt=rfc3339(window.before) if window.before else None,
            include_missing=window.include_missing,
        )
        for window in f.dates
    ]
    for key, values in (
        ("cpc_prefixes", f.cpc),
        ("ipc_prefixes", f.ipc),
        ("uspc_prefixes", f.uspc),
        ("country", f.countries),
        ("kind", f.kinds),
        ("assignee_keys", f.assignees),
        ("section", f.sections),
        ("publication_number", f.publication_numbers),
    ):
        if values:
            must.append(AnyOf(key, tuple(values)))
    must_not = [
        AnyOf(key, tuple(values))
        for key, values in (
            ("cpc_prefixes", f.cpc_exclude),
            ("ipc_prefixes", f.ipc_exclude),
            ("publication_number", f.exclude_publication_numbers),
            ("family_id", f.exclude_family_ids),
        )
        if values
    ]
    return CompiledFilter(must=tuple(must), must_not=tuple(must_not))
