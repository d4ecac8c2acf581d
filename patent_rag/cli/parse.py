"""``patent-rag parse``: any supported input to JSONL records, and a summary of what was read.

The typer command lives in :mod:`patent_rag.cli`; this module does the work so it can be called
(and tested) without a command line.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from patent_rag.parsers import parse_files
from patent_rag.parsers.base import ParseIssue, ParseReport
from patent_rag.parsers.tabular import CsvMapping, write_jsonl

__all__ = ["print_summary", "run_parse"]

_EXAMPLES = 3  # locations shown per reason; the rest are counted


def run_parse(
    files: list[Path],
    *,
    format: str,
    out: Path | None,
    csv_mapping_file: Path | None,
    console: Console,
) -> ParseReport:
    """Parse ``files`` into JSONL records (``out``, or stdout when None) and print the summary.

    The output file is written next to its final name and moved into place when parsing ends, so
    an interrupted run never leaves a half-written ``out`` behind.

    Raises:
        ConfigurationError: an unreadable mapping file, or CSV input without one.
        UnsupportedFormatError: an unknown format, or a file that matches none.
        ParseError: a file that does not exist.

    Example:
        >>> from rich.console import Console
        >>> report = run_parse([Path("EP1000000A1.xml")], format="auto", out=Path("records.jsonl"),
        ...                    csv_mapping_file=None, console=Console(stderr=True))  # doctest: +SKIP
    """
    mapping = CsvMapping.from_file(csv_mapping_file) if csv_mapping_file is not None else None
    report = ParseReport()
    documents = parse_files(files, format=format, csv_mapping=mapping, report=report)
    if out is None:
        try:
            write_jsonl(documents, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, and keep Python's exit flush from failing.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    else:
        partial = out.with_name(f".{out.name}.partial")
        try:
            write_jsonl(documents, partial)
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
    print_summary(report, console)
    return report


def print_summary(report: ParseReport, console: Console) -> None:
    """Print counts, then each skip/reject reason with how often it occurred and where."""
    console.print(
        Text.assemble(
            ("parsed: ", "bold"),
            (f"{report.read} read", "green"),
            ", ",
            (f"{report.skipped} skipped", "yellow" if report.skipped else ""),
            ", ",
            (f"{report.rejected} rejected", "red" if report.rejected else ""),
        )
    )
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
    ordered = sorted(groups.items(), key=lambda item: (item[0][0] != "rejected", -len(item[1]), item[0][1]))
    for (outcome, reason), issues in ordered:
        places = [f"{i.file}, document {i.document}" + (f", line {i.line}" if i.line else "") for i in issues]
        shown = "\n".join(places[:_EXAMPLES])
        if len(places) > _EXAMPLES:
            shown += f"\n… and {len(places) - _EXAMPLES} more"
        style = "red" if outcome == "rejected" else "yellow"
        table.add_row(Text(outcome, style=style), str(len(issues)), Text(reason), Text(shown))
    console.print(table)
