"""USPTO parser on real fixtures: one document per format version, bulk files, dispatch."""

from __future__ import annotations

import gzip
import re
import zipfile
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patent_rag.documents import PatentDocument, normalize_publication_number, normalize_uspc
from patent_rag.documents.parsers import FORMATS, ParseReport, detect_format, parse_files
from patent_rag.documents.parsers.uspto import parse_uspto
from patent_rag.errors import ConfigurationError, ParseError, UnsupportedFormatError

FIXTURES = Path(__file__).parent / "fixtures" / "uspto"


def parse(name: str | Path) -> tuple[list[PatentDocument], ParseReport]:
    report = ParseReport()
    documents = list(parse_uspto(FIXTURES / name, report=report))
    return documents, report


def only(name: str) -> PatentDocument:
    documents, report = parse(name)
    assert report.summary() == "1 read, 0 skipped, 0 rejected"
    return documents[0]


# file, publication number, priority, filing, publication, claim count, first claim start, CPC, IPC
VERSIONS = [
    pytest.param(
        "go-uspto-grant-v4-0-B2.xml", "US6857133B2", None, date(2002, 5, 7), date(2005, 2, 22), 6,
        "A method for producing a water-resistant unit, comprising", [], ["A41D13/00"], id="grant-v4.0",
    ),
    pytest.param(
        "US07062920-20060620.XML", "US7062920B2", None, date(2003, 8, 11), date(2006, 6, 20), 15,
        "A combustor dome assembly for a gas turbine engine", [], ["F23R3/60"], id="grant-v4.1",
    ),
    pytest.param(
        "US08613112-20131224.XML", "US8613112B2", date(2008, 5, 28), date(2009, 5, 25), date(2013, 12, 24),
        5, "An article of clothing comprising: a garment (11) configured", [], ["A41D1/04", "A41D27/20"],
        id="grant-v4.4",
    ),
    pytest.param(
        "US08927386-20150106.XML", "US8927386B2", date(2011, 6, 8), date(2012, 5, 31), date(2015, 1, 6), 19,
        "A method for forming a super PN junction, comprising:",
        ["H01L29/66136", "H01L29/0619", "H01L21/3065"],
        ["H01L21/04", "H01L21/761", "H01L29/66", "H01L29/06", "H01L21/3065"],
        id="grant-v4.5",
    ),
    pytest.param(
        "US20050004437A1.xml", "US20050004437A1", date(2001, 10, 26), date(2004, 4, 23), date(2005, 1, 6), 10,
        "A simulation device for displaying and evaluating blood sugar readings", [], ["A61B5/00"],
        id="application-v4.0",
    ),
    pytest.param(
        "go-uspto-app-v4-4-A2.xml", "US20150075015A2", None, date(2014, 5, 1), date(2015, 3, 19), 24,
        "(canceled)", ["B26B21/521"], ["B26B21/52"], id="application-v4.4",
    ),
    pytest.param(
        "go-uspto-app-v4-5-A1.xml", "US20220159901A1", None, date(2019, 9, 19), date(2022, 5, 26), 6,
        "A seed metering device for an agricultural machine", ["A01C7/04"], ["A01C7/04"],
        id="application-v4.5",
    ),
    pytest.param(
        "US20220240350A1-20220728.XML", "US20220240350A1", None, date(2022, 4, 11), date(2022, 7, 28), 19,
        "(Cancelled)", ["H05B1/0272", "A41D13/0051", "H05B3/34", "H05B3/145"],
        ["H05B1/02", "H05B3/14", "H05B3/34"], id="application-v4.6",
    ),
    pytest.param(
        "US06336130.xml", "US6336130B1", date(1997, 4, 8), date(1999, 10, 5), date(2002, 1, 1), 22,
        "An arrangement in a network including a plurality of mobile terminals", [],
        ["G06F15/16", "G06F13/00"], id="sgml-v2.5",
    ),
    pytest.param(
        "USD435854S1.xml", "USD435854S", None, date(1999, 1, 6), date(2001, 1, 2), 1,
        "The ornamental design for a disc cartridge, as shown and described.", [], [], id="sgml-v2.4",
    ),
    pytest.param(
        "US20010000044A1.xml", "US20010000044A1", None, date(1999, 6, 29), date(2001, 3, 15), 21,
        "A method of doing business over a global communications network", [], ["G06F17/60"],
        id="pap-v1.5",
    ),
    pytest.param(
        "pa040101.two.xml", "US20040000002A1", None, date(2002, 6, 27), date(2004, 1, 1), 1,
        "A garment for releasably securing a user's hands", [], ["A41B1/00"], id="pap-v1.6",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "number", "priority", "filing", "published", "claims", "first_claim", "cpc", "ipc"), VERSIONS
)
def test_one_document_per_version(
    name: str,
    number: str,
    priority: date | None,
    filing: date,
    published: date,
    claims: int,
    first_claim: str,
    cpc: list[str],
    ipc: list[str],
) -> None:
    document = only(name)
    assert document.publication_number == number
    assert (document.country, document.language) == ("US", "en")
    assert (document.priority_date, document.filing_date, document.publication_date) == (
        priority,
        filing,
        published,
    )
    assert len(document.claims) == claims
    assert document.claims[0].text.startswith(first_claim)
    assert document.cpc == cpc
    assert document.ipc == ipc
    assert document.title
    assert document.source is not None
    assert (document.source.index, document.source.line) == (0, 1)


