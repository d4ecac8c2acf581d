"""``patent-rag ingest`` and ``patent-rag info``: the work behind the two commands.

The typer commands live in :mod:`patent_rag.cli`; these functions do the work so they can be
called (and tested) without a command line. Progress and tables go to the ``console`` (stderr);
``info --json`` writes JSON to ``out`` (stdout). The progress bar shows only on a terminal.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from patent_rag.cli import safe_text, terminal_safe
from patent_rag.cli.parse import print_summary
from patent_rag.distributed.spec import EncoderSpec, RayOptions
from patent_rag.documents.parsers import check_inputs
from patent_rag.documents.parsers.base import DEFAULT_MAX_DOCUMENT_BYTES, ParseReport
from patent_rag.encoding.encoder import Encoder, Precision
from patent_rag.ingest import IngestProgress, IngestSummary, ingest
from patent_rag.stores import ClusterSettings, IndexInfo, open_store

__all__ = ["RichProgress", "print_info", "run_info", "run_ingest"]

DEFAULT_MODEL = "all-minilm-l6-v2"


class _Rate(ProgressColumn):
    """``N things/s`` from a task field, over the task's elapsed time."""

    def __init__(self, field: str, unit: str) -> None:
        super().__init__()
        self.field, self.unit = field, unit

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.fields.get(self.field, 0) / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:,.1f} {self.unit}/s", style="cyan")


