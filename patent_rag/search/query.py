"""Querying by patent: which texts of a patent become queries, and the prior-art date cutoff.

A patent query is several texts searched separately and fused: each independent claim (the claims
define what is protected, and each independent claim can have its own prior art) and the abstract.
The patent itself and its family are excluded, and by default only documents dated strictly before
the patent's earliest priority date are kept.

Cutoff semantics (``cutoff=``), applied to every *candidate* document:

=================  ============================================================================
``"priority"``     the candidate's earliest priority date, or its filing date when it claims no
                   priority (the default: it is the date that decides what counts as prior art)
``"filing"``       the candidate's filing date
``"publication"``  the candidate's publication date (strict: drops most real citations, because
                   prior art is often published after the later application was filed)
``None``           no date restriction
=================  ============================================================================

The cutoff *date* defaults to the query patent's earliest priority date (its filing date when it
claims no priority). A candidate is kept when its date is strictly before the cutoff: a document of
the same day is not prior art. A candidate without the chosen date cannot be shown to be prior art
and is dropped, unless ``include_undated=True``.

Example:
    >>> from datetime import date
    >>> cutoff_filter("priority", date(2010, 1, 1)).dates[0].field
    'earliest'
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, get_args

from patent_rag.documents.record import PatentDocument, normalize_publication_number
from patent_rag.errors import ConfigurationError, PatentNotFoundError
from patent_rag.search.hits import payload_date, strip_title
from patent_rag.stores.base import SearchHit, Store
from patent_rag.stores.filters import DateField, DateRange, SearchFilter

__all__ = [
    "CutoffField",
    "PatentQuery",
    "QuerySource",
    "QueryText",
    "cutoff_filter",
    "merge_filters",
    "patent_chunks",
    "query_from_document",
    "query_from_store",
    "query_sources",
]

logger = logging.getLogger(__name__)

CutoffField = Literal["priority", "filing", "publication"]
QuerySource = Literal["claims", "abstract"]

_FIELDS: dict[str, DateField] = {"priority": "earliest", "filing": "filing", "publication": "publication"}
# Kind codes tried when a number is given without one (US grants and applications, EP, WO...).
_KINDS = ("B2", "B1", "A1", "A2", "A", "B", "E", "S", "S1", "P2", "P3", "C", "U", "A3", "B3")


@dataclass(frozen=True)
class QueryText:
    """One text of a patent searched on its own: an independent claim, the abstract or the title."""

    source: Literal["claim", "abstract", "title"]
    text: str
    claim_number: int | None = None


@dataclass(frozen=True)
class PatentQuery:
    """A patent as a query: its texts, its identity (to exclude it), its dates (for the cutoff) and the
    bibliography the :mod:`~patent_rag.search.boosts` compare candidates with."""

    publication_number: str
    texts: tuple[QueryText, ...]
    family_id: str | None = None
    title: str = ""
    priority_date: date | None = None
    filing_date: date | None = None
    publication_date: date | None = None
    cpc: tuple[str, ...] = ()
    ipc: tuple[str, ...] = ()
    uspc: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    inventors: tuple[str, ...] = ()

    @property
    def earliest_date(self) -> date | None:
        """Priority date, else filing date: the default prior-art cutoff."""
        return self.priority_date or self.filing_date


def query_sources(sources: Sequence[QuerySource]) -> tuple[QuerySource, ...]:
    """``sources`` checked and deduplicated, in the order given."""
    known = get_args(QuerySource)
    unknown = sorted(set(sources) - set(known))
    if unknown or not sources:
        raise ConfigurationError(
            f"query sources must be a non-empty selection of {' and '.join(map(repr, known))}, "
            f"got {list(sources)!r}"
        )
    return tuple(dict.fromkeys(sources))


def query_from_document(
    doc: PatentDocument, *, sources: Sequence[QuerySource] = ("claims", "abstract")
) -> PatentQuery:
    """The query texts of a patent record: its independent claims and/or abstract (title as last resort)."""
    chosen = query_sources(sources)
    texts: list[QueryText] = []
    if "claims" in chosen:
        texts += [QueryText("claim", c.text, c.number) for c in doc.independent_claims if c.text.strip()]
    if "abstract" in chosen and doc.abstract and doc.abstract.strip():
        texts.append(QueryText("abstract", doc.abstract))
    if not texts and doc.title and doc.title.strip():
        texts.append(QueryText("title", doc.title))
    if not texts:
        raise ConfigurationError(
            f"{doc.publication_number} has no {' or '.join(chosen)} (nor a title) to search with; "
            "pass a record with claims or an abstract, or search with free text"
        )
    return PatentQuery(
        publication_number=doc.publication_number,
        texts=tuple(texts),
        family_id=doc.family_id,
        title=doc.title or "",
        priority_date=doc.priority_date,
        filing_date=doc.filing_date,
        publication_date=doc.publication_date,
        cpc=tuple(doc.cpc),
        ipc=tuple(doc.ipc),
        uspc=tuple(doc.uspc),
        assignees=tuple(doc.assignees),
        inventors=tuple(doc.inventors),
    )


def patent_chunks(store: Store, publication_number: str) -> list[SearchHit]:
    """Every stored chunk of one patent, in chunk order; a number without its kind code is tried with
    the usual kinds.

    Raises:
        PatentNotFoundError: no such patent in the index.
        ConfigurationError: a number without kind code that matches several patents.
    """
    number = normalize_publication_number(publication_number)
    hits = store.fetch(SearchFilter(publication_numbers=(number,)), limit=10_000)
    if hits:
        return hits
    # "US8089324" without its kind code: try the usual kinds in one request.
    candidates = tuple(number + kind for kind in _KINDS)
    hits = store.fetch(SearchFilter(publication_numbers=candidates), limit=10_000)
    found = sorted({hit.publication_number for hit in hits})
    if len(found) > 1:
        raise ConfigurationError(
            f"{publication_number} matches several patents in {store.location} ({', '.join(found)}); "
            "give the number with its kind code"
        )
    if not hits:
        raise PatentNotFoundError(
            f"{number} is not in the index at {store.location}; ingest it first, or search with its "
            "record (a PatentDocument) or with free text"
        )
    return hits


def query_from_store(
    store: Store, publication_number: str, *, sources: Sequence[QuerySource] = ("claims", "abstract")
) -> PatentQuery:
    """The query texts of a patent already in the index, read back from its stored chunks.

    Claims that were split over several chunks are joined again; dependent claims (those with a
    parent claim) are not queries.
    """
    chosen = query_sources(sources)
    hits = patent_chunks(store, publication_number)
    claims: dict[int, list[str]] = {}
    abstract: list[str] = []
    title = ""
    for hit in hits:  # in chunk order
        payload = hit.payload
        section, text = payload.get("section"), str(payload.get("text", ""))
        title = title or str(payload.get("title") or "")
        if (
            section == "claim"
            and payload.get("parent_claim") is None
            and payload.get("claim_number") is not None
        ):
            parts = claims.setdefault(int(payload["claim_number"]), [])
            parts.append(strip_title(text, title) if parts else text)
        elif section == "abstract":
            abstract.append(strip_title(text, title) if abstract else text)
    texts: list[QueryText] = []
    if "claims" in chosen:
        texts += [QueryText("claim", " ".join(parts), n) for n, parts in sorted(claims.items())]
    if "abstract" in chosen and abstract:
        texts.append(QueryText("abstract", " ".join(abstract)))
    if not texts and title:
        texts.append(QueryText("title", title))
    if not texts:
        raise ConfigurationError(
            f"{publication_number} has no stored {' or '.join(chosen)} to search with; search with free text"
        )
    first = hits[0].payload
    return PatentQuery(
        publication_number=str(first.get("publication_number")),
        texts=tuple(texts),
        family_id=first.get("family_id"),
        title=title,
        priority_date=payload_date(first.get("priority_date")),
        filing_date=payload_date(first.get("filing_date")),
        publication_date=payload_date(first.get("publication_date")),
        cpc=tuple(first.get("cpc") or ()),
        ipc=tuple(first.get("ipc") or ()),
        uspc=tuple(first.get("uspc") or ()),
        assignees=tuple(first.get("assignees") or ()),
        inventors=tuple(first.get("inventors") or ()),
    )


def cutoff_filter(
    field: CutoffField | None, before: date | None, *, include_undated: bool = False
) -> SearchFilter:
    """The filter keeping candidates whose ``field`` date is strictly before ``before``."""
    if field is None or before is None:
        return SearchFilter()
    if field not in _FIELDS:
        raise ConfigurationError(
            f"cutoff must be one of {', '.join(map(repr, get_args(CutoffField)))} or None, got {field!r}"
        )
    return SearchFilter(
        dates=(DateRange(field=_FIELDS[field], before=before, include_missing=include_undated),)
    )


def merge_filters(*filters: SearchFilter | None) -> SearchFilter:
    """One filter with the conditions of all: exclusions and date ranges all apply.

    Value lists are concatenated, so inclusion lists (``cpc``, ``countries``...) given in more than
    one of the filters are ORed; the retriever only adds exclusions and dates to a user's filter.
    """
    merged: dict[str, list[object]] = {}
    for item in filters:
        if item is None:
            continue
        for field in dataclasses.fields(item):
            merged.setdefault(field.name, []).extend(getattr(item, field.name))
    # Built anew so the values are normalised and deduplicated once more.
    return SearchFilter(**{name: tuple(values) for name, values in merged.items()})  # type: ignore[arg-type]
