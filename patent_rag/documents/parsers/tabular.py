"""JSONL records and CSV exports: the tabular inputs.

JSONL is the project's record format: one ``PatentDocument.model_dump_json()`` per line, read back
unchanged (``source`` included), so ``parse_jsonl`` after ``write_jsonl`` gives equal models.

CSV needs a :class:`CsvMapping` from the user that says which column holds which field::

    {"columns": {"publication_number": "id", "publication_date": "date", "claims": "text"},
     "country": "US", "indicator_columns": {"cpc": "[A-HY][0-9]{2}[A-Z]"}}

(column patterns must match the whole column name).

- Multi-valued fields (``cpc``, ``ipc``, ``uspc``, ``assignees``, ``inventors``, ``cited_patents``) are split
  on ``list_separators[field]`` (default ``";"``).
- ``indicator_columns`` reads one-hot tables (PatentSBERTa's 663 CPC subclass columns): every column
  whose name matches the pattern and whose cell is ``1``/``true``/``yes``/``x`` adds that column's
  name to the field.
- ``claims`` from one text column: ``claims_split="numbered"`` (default) cuts the text at ``1.``,
  ``2.`` ... taken in sequence and followed by a capital letter (other numbers stay in the text);
  text that does not start with ``1.`` becomes claim 1 whole. ``"none"`` keeps the whole cell as
  claim 1. Dependencies are read from the claim text ("according to claim 1").
- ``description`` from one column: paragraphs are separated by blank lines.
- Dates: ``date_format`` (``strptime`` syntax), else ISO ``2016-03-22`` or ``20160322``. A
  priority date cell may list several dates separated by ``|``, ``;`` or ``,`` (the earliest is
  kept); the other date fields take one date.

Input is UTF-8, plain, gzip or zip (detected by magic bytes; every zip member is read). A bad line
or row, including one that is not UTF-8 or longer than ``max_document_bytes``, is rejected with
file, record index (0-based) and line number; the rest of the file is still read. Blank lines are
ignored. A truncated or corrupt file keeps the records before the damage and reports it.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from patent_rag.documents.parsers._input import HEAD, Member, read_members
from patent_rag.documents.parsers.base import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    DocumentPart,
    ParseReport,
    invalid_field,
    oversize_reason,
    read_each,
)
from patent_rag.documents.parsers.claims import claim_references, split_numbered_claims
from patent_rag.documents.record import DATE_LIST_SEPARATORS, Claim, Paragraph, PatentDocument, SourceLocation
from patent_rag.errors import ConfigurationError, ParseError

__all__ = ["CsvMapping", "parse_csv", "parse_jsonl", "read_csv", "read_jsonl", "write_jsonl"]

logger = logging.getLogger(__name__)

_LIST_FIELDS = frozenset({"cpc", "ipc", "uspc", "assignees", "inventors", "cited_patents"})
_DATE_FIELDS = frozenset({"priority_date", "filing_date", "publication_date"})
_TEXT_FIELDS = frozenset(
    {
        "publication_number",
        "country",
        "kind",
        "application_number",
        "family_id",
        "title",
        "abstract",
        "language",
    }
)
_MAPPABLE = _LIST_FIELDS | _DATE_FIELDS | _TEXT_FIELDS | {"claims", "description"}
_TRUE = frozenset({"1", "1.0", "true", "yes", "y", "x"})
# csv's default cell limit (128 KiB) is below a long description: cells may be as long as a row,
# and a row is bounded by max_document_bytes.
_FIELD_LIMIT = 64 * 1024 * 1024
_NOT_UTF8 = "row is not UTF-8 text; save the CSV as UTF-8"


class CsvMapping(BaseModel):
    """Which CSV column holds which :class:`PatentDocument` field, and how to read the cells.

    Example:
        >>> mapping = CsvMapping(columns={"publication_number": "id", "claims": "text"}, country="US")
        >>> mapping.columns["claims"]
        'text'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: dict[str, str] = Field(description="PatentDocument field name -> CSV column name.")
    list_separators: dict[str, str] = Field(
        default_factory=dict, description="Separator per multi-valued field; ';' when not given."
    )
    indicator_columns: dict[str, str] = Field(
        default_factory=dict, description="List field -> regex of 0/1 columns whose names are the values."
    )
    date_format: str | None = Field(default=None, description="strptime format; ISO or YYYYMMDD if None.")
    country: str | None = Field(default=None, description="Country prefixed to bare publication numbers.")
    kind: str | None = Field(default=None, description="Kind code for numbers that carry none.")
    claims_split: Literal["numbered", "none"] = "numbered"
    delimiter: str = ","

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - _MAPPABLE)
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; mappable fields: {sorted(_MAPPABLE)}")
        if "publication_number" not in value:
            raise ValueError("'publication_number' must be mapped to a column")
        return value

    @field_validator("list_separators", "indicator_columns")
    @classmethod
    def _list_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - _LIST_FIELDS)
        if unknown:
            raise ValueError(f"not multi-valued field(s) {unknown}; choose from {sorted(_LIST_FIELDS)}")
        return value

    @classmethod
    def from_file(cls, path: str | Path) -> CsvMapping:
        """Read a mapping from a JSON file.

        Raises:
            ConfigurationError: the file is missing, not JSON, or names unknown fields.
        """
        try:
            return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigurationError(f"cannot read CSV mapping {path}: {error.strerror}") from None
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, item['loc'])) or 'mapping'}: {item['msg']}" for item in error.errors()
            )
            raise ConfigurationError(
                f"invalid CSV mapping {path}: {problems} "
                '(expected e.g. {"columns": {"publication_number": "id", "claims": "text"}})'
            ) from None


