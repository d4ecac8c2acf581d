"""Pre-2005 USPTO full text: ST.32 ``PATDOC`` grants (v2.4/v2.5) and ``pap`` applications (v1.5/v1.6).

Both are XML renderings of older SGML formats. They carry bibliographic data, abstract, claims and
description; :func:`patent_rag.documents.parsers.uspto.parse_uspto` dispatches here by root element.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from patent_rag.documents.parsers._uspto_fields import (
    build_claim,
    cited_number,
    claim_number,
    earliest,
    packed_ipc,
    paragraphs,
    person,
)
from patent_rag.documents.parsers._xml import parse_date, text_of
from patent_rag.documents.record import PatentDocument, SourceLocation
from patent_rag.errors import ParseError

__all__ = ["from_pap", "from_patdoc"]

_SGML_SECTIONS = {
    "RELAPP": "Related applications",
    "BRFSUM": "Brief summary",
    "DRWDESC": "Brief description of drawings",
    "DETDESC": "Detailed description",
}


def _joined(container: etree._Element | None, tag: str) -> str | None:
    """The texts of the ``tag`` paragraphs in ``container``, one per line; None when there are none."""
    if container is None:
        return None
    return "\n".join(text for element in container.iter(tag) if (text := text_of(element))) or None


def _sgml_name(nam: etree._Element | None) -> str:
    if nam is None:
        return ""
    return text_of(nam.find("ONM")) or person(text_of(nam.find("FNM")), text_of(nam.find("SNM")))


def from_patdoc(root: etree._Element, source: SourceLocation, where: dict[str, Any]) -> PatentDocument:
    """A ST.32 grant (``<PATDOC DTD="2.5">``) as a :class:`PatentDocument`."""
    bib = root.find("SDOBI")
    number = text_of(bib.find("B100/B110")) if bib is not None else ""
    if bib is None or not number:
        raise ParseError("<PATDOC> has no SDOBI/B100/B110 publication number", **where)
    country = text_of(bib.find("B100/B190")) or "US"
    kind = text_of(bib.find("B100/B130")) or None
    classes = bib.find("B500/B510")
    ipc = [
        code
        for tag in ("B511", "B512")
        for e in (classes.iter(tag) if classes is not None else ())
        if (code := packed_ipc(text_of(e)))
    ]
    uspc = [e.text for tag in ("B521", "B522") for e in bib.iterfind(f"B500/B520/{tag}//PDAT") if e.text]
    cited: list[str] = []
    for doc in bib.iterfind("B500/B560/B561/PCIT/DOC"):
        found = cited_number(text_of(doc.find("CTRY")), text_of(doc.find("DNUM")), text_of(doc.find("KIND")))
        if found and found not in cited:
            cited.append(found)
    claims = [
        build_claim(
            claim_number(claim.get("ID"), position),
            text_of(claim),
            (ref.get("ID") or text_of(ref) for ref in claim.iter("CLREF")),
        )
        for position, claim in enumerate(root.iterfind("SDOCL/CL/CLM"), start=1)
    ]
    application = text_of(bib.find("B200/B210"))
    return PatentDocument(
        publication_number=f"{country}{number}{kind or ''}",
        country=country,
        kind=kind,
        application_number=f"US{application}" if application else None,
        priority_date=earliest(parse_date(text_of(e)) for e in bib.iterfind("B300/B320")),
        filing_date=parse_date(text_of(bib.find("B200/B220"))),
        publication_date=parse_date(text_of(bib.find("B100/B140"))),
        title=text_of(bib.find("B500/B540")) or None,
        abstract=_joined(root.find("SDOAB"), "PARA"),
        claims=claims,
        description=paragraphs(
            root.find("SDODE"),
            headings=frozenset({"H"}),
            paragraphs=frozenset({"PARA"}),
            sections=_SGML_SECTIONS,
            number=lambda element: None,
        ),
        ipc=ipc,
        uspc=uspc,
        assignees=[n for e in bib.iterfind("B700/B730/B731") if (n := _sgml_name(e.find(".//NAM")))],
        inventors=[n for e in bib.iterfind("B700/B720/B721") if (n := _sgml_name(e.find(".//NAM")))],
        cited_patents=cited,
        language="en",
        source=source,
    )


def _pap_number(paragraph: etree._Element) -> str | None:
    label = paragraph.findtext("number")
    return label.strip() if label else None


def from_pap(root: etree._Element, source: SourceLocation, where: dict[str, Any]) -> PatentDocument:
    """A ``patent-application-publication`` (pap v1.5/v1.6) as a :class:`PatentDocument`."""
    bib = root.find("subdoc-bibliographic-information")
    ident = bib.find("document-id") if bib is not None else None
    number = ident.findtext("doc-number") if ident is not None else None
    if bib is None or ident is None or not number:
        raise ParseError("<patent-application-publication> has no document-id/doc-number", **where)
    kind = (ident.findtext("kind-code") or "").strip() or None
    filing = bib.find("domestic-filing-data")
    app_number = filing.findtext("application-number/doc-number") if filing is not None else None
    technical = bib.find("technical-information")
    ipc = (
        [e.text for e in technical.iterfind("classification-ipc/*/ipc") if e.text]
        if technical is not None
        else []
    )
    uspc = [
        f"{(uspc.findtext('class') or '').strip():>3}{(uspc.findtext('subclass') or '').strip()}"
        for uspc in (technical.iterfind("classification-us/*/uspc") if technical is not None else ())
    ]
    inventors = [
        person(name.findtext("given-name"), name.findtext("family-name"), name.findtext("middle-name"))
        for name in bib.iterfind("inventors/*/name")
    ]
    assignees = [
        text_of(a.find("organization-name")) or text_of(a.find("name")) for a in bib.iterfind("assignee")
    ]
    claims = [
        build_claim(
            claim_number(claim.get("id"), position),
            text_of(claim),
            (ref.get("depends_on") or text_of(ref) for ref in claim.iter("dependent-claim-reference")),
        )
        for position, claim in enumerate(root.iterfind("subdoc-claims/claim"), start=1)
    ]
    return PatentDocument(
        publication_number=f"US{number}{kind or ''}",
        country="US",
        kind=kind,
        application_number=f"US{app_number.strip()}" if app_number else None,
        priority_date=earliest(parse_date(e.text) for e in bib.iterfind("foreign-priority-data/filing-date")),
        filing_date=parse_date(filing.findtext("filing-date")) if filing is not None else None,
        publication_date=parse_date(ident.findtext("document-date")),
        title=text_of(bib.find("technical-information/title-of-invention")) or None,
        abstract=_joined(root.find("subdoc-abstract"), "paragraph"),
        claims=claims,
        description=paragraphs(
            root.find("subdoc-description"),
            headings=frozenset({"heading"}),
            paragraphs=frozenset({"paragraph"}),
            number=_pap_number,
        ),
        ipc=ipc,
        uspc=uspc,
        assignees=[a for a in assignees if a],
        inventors=[i for i in inventors if i],
        language="en",
        source=source,
    )