@pytest.mark.parametrize(
    ("name", "uspc"),
    [
        ("US08927386-20150106.XML", ["438/416", "438/3", "438/222", "438/356", "438/481"]),
        ("go-uspto-grant-v4-0-B2.xml", ["2/16", "602/62"]),
        ("ipa130117.one.xml", ["2/21"]),  # application v4.3: first of two documents
        ("US06336130.xml", ["709/202", "709/201"]),  # SGML B521/B522
        ("USD435854S1.xml", ["D14/480"]),
        ("US20010000044A1.xml", ["705/26", "705/37"]),  # pap: <class> + 6-digit <subclass>
        ("US20220240350A1-20220728.XML", []),  # after 2015: CPC only
    ],
)
def test_us_national_classification_of_every_format(name: str, uspc: list[str]) -> None:
    # Only the document's own classification-national: the field of search and the citations'
    # classes ("2/46-48", ...) are not the document's classes.
    documents, _ = parse(name)
    assert documents[0].uspc == uspc


def test_packed_uspc_symbols() -> None:
    # USPTO packs class (3 characters), subclass (3) and its decimal/letters; leading spaces count.
    packed = [" 24129 R", " 15104002", " 24 305 S", "705026010", " 16DIG 12", "  2 491", "428 641"]
    assert [normalize_uspc(value) for value in packed] == [
        "24/129R", "15/104.002", "24/30.5S", "705/26.01", "16/DIG12", "2/49.1", "428/64.1"
    ]  # fmt: skip
    assert [normalize_uspc(value) for value in ("382/118", "D02/864", "2/46- 48", "  ", "12")] == [
        "382/118", "D2/864", None, None, None
    ]  # fmt: skip
    assert PatentDocument(publication_number="US1", uspc=["382/118", "382118", "bad/x"]).uspc == ["382/118"]


def test_v44_grant_every_field() -> None:
    document = only("US08613112-20131224.XML")
    assert document.kind == "B2"
    assert document.application_number == "US12994775"
    assert (
        document.title == "Article of clothing particularly intended to be used along with electronic devices"
    )
    assert document.abstract is not None
    assert document.abstract.startswith("An article of clothing comprises a garment (11) for covering")
    assert document.assignees == ["Massimiliano Santuccio"]
    assert document.inventors == ["Massimiliano Santucci", "Domenico Santucci"]
    assert len(document.cited_patents) == 19
    assert document.cited_patents[:3] == ["US6324053B1", "US6561814B2", "US6792124B2"]
    assert "US20020197960A1" in document.cited_patents  # "2002/0197960" normalized
    assert [(claim.number, claim.independent, claim.depends_on) for claim in document.claims] == [
        (1, True, []),
        (2, False, [1]),
        (3, False, [1]),
        (4, False, [1]),
        (5, False, [1]),
    ]
    assert document.claims[1].text == (
        "The article of clothing according to claim 1, wherein the case (2) is made of a waterproof material."
    )
    first = document.description[0]
    assert (first.heading, first.number) == ("TECHNICAL FIELD", "0001")
    assert first.text.startswith("The present invention relates to the technical field")
    assert [p.heading for p in document.description].count("BRIEF DESCRIPTION OF THE DRAWINGS") == 3
    assert len(document.description) == 37


