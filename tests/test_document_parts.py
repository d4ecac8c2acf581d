"""Splitting one input file among workers: the parts of a file hold its documents exactly once, and
each document's problems are reported by the one part that holds it."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from patent_rag.documents.parsers import DocumentPart, ParseReport, parse_files
from patent_rag.sample import sample_files

BULK = sample_files()[0]  # a USPTO weekly bulk file (25 grants), gzip


def _numbers(path: Path | str, part: DocumentPart | None, report: ParseReport) -> list[tuple[int, str]]:
    return [
        (doc.source.index, doc.publication_number) for doc in parse_files([path], part=part, report=report)
    ]  # type: ignore[union-attr]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 40])
def test_the_parts_of_a_bulk_file_hold_every_document_once(count: int) -> None:
    whole = _numbers(BULK, None, ParseReport())
    parts = [_numbers(BULK, DocumentPart(index=k, count=count), ParseReport()) for k in range(count)]
    assert sorted(doc for part in parts for doc in part) == whole
    assert all(index % count == k for k, part in enumerate(parts) for index, _ in part)


def test_a_broken_record_is_reported_by_its_part_only(tmp_path: Path) -> None:
    lines = [
        '{"publication_number": "US1000001B2", "title": "A lamp"}',
        '{"publication_number": "", "title": "no number"}',  # document 1: rejected
        '{"publication_number": "US1000003B2", "title": "A valve"}',
        "not json at all",  # document 3: rejected
    ]
    path = tmp_path / "records.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    whole = ParseReport()
    list(parse_files([path], report=whole))
    reports = [ParseReport(), ParseReport()]
    for k, report in enumerate(reports):
        list(parse_files([path], part=DocumentPart(index=k, count=2), report=report))
    assert [len(report.issues) for report in reports] == [0, 2]
    assert reports[1].issues == whole.issues
    assert sum(report.read for report in reports) == whole.read == 2


def test_a_part_outside_its_count_is_refused() -> None:
    with pytest.raises(ValueError, match=r"part index must be in 0\.\.2, got 3"):
        DocumentPart(index=3, count=3)
