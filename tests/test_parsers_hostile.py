"""Untrusted input: XXE, entity bombs, truncation, wrong encodings. Nothing leaks, the rest parses."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from patent_rag.documents.parsers import ParseReport, parse_files
from patent_rag.documents.parsers._xml import parse_document, text_of
from patent_rag.documents.parsers.uspto import parse_uspto
from patent_rag.errors import ParseError, UnsafeXMLError

FIXTURES = Path(__file__).parent / "fixtures" / "uspto"
GOOD = (FIXTURES / "ipg120327.two.xml").read_bytes()  # two design grants, 257 + 1 lines before the 2nd
SECRET = "TOP-SECRET-7f3a9c-MUST-NOT-LEAK"
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
BIBLIO = (
    b"<us-bibliographic-data-grant><publication-reference><document-id><country>US</country>"
    b"<doc-number>09999999</doc-number><kind>B2</kind><date>20150106</date></document-id>"
    b"</publication-reference><invention-title>%s</invention-title></us-bibliographic-data-grant>"
)


def grant(subset: bytes, title: bytes, *, doctype: bytes = b"us-patent-grant") -> bytes:
    """A small v4.5 grant whose DOCTYPE carries ``subset`` and whose title is ``title``."""
    return (
        DECLARATION
        + b'<!DOCTYPE ' + doctype + b' SYSTEM "us-patent-grant-v45-2014-04-03.dtd" [' + subset + b"]>\n"
        + b"<us-patent-grant>\n" + BIBLIO % title + b"\n</us-patent-grant>\n"
    )  # fmt: skip


def run(
    tmp_path: Path, hostile: bytes, caplog: pytest.LogCaptureFixture
) -> tuple[list[str], ParseReport, str]:
    """Parse good + hostile + good; return publication numbers, report, and everything emitted."""
    bulk = tmp_path / "bulk.xml"
    bulk.write_bytes(GOOD + hostile + GOOD)
    report = ParseReport()
    with caplog.at_level(logging.DEBUG):
        documents = list(parse_files([bulk], report=report))
    emitted = "\n".join(
        [d.model_dump_json() for d in documents] + [str(i) for i in report.issues] + [caplog.text]
    )
    return [d.publication_number for d in documents], report, emitted


EXPECTED_GOOD = ["USD656308S1", "USD656309S1", "USD656308S1", "USD656309S1"]
HOSTILE_LINE = GOOD.count(b"\n") + 1


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def test_xxe_reading_a_local_file_is_refused(
    tmp_path: Path, secret_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hostile = grant(f'<!ENTITY xxe SYSTEM "file://{secret_file}">'.encode(), b"&xxe;")
    numbers, report, emitted = run(tmp_path, hostile, caplog)
    assert numbers == EXPECTED_GOOD
    [issue] = report.issues
    assert (issue.outcome, issue.document, issue.line) == ("rejected", 2, HOSTILE_LINE + 1)
    assert issue.reason.startswith("entity declaration 'xxe' refused")
    assert SECRET not in emitted
    assert str(secret_file) not in issue.reason


@pytest.mark.parametrize(
    "subset",
    [
        pytest.param('<!ENTITY % ext SYSTEM "file://{secret}"> %ext;', id="parameter-entity"),
        pytest.param('<!ENTITY xxe PUBLIC "-//X//Y" "file://{secret}">', id="public-id"),
        pytest.param('<!ENTITY xxe SYSTEM "http://127.0.0.1:9/{secret}">', id="network"),
    ],
)
def test_other_external_entity_forms_are_refused(
    tmp_path: Path, secret_file: Path, caplog: pytest.LogCaptureFixture, subset: str
) -> None:
    hostile = grant(subset.format(secret=secret_file).encode(), b"&xxe;")
    numbers, report, emitted = run(tmp_path, hostile, caplog)
    assert numbers == EXPECTED_GOOD
    assert [(i.outcome, i.document) for i in report.issues] == [("rejected", 2)]
    assert "refused" in report.issues[0].reason
    assert SECRET not in emitted


def test_external_dtd_and_xinclude_are_never_loaded(
    tmp_path: Path, secret_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dtd = tmp_path / "evil.dtd"
    dtd.write_text(f'<!ENTITY leak "{SECRET}">')
    hostile = (
        DECLARATION
        + f'<!DOCTYPE other SYSTEM "file://{dtd}">\n'.encode()
        + b'<us-patent-grant xmlns:xi="http://www.w3.org/2001/XInclude">\n'
        + BIBLIO % f'&leak; <xi:include href="file://{secret_file}" parse="text"/>'.encode()
        + b"\n</us-patent-grant>\n"
    )
    numbers, report, emitted = run(tmp_path, hostile, caplog)
    assert report.summary() == "5 read, 0 skipped, 0 rejected, 2 duplicate publication numbers"
    assert numbers[2] == "US9999999B2"
    assert SECRET not in emitted


def test_billion_laughs_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Ten levels of tenfold expansion: 10^10 "lol"s if anything ever expanded it.
    levels = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 11)]
    hostile = grant("\n".join(levels).encode(), b"&lol10;")
    numbers, report, emitted = run(tmp_path, hostile, caplog)
    assert numbers == EXPECTED_GOOD
    [issue] = report.issues
    assert (issue.outcome, issue.document, issue.line) == ("rejected", 2, HOSTILE_LINE + 1)
    assert issue.reason.startswith("entity declaration 'lol0' refused")
    assert "lollollol" not in emitted


def test_quadratic_blowup_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    hostile = grant(f'<!ENTITY big "{"A" * 50_000}">'.encode(), b"&big;" * 50_000)
    numbers, report, emitted = run(tmp_path, hostile, caplog)
    assert numbers == EXPECTED_GOOD
    assert [(i.document, i.reason.split(" (")[0]) for i in report.issues] == [
        (2, "entity declaration 'big' refused")
    ]
    assert "A" * 1000 not in emitted


def test_unsafe_error_from_the_helper_names_the_line() -> None:
    data = b'<?xml version="1.0"?>\n<!DOCTYPE x [\n\n<!ENTITY a "b">]>\n<x>&a;</x>'
    with pytest.raises(
        UnsafeXMLError, match=r"^file f\.xml, document 3, line 13: entity declaration 'a' refused"
    ):
        parse_document(data, file="f.xml", document=3, line=10)


def test_deep_nesting_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    hostile = (
        DECLARATION + b"<us-patent-grant>" + b"<p>" * 20_000 + b"</p>" * 20_000 + b"</us-patent-grant>\n"
    )
    numbers, report, _ = run(tmp_path, hostile, caplog)
    assert numbers == EXPECTED_GOOD
    [issue] = report.issues
    assert issue.document == 2
    assert issue.reason.startswith("malformed XML: ")


def test_truncated_document_is_rejected_and_the_rest_kept(tmp_path: Path) -> None:
    whole = (FIXTURES / "go-uspto-test.xml").read_bytes()
    path = tmp_path / "truncated.xml"
    path.write_bytes(whole[: len(whole) - 5000])
    report = ParseReport()
    numbers = [d.publication_number for d in parse_uspto(path, report=report)]
    assert numbers == ["US11147202B2"]
    [issue] = report.issues
    assert (issue.outcome, issue.document) == ("rejected", 1)
    assert issue.reason.startswith("malformed XML: ")
    assert issue.line is not None and issue.line > 871


def test_truncated_gzip_keeps_what_came_before(tmp_path: Path) -> None:
    packed = (FIXTURES / "ipg060103.small.xml.gz").read_bytes()
    path = tmp_path / "cut.xml.gz"
    path.write_bytes(packed[: len(packed) // 2])
    report = ParseReport()
    documents = list(parse_uspto(path, report=report))
    assert 5 < len(documents) < 25
    assert report.read == len(documents)
    assert report.issues[-1].outcome == "rejected"
    assert report.issues[-1].reason.startswith("unreadable input (Compressed file ended")
    assert report.issues[-1].document == len(documents) + 2  # two sequence listings skipped


def test_wrong_encoding_is_rejected_with_its_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    latin1 = grant(b"", b"Caf\xe9 \xe0 la cr\xe8me")  # declared UTF-8, bytes are Latin-1
    numbers, report, _ = run(tmp_path, latin1, caplog)
    assert numbers == EXPECTED_GOOD
    [issue] = report.issues
    assert (issue.outcome, issue.document, issue.line) == ("rejected", 2, HOSTILE_LINE + 3)
    assert issue.reason.startswith("malformed XML: ")


def test_declared_latin1_is_read(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    latin1 = grant(b"", b"Caf\xe9").replace(b"UTF-8", b"ISO-8859-1")
    _, report, emitted = run(tmp_path, latin1, caplog)
    assert report.summary() == "5 read, 0 skipped, 0 rejected, 2 duplicate publication numbers"
    assert "Café" in emitted


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            grant(b"", b"x").decode().encode("utf-16"),
            "UTF-16/UTF-32 input is not supported; convert the file to UTF-8",
            id="utf-16",
        ),
        pytest.param(
            grant(b"", b"x").replace(b"UTF-8", b"UTF-7"),
            "unsupported encoding 'UTF-7'; patent XML is read as UTF-8, ASCII or Latin-1",
            id="utf-7",
        ),
        pytest.param(
            grant(b'<!ENTITY a "b">', b"&a;").replace(b"UTF-8", b"cp037").decode().encode("cp037"),
            "no XML root element found",
            id="ebcdic",
        ),
    ],
)
def test_encodings_that_could_hide_declarations_are_refused(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "doc.xml"
    path.write_bytes(data)
    report = ParseReport()
    assert list(parse_uspto(path, report=report)) == []
    [issue] = report.issues
    assert issue.outcome == "rejected"
    assert issue.reason.startswith(message)


def test_named_entities_become_text_and_unknown_ones_are_kept() -> None:
    root = parse_document(
        b'<?xml version="1.0"?>\n<!DOCTYPE x SYSTEM "x.dtd" [\n'
        b'<!ENTITY img.TIF SYSTEM "img.TIF" NDATA TIF>\n]>'
        b"<x>a &mdash; b &lgr;&Dgr; &lsqb;1&rsqb; &unknown; &amp; &#x2003;c</x>",
        file="x.xml",
    )
    assert text_of(root) == "a — b λΔ [1] &unknown; & c"


def test_parse_error_locates_the_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.xml"
    path.write_bytes(DECLARATION + b"<us-patent-grant><unclosed></us-patent-grant>\n")
    report = ParseReport()
    assert list(parse_uspto(path, report=report)) == []
    issue = report.issues[0]
    assert (issue.file, issue.document, issue.line) == (str(path), 0, 2)
    with pytest.raises(
        ParseError, match=r"^file j\.xml, document 0, line 2: malformed XML: Opening and ending"
    ):
        parse_document(DECLARATION + b"<a><b></a>\n", file="j.xml")


def test_bare_ampersand_repair_never_admits_entities(
    tmp_path: Path, secret_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Escaping a bare '&' runs after the prolog check and only turns bytes into text."""
    xxe = grant(f'<!ENTITY xxe SYSTEM "file://{secret_file}">'.encode(), b"Dummett Copp & Co. &xxe;")
    numbers, report, emitted = run(tmp_path, xxe, caplog)
    assert numbers == EXPECTED_GOOD
    [issue] = report.issues
    assert (issue.outcome, issue.document) == ("rejected", 2)
    assert issue.reason.startswith("entity declaration 'xxe' refused")
    assert SECRET not in emitted

    levels = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 11)]
    bomb = grant("\n".join(levels).encode(), b"A & B &lol10;")
    numbers, report, emitted = run(tmp_path, bomb, caplog)
    assert [(i.outcome, i.reason.split(" (")[0]) for i in report.issues] == [
        ("rejected", "entity declaration 'lol0' refused")
    ]
    assert "lollollol" not in emitted

    dtd = tmp_path / "evil.dtd"
    dtd.write_text(f'<!ENTITY leak "{SECRET}">')
    external = (
        DECLARATION
        + f'<!DOCTYPE other SYSTEM "file://{dtd}">\n'.encode()
        + b"<us-patent-grant>\n"
        + BIBLIO % b"Smith & Wesson &leak; &#38; AT&T"
        + b"\n</us-patent-grant>\n"
    )
    numbers, report, emitted = run(tmp_path, external, caplog)
    assert numbers[2] == "US9999999B2"
    assert [(i.outcome, i.document, i.line) for i in report.issues] == [("recovered", 2, HOSTILE_LINE + 3)]
    assert report.issues[0].reason.startswith("read after escaping 2 bare '&' as text (first on line")
    assert SECRET not in emitted
    assert '"title":"Smith & Wesson &leak; & AT&T"' in emitted


def test_uspto_document_with_a_bare_ampersand_is_recovered(tmp_path: Path) -> None:
    path = tmp_path / "grant.xml"
    path.write_bytes(grant(b"", b"Nuts & bolts"))
    report = ParseReport()
    [document] = parse_uspto(path, report=report)
    assert document.title == "Nuts & bolts"
    assert report.summary() == "1 read, 0 skipped, 0 rejected, 1 recovered"
    assert [(i.outcome, i.file, i.document, i.line) for i in report.issues] == [
        ("recovered", str(path), 0, 4)
    ]
