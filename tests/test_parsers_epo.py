"""EPO ep-patent-document (v1.0-v1.5.1) and DOCDB exchange documents, on real fixtures."""

from __future__ import annotations

import gzip
import logging
import zipfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patent_rag.documents import PatentDocument
from patent_rag.documents.parsers import parse_files
from patent_rag.documents.parsers.base import ParseReport
from patent_rag.documents.parsers.claims import claim_references, split_numbered_claims, strip_claim_number
from patent_rag.documents.parsers.docdb import parse_docdb
from patent_rag.documents.parsers.epo import parse_epo

FIXTURES = Path(__file__).parent / "fixtures" / "epo"
DOCDB = FIXTURES / "docdb"


def parse(path: Path) -> tuple[list[PatentDocument], ParseReport]:
    report = ParseReport()
    return list(parse_epo(path, report=report)), report


def parse_exchange(path: Path) -> tuple[list[PatentDocument], ParseReport]:
    report = ParseReport()
    return list(parse_docdb(path, report=report)), report


def only(path: Path) -> PatentDocument:
    docs, report = (parse_exchange if path.parent == DOCDB else parse)(path)
    assert report.summary() == "1 read, 0 skipped, 0 rejected"
    return docs[0]


# One document per DTD version: number, dates, language, claims, first claim, classification.
VERSIONS = [
    (
        "v1-0-B2.xml",
        ("EP874807B2", "B2", "EP96939832.0", date(1995, 11, 29), date(1996, 11, 18), date(2006, 8, 2)),
        ("en", 5, "A process for the preparation of an o-ch"),
        (["C07C249/08", "C07C231/06", "C07C235/78", "C07C251/48", "C07C251/60"], []),
    ),
    (
        "v1-01-A1.xml",
        ("EP1679948A1", "A1", "EP04768329.7", date(2003, 9, 3), date(2004, 9, 2), date(2006, 7, 19)),
        ("en", 0, None),
        (["A01D17/10"], []),
    ),
    (
        "v1-1-A1.xml",
        ("EP2A1", "A1", "EP78100007.0", date(1977, 6, 1), date(1978, 6, 1), date(1978, 12, 20)),
        ("de", 6, "Tetrahydrofuran-Derivate der Formel in w"),
        (["C07D307/12", "C07D407/12", "C07D307/42", "A01N43/08"], []),
    ),
    (
        "v1-2-A2.xml",
        ("EP1873405A2", "A2", "EP07012363.3", date(2006, 6, 29), date(2007, 6, 25), date(2008, 1, 2)),
        ("de", 17, "Spanplattenschraube, mit 1.1 einem Schra"),
        (["F16B25/10", "F16B35/06"], []),
    ),
    (
        "v1-3-A2.xml",
        ("EP2007181A2", "A2", "EP07738344.6", date(2006, 4, 7), date(2007, 3, 13), date(2008, 12, 24)),
        ("en", 3, "A controller for an industrial robot com"),
        (["H05K5/02", "B25J13/06"], []),
    ),
    (
        "v1-4-B2.xml",
        ("EP1451194B2", "B2", "EP02776152.7", date(2001, 10, 3), date(2002, 10, 3), date(2009, 12, 16)),
        ("en", 9, "A method for preparing levofloxacin hemi"),
        (["C07D498/06", "A61K31/5383", "C07D265/00", "C07D221/00"], []),
    ),
    (
        "v1-5-B1.xml",
        ("EP3404678B1", "B1", "EP17171508.9", None, date(2017, 5, 17), date(2021, 6, 30)),
        ("en", 12, "A high voltage assembly (2) comprising: "),
        (["H01F27/14", "H01F27/40"], []),
    ),
    (
        "v1-5-1-B2.xml",
        ("EP2716170B2", "B2", "EP13196195.5", date(2011, 9, 28), date(2012, 9, 14), date(2021, 9, 22)),
        ("en", 4, "Device for conveying band-shaped or stri"),
        (["A24C5/20"], ["A24C5/20"]),
    ),
]


