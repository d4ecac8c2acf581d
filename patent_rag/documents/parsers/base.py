"""What every parser shares: the loop over a file's documents, and the summary of a run.

A format's reader cuts one input stream into raw documents and turns each into a
:class:`~patent_rag.documents.PatentDocument`; :func:`read_each` runs that loop for every format,
so every format records problems the same way in a :class:`ParseReport`: what it read, skipped
(not a patent: sequence listings, DOCDB deletions...), rejected (broken) and recovered (read after a
benign repair, such as a bare ``&`` escaped). A rejected document never stops the file. A whole
file that cannot be read (undetectable format, unreadable archive) is one rejected issue without a
document index.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from pydantic import ValidationError

from patent_rag.errors import ParseError

if TYPE_CHECKING:
    from patent_rag.documents.record import PatentDocument

__all__ = ["DEFAULT_MAX_DOCUMENT_BYTES", "DocumentPart", "ParseIssue", "ParseReport", "read_each"]

logger = logging.getLogger(__name__)

# The most bytes one document (an XML document, a DOCDB record, a JSONL line, a CSV row) may take
# before it is refused unread. The limit sits well above the largest genuine patent documents (EP
# publications with their search reports, USPTO grants with big tables or sequence data), while a
# decompression bomb costs memory in proportion to the limit instead of to its inflated size. The
# sizes and peak memories behind the figure are in docs/benchmarks.md. Non-patent documents over
# the limit (huge sequence listings) are still skipped as usual, without being held.
DEFAULT_MAX_DOCUMENT_BYTES = 256 * 1024 * 1024


def size_label(size: int) -> str:
    """``268435456`` -> ``'256 MiB'``; sizes under 1 MiB in KiB or bytes."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def oversize_reason(what: str, size: int, limit: int) -> str:
    """Why a document of ``size`` bytes, over ``limit``, was refused, and how to raise the limit."""
    return (
        f"{what} is {size_label(size)}, over the limit of {size_label(limit)} per document; "
        "not parsed (if it is genuine, raise max_document_bytes, CLI --max-document-mb)"
    )


def invalid_field(error: ValidationError, *, field: bool = True) -> str:
    """The first problem of a record that failed validation: ``"priority_date: expected one date..."``."""
    first = error.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    where = ".".join(map(str, first["loc"])) if field else ""
    return f"{where}: {message}" if where else message