def _bounded_lines(stream: IO[bytes], max_bytes: int) -> Iterator[tuple[bytes | None, int, int]]:
    """Yield ``(line, size, quote count)`` per physical line; ``line`` is None past ``max_bytes``.

    A line over the limit is read through to its end in bounded pieces, never held whole.
    """
    while line := stream.readline(max_bytes + 1):
        if len(line) <= max_bytes or line.endswith(b"\n"):
            yield line, len(line), line.count(b'"')
            continue
        size, quotes = len(line), line.count(b'"')
        while not line.endswith(b"\n") and (line := stream.readline(HEAD)):
            size += len(line)
            quotes += line.count(b'"')
        yield None, size, quotes


def parse_jsonl(
    path: str | Path, *, report: ParseReport, max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
) -> Iterator[PatentDocument]:
    """Read JSONL records (one :class:`PatentDocument` JSON object per line).

    Lines are read as bytes and validated as UTF-8 JSON one by one, so a line in another encoding
    is rejected alone, and a line over ``max_document_bytes`` is rejected without being held.

    Example:
        >>> report = ParseReport()
        >>> docs = list(parse_jsonl("records.jsonl", report=report))  # doctest: +SKIP
    """
    read = partial(read_jsonl, report=report, max_document_bytes=max_document_bytes)
    return read_members(path, read, report=report)


@dataclass(frozen=True)
class _Line:
    """One non-blank JSONL line: 0-based record index, 1-based line number; ``data`` None past the limit."""

    index: int
    number: int
    data: bytes | None
    size: int


def _jsonl_lines(stream: IO[bytes], max_bytes: int) -> Iterator[_Line]:
    index = 0
    for number, (data, size, _) in enumerate(_bounded_lines(stream, max_bytes), start=1):
        if data is not None:
            if number == 1:
                data = data.removeprefix(b"\xef\xbb\xbf")
            if not data.strip():
                continue
        yield _Line(index, number, data, size)
        index += 1


def read_jsonl(
    member: Member,
    *,
    report: ParseReport,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    part: DocumentPart | None = None,
) -> Iterator[PatentDocument]:
    """Yield the records of one input stream (a plain file, or one member of an archive)."""

    def build(line: _Line) -> PatentDocument:
        where: dict[str, Any] = {"file": member.name, "document": line.index, "line": line.number}
        if line.data is None:
            raise ParseError(oversize_reason("the line", line.size, max_document_bytes), **where)
        try:
            return PatentDocument.model_validate_json(line.data)
        except ValidationError as error:
            raise ParseError(f"invalid record: {invalid_field(error)}", **where) from None

    return read_each(
        _jsonl_lines(member.stream, max_document_bytes), build, file=member.name, report=report, part=part
    )


def write_jsonl(documents: Iterable[PatentDocument], path_or_file: str | Path | IO[str]) -> int:
    """Write documents as JSONL (a ``.gz`` path is gzipped); return how many were written.

    Example:
        >>> import io
        >>> write_jsonl([PatentDocument(publication_number="EP1000000A1")], io.StringIO())
        1
    """
    if isinstance(path_or_file, (str, Path)):
        path = Path(path_or_file)
        if path.suffix == ".gz":
            with gzip.open(path, "wt", encoding="utf-8") as stream:
                return write_jsonl(documents, stream)
        with path.open("w", encoding="utf-8") as stream:
            return write_jsonl(documents, stream)
    count = 0
    for document in documents:
        path_or_file.write(document.model_dump_json() + "\n")
        count += 1
    return count


def _claims(text: str, mode: str) -> list[Claim]:
    pieces = split_numbered_claims(text) if mode == "numbered" else [(1, text.strip())]
    claims = []
    for number, body in pieces:
        if body:
            refs = claim_references(body, number)
            claims.append(Claim(number=number, text=body, independent=not refs, depends_on=refs))
    return claims