@pytest.mark.parametrize(("name", "numbers", "text", "codes"), VERSIONS, ids=[v[0] for v in VERSIONS])
def test_every_dtd_version_parses_exactly(name, numbers, text, codes) -> None:
    doc = only(FIXTURES / name)
    assert (
        doc.publication_number,
        doc.kind,
        doc.application_number,
        doc.priority_date,
        doc.filing_date,
        doc.publication_date,
    ) == numbers
    language, claim_count, first_claim = text
    assert doc.country == "EP"
    assert doc.language == language
    assert len(doc.claims) == claim_count
    assert (doc.claims[0].text[:40] if doc.claims else None) == first_claim
    assert (doc.ipc, doc.cpc) == codes
    assert doc.source is not None and (doc.source.index, doc.source.line) == (0, 1)


def test_grant_bibliography_description_and_citations() -> None:
    doc = only(FIXTURES / "v1-5-B1.xml")
    assert doc.title == "HIGH VOLTAGE ASSEMBLY AND METHOD TO OPERATE THE HIGH VOLTAGE ASSEMBLY"
    assert doc.abstract is None  # B publications carry no abstract
    assert doc.assignees == ["General Electric Technology GmbH"]
    assert doc.inventors == ["HARTHUM, Jörg", "STIRL, Tobias"]
    assert doc.cited_patents == ["EP3109871A1", "FR84247E", "GB693448A", "US2008197955A1"]
    first = doc.description[0]
    assert (first.heading, first.number) == ("FIELD OF THE INVENTION", "0001")
    assert first.text.startswith("The present invention relates to a high voltage assembly")
    assert len(doc.description) == 33


def test_claim_dependencies_are_read_from_the_text() -> None:
    doc = only(FIXTURES / "v1-5-B1.xml")
    shape = {c.number: (c.independent, c.depends_on) for c in doc.claims}
    assert shape[1] == (True, [])
    assert shape[3] == (False, [1, 2])  # "according to claim 1 or 2"
    assert shape[4] == (False, [1, 2, 3])  # "according to any one of the preceding claims"
    assert shape[7] == (True, [])
    assert shape[11] == (False, [7, 8, 9, 10])  # "according to any one of claims 7 to 10"
    assert [c.number for c in doc.independent_claims] == [1, 7]
    german = next(t for t in doc.translations if t.language == "de")
    assert [(c.number, c.depends_on) for c in german.claims] == [(c.number, c.depends_on) for c in doc.claims]


def test_german_grant_keeps_english_main_text_and_german_translation() -> None:
    doc = only(FIXTURES / "v1-5-B2.xml")  # proceedings in German; claims in de, en, fr
    assert doc.language == "en"
    assert doc.title == "Printing machine with cladding"
    assert doc.claims[0].text.startswith("Printing machine (102) for the direct printing of containers")
    assert doc.description == []  # the description exists in German only
    by_language = {t.language: t for t in doc.translations}
    assert list(by_language) == ["de", "fr"]
    german = by_language["de"]
    assert german.title == "Druckmaschine mit Verkleidung"
    assert (len(german.claims), len(german.description)) == (13, 42)
    assert german.claims[0].text.startswith("Druckmaschine (102) zum Direktbedrucken von Behältern")
    assert (len(by_language["fr"].claims), by_language["fr"].description) == (13, [])


def test_german_application_without_english_text_stays_german() -> None:
    doc = only(FIXTURES / "v1-0-A2.xml")
    assert doc.language == "de"
    assert doc.title is not None and doc.title.startswith("Verfahren und System zur Ermittlung")
    assert doc.abstract is not None and doc.abstract.startswith("Die Erfindung betrifft die Ermittlung")
    assert (len(doc.claims), len(doc.description)) == (19, 48)
    english = next(t for t in doc.translations if t.language == "en")
    assert english.title == "Method and system for establishing the usage costs for the use of an apparatus"
    assert (english.claims, english.description) == ([], [])


def test_old_numbering_and_classification_formats() -> None:
    doc = only(FIXTURES / "v1-1-A1.xml")  # 1978: claims written "1.)", IPC as "2C 07D 307/12 A"
    assert [c.number for c in doc.claims] == [1, 2, 3, 4, 5, 6]
    assert doc.claims[4].text.startswith("Verwendung von Tetrahydrofuran-Derivaten gemäß Anspruch 1")
    assert doc.claims[4].depends_on == [1]
    assert doc.assignees == ["BAYER AG"]


