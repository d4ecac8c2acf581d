"""Typer commands that delegate to one module each (parse, ingest, search ...)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from patent_rag.cli import app, err, friendly_errors

__all__: list[str] = []

FORMATS = ("auto", "uspto", "epo", "jsonl", "csv")


@app.command()
@friendly_errors
def parse(
    files: Annotated[
        list[Path], typer.Argument(help="Input files: USPTO/EPO XML (also .gz/.zip), JSONL, CSV.")
    ],
    format: Annotated[str, typer.Option("--format", "-f", help=f"One of {', '.join(FORMATS)}.")] = "auto",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write JSONL records here (default: stdout).")
    ] = None,
    csv_mapping: Annotated[
        Path | None, typer.Option("--csv-mapping", help="JSON file mapping record fields to CSV columns.")
    ] = None,
) -> None:
    """Convert patent files into the JSONL record format and print a read/skipped/rejected summary."""
    from patent_rag.cli.parse import run_parse

    if format not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    run_parse(files, format=format, out=out, csv_mapping_file=csv_mapping, console=err)
