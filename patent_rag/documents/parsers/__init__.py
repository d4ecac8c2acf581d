"""Streaming parsers for the patent formats users have, and the dispatch between them.

:func:`parse_files` reads any mix of USPTO XML/SGML, EPO XML, JSONL records and CSV exports
(plain, ``.gz`` or ``.zip``, all opened by :func:`~patent_rag.documents.parsers._input.open_input`) and
yields :class:`~patent_rag.documents.PatentDocument` records one at a time; :func:`detect_format`
says which parser a file needs by looking at its content. Problems with single documents, and
files that cannot be read at all, never stop a run: they are counted in a :class:`ParseReport`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, cast

from patent_rag.documents.parsers._input import describe, open_input, read_head
from patent_rag.documents.parsers._xml import inspect_prolog
from patent_rag.documents.parsers.base import DEFAULT_MAX_DOCUMENT_BYTES, ParseIssue, ParseReport
from patent_rag.documents.record import PatentDocument
from patent_rag.errors import ConfigurationError, ParseError, UnsupportedFormatError

if TYPE_CHECKING:
    from patent_rag.documents.parsers.tabular import CsvMapping

__all__ = [
    "DEFAULT_MAX_DOCUMENT_BYTES",
    "FORMATS",
    "ParseIssue",
    "ParseReport",
    "check_inputs",
    "detect_format",
    "parse_files",
]

FORMATS = ("uspto", "epo", "jsonl", "csv")
_USPTO_ROOTS = frozenset(
    {"us-patent-grant", "us-patent-application", "PATDOC", "patent-application-publication", "sequence-cwu"}
)
_EPO_ROOTS = frozenset({"ep-patent-document", "exchange-documents", "exchange-document"})
_DOCTYPE = re.compile(rb"<!DOCTYPE\s+([^\s\[>]+)")
_ROOT = re.compile(rb"<([A-Za-z_][\w:.-]*)")
_MIN_DOCUMENT_BYTES = 1024


def _head(path: Path) -> bytes | None:
    """The first bytes of a file's content (decompressed; a zip's first readable member).

    None for a zip without members. Raises the first member's ParseError when none can be read.
    """
    failure: ParseError | None = None
    with closing(open_input(path)) as members:
        for member in members:
            try:
                return read_head(member)
            except ParseError as error:
                failure = failure or error  # a damaged member: the next one may tell the format
    if failure is not None:
        raise failure
    return None


def _wide_encoding(head: bytes) -> str | None:
    """``"UTF-16"`` or ``"UTF-32"`` when the bytes are text in that encoding (BOM or NUL-interleaved)."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    sample = head[:1024]
    half = len(sample) // 2
    if half >= 4:
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if min(even, odd) <= half // 10 and max(even, odd) >= half * 9 // 10:
            return "UTF-16"  # ASCII text with a NUL byte beside every character
    return None


