"""DOCDB exchange documents: the EPO's bibliographic records (no claims, no description).

A DOCDB file is one ``exch:exchange-documents`` container holding thousands of
``exch:exchange-document`` records (or a single record cut out of one). The container is cut into
records at their start and end tags, so memory holds one record whatever the file size, and a
broken record is rejected alone while the others are still read. Each record is parsed with the
safe settings of :mod:`patent_rag.parsers._xml`; a record cut out of its container gets the
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
from pathlib import Path
from typing import IO

from lxml import etree
from pydantic import ValidationError

from patent_rag.documents import PatentDocument, SourceLocation, Translation
from patent_rag.errors import ParseError
from patent_rag.parsers._xml import RawDocument, open_members, parse_date, parse_document, text_of
from patent_rag.parsers.base import ParseReport
from patent_rag.parsers.epo import ipc_symbols, patent_citation

__all__ = ["parse_docdb", "parse_exchange_stream"]

_START = re.compile(rb"<(?:exch:)?exchange-document[\s>]")
_END = re.compile(rb"</(?:exch:)?exchange-document\s*>")
_EXCH_TAG = b"<exch:exchange-document"
_EXCH_NS = b' xmlns:exch="http://www.epo.org/exchange"'
# DOCDB's own entity set spells some HTML names in capitals (&SACUTE; for &Sacute;).
_CAPITAL_ENTITY = re.compile(rb"&([A-Z][A-Z0-9]+);")


def _records(stream: IO[bytes], *, chunk_size: int = 1 << 20) -> Iterator[RawDocument]:
    """Cut the records out of a stream, with their 0-based index and 1-based start line."""
    buffer = bytearray()
    line, index, done = 1, 0, False
    while not done:
        block = stream.read(chunk_size)
        done = not block
        buffer += block
        while (start := _START.search(buffer)) is not None:
            end = _END.search(buffer, start.end())
            if end is None and not done:
                break
            stop = end.end() if end is not None else len(buffer)  # at EOF a truncated record
            line += buffer.count(b"\n", 0, start.start())
            yield RawDocument(index, line, bytes(buffer[start.start() : stop]))
            line += buffer.count(b"\n", start.start(), stop)
            index += 1
            del buffer[:stop]
        if _START.search(buffer) is None:
            keep = max(0, len(buffer) - 32)  # a start tag may straddle two blocks
            line += buffer.count(b"\n", 0, keep)
            del buffer[:keep]
        else:
            cut = _START.search(buffer).start()  # type: ignore[union-attr]
            line += buffer.count(b"\n", 0, cut)
            del buffer[:cut]


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


def parse_exchange_stream(stream: IO[bytes], *, file: str, report: ParseReport) -> Iterator[PatentDocument]:
    """Read the DOCDB records of one binary stream (``file`` names it in errors and sources)."""
    for raw in _records(stream):
        try:
            record = parse_document(_prepare(raw.data), file=file, document=raw.index, line=raw.line)
            if not record.get("doc-number"):
                raise ParseError(
                    "exchange-document without doc-number", file=file, document=raw.index, line=raw.line
                )
            built = _build(record, SourceLocation(file=file, index=raw.index, line=raw.line))
        except ParseError as error:
            report.reject(error)
            continue
        except ValidationError as error:
            reason = f"invalid field {error.errors()[0]['loc']}: {error.errors()[0]['msg']}"
            report.reject(ParseError(reason, file=file, document=raw.index, line=raw.line))
            continue
        if isinstance(built, str):
            report.skip(built, file=file, document=raw.index, line=raw.line)
            continue
        report.read += 1
        yield built


def parse_docdb(path: str | Path, *, report: ParseReport) -> Iterator[PatentDocument]:
    """Read a DOCDB exchange file (plain, gzip or zip), one record at a time.

    :func:`patent_rag.parsers.epo.parse_epo` calls this for files whose root is a DOCDB container.

    Example:
        >>> report = ParseReport()
        >>> docs = list(parse_docdb("DOCDB-202407-009-DE-0074.xml", report=report))  # doctest: +SKIP
    """
    for name, stream in open_members(path):
        yield from parse_exchange_stream(stream, file=name, report=report)