_ISO_DAY_AND_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ][0-9:.]+(?:Z|[+-][0-9:]+)?)?")


def _parse_date(value: str, date_format: str | None) -> date:
    if date_format:
        return datetime.strptime(value, date_format).date()
    digits = value.replace("-", "")
    if len(digits) == 8 and digits.isdigit():
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    if not _ISO_DAY_AND_TIME.fullmatch(value):
        raise ValueError(f"not an ISO date: {value!r}")
    return date.fromisoformat(value[:10])  # the day of a datetime ("2012-01-03 00:00:00")


def _date_cell(field: str, value: str, column: str, date_format: str | None) -> date:
    """One date; for ``priority_date`` the earliest of a list separated by ``|``, ``;``, ``,`` or spaces."""
    expected = date_format or "YYYY-MM-DD or YYYYMMDD"
    parts = [part for part in DATE_LIST_SEPARATORS.split(value) if part]
    dates = [_maybe_date(part, date_format) for part in parts] if len(parts) > 1 else []
    if dates and all(day is not None for day in dates):
        if field != "priority_date":
            raise ValueError(f"column {column!r}: expected one date ({expected}), got {value!r}")
        return min(day for day in dates if day is not None)
    try:  # one date, whose format may itself hold separators ("%b %d, %Y", "2012-01-03 00:00:00")
        return _parse_date(value, date_format)
    except ValueError:
        what = (
            f"a list of dates ({expected}, separated by | ; , or spaces)"
            if any(dates)
            else f"a date ({expected})"
        )
        raise ValueError(f"column {column!r}: {value!r} is not {what}") from None


def _maybe_date(value: str, date_format: str | None) -> date | None:
    try:
        return _parse_date(value, date_format)
    except ValueError:
        return None


def _row_to_fields(
    row: dict[str, str], mapping: CsvMapping, indicators: dict[str, list[str]]
) -> dict[str, object]:
    fields: dict[str, object] = {}
    for field, column in mapping.columns.items():
        value = (row.get(column) or "").strip()
        if not value:
            continue
        if field in _LIST_FIELDS:
            separator = mapping.list_separators.get(field, ";")
            fields[field] = [item.strip() for item in value.split(separator) if item.strip()]
        elif field in _DATE_FIELDS:
            fields[field] = _date_cell(field, value, column, mapping.date_format)
        elif field == "claims":
            fields["claims"] = _claims(value, mapping.claims_split)
        elif field == "description":
            blocks = re.split(r"\n\s*\n", value)
            fields["description"] = [Paragraph(text=" ".join(b.split())) for b in blocks if b.strip()]
        else:
            fields[field] = value
    for field, columns in indicators.items():
        flagged = [name for name in columns if (row.get(name) or "").strip().lower() in _TRUE]
        fields[field] = [*fields.get(field, []), *flagged]  # type: ignore[misc]
    number = str(fields.get("publication_number", ""))
    if not number:
        raise ValueError(f"empty publication number (column {mapping.columns['publication_number']!r})")
    if mapping.country and not number[:2].isalpha():
        number = mapping.country + number
    if mapping.kind and not re.search(r"[A-Z]\d?$", number.upper()):
        number += mapping.kind
    fields["publication_number"] = number
    return fields