def _check_encoding(head: bytes, path: Path) -> None:
    encoding = _wide_encoding(head)
    if encoding is not None:
        raise UnsupportedFormatError(
            f"the file is {encoding} text; patent_rag reads UTF-8: convert it first, e.g. "
            f"iconv -f {encoding} -t UTF-8 {path.name} > {path.stem}.utf8{path.suffix}",
            file=str(path),
        )


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
        UnsupportedFormatError: the content matches none of the formats (UTF-16 text is named as such).
        ParseError: the file cannot be read.

    Example:
        >>> detect_format("tests/fixtures/uspto/ipg130416.small.xml.gz")
        'uspto'
    """
    path = Path(path)
    head = _readable_head(path)
    _check_encoding(head, path)
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


def _readable_head(path: Path) -> bytes:
    try:
        head = _head(path)
    except ParseError as error:
        if error.__cause__ is None:
            raise  # cannot open the file or its first zip member: says so already
        raise ParseError(f"cannot read the file: {describe(error.__cause__)}", file=str(path)) from None
    if head is None:
        raise UnsupportedFormatError("the zip archive holds no files", file=str(path))
    if not head:
        raise UnsupportedFormatError("the file is empty", file=str(path))
    return head


def _plan(path: Path, format: str) -> str | ParseError:
    """The parser a file needs, or why the file cannot be read (recorded when its turn comes)."""
    try:
        if format == "auto":
            return detect_format(path)
        _check_encoding(_readable_head(path), path)
    except ParseError as error:
        return error
    return format


def check_inputs(
    paths: Iterable[str | os.PathLike[str]],
    *,
    format: str = "auto",
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
) -> list[Path]:
    """The checks :func:`parse_files` makes before reading anything; returns the paths as ``Path``.

    For callers that must refuse bad arguments before costly work (opening an index, loading a
    model) and parse later: nothing is opened or read, so the files are still read only once.

    Raises:
        UnsupportedFormatError: unknown ``format``.
        ConfigurationError: ``max_document_bytes`` under 1 KiB.
        ParseError: a file that does not exist, or a folder.

    Example:
        >>> check_inputs(["tests/fixtures/uspto/US08613112-20131224.XML"])
        [PosixPath('tests/fixtures/uspto/US08613112-20131224.XML')]
    """
    if format != "auto" and format not in FORMATS:
        raise UnsupportedFormatError(f"unknown format {format!r}; choose one of auto, {', '.join(FORMATS)}")
    if (
        isinstance(max_document_bytes, bool)
        or not isinstance(max_document_bytes, int)
        or (max_document_bytes < _MIN_DOCUMENT_BYTES)
    ):
        raise ConfigurationError(
            f"max_document_bytes must be a whole number of bytes, at least {_MIN_DOCUMENT_BYTES}; "
            f"got {max_document_bytes!r}"
        )
    files = [Path(path) for path in paths]
    for path in files:
        if not path.is_file():
            reason = "is a folder; give the files in it" if path.is_dir() else "no such file"
            raise ParseError(reason, file=str(path))
    return files


def parse_files(
    paths: Iterable[str | os.PathLike[str]],
    *,
    format: str = "auto",
    csv_mapping: CsvMapping | None = None,
    report: ParseReport | None = None,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
) -> Iterator[PatentDocument]:
    """Yield the documents of every file, in order, with the parser each file needs.

    Arguments are checked before anything is read, and raise at once: an unknown ``format``, a
    missing file or a folder, CSV input without a mapping, a bad ``max_document_bytes``. A file
    that cannot be read as any format (empty, garbage, UTF-16 text, an unreadable archive) does
    not stop the others: when its turn comes it is recorded in ``report`` as rejected, with the
    file named and no document index, and logged. Problems inside files (broken, oversized or
    unsafe documents, non-patent documents, a truncated archive) are recorded in ``report`` too,
    and so are publication numbers read more than once (``report.duplicates``).

    Args:
        paths: files to read (plain, ``.gz`` or ``.zip``).
        format: ``"auto"`` (detect per file) or one of ``uspto``, ``epo``, ``jsonl``, ``csv``.
        csv_mapping: which CSV column holds which field; required for CSV input.
        report: collects read/skipped/rejected counts across all files.
        max_document_bytes: the most bytes one document (XML document, JSONL line, CSV row) may
            take; a longer one is rejected without being held in memory.

    Raises:
        UnsupportedFormatError: unknown ``format``.
        ConfigurationError: CSV input without ``csv_mapping``; ``max_document_bytes`` under 1 KiB.
        ParseError: a file that does not exist, or a folder.

    Example:
        >>> report = ParseReport()
        >>> docs = list(parse_files(["tests/fixtures/uspto/US08613112-20131224.XML"], report=report))
        >>> docs[0].publication_number, report.summary()
        ('US8613112B2', '1 read, 0 skipped, 0 rejected')
    """
    files = check_inputs(paths, format=format, max_document_bytes=max_document_bytes)
    plan = [(path, _plan(path, format)) for path in files]
    if csv_mapping is None and any(kind == "csv" for _, kind in plan):
        raise ConfigurationError(
            "CSV input needs a column mapping: pass csv_mapping=CsvMapping(columns="
            '{"publication_number": "<column>", ...}) (CLI: --csv-mapping mapping.json)'
        )
    return _parse_plan(plan, csv_mapping, report if report is not None else ParseReport(), max_document_bytes)


def _parser(kind: str, csv_mapping: CsvMapping | None) -> Callable[..., Iterator[PatentDocument]]:
    # Parsers are imported when needed: each pulls in only what its format requires.
    if kind == "uspto":
        from patent_rag.documents.parsers.uspto import parse_uspto

        return parse_uspto
    if kind == "epo":
        from patent_rag.documents.parsers.epo import parse_epo

        return parse_epo
    if kind == "jsonl":
        from patent_rag.documents.parsers.tabular import parse_jsonl

        return parse_jsonl
    from functools import partial

    from patent_rag.documents.parsers.tabular import parse_csv

    return partial(parse_csv, mapping=cast("CsvMapping", csv_mapping))


def _parse_plan(
    plan: list[tuple[Path, str | ParseError]],
    csv_mapping: CsvMapping | None,
    report: ParseReport,
    max_document_bytes: int,
) -> Iterator[PatentDocument]:
    for path, kind in plan:
        if isinstance(kind, ParseError):
            report.reject(kind)
            continue
        parse = _parser(kind, csv_mapping)
        for document in parse(path, report=report, max_document_bytes=max_document_bytes):
            report.saw(document.publication_number)
            yield document