def test_old_formats_keep_dependencies_parties_and_citations() -> None:
    sgml = only("US06336130.xml")
    assert sgml.assignees == ["Telefonaktiebolaget LM Ericsson (publ)"]
    assert sgml.inventors == ["Thanh Van Do"]
    assert sgml.cited_patents[:2] == ["US5825759A", "US5974441A"]
    assert [c.number for c in sgml.independent_claims] == [1, 9, 18]
    assert sgml.claims[4].depends_on == [4]
    assert sgml.description[0].heading == "Related applications"
    assert sgml.description[1].heading == "FIELD OF THE INVENTION"

    pap = only("US20010000044A1.xml")  # claims say "of claim 1" without any reference element
    assert [(c.number, c.depends_on) for c in pap.claims[:4]] == [(1, []), (2, [1]), (3, [1]), (4, [3])]
    assert pap.inventors == ["Wayne W Lin"]
    assert (pap.description[0].heading, pap.description[0].number) == ("Field OF Invention", "1")
    assert pap.description[0].text.startswith("The present invention relates generally")


def test_named_character_entities_become_text() -> None:
    document = parse("ipg130416.small.xml.gz")[0][0]
    assert document.claims[0].text == "The ornamental design for “television set,” as shown and described."


def test_cancelled_claim_range_keeps_its_first_number() -> None:
    document = only("US20220240350A1-20220728.XML")
    assert (document.claims[0].number, document.claims[0].text) == (1, "(Cancelled)")
    assert document.claims[1].number == 19
    assert document.claims[1].text.startswith("A flexible heater suitable for embedding in a wearable")


def test_broken_variants_from_patent_parsing_tools() -> None:
    reference = only("US08613112-20131224.XML")
    no_dtd = only("US08613112-noDTDFile.XML")
    assert no_dtd.model_dump(exclude={"source"}) == reference.model_dump(exclude={"source"})
    lacking = only("US08613112-lackofnode.XML")
    assert lacking.abstract is None
    assert lacking.claims == reference.claims

    documents, report = parse("US08613112-notSupportedDTD.XML")
    assert documents == []
    [issue] = report.issues
    assert (issue.outcome, issue.document, issue.line) == ("rejected", 0, 1)
    assert issue.reason.startswith(
        "unsupported DTD 'us-patent-grant-v44-2013-05-16test.dtd' for <us-patent-grant>"
    )


def test_doctype_identifiers_decide_support(tmp_path: Path) -> None:
    design = (FIXTURES / "USD435854S1.xml").read_text(encoding="utf-8")
    public = design.replace(
        '<!DOCTYPE PATDOC SYSTEM "ST32-US-Grant-025xml.dtd" [',
        '<!DOCTYPE PATDOC PUBLIC "-//USPTO//DTD ST.32 US PATENT GRANT V2.4 2000-09-20//EN" "st32.dtd" [',
    )
    grant = (FIXTURES / "US08613112-20131224.XML").read_text(encoding="utf-8")
    future = grant.replace("us-patent-grant-v44-2013-05-16.dtd", "us-patent-grant-v48-2030-01-01.dtd")
    crossed = grant.replace("<!DOCTYPE us-patent-grant", "<!DOCTYPE us-patent-application")
    scheme = '<?xml version="1.0"?>\n<class-scheme scheme-type="cpc"/>\n'
    bulk = tmp_path / "bulk.xml"
    bulk.write_text(public + future + crossed + scheme, encoding="utf-8")
    report = ParseReport()
    documents = list(parse_uspto(bulk, report=report))
    assert [d.publication_number for d in documents] == ["USD435854S"]
    assert [(issue.outcome, issue.document, issue.reason.split(";")[0]) for issue in report.issues] == [
        ("rejected", 1, "unsupported DTD 'us-patent-grant-v48-2030-01-01.dtd' for <us-patent-grant>"),
        ("rejected", 2, "DOCTYPE names <us-patent-application> but the root element is <us-patent-grant>"),
        ("skipped", 3, "not a patent document (root <class-scheme>)"),
    ]