@dataclass(frozen=True)
class ParseIssue:
    """One document (or, with ``document`` None, one whole file) that was skipped, rejected or recovered."""

    outcome: Literal["skipped", "rejected", "recovered"]
    reason: str
    file: str
    document: int | None
    line: int | None = None

    @property
    def where(self) -> str:
        """``file, document N, line L`` (the parts that are known)."""
        parts = [self.file]
        if self.document is not None:
            parts.append(f"document {self.document}")
        if self.line:
            parts.append(f"line {self.line}")
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class ParseReport:
    """Counts of one parsing run; shared across files when several are parsed.

    Attributes:
        read: documents yielded.
        issues: every skipped, rejected and recovered document (and every unreadable file).
        duplicates: publication number -> how many more times it was read after the first
            (filled by :func:`~patent_rag.documents.parsers.parse_files`; a later copy usually replaces the
            earlier one downstream).
        position: where the document yielded last was read: its stream (the file, or
            ``archive!member``) and its 0-based index there. Records may carry a ``source`` of their
            own (JSONL keeps it), so this is what tells input order.
    """

    read: int = 0
    position: tuple[str, int] | None = None
    issues: list[ParseIssue] = field(default_factory=list)
    duplicates: Counter[str] = field(default_factory=Counter)
    _seen: set[str] = field(default_factory=set, repr=False, compare=False)

    @property
    def skipped(self) -> int:
        return sum(1 for issue in self.issues if issue.outcome == "skipped")

    @property
    def rejected(self) -> int:
        return sum(1 for issue in self.issues if issue.outcome == "rejected")

    @property
    def recovered(self) -> int:
        """Documents read after a benign repair (they are also counted in ``read``)."""
        return sum(1 for issue in self.issues if issue.outcome == "recovered")

    @property
    def duplicate_count(self) -> int:
        """Documents whose publication number was already read in this run."""
        return sum(self.duplicates.values())

    def skip(self, reason: str, *, file: str, document: int | None, line: int | None = None) -> None:
        self.issues.append(ParseIssue("skipped", reason, file, document, line))
        logger.debug("skipped %s document %s: %s", file, document, reason)

    def reject(self, error: ParseError) -> None:
        self.issues.append(
            ParseIssue("rejected", error.reason, error.file or "?", error.document, error.line)
        )
        logger.warning("rejected %s", error)

    def recover(self, reason: str, *, file: str, document: int | None, line: int | None = None) -> None:
        """Note a document that was read after a benign repair (logged as a warning)."""
        issue = ParseIssue("recovered", reason, file, document, line)
        self.issues.append(issue)
        logger.warning("recovered %s", issue)

    def saw(self, publication_number: str) -> None:
        """Count ``publication_number`` as a duplicate when it was already seen in this run."""
        if publication_number in self._seen:
            self.duplicates[publication_number] += 1
            logger.info("publication number %s read again", publication_number)
        else:
            self._seen.add(publication_number)

    def reasons(self) -> Counter[str]:
        """How often each skip/reject/recover reason occurred (for the CLI summary)."""
        return Counter(f"{issue.outcome}: {issue.reason}" for issue in self.issues)

    def summary(self) -> str:
        """``"12 read, 0 skipped, 1 rejected"``; recovered documents and duplicates are added when any."""
        text = f"{self.read} read, {self.skipped} skipped, {self.rejected} rejected"
        if self.recovered:
            text += f", {self.recovered} recovered"
        if duplicates := self.duplicate_count:
            text += f", {duplicates} duplicate publication number{'s' if duplicates != 1 else ''}"
        return text


@dataclass(frozen=True)
class DocumentPart:
    """Part ``index`` of ``count`` of every input stream: the documents whose 0-based index in their
    stream is ``index`` modulo ``count``.

    Splits one bulk file among workers without knowing where its documents start: each worker
    reads the stream (cutting it into raw documents is cheap) and builds only its own documents,
    so the costly steps, and each document's problems, happen in exactly one part.

    Example:
        >>> [i for i in range(7) if DocumentPart(index=1, count=3).holds(i)]
        [1, 4]
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"part index must be in 0..{self.count - 1}, got {self.index}")

    def holds(self, document: int) -> bool:
        return document % self.count == self.index


class _Numbered(Protocol):
    @property
    def index(self) -> int: ...


_Raw = TypeVar("_Raw", bound=_Numbered)


def read_each(
    raws: Iterable[_Raw],
    build: Callable[[_Raw], PatentDocument | None],
    *,
    file: str,
    report: ParseReport,
    part: DocumentPart | None = None,
) -> Iterator[PatentDocument]:
    """Yield the record of every raw document of one stream, recording what could not be read.

    ``raws`` are the stream's documents (XML documents, DOCDB records, JSONL lines, CSV rows) with
    their 0-based ``index``. ``build`` turns one into a record; it returns None for a document it
    skipped (and recorded), and raises :class:`~patent_rag.errors.ParseError`, located, for a broken
    one, which is recorded as rejected while the next is read. With ``part``, only the documents
    of that part are built (and so skipped or rejected); the others are passed over. A ParseError
    out of ``raws`` itself means the stream stopped being readable (truncated, corrupt): the
    documents before it were yielded, and the damage is recorded as rejected at the index of the
    next document.

    Example:
        >>> report = ParseReport()
        >>> list(read_each([], lambda raw: None, file="empty.xml", report=report)), report.summary()
        ([], '0 read, 0 skipped, 0 rejected')
    """
    next_index = 0
    try:
        for raw in raws:
            next_index = raw.index + 1
            if part is not None and not part.holds(raw.index):
                continue
            try:
                document = build(raw)
            except ParseError as error:
                report.reject(error)
                continue
            if document is not None:
                report.read += 1
                report.position = (file, raw.index)
                yield document
    except ParseError as error:
        report.reject(ParseError(error.reason, file=file, document=next_index))
