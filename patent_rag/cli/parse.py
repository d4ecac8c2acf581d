"""``patent-rag parse``: any supported input to JSONL records, and a summary of what was read.

The typer command lives in :mod:`patent_rag.cli`; this module does the work so it can be called
(and tested) without a command line.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import stat
import sys
from collections import defaultdict
from pathlib import Path
from typing import IO, cast

from rich.console import Console
from rich.table import Table
from rich.text import Text

from patent_rag.cli import safe_text, terminal_safe
from patent_rag.documents.parsers import DEFAULT_MAX_DOCUMENT_BYTES, parse_files
from patent_rag.documents.parsers.base import ParseIssue, ParseReport
from patent_rag.documents.parsers.tabular import CsvMapping, write_jsonl
from patent_rag.errors import ConfigurationError

__all__ = ["print_summary", "run_parse"]

_EXAMPLES = 3  # locations shown per reason; the rest are counted


def run_parse(
    files: list[Path],
    *,
    format: str,
    out: Path | None,
    csv_mapping_file: Path | None,
    console: Console,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
) -> ParseReport:
    """Parse ``files`` into JSONL records (``out``, or stdout when None) and print the summary.

    The output file is written next to its final name and moved into place when parsing ends, so
    an interrupted run never leaves a half-written ``out`` behind; an ``out`` ending in ``.gz`` is
    gzipped. An ``out`` that is not a regular file (``/dev/stdout``, a pipe) is written directly.

    Raises:
        ConfigurationError: an unreadable mapping file, CSV input without one, or an ``out`` that
            cannot be written (read-only location, missing folder, full disk).
        UnsupportedFormatError: an unknown format.
        ParseError: a file that does not exist.

    Example:
        >>> from rich.console import Console
        >>> report = run_parse([Path("EP1000000A1.xml")], format="auto", out=Path("records.jsonl"),
        ...                    csv_mapping_file=None, console=Console(stderr=True))  # doctest: +SKIP
    """
    mapping = CsvMapping.from_file(csv_mapping_file) if csv_mapping_file is not None else None
    report = ParseReport()
    documents = parse_files(
        files, format=format, csv_mapping=mapping, report=report, max_document_bytes=max_document_bytes
    )
    if out is None:
        try:
            write_jsonl(documents, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, and keep Python's exit flush from failing.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    elif _is_special(out):
        with _Output(out, out) as stream:
            write_jsonl(documents, cast("IO[str]", stream))
    else:
        partial = out.with_name(f".{out.name}.partial")
        try:
            with _Output(partial, out) as stream:
                write_jsonl(documents, cast("IO[str]", stream))
            try:
                os.replace(partial, out)
            except OSError as error:
                raise _cannot_write(out, error) from None
        finally:
            with contextlib.suppress(OSError):  # e.g. its folder does not exist: nothing to remove
                partial.unlink(missing_ok=True)
    print_summary(report, console)
    return report


def _is_special(path: Path) -> bool:
    """True for an existing output that is not a regular file (a device or a pipe): write it in place."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _cannot_write(out: Path, error: OSError) -> ConfigurationError:
    reason = error.strerror or str(error)
    hint = (
        "free some space or choose another --out"
        if error.errno in (errno.ENOSPC, errno.EDQUOT)
        else "choose a --out in a folder you can write to"
    )
    return ConfigurationError(f"cannot write the records to {out}: {reason}; {hint}")


class _Output(io.TextIOBase):
    """The JSONL output file: every write or close failure becomes one error naming ``out``.

    Only this file's errors are translated, so an OSError met while reading the input is never
    reported as an output problem.
    """

    def __init__(self, path: Path, out: Path) -> None:
        super().__init__()
        self._out = out
        self._failed = False
        try:
            self._binary: IO[bytes] = path.open("wb")
        except OSError as error:
            raise _cannot_write(out, error) from None
        # GzipFile leaves the file it is given open: _binary is closed after it.
        packed = gzip.GzipFile(fileobj=self._binary, mode="wb") if out.suffix == ".gz" else None
        self._stream = io.TextIOWrapper(packed or self._binary, encoding="utf-8")

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as error:
            self._failed = True
            raise _cannot_write(self._out, error) from None

    def close(self) -> None:
        if self.closed:
            return
        failure: OSError | None = None
        for stream in (self._stream, self._binary):
            try:
                stream.close()
            except OSError as error:
                failure = failure or error
        super().close()
        if failure is not None and not self._failed:  # the first failure is the one to report
            self._failed = True
            raise _cannot_write(self._out, failure) from None


def print_summary(report: ParseReport, console: Console) -> None:
    """Print counts, then each skip/reject/recover reason with how often it occurred and where."""
    parts: list[str | tuple[str, str]] = [
        ("parsed: ", "bold"),
        (f"{report.read} read", "green"),
        ", ",
        (f"{report.skipped} skipped", "yellow" if report.skipped else ""),
        ", ",
        (f"{report.rejected} rejected", "red" if report.rejected else ""),
    ]
    if report.recovered:
        parts += [", ", (f"{report.recovered} recovered", "yellow")]
    if duplicates := report.duplicate_count:
        shown = ", ".join(number for number, _ in report.duplicates.most_common(_EXAMPLES))
        more = "…" if len(report.duplicates) > _EXAMPLES else ""
        label = f"{duplicates} duplicate publication number{'s' if duplicates != 1 else ''} ({shown}{more})"
        parts += [", ", (terminal_safe(label), "yellow")]
    console.print(Text.assemble(*parts))
    if not report.issues:
        return
    groups: dict[tuple[str, str], list[ParseIssue]] = defaultdict(list)
    for issue in report.issues:
        groups[(issue.outcome, issue.reason)].append(issue)
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    table.add_column("reason")
    table.add_column("where (file, document, line)")
    order = {"rejected": 0, "recovered": 1, "skipped": 2}
    ordered = sorted(groups.items(), key=lambda item: (order[item[0][0]], -len(item[1]), item[0][1]))
    for (outcome, reason), issues in ordered:
        places = [issue.where for issue in issues]
        shown = "\n".join(places[:_EXAMPLES])
        if len(places) > _EXAMPLES:
            shown += f"\n… and {len(places) - _EXAMPLES} more"
        style = "red" if outcome == "rejected" else "yellow"
        table.add_row(Text(outcome, style=style), str(len(issues)), safe_text(reason), safe_text(shown))
    console.print(table)
