"""Streaming parsers for the patent formats users have, and the dispatch between them.

:func:`parse_files` reads any mix of USPTO XML/SGML, EPO publication XML, DOCDB exchange files,
JSONL records and CSV exports (plain, ``.gz`` or ``.zip``, all opened by
:func:`~patent_rag.documents.parsers._input.open_input`) and yields
:class:`~patent_rag.documents.PatentDocument` records one at a time. Which format each file (and
each member of a zip) holds is told from its content by the one table :data:`_FORMATS`, which
also names the format's reader; :func:`detect_format` exposes that decision. Problems with single
documents, and files that cannot be read at all, never stop a run: they are counted in a
:class:`ParseReport`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal, cast, get_args

from patent_rag.documents.parsers._epo_fields import DOCDB_ROOTS
from patent_rag.documents.parsers._input import Member, describe, open_input, read_head
from patent_rag.documents.parsers._xml import root_name
from patent_rag.documents.parsers.base import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    DocumentPart,
    ParseIssue,
    ParseReport,
)
from patent_rag.documents.parsers.docdb import read_docdb
from patent_rag.documents.parsers.epo import read_epo
from patent_rag.documents.parsers.tabular import CsvMapping, read_csv, read_jsonl
from patent_rag.documents.parsers.uspto import read_uspto
from patent_rag.documents.record import PatentDocument
from patent_rag.errors import ConfigurationError, ParseError, UnsupportedFormatError

__all__ = [
    "DEFAULT_MAX_DOCUMENT_BYTES",
    "FORMATS",
    "DocumentPart",
    "Format",
    "ParseIssue",
    "ParseReport",
    "check_inputs",
    "detect_format",
    "parse_files",
]

logger = logging.getLogger(__name__)

Format = Literal["uspto", "epo", "docdb", "jsonl", "csv"]
FORMATS: tuple[Format, ...] = get_args(Format)
_MIN_DOCUMENT_BYTES = 1024
_BOM = b"\xef\xbb\xbf"
_NEEDS_MAPPING = (
    "CSV input needs a column mapping: pass csv_mapping=CsvMapping(columns="
    '{"publication_number": "<column>", ...}) (CLI: --csv-mapping mapping.json)'
)


def _first_line(text: bytes) -> bytes:
    return text.split(b"\n", 1)[0].strip()


def _jsonl_like(text: bytes) -> bool:
    return _first_line(text).startswith(b"{")  # a bad line is the JSONL parser's to report, with its line


def _csv_like(text: bytes) -> bool:
    first = _first_line(text)
    if not first or b"\x00" in text or not any(sep in first for sep in (b",", b";", b"\t")):
        return False
    try:
        first.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class _Format:
    """How a format is recognized, and the reader of one input stream in that format."""

    label: str
    read: Callable[..., Iterator[PatentDocument]]
    roots: frozenset[str] = frozenset()  # XML root elements (local names) that mean this format
    root_prefix: str | None = None  # ...and the prefix of other roots that do
    looks_like: Callable[[bytes], bool] | None = None  # for text formats: the first bytes, stripped

    def has_root(self, root: str) -> bool:
        return root in self.roots or (self.root_prefix is not None and root.startswith(self.root_prefix))


# In detection order: XML formats by root element, then JSONL before CSV (a JSON line holds commas).
_FORMATS: dict[Format, _Format] = {
    "uspto": _Format(
        "USPTO",
        read_uspto,
        frozenset(
            {
                "us-patent-grant",
                "us-patent-application",
                "PATDOC",
                "patent-application-publication",
                "sequence-cwu",
            }
        ),
        "us-",
    ),
    "epo": _Format("EPO", read_epo, frozenset({"ep-patent-document"}), "ep-"),
    "docdb": _Format("DOCDB", read_docdb, DOCDB_ROOTS),
    "jsonl": _Format("JSONL", read_jsonl, looks_like=_jsonl_like),
    "csv": _Format("CSV", read_csv, looks_like=_csv_like),
}


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


def _check_encoding(head: bytes, name: str) -> None:
    encoding = _wide_encoding(head)
    if encoding is not None:
        path = Path(name.rpartition("!")[2])  # a zip member is named archive.zip!member
        raise UnsupportedFormatError(
            f"the file is {encoding} text; patent_rag reads UTF-8: convert it first, e.g. "
            f"iconv -f {encoding} -t UTF-8 {path.name} > {path.stem}.utf8{path.suffix}",
            file=name,
        )


def _content_format(head: bytes, name: str) -> Format:
    """The format the first bytes of a stream are in (``name`` is shown in errors)."""
    _check_encoding(head, name)
    text = head.removeprefix(_BOM).lstrip()
    if text.startswith(b"<"):
        root = root_name(text, file=name)
        kind = next((kind for kind, entry in _FORMATS.items() if entry.has_root(root)), None)
        if kind is not None:
            return kind
        known = [
            f"{entry.label} ({', '.join(sorted(entry.roots))})" for entry in _FORMATS.values() if entry.roots
        ]
        raise UnsupportedFormatError(
            f"XML with root <{root}> is neither {', '.join(known[:-1])} nor {known[-1]}", file=name
        )
    kind = next(
        (kind for kind, entry in _FORMATS.items() if entry.looks_like and entry.looks_like(text)), None
    )
    if kind is not None:
        return kind
    raise UnsupportedFormatError(
        f"cannot tell the format from the content; pass format= (CLI: --format) one of {', '.join(FORMATS)}",
        file=name,
    )


def _stream_format(head: bytes, name: str, format: Format | Literal["auto"]) -> Format:
    """``format``, or the detected one for ``"auto"``; UTF-16/32 text is refused either way."""
    if format == "auto":
        return _content_format(head, name)
    _check_encoding(head, name)
    return format


def _file_format(path: Path, format: Format | Literal["auto"]) -> Format:
    """The format of the first member of a file that has one (a plain or gzip file has one member).

    Raises the first member's error when none has: unreadable, empty, UTF-16/32 or unrecognized.
    """
    name = str(path)
    failure: ParseError | None = None
    with closing(open_input(path)) as members:
        for member in members:
            try:
                head = read_head(member)
                if not head:
                    raise UnsupportedFormatError("the file is empty", file=name)
                return _stream_format(head, name, format)
            except ParseError as error:
                failure = failure or _as_file_error(error, name)  # the next member may tell the format
    if failure is not None:
        raise failure
    raise UnsupportedFormatError("the zip archive holds no files", file=name)


def _as_file_error(error: ParseError, name: str) -> ParseError:
    if error.__cause__ is None:
        return error  # says what is wrong already
    return ParseError(f"cannot read the file: {describe(error.__cause__)}", file=name)


def detect_format(path: str | Path) -> Format:
    """Return the format of a file (one of :data:`FORMATS`) by looking at its content.

    Gzip and zip files are looked into: a zip's format is that of its first member that has one
    (when reading, every member's own format is detected). XML is told apart by its root element
    (or DOCTYPE).

    Raises:
        UnsupportedFormatError: the content matches none of the formats (UTF-16 text is named as such).
        ParseError: the file cannot be read.

    Example:
        >>> detect_format("tests/fixtures/uspto/ipg130416.small.xml.gz")
        'uspto'
    """
    return _file_format(Path(path), "auto")


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
    part: DocumentPart | None = None,
) -> Iterator[PatentDocument]:
    """Yield the documents of every file, in order, each read in the format it holds.

    Arguments are checked before anything is read, and raise at once: an unknown ``format``, a
    missing file or a folder, CSV input without a mapping, a bad ``max_document_bytes``. With
    ``format="auto"`` every file, and every member of a zip, is read in the format its content
    shows, so a zip may mix formats. A file that cannot be read as any format (empty, garbage,
    UTF-16 text, an unreadable archive) does not stop the others: when its turn comes it is
    recorded in ``report`` as rejected, with the file named and no document index, and logged; so
    is a zip member of no known format. Problems inside files (broken, oversized or unsafe
    documents, non-patent documents, a truncated archive) are recorded in ``report`` too, and so
    are publication numbers read more than once (``report.duplicates``).

    Args:
        paths: files to read (plain, ``.gz`` or ``.zip``).
        format: ``"auto"`` (detect per file and zip member) or one of :data:`FORMATS`: ``uspto``,
            ``epo``, ``docdb``, ``jsonl``, ``csv``.
        csv_mapping: which CSV column holds which field; required for CSV input.
        report: collects read/skipped/rejected counts across all files.
        max_document_bytes: the most bytes one document (XML document, DOCDB record, JSONL line,
            CSV row) may take; a longer one is rejected without being held in memory.
        part: read only this part of every stream's documents (to split a bulk file among
            workers); problems of the other documents are not recorded either.

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
    requested = cast("Format | Literal['auto']", format)
    plan = [(path, _plan(path, requested)) for path in files]
    if csv_mapping is None and any(kind == "csv" for _, kind in plan):
        raise ConfigurationError(_NEEDS_MAPPING)
    run = _Run(
        report if report is not None else ParseReport(), max_document_bytes, csv_mapping, requested, part
    )
    return run.files(plan)


