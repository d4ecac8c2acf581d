"""Idempotent, resumable ingestion: parse -> chunk -> skip unchanged -> embed -> write.

Three stages run at once, joined by small bounded queues, so a run goes at the encoder's speed:

1. a reader thread parses and chunks documents and builds their payloads (with content hashes);
2. the calling thread asks the store which chunks it already holds unchanged, and embeds only the
   others (torch releases the GIL while it computes, so the other stages proceed meanwhile);
3. a writer thread computes BM25 terms, writes the points (acknowledged) and then deletes the
   document's stale chunks (the threads are in :mod:`patent_rag._ingest_pipeline`).

Why this survives ``kill -9`` at any moment: point ids are derived from (publication number,
section, ordinal), so a rerun overwrites rather than duplicates; a document's new chunks are
written *before* its stale ones are deleted, so a crash in between leaves extra chunks that the
rerun (seeing its hashes no longer match the stored set) deletes; and every store write is durable
when it returns (Edge's write-ahead log, ``wait=True`` on qdrant-client). The index therefore ends
with exactly the documents of the input, whatever the point of interruption.

Example:
    >>> from patent_rag.encoding.encoder import Encoder
    >>> from patent_rag.stores import open_store
    >>> summary = ingest(["patents.jsonl"], store=open_store("my-index"), encoder=Encoder())  # doctest: +SKIP
    >>> summary.chunks_written  # doctest: +SKIP
    1234
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from patent_rag._ingest_pipeline import run_pipeline
from patent_rag.documents.chunking import Chunker
from patent_rag.documents.parsers import DEFAULT_MAX_DOCUMENT_BYTES, parse_files
from patent_rag.documents.parsers.base import ParseReport
from patent_rag.documents.parsers.tabular import CsvMapping
from patent_rag.documents.record import PatentDocument
from patent_rag.encoding.encoder import Encoder
from patent_rag.stores.base import IndexInfo, Store, open_or_create

__all__ = ["IngestProgress", "IngestSummary", "NullProgress", "ingest", "ingest_documents"]

logger = logging.getLogger(__name__)


class IngestProgress(Protocol):
    """What a progress display receives; every method is called from pipeline threads."""

    def start(self, *, total_bytes: int) -> None: ...
    def advance(self, *, documents: int, chunks: int, unchanged: int, bytes_done: int) -> None: ...
    def stage(self, message: str) -> None: ...
    def finish(self, summary: IngestSummary) -> None: ...


class NullProgress:
    """Reports nothing (pipes, scripts, tests)."""

    def start(self, *, total_bytes: int) -> None: ...
    def advance(self, *, documents: int, chunks: int, unchanged: int, bytes_done: int) -> None: ...
    def stage(self, message: str) -> None: ...
    def finish(self, summary: IngestSummary) -> None: ...


@dataclass(frozen=True)
class IngestSummary:
    """What a run did.

    Attributes:
        documents: patents processed (a patent repeated in the input counts once per batch).
        documents_written / documents_unchanged: new or changed, and skipped as stored unchanged.
        chunks_written / chunks_unchanged: points embedded and written, and points already stored.
        stale_deleted: points of changed patents that no longer exist (fewer claims...).
        rejected / skipped: documents the parsers rejected (broken) or skipped (not patents).
        duplicates: records whose publication number was met earlier in the same run (the later
            record wins); duplicate_numbers: the first few such numbers.
        index: the index after the run; issues: the parsers' skip/reject notes
            (``"rejected: FILE, document N[, line L]: reason"``).
    """

    documents: int
    documents_written: int
    documents_unchanged: int
    chunks_written: int
    chunks_unchanged: int
    stale_deleted: int
    rejected: int
    skipped: int
    duplicates: int
    seconds: float
    index: IndexInfo | None = None
    issues: tuple[str, ...] = field(default=())
    duplicate_numbers: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("index", "issues", "duplicate_numbers")}
        data["index"] = self.index.as_dict() if self.index else None
        data["issues"] = list(self.issues)
        data["duplicate_numbers"] = list(self.duplicate_numbers)
        return data


def ingest(
    paths: Sequence[str | os.PathLike[str]],
    *,
    store: Store,
    encoder: Encoder,
    chunker: Chunker | None = None,
    window: int = 512,
    progress: IngestProgress | None = None,
    optimize: bool = True,
    report: ParseReport | None = None,
    format: str = "auto",
    csv_mapping: CsvMapping | None = None,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
) -> IngestSummary:
    """Parse files (any format :func:`~patent_rag.documents.parsers.parse_files` reads) into ``store``.

    The files are checked first (they exist, their format is known), then the store is opened
    (created if missing) and its fingerprint compared with the encoder's: a mismatch is refused
    before anything is parsed, embedded or written. Progress advances by bytes per finished file.

    Example:
        >>> encoder = Encoder("all-minilm-l6-v2")  # doctest: +SKIP
        >>> ingest(["ipg130416.xml"], store=open_store("idx"), encoder=encoder).documents  # doctest: +SKIP
        3
    """
    report = report if report is not None else ParseReport()
    files = [Path(path) for path in paths]
    # Checks every file and reads none; its own report, so nothing it notes is counted twice.
    parse = functools.partial(
        parse_files, format=format, csv_mapping=csv_mapping, max_document_bytes=max_document_bytes
    )
    parse(files, report=ParseReport())
    sizes = [path.stat().st_size for path in files]
    done = [0]

    def documents() -> Iterator[PatentDocument]:
        for path, size in zip(files, sizes, strict=True):
            yield from parse([path], report=report)
            done[0] += size

    return ingest_documents(
        documents(),
        store=store,
        encoder=encoder,
        chunker=chunker,
        window=window,
        progress=progress,
        optimize=optimize,
        report=report,
        total_bytes=sum(sizes),
        position=lambda: done[0],
    )


def ingest_documents(
    documents: Iterable[PatentDocument],
    *,
    store: Store,
    encoder: Encoder,
    chunker: Chunker | None = None,
    window: int = 512,
    progress: IngestProgress | None = None,
    optimize: bool = True,
    report: ParseReport | None = None,
    total_bytes: int = 0,
    position: Callable[[], int] | None = None,
) -> IngestSummary:
    """Ingest documents already in memory (or streamed by any iterator). See :func:`ingest`.

    Args:
        window: chunks embedded per encoder call (the encoder batches and length-sorts inside it).
        optimize: run the store's optimizer at the end (Edge builds its HNSW/payload indexes).
        total_bytes, position: the input's size and a callable saying how much of it was read, for
            progress displays (``ingest`` passes both).
    """
    started = time.perf_counter()
    progress = progress or NullProgress()
    open_or_create(store, fingerprint=encoder.fingerprint)
    chunker = chunker or Chunker.for_encoder(encoder)
    progress.start(total_bytes=total_bytes)
    counts = run_pipeline(
        documents,
        store=store,
        encoder=encoder,
        chunker=chunker,
        window=window,
        progress=progress,
        position=position or (lambda: 0),
    )
    store.flush()
    if optimize:
        store.optimize(progress=progress.stage)
    parse = report or ParseReport()
    summary = IngestSummary(
        documents=counts.documents,
        documents_written=counts.documents_written,
        documents_unchanged=counts.documents_unchanged,
        chunks_written=counts.chunks_written,
        chunks_unchanged=counts.chunks_unchanged,
        stale_deleted=counts.stale_deleted,
        rejected=parse.rejected,
        skipped=parse.skipped,
        duplicates=counts.duplicates,
        duplicate_numbers=tuple(counts.duplicate_numbers),
        seconds=time.perf_counter() - started,
        index=store.describe(),
        issues=tuple(f"{issue.outcome}: {issue}" for issue in parse.issues),
    )
    progress.finish(summary)
    logger.info(
        "ingested %d documents (%d written, %d unchanged), %d chunks written, %d stale deleted in %.1f s",
        summary.documents,
        summary.documents_written,
        summary.documents_unchanged,
        summary.chunks_written,
        summary.stale_deleted,
        summary.seconds,
    )
    return summary
