"""JSONL records (round trip), CSV through a column mapping, and the parse command's body."""

from __future__ import annotations

import gzip
import io
import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from rich.console import Console

from patent_rag.cli.parse import run_parse
from patent_rag.documents import Claim, Paragraph, PatentDocument, SourceLocation, Translation
from patent_rag.documents.parsers.base import ParseReport
from patent_rag.documents.parsers.tabular import CsvMapping, parse_csv, parse_jsonl, write_jsonl
from patent_rag.errors import ConfigurationError

FIXTURES = Path(__file__).parent / "fixtures"
SBERTA = FIXTURES / "tabular" / "patentsberta_claims_cpc_10.csv"
SBERTA_MAPPING = CsvMapping(
    columns={"publication_number": "id", "publication_date": "date", "claims": "text"},
    country="US",
    indicator_columns={"cpc": "[A-HY][0-9]{2}[A-Z]"},
)

text = st.text(max_size=40)  # any code point but surrogates, control characters included
optional_text = st.none() | text
claims = st.builds(
    Claim,
    number=st.integers(1, 200),
    text=text,
    independent=st.booleans(),
    depends_on=st.lists(st.integers(1, 200), max_size=3),
)
paragraphs = st.builds(
    Paragraph, text=text, heading=optional_text, number=st.none() | st.from_regex(r"\d{4}", fullmatch=True)
)
documents = st.builds(
    PatentDocument,
    publication_number=st.from_regex(r"(EP|US|WO|DE)[1-9][0-9]{3,9}(A1|A2|B1|B2|A)?", fullmatch=True),
    application_number=optional_text,
    family_id=st.none() | st.from_regex(r"[0-9]{4,9}", fullmatch=True),
    priority_date=st.none() | st.dates(),
    filing_date=st.none() | st.dates(),
    publication_date=st.none() | st.dates(),
    title=optional_text,
    abstract=optional_text,
    claims=st.lists(claims, max_size=3),
    description=st.lists(paragraphs, max_size=3),
    cpc=st.lists(
        st.from_regex(r"[A-HY][0-9]{2}[A-Z] ?[1-9][0-9]{0,3}/[0-9]{2,4}", fullmatch=True), max_size=3
    ),
    ipc=st.lists(st.from_regex(r"[A-H][0-9]{2}[A-Z][1-9][0-9]{0,2}/[0-9]{2}", fullmatch=True), max_size=3),
    assignees=st.lists(text, max_size=2),
    inventors=st.lists(text, max_size=2),
    cited_patents=st.lists(st.from_regex(r"[A-Z]{2}[0-9]{5,9}[AB][12]?", fullmatch=True), max_size=3),
    language=st.none() | st.sampled_from(["en", "de", "fr"]),
    translations=st.lists(
        st.builds(
            Translation,
            language=st.sampled_from(["de", "fr"]),
            title=optional_text,
            claims=st.lists(claims, max_size=2),
        ),
        max_size=2,
    ),
    source=st.none()
    | st.builds(
        SourceLocation, file=text, index=st.integers(0, 10**6), line=st.none() | st.integers(1, 10**9)
    ),
)


def read_jsonl(path: Path) -> tuple[list[PatentDocument], ParseReport]:
    report = ParseReport()
    return list(parse_jsonl(path, report=report)), report


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=st.lists(documents, max_size=4))
def test_jsonl_round_trip_gives_equal_models(tmp_path: Path, docs: list[PatentDocument]) -> None:
    path = tmp_path / "records.jsonl"
    assert write_jsonl(docs, path) == len(docs)
    back, report = read_jsonl(path)
    assert back == docs
    assert report.summary() == f"{len(docs)} read, 0 skipped, 0 rejected"


def test_gzip_jsonl_blank_lines_and_bad_records(tmp_path: Path) -> None:
    good = PatentDocument(publication_number="EP1000000A1", title="Hinge", cpc=["H04W 52/02"])
    lines = [
        good.model_dump_json(),
        "",
        '{"publication_number": "EP2A1", "claims": [{"number": "one"}]}',
        "{not json",
        "   ",
        good.model_copy(update={"title": "Door"}).model_dump_json(),
    ]
    path = tmp_path / "records.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    docs, report = read_jsonl(path)
    assert [d.title for d in docs] == ["Hinge", "Door"]
    assert docs[0].cpc == ["H04W52/02"]
    assert report.summary() == "2 read, 0 skipped, 2 rejected"
    assert [(i.file, i.document, i.line) for i in report.issues] == [(str(path), 1, 3), (str(path), 2, 4)]
    assert report.issues[0].reason.startswith("invalid record: claims.0.number:")
    assert report.issues[1].reason.startswith("invalid record: Invalid JSON")


