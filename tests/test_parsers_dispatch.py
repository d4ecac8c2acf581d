"""One table of formats: detection per file and per zip member, DOCDB as its own format, and the
reader each format gets."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import patent_rag.cli.commands  # noqa: F401  (registers the commands)
from patent_rag.cli import app
from patent_rag.documents import PatentDocument
from patent_rag.documents.parsers import FORMATS, ParseReport, detect_format, parse_files
from patent_rag.documents.parsers.epo import parse_epo
from patent_rag.documents.parsers.tabular import CsvMapping

FIXTURES = Path(__file__).parent / "fixtures"
DOCDB = FIXTURES / "epo" / "docdb" / "DE-backfile.xml"  # 10 records, DE1258188B first
EPO = FIXTURES / "epo" / "v1-5-B1.xml"  # EP3404678B1
GRANT = FIXTURES / "uspto" / "US08613112-20131224.XML"  # US8613112B2
MAPPING = CsvMapping(columns={"publication_number": "id", "title": "title"})
REFUSED = (
    "a DOCDB exchange file, not EPO publication XML: read it as format docdb "
    "(CLI --format docdb), or let the format be detected"
)


def jsonl(*numbers: str) -> bytes:
    return b"".join(PatentDocument(publication_number=n).model_dump_json().encode() + b"\n" for n in numbers)


def zipped(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def parse(paths: list[Path], **options: object) -> tuple[list[str], ParseReport]:
    report = ParseReport()
    documents = parse_files(paths, report=report, **options)  # type: ignore[arg-type]
    return [document.publication_number for document in documents], report


def test_docdb_is_its_own_format() -> None:
    assert "docdb" in FORMATS
    assert detect_format(DOCDB) == "docdb"
    assert detect_format(FIXTURES / "epo" / "docdb" / "YU-6701-A_381353354.xml") == "docdb"  # one record
    assert detect_format(EPO) == "epo"
    numbers, report = parse([DOCDB], format="docdb")
    assert numbers[0] == "DE1258188B"
    assert report.summary() == "10 read, 0 skipped, 0 rejected"
    assert parse([DOCDB])[0] == numbers


def test_epo_format_refuses_a_docdb_file_and_names_the_format(tmp_path: Path) -> None:
    numbers, report = parse([DOCDB, EPO], format="epo")
    assert numbers == ["EP3404678B1"]
    [issue] = report.issues
    assert (issue.outcome, issue.file, issue.document, issue.reason) == (
        "rejected",
        str(DOCDB),
        None,
        REFUSED,
    )
    report = ParseReport()
    assert (
        list(parse_epo(zipped(tmp_path / "docdb.zip", {"DE.xml": DOCDB.read_bytes()}), report=report)) == []
    )
    assert [(issue.file, issue.reason) for issue in report.issues] == [
        (f"{tmp_path / 'docdb.zip'}!DE.xml", REFUSED)
    ]


def test_parse_command_reads_format_docdb(tmp_path: Path) -> None:
    out = tmp_path / "records.jsonl"
    result = CliRunner().invoke(
        app, ["parse", str(DOCDB), "--format", "docdb", "--out", str(out)], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert "10 read, 0 skipped, 0 rejected" in result.output
    assert len(out.read_text().splitlines()) == 10


def test_a_zip_of_mixed_formats_reads_each_member_in_its_own(tmp_path: Path) -> None:
    archive = zipped(
        tmp_path / "mixed.zip",
        {
            "records.jsonl": jsonl("EP1A1", "EP2A1"),
            "grant.xml": GRANT.read_bytes(),
            "docdb.xml": DOCDB.read_bytes(),
            "ep.xml": EPO.read_bytes(),
            "table.csv": b"id,title\nUS5A,Hinge\n",
            "empty.txt": b"",
            "README.txt": b"Weekly bulk files\n",
        },
    )
    assert detect_format(archive) == "jsonl"  # the first member's
    numbers, report = parse([archive], csv_mapping=MAPPING)
    assert numbers[:3] == ["EP1A1", "EP2A1", "US8613112B2"]
    assert numbers[3:13][0] == "DE1258188B"
    assert numbers[13:] == ["EP3404678B1", "US5A"]
    [issue] = report.issues  # the empty member holds no documents; the README is no format
    assert (issue.outcome, issue.file, issue.document) == ("rejected", f"{archive}!README.txt", None)
    assert issue.reason.startswith("cannot tell the format from the content")


def test_a_zip_is_detected_by_its_first_member_that_has_a_format(tmp_path: Path) -> None:
    archive = zipped(tmp_path / "bundle.zip", {"notes.txt": b"read me\n", "a.jsonl": jsonl("EP1A1")})
    assert detect_format(archive) == "jsonl"
    numbers, report = parse([archive])
    assert numbers == ["EP1A1"]
    assert [(issue.file, issue.outcome) for issue in report.issues] == [(f"{archive}!notes.txt", "rejected")]


def test_a_csv_member_without_a_mapping_is_rejected_alone(tmp_path: Path) -> None:
    archive = zipped(tmp_path / "bundle.zip", {"a.jsonl": jsonl("EP1A1"), "b.csv": b"id,title\nUS5A,Hinge\n"})
    numbers, report = parse([archive])
    assert numbers == ["EP1A1"]
    [issue] = report.issues
    assert issue.file == f"{archive}!b.csv"
    assert issue.reason.startswith("CSV input needs a column mapping")


def test_a_given_format_reads_every_member_in_it(tmp_path: Path) -> None:
    archive = zipped(tmp_path / "bundle.zip", {"a.xml": GRANT.read_bytes(), "b.xml": EPO.read_bytes()})
    numbers, report = parse([archive], format="uspto")
    assert numbers == ["US8613112B2"]
    [issue] = report.issues
    assert (issue.outcome, issue.file) == ("skipped", f"{archive}!b.xml")
    assert issue.reason == "not a patent document (root <ep-patent-document>)"


def test_xml_of_no_known_root_lists_every_xml_format(tmp_path: Path) -> None:
    other = tmp_path / "other.xml"
    other.write_text("<html><body/></html>")
    with pytest.raises(
        Exception, match=r"neither USPTO \(.*\), EPO \(ep-patent-document\) nor DOCDB \(exchange-doc"
    ):
        detect_format(other)