def test_real_malformed_document_is_located() -> None:
    documents, report = parse("US07057742-20060606.XML")
    assert documents == []
    [issue] = report.issues
    assert (issue.outcome, issue.document, issue.line) == ("rejected", 0, 880)
    assert issue.reason == "malformed XML: Opening and ending tag mismatch: p line 803 and maths"


def _declaration_lines(text: str) -> list[int]:
    return [
        number for number, line in enumerate(text.splitlines(), start=1) if line.lstrip().startswith("<?xml")
    ]


@pytest.mark.parametrize("name", ["ipg130416.small.xml.gz", "ipg060103.small.xml.gz"])
def test_weekly_slice_split_with_lines_and_sequence_listings_skipped(name: str) -> None:
    documents, report = parse(name)
    assert report.summary() == "25 read, 2 skipped, 0 rejected"
    text = gzip.decompress((FIXTURES / name).read_bytes()).decode("utf-8")
    starts = _declaration_lines(text)
    assert len(starts) == 27
    skipped = [(issue.reason, issue.document) for issue in report.issues]
    assert skipped == [("sequence listing", 12), ("sequence listing", 14)]
    assert [issue.line for issue in report.issues] == [starts[12], starts[14]]
    lines = text.splitlines()
    expected = [(index, line) for index, line in enumerate(starts) if index not in (12, 14)]
    assert [(d.source.index, d.source.line) for d in documents if d.source] == expected
    for document in documents:
        assert document.source is not None and document.source.file == str(FIXTURES / name)
        start = document.source.line or 0
        head = "\n".join(lines[start - 1 : start + 12])
        doc_number = re.search(r"<doc-number>(\w+)</doc-number>", head)
        assert doc_number is not None
        found = normalize_publication_number(doc_number.group(1), country="US", kind=document.kind)
        assert found == document.publication_number


def test_concatenated_files_with_indented_declaration() -> None:
    documents, report = parse("go-uspto-test.xml")
    assert report.summary() == "2 read, 0 skipped, 0 rejected"
    assert [(d.publication_number, d.source.line) for d in documents if d.source] == [
        ("US11147202B2", 1),
        ("US11147203B2", 871),
    ]
    documents, _ = parse("ipa130117.one.xml")
    assert [(d.publication_number, d.source.index, d.source.line) for d in documents if d.source] == [
        ("US20130014308A1", 0, 1),
        ("US20130014306A1", 1, 198),
    ]


def test_bad_document_in_the_middle_is_rejected_and_the_rest_parsed(tmp_path: Path) -> None:
    good = (FIXTURES / "ipg120327.two.xml").read_bytes()
    broken = (FIXTURES / "US07057742-20060606.XML").read_bytes()
    bulk = tmp_path / "bulk.xml"
    bulk.write_bytes(good + broken + good)
    report = ParseReport()
    documents = list(parse_uspto(bulk, report=report))
    assert report.summary() == "4 read, 0 skipped, 1 rejected"
    offset = good.count(b"\n")
    [issue] = report.issues
    assert (issue.document, issue.line) == (2, offset + 880)
    assert [d.source.index for d in documents if d.source] == [0, 1, 3, 4]
    assert documents[2].source is not None
    assert documents[2].source.line == offset + broken.count(b"\n") + 1


def test_zip_reads_every_member(tmp_path: Path) -> None:
    archive = tmp_path / "bulk.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(FIXTURES / "ipg120327.two.xml", "ipg120327.xml")
        bundle.write(FIXTURES / "US08613112-20131224.XML", "grant.XML")
        bundle.writestr("US08613112-20131224-D00000.TIF", b"II*\x00 not xml")
    report = ParseReport()
    documents = list(parse_uspto(archive, report=report))
    assert [d.publication_number for d in documents] == ["USD656308S1", "USD656309S1", "US8613112B2"]
    assert documents[2].source is not None and documents[2].source.file == f"{archive}!grant.XML"
    assert report.summary() == "3 read, 0 skipped, 1 rejected"
    assert report.issues[0].reason == "no XML root element found"