def test_write_jsonl_to_a_stream_and_a_gzip_path(tmp_path: Path) -> None:
    doc = PatentDocument(publication_number="US 8,613,112 B2")
    stream = io.StringIO()
    assert write_jsonl([doc, doc], stream) == 2
    assert [json.loads(line)["publication_number"] for line in stream.getvalue().splitlines()] == [
        "US8613112B2",
        "US8613112B2",
    ]
    write_jsonl([doc], tmp_path / "out.jsonl.gz")
    assert gzip.decompress((tmp_path / "out.jsonl.gz").read_bytes()).decode() == doc.model_dump_json() + "\n"


# --- CSV -----------------------------------------------------------------------------------


def test_patentsberta_csv_with_cpc_indicator_columns() -> None:
    report = ParseReport()
    docs = list(parse_csv(SBERTA, report=report, mapping=SBERTA_MAPPING))
    assert report.summary() == "10 read, 0 skipped, 0 rejected"
    first = docs[0]
    assert (first.publication_number, first.country, first.publication_date) == (
        "US9289350",
        "US",
        date(2016, 3, 22),
    )
    assert first.cpc == ["A61H"]
    assert len(first.claims) == 1 and first.claims[0].number == 1 and first.claims[0].independent
    assert first.claims[0].text.startswith("An apparatus for generating air pressure and high frequency")
    assert first.source == SourceLocation(file=str(SBERTA), index=0, line=2)
    assert [d.cpc for d in docs[4:10]] == [
        ["G06K", "H04M", "H04N"],
        ["H01L"],
        ["H01L", "H05K"],
        ["B09B", "F16L"],
        ["G10K", "H04R"],
        ["E04D"],
    ]


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_lists_dates_and_numbered_claims(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "export.csv",
        "number;published;cpc;uspc;owners;claims\n"
        'EP 1000000 A1;24/12/2013;H04W 52/02|H04L 5/00;;Acme|Widgets Ltd;"1. A hinge.\n'
        '2. The hinge of claim 1, made of steel at 2. bar."\n'
        "US9000000;01/02/2015;;417/410.1|417/423.1;;A pump.\n",
    )
    mapping = CsvMapping(
        columns={
            "publication_number": "number",
            "publication_date": "published",
            "cpc": "cpc",
            "uspc": "uspc",
            "assignees": "owners",
            "claims": "claims",
        },
        list_separators={"cpc": "|", "uspc": "|", "assignees": "|"},
        date_format="%d/%m/%Y",
        delimiter=";",
    )
    report = ParseReport()
    first, second = parse_csv(path, report=report, mapping=mapping)
    assert (first.publication_number, first.publication_date) == ("EP1000000A1", date(2013, 12, 24))
    assert (first.cpc, first.assignees) == (["H04W52/02", "H04L5/00"], ["Acme", "Widgets Ltd"])
    assert first.claims == [
        Claim(number=1, text="A hinge."),
        Claim(
            number=2, text="The hinge of claim 1, made of steel at 2. bar.", independent=False, depends_on=[1]
        ),
    ]
    assert second.source == SourceLocation(file=str(path), index=1, line=4)  # after a 2-line cell
    assert [c.text for c in second.claims] == ["A pump."]
    assert (first.uspc, second.uspc) == ([], ["417/410.1", "417/423.1"])
    unsplit = mapping.model_copy(update={"claims_split": "none"})
    assert len(next(iter(parse_csv(path, report=ParseReport(), mapping=unsplit))).claims) == 1


def test_bad_csv_rows_are_rejected_and_the_rest_read(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "rows.csv",
        "id,date,title\nEP1A1,2013-12-24,One\nEP2A1,not a date,Two\n\n"
        "EP3A1,20140101\n,2014-01-01,Four\nEP5A1,,Five\n",
    )
    mapping = CsvMapping(columns={"publication_number": "id", "publication_date": "date", "title": "title"})
    report = ParseReport()
    docs = list(parse_csv(path, report=report, mapping=mapping))
    assert [(d.publication_number, d.source.line if d.source else 0) for d in docs] == [
        ("EP1A1", 2),
        ("EP5A1", 7),
    ]
    assert [(i.document, i.line, i.reason) for i in report.issues] == [
        (1, 3, "invalid row: column 'date': 'not a date' is not a date (YYYY-MM-DD or YYYYMMDD)"),
        (2, 5, "invalid row: 2 cells for 3 columns"),
        (3, 6, "invalid row: empty publication number (column 'id')"),
    ]


