"""Real-world input that used to lose documents or memory: containers, damage, bombs, bad numbers.

Zip and gzip around every format, truncated and corrupt archives (the documents before the damage
are kept and the file is reported), files that cannot be read at all (the other files still go
in), documents far larger than any patent (refused in bounded memory), publication numbers that
are empty or hold control characters, lists of priority dates, and ``parse --out`` failures.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tracemalloc
import zipfile
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError
from rich.console import Console
from typer.testing import CliRunner

import patent_rag.cli.commands  # noqa: F401  (registers the commands)
from patent_rag.cli import app
from patent_rag.cli.parse import run_parse
from patent_rag.documents import PatentDocument
from patent_rag.documents.parsers import ParseReport, detect_format, parse_files
from patent_rag.documents.parsers.docdb import parse_docdb
from patent_rag.documents.parsers.tabular import CsvMapping, parse_csv, parse_jsonl
from patent_rag.errors import ConfigurationError, ParseError, UnsupportedFormatError

FIXTURES = Path(__file__).parent / "fixtures"
TWO_GRANTS = (FIXTURES / "uspto" / "ipg120327.two.xml").read_bytes()  # USD656308S1, USD656309S1
GRANT = (FIXTURES / "uspto" / "US08613112-20131224.XML").read_bytes()  # US8613112B2
MAPPING = CsvMapping(
    columns={
        "publication_number": "id",
        "title": "title",
        "priority_date": "priority",
        "filing_date": "filed",
    }
)
MiB = 1 << 20


def records(count: int, *, start: int = 1, title: str = "Hinge") -> bytes:
    """``count`` JSONL records EP<n>A1, one per line."""
    return "".join(
        PatentDocument(publication_number=f"EP{n}A1", title=f"{title} {n}").model_dump_json() + "\n"
        for n in range(start, start + count)
    ).encode()


def table(count: int) -> bytes:
    rows = "".join(f"EP{n}A1,Hinge {n},,\n" for n in range(1, count + 1))
    return ("id,title,priority,filed\n" + rows).encode()


def parse(paths: Iterable[Path], **options: object) -> tuple[list[PatentDocument], ParseReport]:
    report = ParseReport()
    return list(parse_files(list(paths), report=report, **options)), report  # type: ignore[arg-type]


def numbers(documents: list[PatentDocument]) -> list[str]:
    return [document.publication_number for document in documents]


def zipped(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    assert "Traceback" not in result.output
    return result.exit_code, result.output


# --- one way to open plain, gzip and zip input ------------------------------------------------


def test_zip_of_jsonl_is_detected_and_every_member_read(tmp_path: Path) -> None:
    archive = zipped(tmp_path / "records.zip", {"a.jsonl": records(3), "b.jsonl": records(2, start=4)})
    assert detect_format(archive) == "jsonl"
    documents, report = parse([archive])
    assert numbers(documents) == ["EP1A1", "EP2A1", "EP3A1", "EP4A1", "EP5A1"]
    assert report.summary() == "5 read, 0 skipped, 0 rejected"


def test_zip_and_gzip_of_csv_are_read_with_member_names(tmp_path: Path) -> None:
    archive = zipped(tmp_path / "export.zip", {"export.csv": table(3)})
    packed = tmp_path / "export.csv.gz"
    packed.write_bytes(gzip.compress(table(2)))
    assert detect_format(archive) == detect_format(packed) == "csv"
    documents, report = parse([archive, packed], csv_mapping=MAPPING)
    assert numbers(documents) == ["EP1A1", "EP2A1", "EP3A1", "EP1A1", "EP2A1"]
    assert [d.source.file for d in documents if d.source][::3] == [f"{archive}!export.csv", str(packed)]
    assert report.summary() == "5 read, 0 skipped, 0 rejected, 2 duplicate publication numbers"


def test_zip_of_xml_is_detected_and_read(tmp_path: Path) -> None:
    archive = zipped(tmp_path / "ipg.zip", {"ipg120327.xml": TWO_GRANTS, "grant.XML": GRANT})
    assert detect_format(archive) == "uspto"
    documents, report = parse([archive])
    assert numbers(documents) == ["USD656308S1", "USD656309S1", "US8613112B2"]
    assert documents[2].source is not None and documents[2].source.file == f"{archive}!grant.XML"
    assert report.summary() == "3 read, 0 skipped, 0 rejected"


def test_docdb_reads_through_the_same_opener(tmp_path: Path) -> None:
    container = (FIXTURES / "epo" / "docdb" / "DE-backfile.xml").read_bytes()
    archive = zipped(tmp_path / "docdb.zip", {"DE-backfile.xml": container})
    report = ParseReport()
    assert len(list(parse_docdb(archive, report=report))) == 10
    assert report.summary() == "10 read, 0 skipped, 0 rejected"


# --- truncated and corrupt input keeps what precedes the damage ------------------------------


def test_truncated_jsonl_gzip_keeps_the_records_before_the_cut(tmp_path: Path) -> None:
    packed = gzip.compress(records(2000, title="x" * 200))
    path = tmp_path / "records.jsonl.gz"
    path.write_bytes(packed[: len(packed) // 2])
    documents, report = parse([path, FIXTURES / "uspto" / "US08613112-20131224.XML"])
    kept = len(documents) - 1
    assert 100 < kept < 2000
    assert numbers(documents)[:kept] == [f"EP{n}A1" for n in range(1, kept + 1)]
    assert numbers(documents)[-1] == "US8613112B2"  # the next file is still read
    [issue] = report.issues
    assert (issue.outcome, issue.file, issue.document) == ("rejected", str(path), kept)
    assert issue.reason == (
        "unreadable input (Compressed file ended before the end-of-stream marker was reached): "
        "the file is truncated or damaged; the documents before this point were kept"
    )


def test_truncated_csv_gzip_keeps_the_rows_before_the_cut(tmp_path: Path) -> None:
    packed = gzip.compress(table(3000))
    path = tmp_path / "export.csv.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    documents, report = parse([path], csv_mapping=MAPPING)
    assert 100 < len(documents) < 3000
    assert numbers(documents)[-1] == f"EP{len(documents)}A1"
    [issue] = report.issues
    assert (issue.file, issue.document) == (str(path), len(documents))
    assert issue.reason.startswith("unreadable input (Compressed file ended")


def test_corrupt_gzip_data_and_header_are_reported_not_raised(tmp_path: Path) -> None:
    # A second gzip member whose deflate data starts with a reserved block type: zlib.error.
    damaged = tmp_path / "damaged.jsonl.gz"
    damaged.write_bytes(gzip.compress(records(50)) + b"\x1f\x8b\x08\x00" + bytes(6) + b"\x07" + bytes(16))
    not_gzip = tmp_path / "header.jsonl.gz"
    not_gzip.write_bytes(b"\x1f\x8b\x09\x00" + bytes(6) + b"rest")  # compression method 9: unknown
    documents, report = parse([damaged, not_gzip, FIXTURES / "uspto" / "US08613112-20131224.XML"])
    assert numbers(documents) == [f"EP{n}A1" for n in range(1, 51)] + ["US8613112B2"]
    assert [(issue.file, issue.outcome, issue.document) for issue in report.issues] == [
        (str(damaged), "rejected", 50),
        (str(not_gzip), "rejected", None),
    ]
    assert report.issues[0].reason == (
        "unreadable input (Error -3 while decompressing data: invalid block type): "
        "the file is truncated or damaged; the documents before this point were kept"
    )
    assert report.issues[1].reason == "cannot read the file: Unknown compression method"
    assert str(report.issues[1]) == f"{not_gzip}: cannot read the file: Unknown compression method"


def test_zip_member_failing_its_crc_keeps_the_other_members(tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a.jsonl", records(3))
        archive.writestr("b.jsonl", records(3, start=4))
    data = bytearray(path.read_bytes())
    at = data.index(b'"EP2A1"')
    data[at + 3] = ord("7")  # EP2A1 -> EP7A1 inside member a: its CRC no longer matches
    path.write_bytes(bytes(data))
    documents, report = parse([path])
    assert numbers(documents) == ["EP4A1", "EP5A1", "EP6A1"]  # a's lines come in one failed read
    [issue] = report.issues
    assert (issue.file, issue.document) == (f"{path}!a.jsonl", 0)
    assert issue.reason.startswith("unreadable input (Bad CRC-32 for file 'a.jsonl')")


def test_truncated_zip_is_read_member_by_member_up_to_the_cut(tmp_path: Path) -> None:
    whole = zipped(
        tmp_path / "whole.zip",
        {"a.jsonl": records(5), "b.jsonl": records(2000, start=6, title="x" * 200), "c.jsonl": records(5)},
    ).read_bytes()
    path = tmp_path / "cut.zip"
    path.write_bytes(whole[: len(whole) * 3 // 4])  # the central directory and member c are gone
    assert detect_format(path) == "jsonl"
    documents, report = parse([path])
    assert numbers(documents)[:5] == ["EP1A1", "EP2A1", "EP3A1", "EP4A1", "EP5A1"]
    assert 100 < len(documents) - 5 < 2000
    assert numbers(documents)[-1] == f"EP{len(documents)}A1"
    assert [(issue.outcome, issue.file, issue.document) for issue in report.issues] == [
        ("recovered", str(path), None),
        ("rejected", f"{path}!b.jsonl", len(documents) - 5),
    ]
    assert report.issues[0].reason.startswith("the zip directory is unreadable (File is not a zip file;")
    assert report.issues[1].reason.startswith("unreadable input (zip member ends before its deflate stream")


def test_zip_without_its_directory_but_complete_is_read_whole(tmp_path: Path) -> None:
    whole = zipped(
        tmp_path / "whole.zip", {"a.jsonl": records(3), "dir/": b"", "b.jsonl": records(2, start=4)}
    )
    data = whole.read_bytes()
    path = tmp_path / "no-directory.zip"
    path.write_bytes(data[: data.index(b"PK\x01\x02")])
    documents, report = parse([path])
    assert numbers(documents) == ["EP1A1", "EP2A1", "EP3A1", "EP4A1", "EP5A1"]
    assert report.summary() == "5 read, 0 skipped, 0 rejected, 1 recovered"


# --- a file that cannot be read at all does not stop the others ------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"", "the file is empty", id="zero-bytes"),
        pytest.param(
            b"\x00\x01garbage\xff",
            "cannot tell the format from the content; pass format= (CLI: --format) one of "
            "uspto, epo, docdb, jsonl, csv",
            id="garbage",
        ),
        pytest.param(
            records(1).decode().encode("utf-16"),  # with a BOM
            "the file is UTF-16 text; patent_rag reads UTF-8: convert it first, e.g. "
            "iconv -f UTF-16 -t UTF-8 bad.jsonl > bad.utf8.jsonl",
            id="utf-16-bom",
        ),
        pytest.param(
            records(1).decode().encode("utf-16-be"),  # NUL-interleaved, no BOM
            "the file is UTF-16 text; patent_rag reads UTF-8",
            id="utf-16-be",
        ),
        pytest.param(
            "id,title\nEP1A1,Hinge\n".encode("utf-16-le"), "the file is UTF-16 text", id="utf-16-le-csv"
        ),
        pytest.param(b"PK\x05\x06" + bytes(18), "the zip archive holds no files", id="empty-zip"),
    ],
)
def test_an_unreadable_file_is_reported_and_the_others_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, data: bytes, reason: str
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(data)
    good = tmp_path / "good.jsonl"
    good.write_bytes(records(2))
    documents, report = parse([good, bad, FIXTURES / "uspto" / "US08613112-20131224.XML"])
    assert numbers(documents) == ["EP1A1", "EP2A1", "US8613112B2"]
    [issue] = report.issues
    assert (issue.outcome, issue.file, issue.document, issue.line) == ("rejected", str(bad), None, None)
    assert issue.reason.startswith(reason)
    assert f"rejected file {bad}: {reason}" in caplog.text


def test_utf16_is_named_even_when_the_format_is_given(tmp_path: Path) -> None:
    for name, data in {
        "records.jsonl": records(1).decode().encode("utf-16"),
        "grant.xml": GRANT.decode().encode("utf-16-le"),
    }.items():
        path = tmp_path / name
        path.write_bytes(data)
        kind = "jsonl" if name.endswith("jsonl") else "uspto"
        documents, report = parse([path], format=kind)
        assert documents == []
        [issue] = report.issues
        assert issue.reason.startswith(
            "the file is UTF-16 text; patent_rag reads UTF-8: convert it first, e.g. iconv"
        )
    with pytest.raises(UnsupportedFormatError, match=r"the file is UTF-16 text; .* iconv -f UTF-16 -t UTF-8"):
        detect_format(tmp_path / "records.jsonl")


def test_argument_errors_still_raise_before_anything_is_read(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes(records(1))
    with pytest.raises(ParseError, match=r"missing\.jsonl: no such file"):
        parse_files([good, tmp_path / "missing.jsonl"])
    with pytest.raises(ParseError, match=r"is a folder; give the files in it"):
        parse_files([tmp_path])
    with pytest.raises(UnsupportedFormatError, match=r"unknown format 'xml'"):
        parse_files([good], format="xml")
    with pytest.raises(
        ConfigurationError, match=r"max_document_bytes must be a whole number of bytes, at least 1024"
    ):
        parse_files([good], max_document_bytes=10)


# --- publication numbers, duplicates, dates ---------------------------------------------------


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("", r"publication number is empty; every record needs one, e\.g\. US8613112B2"),
        ("   ", r"publication number is empty"),
        ("US\x008613112B2", r"publication number 'US\\x008613112B2' contains the control character U\+0000"),
        ("EP1000\x1b[31mA1", r"contains the control character U\+001B"),
        ("US B2", r"publication number 'US B2' has no digits"),
    ],
)
def test_empty_or_control_character_numbers_are_refused_by_the_model(number: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PatentDocument(publication_number=number)


def test_bad_numbers_are_rejected_per_record_in_jsonl_csv_and_xml(tmp_path: Path) -> None:
    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text(
        '{"publication_number": ""}\n{"publication_number": " \\t "}\n'
        '{"publication_number": "EP\\u00002A1"}\n{"publication_number": "EP3A1"}\n'
    )
    report = ParseReport()
    assert numbers(list(parse_jsonl(jsonl, report=report))) == ["EP3A1"]
    assert [(i.document, i.line, i.reason) for i in report.issues] == [
        (0, 1, "invalid record: publication_number: publication number is empty; every record needs one, "
         "e.g. US8613112B2"),
        (1, 2, "invalid record: publication_number: publication number is empty; every record needs one, "
         "e.g. US8613112B2"),
        (2, 3, "invalid record: publication_number: publication number 'EP\\x002A1' contains the control "
         "character U+0000; a publication number is a country code, a number and a kind code, "
         "e.g. US8613112B2"),
    ]  # fmt: skip
    export = tmp_path / "export.csv"
    export.write_bytes(b"id,title,priority,filed\nEP\x001A1,a,,\n  ,b,,\nEP3A1,c,,\n")
    report = ParseReport()
    assert numbers(list(parse_csv(export, report=report, mapping=MAPPING))) == ["EP3A1"]
    assert [(i.document, i.line, i.reason.split(";")[0]) for i in report.issues] == [
        (0, 2, "invalid row: publication number 'EP\\x001A1' contains the control character U+0000"),
        (1, 3, "invalid row: empty publication number (column 'id')"),
    ]
    grant = tmp_path / "grant.xml"
    grant.write_bytes(
        GRANT.replace(b"<doc-number>08613112</doc-number>", b"<doc-number> \t </doc-number>", 1)
    )
    documents, report = parse([grant])
    assert documents == []
    [issue] = report.issues
    assert (issue.file, issue.document, issue.line) == (str(grant), 0, 1)
    assert issue.reason.startswith(
        "invalid field value: publication_number: publication number 'US \\t B2' has no"
    )


def test_duplicate_numbers_are_counted_across_files(tmp_path: Path) -> None:
    first = tmp_path / "a.jsonl"
    first.write_bytes(records(12))
    second = tmp_path / "b.jsonl"
    second.write_bytes(records(1, start=5) + records(1, start=5) + records(1, start=13))
    documents, report = parse([first, second])
    assert len(documents) == 15
    assert report.duplicates == {"EP5A1": 2}
    assert report.duplicate_count == 2
    assert report.summary() == "15 read, 0 skipped, 0 rejected, 2 duplicate publication numbers"


def test_priority_date_lists_keep_the_earliest_and_other_dates_want_one() -> None:
    document = PatentDocument(publication_number="US1A", priority_date="1989-03-31 | 1988-12-22")  # type: ignore[arg-type]
    assert document.priority_date == date(1988, 12, 22)
    for text in ("1988-12-22;1989-03-31", "1989-03-31, 1988-12-22"):
        assert PatentDocument.model_validate_json(
            json.dumps({"publication_number": "US1A", "priority_date": text})
        ).priority_date == date(1988, 12, 22)
    with pytest.raises(
        ValidationError, match=r"filing_date\n  Value error, expected one date \(YYYY-MM-DD\), got '1988"
    ):
        PatentDocument(publication_number="US1A", filing_date="1988-12-22 | 1989-03-31")  # type: ignore[arg-type]
    with pytest.raises(
        ValidationError, match=r"priority dates '1988-12-22 \| soon' are not YYYY-MM-DD dates"
    ):
        PatentDocument(publication_number="US1A", priority_date="1988-12-22 | soon")  # type: ignore[arg-type]


def test_csv_priority_lists_keep_the_earliest(tmp_path: Path) -> None:
    export = tmp_path / "citations.csv"
    export.write_text(
        "id,title,priority,filed\n"
        "EP1A1,a,1988-12-22 | 1989-03-31,1990-01-02\n"
        "EP2A1,b,19890331;19881222,\n"
        "EP3A1,c,,1990-01-02 | 1990-02-03\n"
        "EP4A1,d,1988-12-22 | later,\n"
    )
    report = ParseReport()
    documents = list(parse_csv(export, report=report, mapping=MAPPING))
    assert [(d.publication_number, d.priority_date) for d in documents] == [
        ("EP1A1", date(1988, 12, 22)),
        ("EP2A1", date(1988, 12, 22)),
    ]
    assert [(i.line, i.reason) for i in report.issues] == [
        (4, "invalid row: column 'filed': expected one date (YYYY-MM-DD or YYYYMMDD), "
         "got '1990-01-02 | 1990-02-03'"),
        (5, "invalid row: column 'priority': '1988-12-22 | later' is not a list of dates "
         "(YYYY-MM-DD or YYYYMMDD, separated by | ; , or spaces)"),
    ]  # fmt: skip
    with_format = CsvMapping(columns=MAPPING.columns, date_format="%b %d, %Y")
    export.write_text('id,title,priority,filed\nEP1A1,a,"Dec 22, 1988","Mar 31, 1989"\n')
    [document] = parse_csv(export, report=ParseReport(), mapping=with_format)
    assert (document.priority_date, document.filing_date) == (date(1988, 12, 22), date(1989, 3, 31))


# --- decompression bombs: refused in bounded memory, the rest still read ---------------------


def write_gzip(path: Path, pieces: Iterable[bytes]) -> Path:
    """Stream ``pieces`` through gzip: the inflated size never sits in memory."""
    with gzip.open(path, "wb", compresslevel=1) as stream:
        for piece in pieces:
            stream.write(piece)
    return path


def filler(pattern: bytes, size: int) -> Iterable[bytes]:
    """``size`` bytes of ``pattern`` repeated, one MiB at a time."""
    block = pattern * (MiB // len(pattern))
    for _ in range(size // MiB):
        yield block


INFLATED = 48 * MiB


def parse_bounded(paths: list[Path], **options: object) -> tuple[list[PatentDocument], ParseReport, int]:
    """Parse with a 1 MiB document limit; also return tracemalloc's peak."""
    tracemalloc.start()
    try:
        documents, report = parse(paths, max_document_bytes=MiB, **options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return documents, report, peak


def test_xml_bomb_of_zeros_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = write_gzip(tmp_path / "zeros.xml.gz", [b"\n", *filler(b"\0", INFLATED), TWO_GRANTS])
    documents, report, peak = parse_bounded([path], format="uspto")
    assert peak < 8 * MiB
    assert numbers(documents) == ["USD656308S1", "USD656309S1"]
    [issue] = report.issues
    assert (issue.outcome, issue.document, issue.line) == ("rejected", 0, 2)
    assert issue.reason == (
        "the document is 48 MiB, over the limit of 1 MiB per document; not parsed "
        "(if it is genuine, raise max_document_bytes, CLI --max-document-mb)"
    )


def test_xml_bomb_in_one_text_node_is_refused_and_the_next_documents_read(tmp_path: Path) -> None:
    bomb = b'<?xml version="1.0" encoding="UTF-8"?>\n<us-patent-grant><abstract><p>'
    path = write_gzip(
        tmp_path / "bulk.xml.gz",
        [GRANT, bomb, *filler(b"a", INFLATED), b"</p></abstract></us-patent-grant>\n", TWO_GRANTS],
    )
    documents, report, peak = parse_bounded([path])
    assert peak < 8 * MiB
    assert numbers(documents) == ["US8613112B2", "USD656308S1", "USD656309S1"]
    [issue] = report.issues
    assert (issue.document, issue.line) == (1, GRANT.count(b"\n") + 1)
    assert issue.reason.startswith("<us-patent-grant> is 48.0 MiB, over the limit of 1 MiB per document")
    assert [d.source.index for d in documents if d.source] == [0, 2, 3]


def test_an_oversized_sequence_listing_is_skipped_as_usual(tmp_path: Path) -> None:
    listing = (
        b'<?xml version="1.0"?>\n<!DOCTYPE sequence-cwu SYSTEM "us-sequence-listing.dtd" [ ]>\n<sequence-cwu>'
    )
    path = write_gzip(
        tmp_path / "bulk.xml.gz", [listing, *filler(b"acgt", 8 * MiB), b"</sequence-cwu>\n", GRANT]
    )
    documents, report, _ = parse_bounded([path])
    assert numbers(documents) == ["US8613112B2"]
    assert [(i.outcome, i.reason) for i in report.issues] == [("skipped", "sequence listing")]


def test_jsonl_bomb_line_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    first, second = records(2).splitlines(keepends=True)
    path = write_gzip(
        tmp_path / "records.jsonl.gz",
        [first, b'{"publication_number": "EP9A1", "title": "', *filler(b"a", INFLATED), b'"}\n', second],
    )
    documents, report, peak = parse_bounded([path])
    assert peak < 8 * MiB
    assert numbers(documents) == ["EP1A1", "EP2A1"]
    [issue] = report.issues
    assert (issue.document, issue.line) == (1, 2)
    assert issue.reason.startswith("the line is 48.0 MiB, over the limit of 1 MiB per document")
    assert [d.title for d in documents] == ["Hinge 1", "Hinge 2"]


def test_csv_bomb_rows_are_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = write_gzip(
        tmp_path / "export.csv.gz",
        [
            b"id,title,priority,filed\nEP1A1,one,,\nEP2A1,",
            *filler(b"b", INFLATED // 2),  # one long line
            b',,\nEP3A1,"',
            *filler(b"c\n", INFLATED // 2),  # a quoted cell of many short lines
            b'",,\nEP4A1,"four ""quoted""",,\n',
        ],
    )
    documents, report, peak = parse_bounded([path], csv_mapping=MAPPING)
    assert peak < 8 * MiB
    assert [(d.publication_number, d.title) for d in documents] == [
        ("EP1A1", "one"),
        ("EP4A1", 'four "quoted"'),
    ]
    assert documents[1].source is not None and documents[1].source.line == 5 + INFLATED // 4
    assert [(i.document, i.line, i.reason.split(",")[0]) for i in report.issues] == [
        (1, 3, "the row is 24.0 MiB"),
        (2, 4, "the row is 24.0 MiB"),
    ]


def test_docdb_bomb_record_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    container = (FIXTURES / "epo" / "docdb" / "DE-backfile.xml").read_bytes()
    cut = container.index(b"<exch:exchange-document ", container.index(b"<exch:exchange-document ") + 1)
    path = write_gzip(
        tmp_path / "docdb.xml.gz",
        [
            container[:cut],
            b'<exch:exchange-document country="DE" doc-number="1" kind="A"><exch:abstract><p>',
            *filler(b"z", INFLATED),
            b"</p></exch:abstract></exch:exchange-document>\n",
            container[cut:],
        ],
    )
    documents, report, peak = parse_bounded([path])
    assert peak < 8 * MiB
    assert len(documents) == 10
    [issue] = report.issues
    assert issue.document == 1
    assert issue.reason.startswith("the exchange-document is 48.0 MiB, over the limit of 1 MiB per document")
    assert [d.source.index for d in documents if d.source][:3] == [0, 2, 3]


def test_parse_command_takes_the_limit_and_reports_the_bomb(tmp_path: Path) -> None:
    first, second = records(2).splitlines(keepends=True)
    path = write_gzip(
        tmp_path / "records.jsonl.gz", [first, b'{"title": "', *filler(b"a", 3 * MiB), b'"}\n', second]
    )
    out = tmp_path / "out.jsonl"
    code, output = invoke("parse", str(path), "--out", str(out), "--max-document-mb", "1")
    assert code == 0, output
    assert "parsed: 2 read, 0 skipped, 1 rejected" in output
    assert "the line is 3.0 MiB, over the limit of 1 MiB" in " ".join(output.split())
    assert numbers(list(parse_jsonl(out, report=ParseReport()))) == ["EP1A1", "EP2A1"]
    code, output = invoke("parse", str(path), "--out", str(out))  # the default limit admits 3 MiB
    assert code == 0 and "parsed: 2 read, 0 skipped, 1 rejected" in output  # (the line has no number)
    assert "publication_number: Field required" in output


# --- the parse command: truncated input, summaries, output failures ---------------------------


def test_parse_command_writes_what_precedes_a_truncation(tmp_path: Path) -> None:
    packed = gzip.compress(records(2000, title="x" * 200))
    path = tmp_path / "records.jsonl.gz"
    path.write_bytes(packed[: len(packed) // 2])
    out = tmp_path / "out.jsonl"
    code, output = invoke("parse", str(path), "--out", str(out))
    assert code == 0, output
    written = list(parse_jsonl(out, report=ParseReport()))
    assert 100 < len(written) < 2000
    flat = " ".join(output.split())
    assert f"parsed: {len(written)} read, 0 skipped, 1 rejected" in flat
    assert "unreadable input (Compressed file ended before the end-of-stream marker was reached)" in flat
    assert f"{path}, document {len(written)}" in flat


def test_parse_summary_shows_unreadable_files_recovered_documents_and_duplicates(tmp_path: Path) -> None:
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    records_file = tmp_path / "records.jsonl"
    records_file.write_bytes(records(2) + records(1))
    console = Console(file=io.StringIO(), width=240)
    report = run_parse(
        [empty, records_file, FIXTURES / "epo" / "v1-2-A1-unescaped-ampersand.xml"],
        format="auto",
        out=tmp_path / "out.jsonl.gz",
        csv_mapping_file=None,
        console=console,
    )
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert report.summary() == "4 read, 0 skipped, 1 rejected, 1 recovered, 1 duplicate publication number"
    assert (
        "parsed: 4 read, 0 skipped, 1 rejected, 1 recovered, 1 duplicate publication number (EP1A1)"
        in printed
    )
    assert re.search(rf"rejected +1 +the file is empty +{re.escape(str(empty))}\s", printed)
    assert re.search(
        r"recovered +1 +read after escaping 1 bare '&' as text \(first on line 93\); the source should "
        r"write '&amp;' +\S+/v1-2-A1-unescaped-ampersand\.xml, document 0, line 93",
        printed,
    )
    # An out ending in .gz is gzipped.
    lines = gzip.decompress((tmp_path / "out.jsonl.gz").read_bytes()).decode().splitlines()
    assert [json.loads(line)["publication_number"] for line in lines] == [
        "EP1A1",
        "EP2A1",
        "EP1A1",
        "EP1921219A1",
    ]


def test_parse_out_that_cannot_be_written_is_one_error_line(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("a file, not a folder")
    code, output = invoke(
        "parse", str(FIXTURES / "uspto" / "US08613112-20131224.XML"), "--out", str(blocker / "out.jsonl")
    )
    assert code == 1
    assert output.strip() == (
        f"error: cannot write the records to {blocker / 'out.jsonl'}: Not a directory; "
        "choose a --out in a folder you can write to"
    )
    with pytest.raises(
        ConfigurationError, match=r"cannot write the records to .*missing/out\.jsonl: No such file"
    ):
        run_parse(
            [FIXTURES / "uspto" / "US08613112-20131224.XML"],
            format="auto",
            out=tmp_path / "missing" / "out.jsonl",
            csv_mapping_file=None,
            console=Console(file=io.StringIO()),
        )


@pytest.mark.skipif(not Path("/dev/full").is_char_device(), reason="needs /dev/full")
def test_parse_out_on_a_full_filesystem_is_one_error_line(tmp_path: Path) -> None:
    # Writing to /dev/full fails with ENOSPC exactly as a full disk does. The output is a link to it
    # in tmp_path, so code that wrongly renamed a temporary file over it would only replace the link.
    out = tmp_path / "records.jsonl"
    out.symlink_to("/dev/full")
    code, output = invoke("parse", str(FIXTURES / "uspto" / "US08613112-20131224.XML"), "--out", str(out))
    assert code == 1
    assert " ".join(output.split()) == (
        f"error: cannot write the records to {out}: No space left on device; "
        "free some space or choose another --out"
    )
    assert out.is_symlink() and list(tmp_path.iterdir()) == [out]


def test_priority_dates_as_a_json_list_or_separated_by_spaces_keep_the_earliest(tmp_path: Path) -> None:
    for value in (["1989-03-31", "1988-12-22"], "1989-03-31 1988-12-22", "19890331 | 19881222"):
        record = json.dumps({"publication_number": "US1A", "priority_date": value})
        assert PatentDocument.model_validate_json(record).priority_date == date(1988, 12, 22), value
    # One datetime is one date, not a list.
    assert PatentDocument(publication_number="US1A", filing_date="2012-01-03 00:00:00").filing_date == date(  # type: ignore[arg-type]
        2012, 1, 3
    )
    with pytest.raises(ValidationError, match=r"expected one date \(YYYY-MM-DD\), got \['2012-01-03'\]"):
        PatentDocument(publication_number="US1A", filing_date=["2012-01-03"])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"expected a date as YYYY-MM-DD, got '22/12/1988'"):
        PatentDocument(publication_number="US1A", publication_date="22/12/1988")  # type: ignore[arg-type]
    export = tmp_path / "citations.csv"
    export.write_text(
        "id,title,priority,filed\nEP1A1,a,1989-03-31 1988-12-22,2012-01-03 00:00:00\nEP2A1,b,22/12/1988,\n"
    )
    report = ParseReport()
    documents = list(parse_csv(export, report=report, mapping=MAPPING))
    assert [(d.publication_number, d.priority_date, d.filing_date) for d in documents] == [
        ("EP1A1", date(1988, 12, 22), date(2012, 1, 3))
    ]
    assert [(i.line, i.reason) for i in report.issues] == [
        (3, "invalid row: column 'priority': '22/12/1988' is not a date (YYYY-MM-DD or YYYYMMDD)")
    ]