def test_detect_format(tmp_path: Path) -> None:
    assert detect_format(FIXTURES / "ipg130416.small.xml.gz") == "uspto"
    assert detect_format(FIXTURES / "US20010000044A1.xml") == "uspto"
    assert detect_format(FIXTURES / "US08613112-noDTDFile.XML") == "uspto"
    epo = tmp_path / "ep.xml"
    epo.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE ep-patent-document SYSTEM "ep.dtd">\n<ep-patent-document/>'
    )
    assert detect_format(epo) == "epo"
    jsonl = tmp_path / "records.jsonl.gz"
    jsonl.write_bytes(gzip.compress(b'{"publication_number": "US1A"}\n'))
    assert detect_format(jsonl) == "jsonl"
    table = tmp_path / "table.csv"
    table.write_text("id,title\nUS1A,Hinge\n")
    assert detect_format(table) == "csv"
    other = tmp_path / "other.xml"
    other.write_text("<html><body/></html>")
    with pytest.raises(UnsupportedFormatError, match=r"XML with root <html> is neither USPTO"):
        detect_format(other)
    binary = tmp_path / "image.tif"
    binary.write_bytes(b"II*\x00\x08\x00\x00\x00")
    with pytest.raises(
        UnsupportedFormatError, match=r"pass format= \(CLI: --format\) one of uspto, epo, docdb, jsonl, csv"
    ):
        detect_format(binary)


def test_parse_files_checks_arguments_before_reading(tmp_path: Path) -> None:
    assert FORMATS == ("uspto", "epo", "docdb", "jsonl", "csv")
    with pytest.raises(UnsupportedFormatError, match=r"unknown format 'xml'; choose one of auto, uspto, epo"):
        parse_files([FIXTURES / "US08613112-20131224.XML"], format="xml")
    with pytest.raises(ParseError, match=r"missing\.xml: no such file"):
        parse_files([FIXTURES / "US08613112-20131224.XML", tmp_path / "missing.xml"])
    table = tmp_path / "table.csv"
    table.write_text("id,title\nUS1A,Hinge\n")
    with pytest.raises(ConfigurationError, match=r"CSV input needs a column mapping"):
        parse_files([table])


def test_parse_files_dispatches_and_shares_one_report() -> None:
    report = ParseReport()
    paths = [FIXTURES / "US08613112-20131224.XML", FIXTURES / "ipg060103.small.xml.gz"]
    documents = list(parse_files(paths, report=report))
    assert report.summary() == "26 read, 2 skipped, 0 rejected"
    assert documents[0].publication_number == "US8613112B2"
    forced = list(parse_files(paths[:1], format="uspto"))
    assert forced == documents[:1]


@settings(max_examples=40, deadline=None)
@given(
    number=st.integers(min_value=1, max_value=99_999_999),
    width=st.integers(min_value=0, max_value=11),
    kind=st.sampled_from(["A1", "A2", "B1", "B2", "E", "S1", "P2"]),
    prefix=st.sampled_from(["", "D", "RE", "PP"]),
    claim=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn")), max_size=60),
)
def test_publication_number_and_text_round_trip(
    tmp_path_factory: pytest.TempPathFactory, number: int, width: int, kind: str, prefix: str, claim: str
) -> None:
    """Any zero padding of the doc-number gives one normalized number; claim text survives escaping."""
    doc_number = prefix + str(number).zfill(width)
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE us-patent-grant SYSTEM "us-patent-grant-v45-2014-04-03.dtd" [ ]>\n'
        "<us-patent-grant><us-bibliographic-data-grant><publication-reference><document-id>"
        f"<country>US</country><doc-number>{doc_number}</doc-number><kind>{kind}</kind><date>20150106</date>"
        "</document-id></publication-reference></us-bibliographic-data-grant>"
        f'<claims><claim id="CLM-00001" num="00001"><claim-text>1. A {escape(claim)}</claim-text></claim>'
        "</claims>"
        "</us-patent-grant>\n"
    )
    path = tmp_path_factory.mktemp("hyp") / "doc.xml"
    path.write_text(xml * 2, encoding="utf-8")
    report = ParseReport()
    documents = list(parse_uspto(path, report=report))
    assert report.summary() == "2 read, 0 skipped, 0 rejected"
    assert documents[0].publication_number == f"US{prefix}{number}{kind}"
    assert documents[1].source is not None and documents[1].source.line == 4
    assert documents[0].claims[0].text == " ".join(f"A {claim}".split())
