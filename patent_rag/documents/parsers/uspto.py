"""USPTO full text: grant and application XML v4.0-v4.7, weekly bulk files, gzip and zip.

A weekly bulk file (``ipgYYMMDD.xml``, ``ipaYYMMDD.xml``) is many XML documents concatenated, each
with its own ``<?xml`` declaration and DOCTYPE. :func:`parse_uspto` cuts the stream at those
declarations (one document in memory at a time), reads patents, skips sequence listings and other
non-patent documents, and rejects broken documents with file, document index and line while the
rest of the file goes on. The pre-2005 formats (ST.32 ``PATDOC`` grants, ``pap`` applications) are
read by :mod:`patent_rag.documents.parsers.uspto_sgml`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import ValidationError

from patent_rag.documents.parsers._input import Member, read_members
from patent_rag.documents.parsers._uspto_fields import (
    build_claim,
    cited_number,
    claim_number,
    earliest,
    packed_ipc,
    paragraphs,
    person,
)
from patent_rag.documents.parsers._xml import (
    Prolog,
    RawDocument,
    inspect_prolog,
    parse_date,
    parse_document,
    split_documents,
    text_of,
)
from patent_rag.documents.parsers.base import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    DocumentPart,
    ParseReport,
    invalid_field,
    oversize_reason,
    read_each,
)
from patent_rag.documents.parsers.uspto_sgml import from_pap, from_patdoc
from patent_rag.documents.record import (
    PatentDocument,
    SourceLocation,
)
from patent_rag.errors import ParseError

__all__ = ["SUPPORTED_DTDS", "parse_uspto", "read_uspto"]

SUPPORTED_DTDS = "us-patent-grant / us-patent-application v4.0-v4.7, ST.32 PATDOC v2.4-v2.5, pap v1.5-v1.6"
_V4_ROOTS = {"us-patent-grant", "us-patent-application"}
_DTD_PATTERNS = {
    "v4": re.compile(r"^(?:us-patent-(?:grant|application)-)?v4[0-7](?:-\d{4}-\d\d-\d\d)?\.dtd$"),
    "patdoc": re.compile(r"^ST32-US-Grant-02[45](?:xml)?\.dtd$|ST\.32 US PATENT GRANT V2\.[45]"),
    "pap": re.compile(r"^pap-v1[56]-\d{4}-\d\d-\d\d\.dtd$"),
}
_NON_PATENT = {"sequence-cwu": "sequence listing"}


def _family(root: str | None) -> str | None:
    if root in _V4_ROOTS:
        return "v4"
    return {"PATDOC": "patdoc", "patent-application-publication": "pap"}.get(root or "")


def _check_dtd(prolog: Prolog, family: str, where: dict[str, Any]) -> None:
    """Refuse a DOCTYPE that names this document type with a DTD we do not know."""
    if prolog.doctype is None or prolog.doctype != prolog.root:
        if _family(prolog.doctype) is not None:
            raise ParseError(
                f"DOCTYPE names <{prolog.doctype}> but the root element is <{prolog.root}>",
                **where,
            )
        return  # no DOCTYPE, or one for something else: the root element decides
    dtd = (prolog.system_id or "").rsplit("/", 1)[-1]
    if not dtd and not prolog.public_id:
        return  # a DOCTYPE without an external DTD says nothing about the version
    pattern = _DTD_PATTERNS[family]
    if not (pattern.search(dtd) or pattern.search(prolog.public_id or "")):
        shown = dtd or prolog.public_id
        raise ParseError(
            f"unsupported DTD {shown!r} for <{prolog.root}>; supported: {SUPPORTED_DTDS}", **where
        )


def parse_uspto(
    path: str | Path, *, report: ParseReport, max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
) -> Iterator[PatentDocument]:
    """Yield every patent in a USPTO XML/SGML file (single, bulk, ``.gz`` or ``.zip``).

    Broken documents are recorded in ``report`` as rejected; sequence listings and other
    non-patent documents as skipped; ``report.read`` counts the documents yielded. A document
    over ``max_document_bytes`` is refused without being held in memory (a non-patent one, such
    as a huge sequence listing, is skipped as usual). A truncated or corrupt file keeps the
    documents before the damage and records it as rejected.

    Example:
        >>> from patent_rag.documents.parsers import ParseReport
        >>> report = ParseReport()
        >>> docs = list(parse_uspto("tests/fixtures/uspto/ipg130416.small.xml.gz", report=report))
        >>> docs[0].publication_number, report.summary()
        ('USD680087S1', '25 read, 2 skipped, 0 rejected')
    """
    read = partial(read_uspto, report=report, max_document_bytes=max_document_bytes)
    return read_members(path, read, report=report)


def read_uspto(
    member: Member,
    *,
    report: ParseReport,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    part: DocumentPart | None = None,
) -> Iterator[PatentDocument]:
    """Yield every patent of one input stream (a plain file, or one member of an archive)."""

    def build(raw: RawDocument) -> PatentDocument | None:
        try:
            return _parse_one(raw, member.name, report, max_document_bytes)
        except ValueError as error:  # pydantic's ValidationError is a ValueError
            reason = f"invalid field value: {_first_error(error)}"
            raise ParseError(reason, file=member.name, document=raw.index, line=raw.line) from None

    documents = split_documents(member.stream, max_bytes=max_document_bytes)
    return read_each(documents, build, file=member.name, report=report, part=part)


def _first_error(error: ValueError) -> str:
    return invalid_field(error) if isinstance(error, ValidationError) else str(error).splitlines()[0]


def _parse_one(raw: RawDocument, file: str, report: ParseReport, max_bytes: int) -> PatentDocument | None:
    where: dict[str, Any] = {"file": file, "document": raw.index, "line": raw.line}
    try:
        prolog = inspect_prolog(raw.data, file=file, document=raw.index, line=raw.line)
    except ParseError:
        if raw.oversize:
            raise ParseError(oversize_reason("the document", raw.oversize, max_bytes), **where) from None
        raise
    if prolog.root is None:
        if raw.oversize:
            raise ParseError(oversize_reason("the document", raw.oversize, max_bytes), **where)
        raise ParseError("no XML root element found", **where)
    family = _family(prolog.root)
    if family is None:
        kind = _NON_PATENT.get(prolog.root, f"not a patent document (root <{prolog.root}>)")
        report.skip(kind, file=file, document=raw.index, line=raw.line)
        return None
    if raw.oversize:
        raise ParseError(oversize_reason(f"<{prolog.root}>", raw.oversize, max_bytes), **where)
    _check_dtd(prolog, family, where)
    root = parse_document(raw.data, file=file, document=raw.index, line=raw.line, report=report)
    source = SourceLocation(file=file, index=raw.index, line=raw.line)
    if family == "v4":
        return _from_v4(root, source, where)
    extract = from_patdoc if family == "patdoc" else from_pap
    return extract(root, source, where)


# --- v4.x ----------------------------------------------------------------------------------------

_V4_HEADINGS = frozenset({"heading"})
_V4_PARAGRAPHS = frozenset({"p"})


def _code(element: etree._Element) -> str | None:
    parts = [
        element.findtext(tag) or "" for tag in ("section", "class", "subclass", "main-group", "subgroup")
    ]
    if not all(part.strip() for part in parts[:4]):
        return None
    return "".join(parts[:4]).replace(" ", "") + "/" + (parts[4].strip() or "00")


def _names(parties: Iterable[etree._Element]) -> list[str]:
    names: list[str] = []
    for party in parties:
        book = party.find("addressbook")
        book = party if book is None else book
        name = text_of(book.find("orgname")) or person(
            book.findtext("first-name"), book.findtext("last-name")
        )
        if name and name not in names:
            names.append(name)
    return names


def _from_v4(root: etree._Element, source: SourceLocation, where: dict[str, Any]) -> PatentDocument:
    bib = root.find("us-bibliographic-data-grant")
    if bib is None:
        bib = root.find("us-bibliographic-data-application")
    publication = bib.find("publication-reference/document-id") if bib is not None else None
    number = publication.findtext("doc-number") if publication is not None else None
    if bib is None or publication is None or not number:
        raise ParseError(f"<{root.tag}> has no publication-reference/document-id/doc-number", **where)
    country = (publication.findtext("country") or "US").strip()
    kind = (publication.findtext("kind") or "").strip() or None
    application = bib.find("application-reference/document-id")
    app_number = application.findtext("doc-number") if application is not None else None

    cpc = [
        code
        for element in bib.iterfind("classifications-cpc//classification-cpc")
        if (code := _code(element))
    ]
    ipc = [
        code
        for element in bib.iterfind("classifications-ipcr/classification-ipcr")
        if (code := _code(element))
    ]
    for element in bib.iterfind("classification-ipc/*"):
        if element.tag in ("main-classification", "further-classification") and (
            code := packed_ipc(element.text)
        ):
            ipc.append(code)

    uspc = [
        element.text
        for element in bib.iterfind("classification-national/*")
        if element.tag in ("main-classification", "further-classification") and element.text
    ]
    inventors = _names(bib.iterfind("*/inventors/inventor"))
    if not inventors:
        applicants = bib.iterfind("*/applicants/applicant")
        inventors = _names(a for a in applicants if "inventor" in (a.get("app-type") or ""))
    cited: list[str] = []
    for cite in bib.iterfind("*/*/patcit/document-id"):
        found = cited_number(cite.findtext("country"), cite.findtext("doc-number"), cite.findtext("kind"))
        if found and found not in cited:
            cited.append(found)

    abstract = root.find("abstract")
    abstract_text = (
        "\n".join(text for p in abstract.iter("p") if (text := text_of(p))) or text_of(abstract)
        if abstract is not None
        else ""
    )
    claims = [
        build_claim(
            claim_number(claim.get("num"), position),
            text_of(claim),
            (ref.get("idref") or text_of(ref) for ref in claim.iter("claim-ref")),
        )
        for position, claim in enumerate(root.iterfind("claims/claim"), start=1)
    ]
    return PatentDocument(
        publication_number=f"{country}{number}{kind or ''}",
        country=country,
        kind=kind,
        application_number=f"{country}{app_number.strip()}" if app_number else None,
        priority_date=earliest(
            parse_date(d.text) for d in bib.iterfind("priority-claims/priority-claim/date")
        ),
        filing_date=parse_date(application.findtext("date")) if application is not None else None,
        publication_date=parse_date(publication.findtext("date")),
        title=text_of(bib.find("invention-title")) or None,
        abstract=abstract_text or None,
        claims=claims,
        description=paragraphs(root.find("description"), headings=_V4_HEADINGS, paragraphs=_V4_PARAGRAPHS),
        cpc=cpc,
        ipc=ipc,
        uspc=uspc,
        assignees=_names(bib.iterfind("assignees/assignee")),
        inventors=inventors,
        cited_patents=cited,
        language="en",
        source=source,
    )
