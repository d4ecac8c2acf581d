"""DOCDB exchange documents: the EPO's bibliographic records (no claims, no description).

A DOCDB file is one ``exch:exchange-documents`` container holding thousands of
``exch:exchange-document`` records (or a single record cut out of one). The container is cut into
records at their start and end tags, so memory holds one record whatever the file size, and a
broken record is rejected alone while the others are still read. Each record is parsed with the
safe settings of :mod:`patent_rag.documents.parsers._xml`; a record cut out of its container gets the
``exch`` namespace declaration back first.

Fields read: publication number, family id, dates (publication, filing, earliest priority),
application number, titles and abstracts (English preferred as the main text, other languages in
``translations``), IPC and CPC, applicants and inventors (original spelling preferred over the
normalized DOCDB one), cited patents. Records that are skipped, with the reason counted:
deletions (``status="D"``) and records with neither title nor abstract (nothing to search).
"""

from __future__ import annotations

import html.entities
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import IO, Any

from lxml import etree
from pydantic import ValidationError

from patent_rag.documents.parsers._epo_fields import ipc_symbols, patent_citation
from patent_rag.documents.parsers._input import Member, read_members
from patent_rag.documents.parsers._xml import RawDocument, parse_date, parse_document, text_of
from patent_rag.documents.parsers.base import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    DocumentPart,
    ParseReport,
    invalid_field,
    oversize_reason,
    read_each,
)
from patent_rag.documents.record import PatentDocument, SourceLocation, Translation
from patent_rag.errors import ParseError

__all__ = ["parse_docdb", "read_docdb"]

_START = re.compile(rb"<(?:exch:)?exchange-document[\s>]")
_END = re.compile(rb"</(?:exch:)?exchange-document\s*>")
_EXCH_TAG = b"<exch:exchange-document"
_EXCH_NS = b' xmlns:exch="http://www.epo.org/exchange"'
# DOCDB's own entity set spells some HTML names in capitals (&SACUTE; for &Sacute;).
_CAPITAL_ENTITY = re.compile(rb"&([A-Z][A-Z0-9]+);")


def _records(
    stream: IO[bytes], *, chunk_size: int = 1 << 20, max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
) -> Iterator[RawDocument]:
    """Cut the records out of a stream, with their 0-based index and 1-based start line.

    Memory holds one record plus one chunk; a record longer than ``max_bytes`` is read through to
    its end tag without being held and comes out with ``oversize`` set (its first bytes as data).
    """
    buffer = bytearray()
    line, index, done = 1, 0, False
    searched = 0  # where the end tag search resumes in the record at the buffer's start
    oversize: RawDocument | None = None
    read = getattr(stream, "read1", stream.read)
    while not done:
        block = read(chunk_size)
        done = not block
        buffer += block
        if oversize is not None:
            end = _END.search(buffer)
            stop = end.end() if end is not None else (len(buffer) if done else max(0, len(buffer) - 32))
            line += buffer.count(b"\n", 0, stop)
            oversize = RawDocument(oversize.index, oversize.line, oversize.data, oversize.oversize + stop)
            del buffer[:stop]
            if end is None and not done:
                continue
            yield oversize
            oversize, index = None, index + 1
        while (start := _START.search(buffer)) is not None:
            if start.start():
                line += buffer.count(b"\n", 0, start.start())
                del buffer[: start.start()]
                searched = 0
            end = _END.search(buffer, max(searched, start.end() - start.start()))
            if end is None and not done:
                if len(buffer) > max_bytes:
                    keep = len(buffer) - 32  # an end tag may straddle two blocks
                    oversize = RawDocument(index, line, bytes(buffer[: 1 << 16]), keep)
                    line += buffer.count(b"\n", 0, keep)
                    del buffer[:keep]
                else:
                    searched = max(0, len(buffer) - 32)
                break
            stop = end.end() if end is not None else len(buffer)  # at EOF a truncated record
            yield RawDocument(index, line, bytes(buffer[:stop]))
            line += buffer.count(b"\n", 0, stop)
            index += 1
            del buffer[:stop]
            searched = 0
        if oversize is None and _START.search(buffer) is None:
            keep = max(0, len(buffer) - 32)  # a start tag may straddle two blocks
            line += buffer.count(b"\n", 0, keep)
            del buffer[:keep]
    if oversize is not None:
        yield oversize


def _capital_entity(match: re.Match[bytes]) -> bytes:
    name = match.group(1).decode("ascii")
    if name + ";" in html.entities.html5:
        return match.group(0)
    value = html.entities.html5.get(name.capitalize() + ";")
    return b"".join(b"&#%d;" % ord(char) for char in value) if value else match.group(0)


def _prepare(data: bytes) -> bytes:
    if data.startswith(_EXCH_TAG) and b"xmlns:exch" not in data[: data.find(b">")]:
        data = _EXCH_TAG + _EXCH_NS + data[len(_EXCH_TAG) :]
    return _CAPITAL_ENTITY.sub(_capital_entity, data) if b"&" in data else data


def _strip_namespaces(record: etree._Element) -> None:
    for element in record.iter():
        if isinstance(element.tag, str) and element.tag.startswith("{"):
            element.tag = element.tag.partition("}")[2]


def _names(parent: etree._Element | None, tag: str) -> list[str]:
    """Party names, in the original spelling (docdba) when given, else the DOCDB one."""
    if parent is None:
        return []
    for data_format in ("docdba", "docdb"):
        names = [text_of(name) for name in parent.iterfind(f"{tag}[@data-format='{data_format}']//name")]
        if any(names):
            return list(dict.fromkeys(name for name in names if name))
    return []