class RichProgress:
    """An :class:`~patent_rag.ingest.IngestProgress` drawn with rich: bytes read, documents/s,
    chunks/s and the time remaining. Safe to call from the pipeline's threads."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[documents]:,} docs"),
            _Rate("documents", "docs"),
            _Rate("chunks", "chunks"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task("ingesting", total=None, documents=0, chunks=0)

    def start(self, *, total_bytes: int) -> None:
        self._progress.update(self._task, total=total_bytes or None)
        self._progress.start()

    def advance(self, *, documents: int, chunks: int, unchanged: int, bytes_done: int) -> None:
        fields = self._progress.tasks[self._task].fields
        self._progress.update(
            self._task,
            completed=bytes_done,
            documents=fields["documents"] + documents,
            chunks=fields["chunks"] + chunks,
        )

    def stage(self, message: str) -> None:
        # The description column is rendered as markup: the store's message is escaped.
        self._progress.update(self._task, description=escape(terminal_safe(message)))

    def finish(self, summary: IngestSummary) -> None:
        self._progress.stop()


def run_ingest(
    files: Sequence[str | os.PathLike[str]],
    *,
    index: str,
    console: Console,
    model: str | None = None,
    model_path: str | os.PathLike[str] | None = None,
    task: str | None = None,
    batch_tokens: int | None = None,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    api_key_env: str | None = None,
    device: str = "auto",
    precision: Precision = "auto",
    progress: IngestProgress | None = None,
    encoder: Encoder | None = None,
    cluster: ClusterSettings | None = None,
    ray: RayOptions | None = None,
) -> IngestSummary:
    """Ingest ``files`` into the index at ``index`` and print a summary.

    ``model`` defaults to the model the index was built with, or ``all-minilm-l6-v2`` for a new
    index (an ``encoder`` already loaded is used as is); ``task`` picks the task whose document
    prompt the index is built with (default: the model's). The files are checked and an existing index
    is opened (and so locked) before the model loads: a missing file or a busy index fails at once.
    The progress bar is drawn when ``console`` is a terminal (pass ``progress`` to override). The
    summary counts what was written, unchanged, rejected (with each reason and where) and repeated.

    On a Qdrant server, ``cluster`` shapes the collection when this run creates it (refused for an
    embedded index), and dense indexing is deferred while the run writes, restored at its end
    (Qdrant's advice for bulk loads; a run that dies leaves it to the next run or open to restore).
    With ``ray``, workers on that Ray cluster load the model and parse, chunk and embed
    (:func:`~patent_rag.distributed.ingest_on_ray`); the files and ``model_path`` are made absolute,
    and must be readable at those paths on every node.

    Example:
        >>> run_ingest(["grants.xml"], index="my-index", console=Console(stderr=True))  # doctest: +SKIP
    """
    check_inputs(files, max_document_bytes=max_document_bytes)  # reads nothing: ingest reads each file once
    store = open_store(index, api_key_env=api_key_env, cluster=cluster, bulk_load=True)
    report = ParseReport()
    try:
        # Open (and lock) an existing index before the model, which takes seconds to load.
        stored = store.open() if store.exists() else None
        if stored is not None and cluster is not None and not cluster.is_default:
            console.print(
                safe_text(
                    f"note: {stored.location} exists: the server options apply when an ingest creates a "
                    "collection, and this one keeps its own settings (see `patent-rag info`)",
                    "yellow",
                )
            )
        if model is None:
            model = stored.fingerprint.model_id if stored is not None else DEFAULT_MODEL
        if progress is None and console.is_terminal:
            progress = RichProgress(console)
        if ray is not None:
            summary = _ingest_on_ray(
                files,
                store=store,
                spec=EncoderSpec.of(encoder)
                if encoder is not None
                else EncoderSpec(
                    model=model,
                    model_path=str(Path(model_path).absolute()) if model_path is not None else None,
                    device=device,
                    precision=precision,
                    document_task=task,
                    batch_tokens=batch_tokens,
                ),
                options=ray,
                progress=progress,
                report=report,
                max_document_bytes=max_document_bytes,
                api_key_env=api_key_env,
            )
        else:
            summary = ingest(
                files,
                store=store,
                encoder=encoder
                or Encoder(
                    model,
                    model_path=model_path,
                    device=device,
                    precision=precision,
                    document_task=task,
                    batch_tokens=batch_tokens,
                ),
                progress=progress,
                report=report,
                max_document_bytes=max_document_bytes,
            )
    finally:
        store.close()
    _print_summary(summary, report, console)
    return summary


def _ingest_on_ray(
    files: Sequence[str | os.PathLike[str]], *, spec: EncoderSpec, **kwargs: Any
) -> IngestSummary:
    from patent_rag.distributed import ingest_on_ray  # imports Ray only when asked for

    return ingest_on_ray([Path(file).absolute() for file in files], encoder=spec, **kwargs)


def _print_summary(summary: IngestSummary, report: ParseReport, console: Console) -> None:
    rate = summary.chunks_written / summary.seconds if summary.seconds else 0.0
    console.print(
        Text.assemble(
            ("ingested: ", "bold"),
            (f"{summary.documents} documents", "green"),
            f" ({summary.documents_written} new or changed, {summary.documents_unchanged} unchanged), ",
            (f"{summary.chunks_written} chunks written", "green"),
            f", {summary.stale_deleted} stale deleted, ",
            (f"{summary.rejected} rejected", "red" if summary.rejected else ""),
            f", {summary.skipped} skipped, ",
            (f"{summary.duplicates} repeated", "yellow" if summary.duplicates else ""),
            f" in {summary.seconds:.1f} s ({rate:.1f} chunks/s)",
        )
    )
    if summary.duplicates:
        console.print(
            safe_text(
                f"  {summary.duplicates} record(s) repeat a publication number met earlier in this run "
                f"(the later record is kept), e.g. {', '.join(summary.duplicate_numbers)}",
                "yellow",
            )
        )
    if report.issues:
        print_summary(report, console)
    if summary.index is not None:
        print_info(summary.index, console)


def run_info(
    index: str,
    *,
    console: Console,
    out: Console | None = None,
    api_key_env: str | None = None,
    as_json: bool = False,
) -> IndexInfo:
    """Describe the index at ``index``: patents, chunks, encoder fingerprint and backend.

    Example:
        >>> run_info("my-index", console=Console(stderr=True))  # doctest: +SKIP
    """
    store = open_store(index, api_key_env=api_key_env)
    try:
        info = store.open()
    finally:
        store.close()
    if as_json:
        (out or Console()).print_json(json.dumps(info.as_dict()))
    else:
        print_info(info, console)
    return info


def print_info(info: IndexInfo, console: Console) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, Any]] = [
        ("index", info.location),
        ("backend", info.backend),
        ("patents", f"{info.patents:,}"),
        ("chunks", f"{info.chunks:,}"),
        ("model", info.fingerprint.model_id),
        ("dim", info.fingerprint.dim),
        ("pooling", info.fingerprint.pooling),
        ("document prompt", repr(info.fingerprint.document_prompt)),
        ("max length", info.fingerprint.max_seq_length),
        ("weights", info.fingerprint.revision[:16]),
        *_cluster_rows(info.details),
    ]
    for name, value in rows:
        table.add_row(name, safe_text(value))
    console.print(table)


def _cluster_rows(details: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Rows for a server collection's cluster and storage settings (none for other backends)."""
    if "shard_number" not in details:
        return []
    get = details.get
    return [
        (
            "shards",
            f"{get('shard_number')} x {get('replication_factor')} replica(s), "
            f"write consistency {get('write_consistency_factor')}",
        ),
        (
            "storage",
            f"vectors {'on disk' if get('on_disk') else 'in RAM'}, quantization {get('quantization')}, "
            f"payload {'on disk' if get('on_disk_payload') else 'in RAM'}",
        ),
        ("indexing", get("indexing")),
    ]
