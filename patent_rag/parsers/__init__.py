"""Streaming parsers for the patent formats users have, and the dispatch between them.

:func:`parse_files` reads any mix of USPTO XML/SGML, EPO XML, JSONL records and CSV exports
(plain, ``.gz`` or ``.zip``) and yields :class:`~patent_rag.documents.PatentDocument` records one at
a time; :func:`detect_format` says which parser a file needs by looking at its content. Problems
with single documents never stop a run: they are counted in a :class:`ParseReport`.
"""

from __future__ import annotations

import gzip
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

from patent_rag.documents import PatentDocument
from patent_rag.errors import ConfigurationError, ParseError, UnsupportedFormatError
from patent_rag.parsers._xml import inspect_prolog
from patent_rag.parsers.base import ParseIssue, ParseReport

if TYPE_CHECKING:
    from patent_rag.parsers.tabular import CsvMapping

__all__ = ["FORMATS", "ParseIssue", "ParseReport", "detect_format", "parse_files"]

FORMATS = ("uspto", "epo", "jsonl", "csv")
_USPTO_ROOTS = frozenset(
    {"us-patent-grant", "us-patent-application", "PATDOC", "patent-application-publication", "sequence-cwu"}
)
_EPO_ROOTS = frozenset({"ep-patent-document", "exchange-documents", "exchange-document"})
_HEAD = 1 << 16
_DOCTYPE = re.compile(rb"<!DOCTYPE\s+([^\s\[>]+)")
_ROOT = re.compile(rb"<([A-Za-z_][\w:.-]*)")


def _head(path: Path) -> bytes:
    """The first bytes of a file's content: decompressed for gzip, the first member for zip."""
    with path.open("rb") as raw:
        magic = raw.read(4)
    if magic[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as stream:
            return stream.read(_HEAD)
    if magic == b"PK\x03\x04":
        with zipfile.ZipFile(path) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            if not members:
                return b""
            with archive.open(members[0]) as stream:
                return stream.read(_HEAD)
    with path.open("rb") as stream:
        return stream.read(_HEAD)


def _xml_root(head: bytes, file: str) -> str:
    try:
        root = inspect_prolog(head, file=file).root
    except ParseError:
        # Unsafe or odd prologs are the parser's to report, document by document; name the format.
        match = _DOCTYPE.search(head)
        root = match.group(1).decode("utf-8", "replace") if match else None
    if root is None:
        match = _ROOT.search(head, head.find(b">") + 1)
        root = match.group(1).decode("utf-8", "replace") if match else ""
    return root.rpartition(":")[2]


def detect_format(path: str | Path) -> str:
    """Return ``"uspto"``, ``"epo"``, ``"jsonl"`` or ``"csv"`` by looking at the file's content.

    Gzip and zip files are looked into. XML is told apart by its root element (or DOCTYPE).

    Raises:
        UnsupportedFormatError: the content matches none of the formats.
        ParseError: the file cannot be read.

    Example:
        >>> detect_format("tests/fixtures/uspto/ipg130416.small.xml.gz")
        'uspto'
    """
    path = Path(path)
    try:
        head = _head(path)
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise ParseError(f"cannot read the file: {error}", file=str(path)) from None
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        root = _xml_root(text, str(path))
        if root in _USPTO_ROOTS or root.startswith("us-"):
            return "uspto"
        if root in _EPO_ROOTS or root.startswith("ep-"):
            return "epo"
        raise UnsupportedFormatError(
            f"XML with root <{root}> is neither USPTO ({', '.join(sorted(_USPTO_ROOTS))}) "
            f"nor EPO ({', '.join(sorted(_EPO_ROOTS))})",
            file=str(path),
        )
    first = text.split(b"\n", 1)[0].strip()
    if first.startswith(b"{"):
        return "jsonl"  # a bad line is the JSONL parser's to report, with its line number
    if first and b"\x00" not in head and any(sep in first for sep in (b",", b";", b"\t")):
        try:
            first.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return "csv"
    raise UnsupportedFormatError(
        f"cannot tell the format from the content; pass format= one of {', '.join(FORMATS)}",
        file=str(path),
    )


def parse_files(
    paths: Iterable[str | Path],
    *,
    format: str = "auto",
    csv_mapping: CsvMapping | None = None,
    report: ParseReport | None = None,
) -> Iterator[PatentDocument]:
    """Yield the documents of every file, in order, with the parser each file needs.

    Arguments are checked before anything is read: an unknown ``format``, a missing file, a file
    whose format cannot be detected, or CSV without a mapping raise at once. Problems inside files
    (broken or unsafe documents, non-patent documents) are recorded in ``report`` instead.

    Args:
        paths: files to read (plain, ``.gz`` or ``.zip``).
        format: ``"auto"`` (detect per file) or one of ``uspto``, ``epo``, ``jsonl``, ``csv``.
        csv_mapping: which CSV column holds which field; required for CSV input.
        report: collects read/skipped/rejected counts across all files.

    Raises:
        UnsupportedFormatError: unknown ``format``, or a file that matches no format.
        ConfigurationError: CSV input without ``csv_mapping``.
        ParseError: a file that does not exist or cannot be read.

    Example:
        >>> report = ParseReport()
        >>> docs = list(parse_files(["tests/fixtures/uspto/US08613112-20131224.XML"], report=report))
        >>> docs[0].publication_number, report.summary()
        ('US8613112B2', '1 read, 0 skipped, 0 rejected')
    """
    if format != "auto" and format not in FORMATS:
        raise UnsupportedFormatError(f"unknown format {format!r}; choose one of auto, {', '.join(FORMATS)}")
    files = [Path(path) for path in paths]
    for path in files:
        if not path.is_file():
            reason = "is a folder; give the files in it" if path.is_dir() else "no such file"
            raise ParseError(reason, file=str(path))
    plan = [(path, format if format != "auto" else detect_format(path)) for path in files]
    if csv_mapping is None and any(kind == "csv" for _, kind in plan):
        raise ConfigurationError(
            "CSV input needs a column mapping: pass csv_mapping=CsvMapping(columns="
            '{"publication_number": "<column>", ...}) (CLI: --csv-mapping mapping.json)'
        )
    return _parse_plan(plan, csv_mapping, report if report is not None else ParseReport())


def _parse_plan(
    plan: list[tuple[Path, str]], csv_mapping: CsvMapping | None, report: ParseReport
) -> Iterator[PatentDocument]:
    # Parsers are imported when needed: each pulls in only what its format requires.
    for path, kind in plan:
        if kind == "uspto":
            from patent_rag.parsers.uspto import parse_uspto

            yield from parse_uspto(path, report=report)
        elif kind == "epo":
            from patent_rag.parsers.epo import parse_epo

            yield from parse_epo(path, report=report)
        elif kind == "jsonl":
            from patent_rag.parsers.tabular import parse_jsonl

            yield from parse_jsonl(path, report=report)
        else:
            from patent_rag.parsers.tabular import parse_csv

            yield from parse_csv(path, report=report, mapping=cast("CsvMapping", csv_mapping))
