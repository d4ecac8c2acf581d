"""What a search front end accepts from a person or a model: dates, filters and bounded requests.

The CLI, the MCP server and the HTTP API take user values through here, so a CPC prefix, a
country or a date is checked the same way and refused with the same message everywhere.
:class:`SearchRequest`, :class:`PriorArtRequest` and :class:`ChartRequest` are the bounded requests
servers accept (top-k, text length, filter list sizes and chart references are capped: a request
cannot ask the engine for unbounded work); their JSON schemas are what an MCP host or an OpenAPI client sees.

Example:
    >>> request = SearchRequest(query="voltage controlled oscillator", cpc=["H03B"], before="2009-01-01")
    >>> request.search_filter().cpc, request.before
    (('H03B',), datetime.date(2009, 1, 1))
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from patent_rag.errors import ConfigurationError
from patent_rag.stores.base import SearchMode
from patent_rag.stores.filters import DateRange, SearchFilter

__all__ = [
    "MAX_CHART_REFERENCES",
    "MAX_CHART_TOP",
    "MAX_CLAIM_NUMBER",
    "MAX_FILTER_VALUES",
    "MAX_QUERY_CHARS",
    "MAX_TOP_K",
    "ChartRequest",
    "FilterFields",
    "PriorArtRequest",
    "SearchRequest",
    "build_filter",
    "parse_date",
]

MAX_TOP_K = 50
MAX_QUERY_CHARS = 8_000  # a long independent claim fits; the encoder reads its head anyway
MAX_FILTER_VALUES = 20  # values per filter list
# A CPC/IPC symbol or a prefix of one: section, class, subclass, main group, group/subgroup.
_CLASSIFICATION = re.compile(r"^[A-HY](?:\d\d(?:[A-Z](?:\d{1,4}(?:/\d{1,6})?)?)?)?$")


def parse_date(value: date | datetime | str | None) -> date | None:
    """``2010-01-31`` (or a date/datetime) as a date; None stays None."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigurationError(f"dates are written YYYY-MM-DD, e.g. 2010-01-31; got {value!r}") from None


def _classifications(values: Sequence[str], option: str) -> tuple[str, ...]:
    for value in values:
        if not _CLASSIFICATION.match(re.sub(r"\s+", "", value).upper()):
            raise ConfigurationError(
                f"{option} {value!r} is not a CPC/IPC symbol or prefix; give a section, class, subclass, "
                "main group or full symbol, e.g. G, G06, G06F, G06F16 or G06F16/30"
            )
    return tuple(values)


def _countries(values: Sequence[str], option: str) -> tuple[str, ...]:
    for value in values:
        if not re.fullmatch(r"[A-Za-z]{2}", value.strip()):
            raise ConfigurationError(
                f"{option} {value!r} is not a two-letter country code; e.g. US, EP, WO, JP"
            )
    return tuple(values)


def build_filter(
    *,
    cpc: Sequence[str] = (),
    cpc_exclude: Sequence[str] = (),
    ipc: Sequence[str] = (),
    ipc_exclude: Sequence[str] = (),
    uspc: Sequence[str] = (),
    countries: Sequence[str] = (),
    kinds: Sequence[str] = (),
    assignees: Sequence[str] = (),
    since: date | str | None = None,
    until: date | str | None = None,
    labels: Mapping[str, str] | None = None,
) -> SearchFilter:
    """A typed filter from user values (``until`` is exclusive, on the earliest priority date).

    Classification and country values are checked here, where a person typed them (the filter
    also takes the symbols stored with a patent, whatever their shape). ``labels`` names the
    fields in messages as the user wrote them (the CLI: ``{"cpc": "--cpc", ...}``).

    Raises:
        ConfigurationError: a date that is not YYYY-MM-DD, a CPC/IPC value that is no symbol or
            prefix of one, a country that is not two letters, a malformed USPC symbol.
    """
    names = {
        **{key: key for key in ("cpc", "cpc_exclude", "ipc", "ipc_exclude", "countries")},
        **(labels or {}),
    }
    start, end = parse_date(since), parse_date(until)
    dates = (DateRange(field="earliest", since=start, before=end),) if start or end else ()
    return SearchFilter(
        cpc=_classifications(cpc, names["cpc"]),
        cpc_exclude=_classifications(cpc_exclude, names["cpc_exclude"]),
        ipc=_classifications(ipc, names["ipc"]),
        ipc_exclude=_classifications(ipc_exclude, names["ipc_exclude"]),
        uspc=tuple(uspc),
        countries=_countries(countries, names["countries"]),
        kinds=tuple(kinds),
        assignees=tuple(assignees),
        dates=dates,
    )