class _RowTooLarge(Exception):
    """Raised through the csv reader for a row over the limit, once it has been read through."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class _CsvLines:
    """The lines a csv reader consumes: decoded, numbered, and bounded per row.

    Lines that are not UTF-8 are decoded with replacement and their numbers noted, so their row is
    rejected. A row over ``max_bytes`` is read through to its end (where its quotes balance) and
    refused with :class:`_RowTooLarge`; an iterator object, unlike a generator, goes on after it.
    """

    def __init__(self, stream: io.BufferedReader, max_bytes: int) -> None:
        self._stream = stream
        self._lines = _bounded_lines(stream, max_bytes)
        self._max = max_bytes
        self.number = 0  # the last line handed out (1-based)
        self.undecodable: set[int] = set()
        self._row = self._quotes = 0

    def start_row(self) -> None:
        self._row = self._quotes = 0

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        raw, size, quotes = next(self._lines)
        self.number += 1
        self._row += size
        self._quotes += quotes
        if raw is None or self._row > self._max:
            if self._quotes % 2:  # inside a quoted cell: the row goes on
                self._read_through_cell()
            raise _RowTooLarge(self._row)
        data = raw.removeprefix(b"\xef\xbb\xbf") if self.number == 1 else raw
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.undecodable.add(self.number)
            return data.decode("utf-8", errors="replace")

    def _read_through_cell(self) -> None:
        """Consume, in bounded pieces, the rest of a row that ends inside a quoted cell."""
        inside, done = True, False
        while not done and (buffer := self._stream.peek(HEAD)):
            position = 0
            while True:
                quote = buffer.find(b'"', position)
                if inside:
                    if quote < 0:
                        position = len(buffer)
                        break
                    inside, position = False, quote + 1
                    continue
                newline = buffer.find(b"\n", position)
                if newline >= 0 and (quote < 0 or newline < quote):
                    position, done = newline + 1, True
                    break
                if quote < 0:
                    position = len(buffer)
                    break
                inside, position = True, quote + 1
            consumed = self._stream.read(position)
            self.number += consumed.count(b"\n")
            self._row += len(consumed)


def parse_csv(
    path: str | Path,
    *,
    report: ParseReport,
    mapping: CsvMapping,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
) -> Iterator[PatentDocument]:
    """Read a CSV export, one patent per row, through a column mapping.

    Each document's ``source`` is the CSV file, the row's 0-based index and its first line. A row
    over ``max_document_bytes`` is rejected without being held in memory.

    Raises:
        ConfigurationError: the mapping names a column the header lacks (nothing could be read).

    Example:
        >>> mapping = CsvMapping(columns={"publication_number": "id", "claims": "text"}, country="US")
        >>> docs = list(parse_csv("claims.csv", report=ParseReport(), mapping=mapping))  # doctest: +SKIP
    """
    read = partial(read_csv, report=report, mapping=mapping, max_document_bytes=max_document_bytes)
    return read_members(path, read, report=report)


def read_csv(
    member: Member,
    *,
    report: ParseReport,
    mapping: CsvMapping,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    part: DocumentPart | None = None,
) -> Iterator[PatentDocument]:
    """Yield the patents of one input stream (a plain file, or one member of an archive).

    Raises:
        ConfigurationError: the mapping names a column the header lacks (nothing could be read).
    """
    csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT, max_document_bytes))
    file = member.name

    def build(row: _Row) -> PatentDocument:
        where: dict[str, Any] = {"file": file, "document": row.index, "line": row.line}
        if row.cells is None:
            raise ParseError(row.problem or "unreadable CSV row", **where)
        try:
            if len(row.cells) != len(row.header.names):
                raise ValueError(f"{len(row.cells)} cells for {len(row.header.names)} columns")
            values = dict(zip(row.header.names, row.cells, strict=True))
            fields = _row_to_fields(values, mapping, row.header.indicators)
            source = SourceLocation(file=file, index=row.index, line=row.line)
            return PatentDocument(**fields, source=source)  # type: ignore[arg-type]
        except ValueError as error:  # pydantic's ValidationError is a ValueError
            reason = invalid_field(error, field=False) if isinstance(error, ValidationError) else str(error)
            raise ParseError(f"invalid row: {reason}", **where) from None

    rows = _csv_rows(member.stream, file, mapping, max_document_bytes)
    return read_each(rows, build, file=file, report=report, part=part)


@dataclass(frozen=True)
class _Header:
    names: list[str]
    indicators: dict[str, list[str]]  # list field -> the indicator columns that feed it


@dataclass(frozen=True)
class _Row:
    """One CSV row: 0-based row index, 1-based first line; its cells, or why it cannot be read."""

    index: int
    line: int
    header: _Header
    cells: list[str] | None = None
    problem: str | None = None


def _csv_rows(stream: io.BufferedReader, file: str, mapping: CsvMapping, max_bytes: int) -> Iterator[_Row]:
    lines = _CsvLines(stream, max_bytes)
    reader = csv.reader(lines, delimiter=mapping.delimiter)
    try:
        names = next(reader, [])
    except _RowTooLarge as error:
        reason = oversize_reason("the header row", error.size, max_bytes) + "; is this a CSV file?"
        raise ParseError(reason, file=file, line=1) from None
    missing = sorted(set(mapping.columns.values()) - set(names))
    if missing:
        raise ConfigurationError(
            f"the CSV mapping names column(s) {missing} that {file} lacks; its header starts {names[:12]}"
        )
    header = _Header(
        names,
        {
            field: [name for name in names if re.fullmatch(pattern, name)]
            for field, pattern in mapping.indicator_columns.items()
        },
    )
    index = 0
    while True:
        line = lines.number + 1
        lines.start_row()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (csv.Error, _RowTooLarge) as error:
            problem = (
                oversize_reason("the row", error.size, max_bytes)
                if isinstance(error, _RowTooLarge)
                else f"unreadable CSV row: {error}"
            )
            yield _Row(index, line, header, problem=problem)
        else:
            if lines.undecodable.intersection(range(line, lines.number + 1)):
                yield _Row(index, line, header, problem=_NOT_UTF8)
            elif not cells:
                continue
            else:
                yield _Row(index, line, header, cells)
        index += 1