def test_wrong_encoding_is_rejected_with_its_line(tmp_path: Path) -> None:
    jsonl = tmp_path / "latin1.jsonl"
    lines = [
        PatentDocument(publication_number="EP1A1", title="Zähler").model_dump_json().encode("latin-1"),
        PatentDocument(publication_number="EP2A1", title="Zähler").model_dump_json().encode(),
    ]
    jsonl.write_bytes(b"\n".join(lines))
    docs, report = read_jsonl(jsonl)
    assert [d.publication_number for d in docs] == ["EP2A1"]
    assert [(i.document, i.line) for i in report.issues] == [(0, 1)]
    csv_path = tmp_path / "latin1.csv"
    csv_path.write_bytes("id,title\nEP1A1,Hinge\nEP2A1,Zähler\nEP3A1,Door\n".encode("latin-1"))
    mapping = CsvMapping(columns={"publication_number": "id", "title": "title"})
    report = ParseReport()
    assert [d.title for d in parse_csv(csv_path, report=report, mapping=mapping)] == ["Hinge", "Door"]
    assert [(i.document, i.line, i.reason) for i in report.issues] == [
        (1, 3, "row is not UTF-8 text; save the CSV as UTF-8")
    ]


def test_csv_mapping_is_checked() -> None:
    with pytest.raises(ValidationError, match=r"unknown field\(s\) \['titel'\]; mappable fields: \["):
        CsvMapping(columns={"publication_number": "id", "titel": "t"})
    with pytest.raises(ValidationError, match="'publication_number' must be mapped to a column"):
        CsvMapping(columns={"title": "t"})
    with pytest.raises(ValidationError, match=r"not multi-valued field\(s\) \['title'\]"):
        CsvMapping(columns={"publication_number": "id"}, list_separators={"title": ","})


def test_csv_mapping_file_errors_say_what_would_work(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(SBERTA_MAPPING.model_dump_json())
    assert CsvMapping.from_file(good) == SBERTA_MAPPING
    bad = tmp_path / "bad.json"
    bad.write_text('{"columns": {"title": "t"}, "colour": 1}')
    with pytest.raises(
        ConfigurationError,
        match=r"invalid CSV mapping .*bad\.json: columns: Value error, 'publication_number' must",
    ):
        CsvMapping.from_file(bad)
    with pytest.raises(ConfigurationError, match=r"cannot read CSV mapping .*missing\.json"):
        CsvMapping.from_file(tmp_path / "missing.json")


def test_a_mapping_that_does_not_fit_the_header_fails_at_once(tmp_path: Path) -> None:
    mapping = CsvMapping(columns={"publication_number": "patent_id"})
    with pytest.raises(
        ConfigurationError,
        match=r"names column\(s\) \['patent_id'\] that .* lacks; its header starts \['id', 'date'",
    ):
        list(parse_csv(SBERTA, report=ParseReport(), mapping=mapping))


# --- the parse command's body ----------------------------------------------------------------


def test_run_parse_writes_jsonl_and_prints_a_grouped_summary(tmp_path: Path) -> None:
    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_text(SBERTA_MAPPING.model_dump_json())
    records = tmp_path / "broken.jsonl"
    records.write_text("{oops\n{oops\n")
    out = tmp_path / "records.jsonl"
    console = Console(file=io.StringIO(), width=200)
    report = run_parse(
        [SBERTA, records], format="auto", out=out, csv_mapping_file=mapping_file, console=console
    )
    assert report.summary() == "10 read, 0 skipped, 2 rejected"
    docs, _ = read_jsonl(out)
    assert [d.publication_number for d in docs][:2] == ["US9289350", "US9579560"]
    assert list(tmp_path.glob(".*partial")) == []
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert "parsed: 10 read, 0 skipped, 2 rejected" in printed
    assert "rejected      2  invalid record: Invalid JSON" in printed
    assert f"{records}, document 1, line 2" in printed