def test_real_document_with_a_bare_ampersand_is_recovered_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = FIXTURES / "v1-2-A1-unescaped-ampersand.xml"  # a raw "&" in an address, line 93
    with caplog.at_level(logging.WARNING):
        docs, report = parse(path)
    assert [d.publication_number for d in docs] == ["EP1921219A1"]
    assert report.summary() == "1 read, 0 skipped, 0 rejected, 1 recovered"
    [issue] = report.issues
    assert (issue.outcome, issue.file, issue.document, issue.line) == ("recovered", str(path), 0, 93)
    assert issue.reason == (
        "read after escaping 1 bare '&' as text (first on line 93); the source should write '&amp;'"
    )
    assert f"{path}, document 0, line 93: read after escaping 1 bare '&'" in caplog.text
    assert docs[0].title and docs[0].claims and docs[0].description


def test_bare_ampersand_with_another_defect_is_still_rejected_where_the_defect_is(tmp_path: Path) -> None:
    lines = (FIXTURES / "v1-2-A1-unescaped-ampersand.xml").read_bytes().split(b"\n")
    lines[119] = lines[119].replace(b"</", b"<", 1)  # an end tag broken 27 lines below the "&"
    path = tmp_path / "broken.xml"
    path.write_bytes(b"\n".join(lines))
    docs, report = parse(path)
    assert docs == []
    assert report.summary() == "0 read, 0 skipped, 1 rejected"
    [issue] = report.issues
    assert issue.reason.startswith("malformed XML")
    assert issue.line is not None and issue.line > 93