def _plan(path: Path, format: Format | Literal["auto"]) -> Format | ParseError:
    """The format a file starts in, or why it cannot be read (recorded when its turn comes)."""
    try:
        return _file_format(path, format)
    except ParseError as error:
        return error


@dataclass(frozen=True)
class _Run:
    """One parse_files call: where problems go, and how each member of each file is read."""

    report: ParseReport
    max_document_bytes: int
    csv_mapping: CsvMapping | None
    format: Format | Literal["auto"]
    part: DocumentPart | None = None

    def files(self, plan: list[tuple[Path, Format | ParseError]]) -> Iterator[PatentDocument]:
        for path, kind in plan:
            if isinstance(kind, ParseError):
                self.report.reject(kind)
                continue
            for member in open_input(path, report=self.report):
                for document in self._member(member):
                    self.report.saw(document.publication_number)
                    yield document
            logger.debug("parsed %s; so far %s", path, self.report.summary())

    def _member(self, member: Member) -> Iterator[PatentDocument]:
        try:
            head = read_head(member)
        except ParseError as error:  # recorded where the member's reader would have recorded it
            self.report.reject(ParseError(error.reason, file=member.name, document=0))
            return iter(())
        if not head:
            return iter(())  # an empty member holds no documents
        try:
            kind = _stream_format(head, member.name, self.format)
        except UnsupportedFormatError as error:
            self.report.reject(error)
            return iter(())
        read = _FORMATS[kind].read
        if kind == "csv":
            if self.csv_mapping is None:  # a CSV member of a zip that started in another format
                self.report.reject(ParseError(_NEEDS_MAPPING, file=member.name))
                return iter(())
            read = partial(read, mapping=self.csv_mapping)
        return read(member, report=self.report, max_document_bytes=self.max_document_bytes, part=self.part)