def _build(record: etree._Element, source: SourceLocation) -> PatentDocument | str:
    """The record as a document, or the reason to skip it."""
    _strip_namespaces(record)
    if record.get("status") == "D":
        return "DOCDB deletion record"
    biblio = record.find("bibliographic-data")
    if biblio is None:
        biblio = etree.Element("bibliographic-data")
    titles: dict[str, str] = {}
    for title in biblio.iterfind("invention-title"):
        titles.setdefault((title.get("lang") or "").lower(), text_of(title))
    abstracts: dict[str, str] = {}
    for abstract in record.iterfind("abstract"):
        abstracts.setdefault((abstract.get("lang") or "").lower(), text_of(abstract))
    titles = {lang: text for lang, text in titles.items() if text}
    abstracts = {lang: text for lang, text in abstracts.items() if text}
    if not titles and not abstracts:
        return "DOCDB record without title or abstract"
    published_in = (biblio.findtext("language-of-publication") or "").strip().lower()
    candidates = [lang for lang in ("en", published_in) if lang in abstracts] or list(abstracts)
    main = candidates[0] if candidates else ("en" if "en" in titles else next(iter(titles)))
    translations = [
        Translation(language=lang, title=titles.get(lang), abstract=abstracts.get(lang))
        for lang in dict.fromkeys([*titles, *abstracts])
        if lang != main and lang
    ]
    country = record.get("country") or ""
    application = biblio.find("application-reference[@data-format='docdb']/document-id")
    app_number = "" if application is None else (application.findtext("doc-number") or "").strip()
    app_country = "" if application is None else (application.findtext("country") or "").strip()
    priorities = biblio.iterfind("priority-claims/priority-claim[@data-format='docdb']/document-id/date")
    ipc_texts = [text.text for text in biblio.iterfind("classifications-ipcr/classification-ipcr/text")]
    ipc_texts += [item.text for item in biblio.iterfind("classification-ipc/*") if item.tag != "edition"]
    cpc_texts = biblio.xpath(
        "patent-classifications/patent-classification[starts-with(classification-scheme/@scheme, 'CPC')]"
        "/classification-symbol/text()"
    )
    cited = [patent_citation(patcit) for patcit in biblio.iterfind("references-cited/citation/patcit")]
    return PatentDocument(
        publication_number=f"{country}{record.get('doc-number') or ''}{record.get('kind') or ''}",
        country=country,
        kind=record.get("kind") or None,
        application_number=f"{app_country}{app_number}" if app_number else None,
        family_id=record.get("family-id") or None,
        priority_date=min((d for d in (parse_date(p.text) for p in priorities) if d), default=None),
        filing_date=parse_date(None if application is None else application.findtext("date")),
        publication_date=parse_date(record.get("date-publ")),
        title=titles.get(main) or titles.get("en") or next(iter(titles.values()), None),
        abstract=abstracts.get(main),
        cpc=ipc_symbols(cpc_texts),
        ipc=ipc_symbols(ipc_texts),
        assignees=_names(biblio.find("parties/applicants"), "applicant"),
        inventors=_names(biblio.find("parties/inventors"), "inventor"),
        cited_patents=list(dict.fromkeys(number for number in cited if number)),
        language=main or None,
        translations=translations,
        source=source,
    )


def parse_docdb(
    path: str | Path, *, report: ParseReport, max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
) -> Iterator[PatentDocument]:
    """Read a DOCDB exchange file (plain, gzip or zip), one record at a time.

    A broken record is recorded in ``report`` as rejected (file, 0-based record index, line) and
    the others are still read; deletions and records without title or abstract are skipped and
    counted. A record over ``max_document_bytes`` is refused without being held in memory; a
    truncated or corrupt file keeps the records before the damage.

    Example:
        >>> report = ParseReport()
        >>> docs = list(parse_docdb("DOCDB-202407-009-DE-0074.xml", report=report))  # doctest: +SKIP
    """
    read = partial(read_docdb, report=report, max_document_bytes=max_document_bytes)
    return read_members(path, read, report=report)


def read_docdb(
    member: Member,
    *,
    report: ParseReport,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    part: DocumentPart | None = None,
) -> Iterator[PatentDocument]:
    """Yield the DOCDB records of one input stream (a plain file, or one member of an archive)."""

    def build(raw: RawDocument) -> PatentDocument | None:
        return _record(raw, member.name, report, max_document_bytes)

    records = _records(member.stream, max_bytes=max_document_bytes)
    return read_each(records, build, file=member.name, report=report, part=part)


def _record(raw: RawDocument, file: str, report: ParseReport, max_bytes: int) -> PatentDocument | None:
    """One record as a document, or None when it was skipped (and recorded)."""
    where: dict[str, Any] = {"file": file, "document": raw.index, "line": raw.line}
    if raw.oversize:
        raise ParseError(oversize_reason("the exchange-document", raw.oversize, max_bytes), **where)
    record = parse_document(_prepare(raw.data), **where, report=report)
    if not record.get("doc-number"):
        raise ParseError("exchange-document without doc-number", **where)
    try:
        built = _build(record, SourceLocation(file=file, index=raw.index, line=raw.line))
    except ValidationError as error:
        raise ParseError(f"invalid field {invalid_field(error)}", **where) from None
    if isinstance(built, str):
        report.skip(built, **where)
        return None
    return built
