"""EPO publication XML: ``ep-patent-document`` (DTD v1.0 to v1.5.1, A and B kinds).

One file may hold one document or several concatenated ones (each with its own ``<?xml``);
plain, gzip and zip input is accepted, and the XML is read with the safe settings of
:mod:`patent_rag.documents.parsers._xml`. DOCDB exchange files (the EPO's bibliographic records)
are another format, read by :mod:`patent_rag.documents.parsers.docdb`; given one, this reader
refuses it and names that format, rather than skipping its whole container as one document.

Languages. An EP publication carries its claims (and for B kinds the title) in German, English and
French; the description and abstract exist in the language of the proceedings only. The main text
of the record is English whenever any English abstract, claims or description exist
(``language="en"``); otherwise it is the language of the proceedings. Every field of the record
is in that one language; text in the other languages goes to ``translations`` (one
:class:`~patent_rag.documents.Translation` per language), so a German B2 gives English title and
claims as the main text and its German description, title and claims as the ``de`` translation.

Text. Tables, maths, chemistry and images are left out of paragraphs and claims (their text is
layout or markup, not prose); list items and line breaks become spaces. Claims that refer to earlier
claims ("according to claim 1", "nach einem der Ansprüche 1 bis 3", "selon l'une quelconque des
revendications précédentes") are dependent: :mod:`patent_rag.documents.parsers.claims` reads those references.

Classification. IPC comes from ``classification-ipcr`` (``"A61K  31/00  20060101AFI..."``: the
symbol is the leading subclass/group, the version date and flags are dropped) and from the
pre-2006 ``B510`` fields (``"7A 61K 9/16 A"``: edition digit dropped); CPC from ``B520EP``.
Citations are the search report's ``B561`` entries (``"EP-A1- 3 109 871"``) and every ``patcit``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import ValidationError

from patent_rag.documents.parsers._epo_fields import DOCDB_ROOTS, ipc_symbols, patent_citation
from patent_rag.documents.parsers._input import Member, read_head, read_members
from patent_rag.documents.parsers._xml import (
    RawDocument,
    parse_date,
    parse_document,
    root_name,
    split_documents,
)
from patent_rag.documents.parsers.base import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    DocumentPart,
    ParseReport,
    invalid_field,
    oversize_reason,
    read_each,
)
from patent_rag.documents.parsers.claims import claim_references, strip_claim_number
from patent_rag.documents.record import (
    Claim,
    Paragraph,
    PatentDocument,
    SourceLocation,
    Translation,
    normalize_publication_number,
)
from patent_rag.errors import ParseError

__all__ = ["ipc_symbols", "parse_epo", "patent_citation", "read_epo"]

logger = logging.getLogger(__name__)

_B561 = re.compile(r"^\s*([A-Z]{2})\s*-\s*([A-Z]\d?)\s*-\s*(.+?)\s*$")

# Elements whose text is not prose; inline markup (b, i, sub, sup, figref...) joins without spaces.
_DROPPED = frozenset({"tables", "maths", "math", "chemistry", "img", "table-external-doc"})
_BLOCK = frozenset({"br", "li", "dt", "dd", "claim-text", "p", "heading", "ul", "ol", "dl"})
_OWNERS = frozenset({"B711", "B731"})  # applicants (A kinds) and proprietors (B kinds)


def _collect(element: etree._Element, parts: list[str]) -> None:
    if element.text:
        parts.append(element.text)
    for child in element:
        if isinstance(child.tag, str) and child.tag not in _DROPPED:
            block = child.tag in _BLOCK
            parts.append(" " if block else "")
            _collect(child, parts)
            parts.append(" " if block else "")
        if child.tail:
            parts.append(child.tail)


def _text(element: etree._Element | None) -> str:
    """Prose text of an element: markup dropped, blocks separated, whitespace collapsed."""
    if element is None:
        return ""
    parts: list[str] = []
    _collect(element, parts)
    return " ".join("".join(parts).split())


def _claims(element: etree._Element) -> list[Claim]:
    claims: list[Claim] = []
    for position, claim in enumerate(element.iter("claim"), start=1):
        num = claim.get("num", "").strip()
        number, text = strip_claim_number(_text(claim), int(num) if num.isdigit() else None)
        number = number or position
        if text:
            refs = claim_references(text, number)
            claims.append(Claim(number=number, text=text, independent=not refs, depends_on=refs))
    return claims


def _description(element: etree._Element, heading: str | None = None) -> list[Paragraph]:
    paragraphs: list[Paragraph] = []
    for child in element:
        if child.tag == "heading":
            heading = _text(child) or None
        elif child.tag == "p":
            text = _text(child)
            if text:
                paragraphs.append(Paragraph(text=text, heading=heading, number=child.get("num") or None))
        elif isinstance(child.tag, str) and child.tag not in _DROPPED:
            paragraphs.extend(_description(child, heading))  # an unexpected wrapper: look inside
    return paragraphs


def _b561(text: str | None) -> str | None:
    match = _B561.match(text or "")
    if not match:
        return None
    country, kind, number = match.groups()
    return normalize_publication_number(f"{country}{re.sub(r'[^A-Z0-9]', '', number.upper())}{kind}")


@dataclass
class _Language:
    title: str | None = None
    abstract: str | None = None
    claims: list[Claim] = field(default_factory=list)
    description: list[Paragraph] = field(default_factory=list)

    @property
    def has_body(self) -> bool:
        return bool(self.abstract or self.claims or self.description)


def _languages(root: etree._Element, default: str) -> dict[str, _Language]:
    texts: dict[str, _Language] = {}
    language = default
    for item in root.iterfind("SDOBI/B500/B540/*"):
        if item.tag == "B541":
            language = (item.text or default).strip().lower()
        elif item.tag == "B542" and _text(item):
            texts.setdefault(language, _Language()).title = _text(item)
    for child in root:
        lang = (child.get("lang") or default).strip().lower()
        if child.tag == "abstract" and _text(child):
            entry = texts.setdefault(lang, _Language())
            entry.abstract = entry.abstract or _text(child)
        elif child.tag == "claims":
            texts.setdefault(lang, _Language()).claims.extend(_claims(child))
        elif child.tag == "description":
            texts.setdefault(lang, _Language()).description.extend(_description(child))
    return texts


def _main_language(texts: dict[str, _Language], default: str) -> str:
    if "en" in texts and texts["en"].has_body:
        return "en"
    if default in texts and texts[default].has_body:
        return default
    with_body = [lang for lang, entry in texts.items() if entry.has_body]
    if with_body:
        return with_body[0]
    return "en" if "en" in texts else default


def _build(root: etree._Element, source: SourceLocation) -> PatentDocument:
    sdobi = root.find("SDOBI")
    if sdobi is None:
        sdobi = etree.Element("SDOBI")
    country = (root.get("country") or sdobi.findtext("B100/B190") or "EP").strip()
    number = (root.get("doc-number") or sdobi.findtext("B100/B110") or "").strip()
    kind = (root.get("kind") or sdobi.findtext("B100/B130") or "").strip()
    if not number:
        raise ParseError(
            "no publication number (neither doc-number nor B110)",
            file=source.file,
            document=source.index,
            line=source.line,
        )
    default = (root.get("lang") or sdobi.get("lang") or "en").strip().lower()
    texts = _languages(root, default)
    main = _main_language(texts, default)
    text = texts.pop(main, _Language())
    title = text.title or (texts["en"].title if "en" in texts else None)
    translations = [
        Translation(
            language=lang,
            title=entry.title if entry.title != title else None,
            abstract=entry.abstract,
            claims=entry.claims,
            description=entry.description,
        )
        for lang, entry in texts.items()
        if entry.has_body or (entry.title and entry.title != title)
    ]
    if translations:
        logger.debug("%s: main text %s, also %s", number, main, [t.language for t in translations])
    priorities = [parse_date(d.text) for d in sdobi.iterfind("B300/B320/date")]
    application = (sdobi.findtext("B200/B210") or "").strip()
    ipc = ipc_symbols([t.text for t in sdobi.iterfind("B500/B510EP/classification-ipcr/text")])
    ipc += ipc_symbols([item.text for item in sdobi.iterfind("B500/B510/*") if item.tag != "B516"])
    cited = [_b561(t.text) for t in sdobi.iterfind("B500/B560/B561/text")]
    cited += [patent_citation(patcit) for patcit in root.iter("patcit")]
    return PatentDocument(
        publication_number=f"{country}{number}{kind}",
        country=country,
        kind=kind or None,
        application_number=f"{country}{application}" if application else None,
        priority_date=min((d for d in priorities if d), default=None),
        filing_date=parse_date(sdobi.findtext("B200/B220/date")),
        publication_date=parse_date(root.get("date-publ")) or parse_date(sdobi.findtext("B100/B140/date")),
        title=title,
        abstract=text.abstract,
        claims=text.claims,
        description=text.description,
        cpc=ipc_symbols([t.text for t in sdobi.iterfind("B500/B520EP//classification-cpc/text")]),
        ipc=ipc,
        assignees=_unique(_text(n) for n in sdobi.iterfind("B700/*/*/snm") if n.getparent().tag in _OWNERS),
        inventors=_unique(_text(n) for n in sdobi.iterfind("B700/B720/B721/snm")),
        cited_patents=_unique(cited),
        language=main,
        translations=translations,
        source=source,
    )


def _unique(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


def parse_epo(
    path: str | Path, *, report: ParseReport, max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
) -> Iterator[PatentDocument]:
    """Read EPO publication XML, one document at a time.

    A malformed document is recorded in ``report`` as rejected (file, 0-based document index, line)
    and the rest of the file is still read; documents of another kind are skipped and counted. A
    document over ``max_document_bytes`` is refused without being held in memory; a truncated or
    corrupt file keeps the documents before the damage. A DOCDB exchange file is refused as a
    whole, naming the ``docdb`` format.

    Example:
        >>> report = ParseReport()
        >>> for doc in parse_epo("EP3404678B1.xml", report=report):  # doctest: +SKIP
        ...     print(doc.publication_number, doc.language, len(doc.claims))
        EP3404678B1 en 12
    """
    read = partial(read_epo, report=report, max_document_bytes=max_document_bytes)
    return read_members(path, read, report=report)


def read_epo(
    member: Member,
    *,
    report: ParseReport,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    part: DocumentPart | None = None,
) -> Iterator[PatentDocument]:
    """Yield every EPO publication of one input stream (a plain file, or one member of an archive)."""

    def build(raw: RawDocument) -> PatentDocument | None:
        return _document(raw, member.name, report, max_document_bytes)

    return read_each(
        _documents(member, report, max_document_bytes), build, file=member.name, report=report, part=part
    )


_DOCDB_REFUSED = (
    "a DOCDB exchange file, not EPO publication XML: read it as format docdb "
    "(CLI --format docdb), or let the format be detected"
)


def _documents(member: Member, report: ParseReport, max_bytes: int) -> Iterator[RawDocument]:
    if root_name(read_head(member), file=member.name) in DOCDB_ROOTS:
        report.reject(ParseError(_DOCDB_REFUSED, file=member.name))
        return
    yield from split_documents(member.stream, max_bytes=max_bytes)


def _document(raw: RawDocument, name: str, report: ParseReport, max_bytes: int) -> PatentDocument | None:
    """One split-off document as a record, or None when it was skipped (and recorded)."""
    where: dict[str, Any] = {"file": name, "document": raw.index, "line": raw.line}
    if raw.oversize:
        raise ParseError(oversize_reason("the document", raw.oversize, max_bytes), **where)
    element = parse_document(raw.data, **where, report=report)
    if element.tag != "ep-patent-document":
        report.skip(f"not an ep-patent-document (root <{element.tag}>)", **where)
        return None
    try:
        return _build(element, SourceLocation(file=name, index=raw.index, line=raw.line))
    except ValidationError as error:
        raise ParseError(f"invalid field {invalid_field(error)}", **where) from None