_Values = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=MAX_FILTER_VALUES)]


class FilterFields(BaseModel):
    """The filters a server request may carry; each list is ORed, the fields ANDed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpc: _Values = Field(default_factory=list, description="CPC prefixes to keep, e.g. H03B or H03B5/12.")
    ipc: _Values = Field(default_factory=list, description="IPC prefixes to keep, e.g. H03B.")
    uspc: _Values = Field(default_factory=list, description="US classes or class/subclass symbols, e.g. 331.")
    countries: _Values = Field(default_factory=list, description="Two-letter country codes, e.g. US, EP.")
    since: date | None = Field(
        default=None, description="Keep documents whose earliest priority date is on or after this day."
    )
    before: date | None = Field(
        default=None,
        description="Keep documents whose earliest priority date is strictly before this day (YYYY-MM-DD); "
        "for prior art it defaults to the patent's own earliest priority date.",
    )
    mode: SearchMode | None = Field(
        default=None, description="hybrid (default: dense + BM25), dense (meaning) or bm25 (exact words)."
    )

    @field_validator("since", "before", mode="before")
    @classmethod
    def _date(cls, value: object) -> object:
        return parse_date(value) if isinstance(value, str) else value

    def search_filter(self) -> SearchFilter:
        """The checked :class:`SearchFilter` of these fields (the request's ``before`` is separate)."""
        return build_filter(
            cpc=self.cpc, ipc=self.ipc, uspc=self.uspc, countries=self.countries, since=self.since
        )


class SearchRequest(FilterFields):
    """A free-text search: what the prior art should disclose, in the user's words or a claim's."""

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="What to search for.")
    top_k: int = Field(default=10, ge=1, le=MAX_TOP_K, description="Patents to return.")

    @field_validator("query")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is blank; write what the prior art should disclose")
        return value


class PriorArtRequest(FilterFields):
    """Prior art for a patent in the index: its claims and abstract are the queries, itself and its
    family are excluded, and only documents dated before its earliest priority date are kept."""

    publication_number: str = Field(
        min_length=3, max_length=32, description="A publication number in the index, e.g. US8089324B2."
    )
    top_k: int = Field(default=10, ge=1, le=MAX_TOP_K, description="Patents to return.")


MAX_CHART_REFERENCES = 10  # columns of a chart: each costs one passage search per element
MAX_CHART_TOP = 10
MAX_CLAIM_NUMBER = 1_000


class ChartRequest(BaseModel):
    """A claim chart: one claim of a patent in the index, element by element, against references
    (the numbers given, or else the patent's ``top`` prior art)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    publication_number: str = Field(
        min_length=3, max_length=32, description="A publication number in the index, e.g. US8089324B2."
    )
    claim: int = Field(
        default=1,
        ge=1,
        le=MAX_CLAIM_NUMBER,
        description="The claim to chart; a dependent claim brings the elements of the claims it depends on.",
    )
    references: (
        Annotated[
            list[Annotated[str, Field(min_length=3, max_length=32)]],
            Field(min_length=1, max_length=MAX_CHART_REFERENCES),
        ]
        | None
    ) = Field(
        default=None,
        description=f"Publication numbers in the index to chart against (1 to {MAX_CHART_REFERENCES}); "
        "default: the patent's top prior art.",
    )
    top: int = Field(
        default=3,
        ge=1,
        le=MAX_CHART_TOP,
        description="Prior-art references to chart against when references is not given.",
    )
    mode: SearchMode | None = Field(
        default=None,
        description="hybrid (default: the index's model and BM25), dense (meaning) or bm25 (exact words): "
        "how the prior art and the passages are found.",
    )