def test_truncated_document_in_a_gzip_bulk_file_is_rejected_and_the_rest_read(tmp_path: Path) -> None:
    first = (FIXTURES / "v1-5-B1.xml").read_bytes()
    broken = (FIXTURES / "v1-4-B2.xml").read_bytes()
    broken = broken[: broken.rfind(b"\n", 0, len(broken) // 2) + 1]
    last = (FIXTURES / "v1-0-B2.xml").read_bytes()
    path = tmp_path / "bulk.xml.gz"
    path.write_bytes(gzip.compress(first + broken + last))
    docs, report = parse(path)
    assert [d.publication_number for d in docs] == ["EP3404678B1", "EP874807B2"]
    second_start = first.count(b"\n") + 1
    third_start = second_start + broken.count(b"\n")
    assert [(d.source.index, d.source.line) for d in docs if d.source] == [(0, 1), (2, third_start)]
    assert report.summary() == "2 read, 0 skipped, 1 rejected"
    issue = report.issues[0]
    assert (issue.file, issue.document) == (str(path), 1)
    assert (
        issue.line is not None and second_start < issue.line <= third_start
    )  # where the parser met the premature end
    assert issue.reason.startswith("malformed XML: Premature end of data")


def test_entity_declarations_are_refused_and_nothing_leaks(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    hostile = (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE ep-patent-document [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        '<ep-patent-document country="EP" doc-number="1" kind="A1"><SDOBI><B500><B540>'
        "<B541>en</B541><B542>&x;</B542></B540></B500></SDOBI></ep-patent-document>\n"
    )
    path = tmp_path / "hostile.xml"
    path.write_bytes(hostile.encode() + (FIXTURES / "v1-3-A2.xml").read_bytes())
    docs, report = parse(path)
    assert [d.publication_number for d in docs] == ["EP2007181A2"]
    assert report.rejected == 1
    issue = report.issues[0]
    assert (issue.document, issue.line) == (0, 2)
    assert "entity declaration" in issue.reason and "refused" in issue.reason
    assert "TOP-SECRET" not in "".join(d.model_dump_json() for d in docs) + str(report.issues)


def test_other_xml_documents_are_skipped_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "mixed.xml"
    other = b'<?xml version="1.0"?>\n<world-patent-data><x/></world-patent-data>\n'
    path.write_bytes(other + (FIXTURES / "v1-3-A2.xml").read_bytes())
    docs, report = parse(path)
    assert [d.publication_number for d in docs] == ["EP2007181A2"]
    assert [(i.outcome, i.reason, i.document, i.line) for i in report.issues] == [
        ("skipped", "not an ep-patent-document (root <world-patent-data>)", 0, 1)
    ]


def test_zip_members_are_read_in_turn(tmp_path: Path) -> None:
    path = tmp_path / "batch.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(FIXTURES / "v1-5-B1.xml", "EP3404678B1.xml")
        archive.write(FIXTURES / "v1-2-A2.xml", "EP1873405A2.xml")
    docs, report = parse(path)
    assert [(d.publication_number, d.source.file if d.source else "") for d in docs] == [
        ("EP3404678B1", f"{path}!EP3404678B1.xml"),
        ("EP1873405A2", f"{path}!EP1873405A2.xml"),
    ]
    assert report.summary() == "2 read, 0 skipped, 0 rejected"


# --- DOCDB exchange documents (bibliographic) ---------------------------------------------


def test_docdb_container_yields_every_record_with_its_line() -> None:
    docs, report = parse_exchange(DOCDB / "DE-backfile.xml")
    assert report.summary() == "10 read, 0 skipped, 0 rejected"
    assert [(d.source.index, d.source.line) for d in docs if d.source] == [(i, i + 1) for i in range(10)]
    first = docs[0]
    assert first.publication_number == "DE1258188B"
    assert (first.family_id, first.application_number) == ("6979546", "DEB0077613")
    assert (first.priority_date, first.filing_date, first.publication_date) == (
        date(1964, 7, 10),
        date(1964, 7, 10),
        date(1968, 1, 4),
    )
    assert first.title == "Kraftstoffeinspritzpumpe fuer mehrzylindrige Brennkraftmaschinen"
    assert (first.language, first.abstract, first.claims) == ("de", None, [])
    assert first.ipc == ["F02M41/12", "F02M59/34", "F02M59/36"]
    assert first.cpc == ["F02M59/34", "F02M41/125", "F02M59/36", "F02M2700/1358"]
    assert first.cited_patents == ["DE814968C", "DE1156606B", "DE1734877U", "FR1343388A"]


def test_docdb_record_cut_out_of_its_container_is_read() -> None:
    doc = only(DOCDB / "YU-6701-A_381353354.xml")  # exch: prefix without its declaration
    assert (doc.publication_number, doc.family_id, doc.language) == ("YU6701A", "22248526", "en")
    assert doc.abstract is not None and doc.abstract.startswith("Tricyclic sulfonamide compounds")
    (serbian,) = doc.translations
    assert serbian.language == "sh"
    assert (
        serbian.title
        == "TRICIKLIČNI SULFONAMIDI I NJIHOVI DERIVATI KAO INHIBITORI MATRIČNIH METALOPROTEINAZA"
    )
    assert doc.inventors == ["O'BRIEN, PATRICK MICHAEL", "PICARD, JOSEPH ARMAND", "SLISKOVIC, DRAGO ROBERT"]


def test_auto_detection_sends_every_epo_flavour_here() -> None:
    report = ParseReport()
    paths = [FIXTURES / "v1-5-B1.xml", DOCDB / "DE-backfile.xml", DOCDB / "YU-6701-A_381353354.xml"]
    docs = list(parse_files(paths, report=report))
    assert [d.publication_number for d in docs][::5] == ["EP3404678B1", "DE1258192B", "DE1258197B"]
    assert report.summary() == "12 read, 0 skipped, 0 rejected"


def test_docdb_prefers_original_party_names_and_reads_docdb_directly() -> None:
    report = ParseReport()
    (doc,) = parse_docdb(DOCDB / "AP-1206-A_302101161.xml", report=report)
    assert doc.publication_number == "AP1206A"
    assert doc.assignees == ["BRISTOL-MYERS SQUIBB COMPANY"]  # docdba, not "BRISTOL MYERS SQUIBB CO"
    assert doc.inventors == ["ULLAR Ismat", "WILEY Gary J"]
    assert doc.ipc[:3] == ["A61K9/16", "A61K9/32", "A61K9/48"]
    assert doc.cited_patents == ["US5556839A", "US5510114A", "US5326570A"]


def test_docdb_skips_deletions_and_empty_records_and_rejects_a_broken_one(tmp_path: Path) -> None:
    lines = (DOCDB / "DE-backfile.xml").read_text(encoding="utf-8").split("\n")
    lines[1] = lines[1].replace('doc-number="1258189"', 'doc-number="1258189" status="D"', 1)
    lines[2] = lines[2].replace("invention-title", "no-title")
    lines[3] = lines[3].replace("</exch:bibliographic-data>", "", 1)
    lines[4] = lines[4].replace("Andrehvorrichtung", "Andreh&SACUTE;vorrichtung", 1)
    path = tmp_path / "docdb.xml"
    path.write_text("\n".join(lines), encoding="utf-8")
    docs, report = parse_exchange(path)
    assert report.summary() == "7 read, 2 skipped, 1 rejected"
    assert [d.source.index for d in docs if d.source] == [0, 4, 5, 6, 7, 8, 9]
    assert [(i.outcome, i.reason, i.document, i.line) for i in report.issues[:2]] == [
        ("skipped", "DOCDB deletion record", 1, 2),
        ("skipped", "DOCDB record without title or abstract", 2, 3),
    ]
    broken = report.issues[2]
    assert (broken.outcome, broken.document, broken.line) == ("rejected", 3, 4)
    assert docs[1].title == "AndrehŚvorrichtung fuer Brennkraftmaschinen"  # DOCDB's &SACUTE;


# --- claim text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number", "expected"),
    [
        ("The process according to Claim 1, wherein", 2, [1]),
        ("The method of claim 11 or claim 12, wherein", 13, [11, 12]),
        ("The method (300) of claim 7, 8 or 9, the transferring", 10, [7, 8, 9]),
        ("The method of any one of claims 11-13, wherein", 14, [11, 12, 13]),
        ("A method according to any preceding claim wherein", 4, [1, 2, 3]),
        ("panel according to the first or second claim, characterized", 4, [1, 2]),
        ("as claimed in claim I wherein said step", 3, [1]),
        ("Verfahren nach einem der Ansprüche 10 bis 12, ferner", 13, [10, 11, 12]),
        ("Vorrichtung nach einem der voranstehenden Ansprüche, wobei", 3, [1, 2]),
        ("Verfahren nach Patentanspruch 2", 3, [2]),
        ("Procédé selon l'une quelconque des revendications 7 à 10, dans lequel", 11, [7, 8, 9, 10]),
        ("Appareil selon l'une des revendications précédentes", 3, [1, 2]),
        ("A method of any one of claims 1 to 12, wherein", 5, [1, 2, 3, 4]),  # never itself or later
        ("A pump comprising 3 vanes and 2 claimed seals", 4, []),
    ],
)
def test_claim_references(text: str, number: int, expected: list[int]) -> None:
    assert claim_references(text, number) == expected


@settings(deadline=None, max_examples=200)
@given(text=st.text(max_size=300), number=st.integers(min_value=1, max_value=150))
def test_claim_references_only_name_earlier_claims(text: str, number: int) -> None:
    found = claim_references(text, number)
    assert found == sorted(set(found))
    assert all(1 <= value < number for value in found)


@settings(deadline=None)
@given(target=st.integers(min_value=1, max_value=60), gap=st.integers(min_value=1, max_value=60))
def test_a_plain_reference_is_found(target: int, gap: int) -> None:
    assert claim_references(f"The device according to claim {target}, wherein", target + gap) == [target]


def test_claim_numbers_are_stripped_and_claim_sets_split() -> None:
    assert strip_claim_number("5.)Verwendung von X", None) == (5, "Verwendung von X")
    assert strip_claim_number("2,4-Dinitrophenol", None) == (None, "2,4-Dinitrophenol")
    assert strip_claim_number("3. A pump", 4) == (4, "3. A pump")  # disagrees: kept
    assert split_numbered_claims("1. A pump at 2. bar. 2. The pump of claim 1.") == [
        (1, "A pump at 2. bar."),
        (2, "The pump of claim 1."),
    ]
    assert split_numbered_claims("A pump.") == [(1, "A pump.")]
