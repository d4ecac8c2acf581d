"""Idempotent, resumable ingestion: parse -> chunk -> skip unchanged -> embed -> write.

Three stages overlap, so a run goes at the encoder's speed:

1. a reader (a one-thread executor) parses and chunks documents and builds their payloads (with
   content hashes), a bounded number of batches ahead of the encoder;
2. the calling thread asks the store which chunks it already holds unchanged, and embeds only the
   others (torch releases the GIL while it computes, so the other stages proceed meanwhile);
3. a writer (a one-thread executor, so writes land in order) computes BM25 terms, writes the points
   (acknowledged) and then deletes the document's stale chunks.

Memory stays bounded: the caller keeps at most a few batches read ahead and a few writes in
flight, and waits for the oldest before handing over more, so a slow stage holds the others back
instead of piling work up. A failure in any stage stops the run and is re-raised in the caller's
thread; the write in progress is always allowed to finish before the caller returns (the store may
be closed next), and the writes queued behind it are dropped.

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

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from patent_rag.documents.chunking import Chunker
from patent_rag.documents.parsers import DEFAULT_MAX_DOCUMENT_BYTES, check_inputs, parse_files
from patent_rag.documents.parsers.base import ParseReport
from patent_rag.documents.parsers.tabular import CsvMapping
from patent_rag.documents.record import PatentDocument
from patent_rag.encoding.encoder import Encoder
from patent_rag.stores.base import IndexInfo, Store, StoredPoint, check_dense, open_or_create
from patent_rag.stores.layout import build_payload, point_id

__all__ = ["IngestProgress", "IngestSummary", "NullProgress", "chunk_changes", "ingest", "ingest_documents"]

logger = logging.getLogger(__name__)

_READ_AHEAD = 4  # batches parsed ahead of the encoder
_WRITES_IN_FLIGHT = 4  # embedded batches handed to the writer and not yet written
_CHECKPOINT_SECONDS = 30.0  # the writer flushes the store at least this often
_EXAMPLES = 5  # repeated publication numbers named in the summary


class IngestProgress(Protocol):
    """What a progress display receives; ``advance`` is called from the writer's thread."""

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
    before anything is parsed, embedded or written. Each file is read once. Progress advances by
    bytes per finished file.

    Example:
        >>> encoder = Encoder("all-minilm-l6-v2")  # doctest: +SKIP
        >>> ingest(["ipg130416.xml"], store=open_store("idx"), encoder=encoder).documents  # doctest: +SKIP
        3
    """
    report = report if report is not None else ParseReport()
    files = check_inputs(paths, format=format, max_document_bytes=max_document_bytes)
    # One parse per file, so progress can count the bytes of each finished file. parse_files
    # detects the file's format now (a CSV file without a mapping raises here, before the store
    # opens) and reads its documents only when iterated.
    streams = [
        (
            parse_files(
                [path],
                format=format,
                csv_mapping=csv_mapping,
                report=report,
                max_document_bytes=max_document_bytes,
            ),
            path.stat().st_size,
        )
        for path in files
    ]
    done = 0

    def documents() -> Iterator[PatentDocument]:
        nonlocal done
        for stream, size in streams:
            yield from stream
            done += size

    return ingest_documents(
        documents(),
        store=store,
        encoder=encoder,
        chunker=chunker,
        window=window,
        progress=progress,
        optimize=optimize,
        report=report,
        total_bytes=sum(size for _, size in streams),
        position=lambda: done,
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
    counts = _run(
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


@dataclass
class _Counts:
    """What a run did; updated in the caller's thread only."""

    documents: int = 0
    documents_written: int = 0
    documents_unchanged: int = 0
    chunks_written: int = 0
    chunks_unchanged: int = 0
    stale_deleted: int = 0
    duplicates: int = 0
    duplicate_numbers: list[str] = field(default_factory=list)  # the first few, for the summary


@dataclass
class _Doc:
    doc: PatentDocument
    points: dict[str, tuple[str, dict[str, Any]]]  # id -> (text, payload)


_Batch = tuple[list[_Doc], int]  # documents, and the input's position after them


@dataclass
class _Job:
    points: list[StoredPoint]
    texts: list[str]
    stale: list[str]
    documents: int
    unchanged: int
    bytes_done: int


def _run(
    documents: Iterable[PatentDocument],
    *,
    store: Store,
    encoder: Encoder,
    chunker: Chunker,
    window: int,
    progress: IngestProgress,
    position: Callable[[], int],
) -> _Counts:
    """Read, embed and write every document; return the counts once all writes are done."""
    counts = _Counts()
    seen: set[str] = set()
    batches = _batches(documents, chunker, window, position)
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="patent-rag-reader")
    writer = _Writer(store, progress, counts)
    try:
        for batch, bytes_done in _read_ahead(batches, reader):
            numbers = [entry.doc.publication_number for entry in batch]
            repeated = _repeated(numbers, seen)
            if repeated:
                # The same patent twice in one run: let the writer catch up so the stored state we
                # compare against includes the earlier copy (the later copy wins).
                counts.duplicates += len(repeated)
                for number in repeated:
                    if len(counts.duplicate_numbers) < _EXAMPLES and number not in counts.duplicate_numbers:
                        counts.duplicate_numbers.append(number)
                writer.drain()
                batch = _dedupe_keep_last(batch)
            writer.submit(_embed(batch, numbers, store, encoder, counts, bytes_done))
        writer.drain()
    finally:
        writer.close()
        reader.shutdown(wait=True, cancel_futures=True)
    return counts


def _batches(
    documents: Iterable[PatentDocument],
    chunker: Chunker,
    window: int,
    position: Callable[[], int],
) -> Iterator[_Batch]:
    """Documents chunked and with payloads, in batches of at least ``window`` chunks (the last
    one possibly empty, so that the final position is reported), each with the input position."""
    batch: list[_Doc] = []
    size = 0
    for doc in documents:
        points = {
            point_id(doc.publication_number, chunk.section, chunk.ordinal): (
                chunk.text,
                build_payload(doc, chunk),
            )
            for chunk in chunker.chunk(doc)
        }
        batch.append(_Doc(doc, points))
        size += len(points)
        if size >= window:
            yield batch, position()
            batch, size = [], 0
    yield batch, position()


def _read_ahead(batches: Iterator[_Batch], reader: ThreadPoolExecutor) -> Iterator[_Batch]:
    """``batches`` computed on ``reader``, up to ``_READ_AHEAD`` ahead of the consumer.

    ``reader`` has one thread, so the iterator is only ever advanced by one call at a time, in
    order. A failure in it is raised here, when its turn comes.
    """
    pending = deque(reader.submit(next, batches, None) for _ in range(_READ_AHEAD))
    while (batch := pending.popleft().result()) is not None:
        pending.append(reader.submit(next, batches, None))
        yield batch


def _embed(
    batch: list[_Doc], numbers: list[str], store: Store, encoder: Encoder, counts: _Counts, bytes_done: int
) -> _Job:
    """The batch's new and changed chunks, embedded, and its stale chunks: the writer's job."""
    stored = store.existing_hashes(sorted(set(numbers)))
    points: list[tuple[str, str, dict[str, Any]]] = []
    stale: list[str] = []
    unchanged = 0
    for entry in batch:
        hashes = {pid: payload["content_hash"] for pid, (_, payload) in entry.points.items()}
        changed, old = chunk_changes(hashes, stored.get(entry.doc.publication_number, {}))
        if not changed and not old:
            unchanged += 1
        points.extend((pid, *entry.points[pid]) for pid in changed)
        stale.extend(old)
        counts.chunks_unchanged += len(entry.points) - len(changed)
    texts = [text for _, text, _ in points]
    vectors = encoder.encode_documents(texts) if texts else np.empty((0, encoder.dim), np.float32)
    check_dense(vectors, dim=encoder.dim, ids=[pid for pid, _, _ in points])
    stored_points = [
        StoredPoint(pid, vector, None, payload)
        for (pid, _, payload), vector in zip(points, vectors, strict=True)
    ]
    counts.documents += len(batch)
    counts.documents_unchanged += unchanged
    counts.documents_written += len(batch) - unchanged
    return _Job(stored_points, texts, stale, len(batch), unchanged, bytes_done)


def chunk_changes(hashes: Mapping[str, str], stored: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """One patent's chunk ids to (re)write, and its stored chunk ids that no longer exist.

    ``hashes`` are the content hashes of its chunks now, ``stored`` those the index holds.
    """
    changed = [pid for pid, digest in hashes.items() if stored.get(pid) != digest]
    return changed, [pid for pid in stored if pid not in hashes]


def _repeated(numbers: list[str], seen: set[str]) -> list[str]:
    """Each number met before (in ``seen``, or earlier in ``numbers``), once per repeat; all join ``seen``."""
    repeated = []
    for number in numbers:
        if number in seen:
            repeated.append(number)
        seen.add(number)
    return repeated


def _dedupe_keep_last(batch: list[_Doc]) -> list[_Doc]:
    last = {entry.doc.publication_number: entry for entry in batch}
    return list(last.values())


class _Writer:
    """BM25 terms, acknowledged writes, then stale deletions, on one thread so writes land in
    order; at most ``_WRITES_IN_FLIGHT`` jobs wait for it. Flushes the store at checkpoints.

    Every method but ``_write`` runs in the caller's thread, which also collects the counts.
    """

    def __init__(self, store: Store, progress: IngestProgress, counts: _Counts) -> None:
        self.store, self.progress, self.counts = store, progress, counts
        self.bm25 = store.bm25
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="patent-rag-writer")
        self.pending: deque[Future[tuple[int, int]]] = deque()
        self.stopped = threading.Event()  # after a failure, the jobs queued behind it are skipped
        self.last_flush = time.monotonic()

    def submit(self, job: _Job) -> None:
        """Hand ``job`` over once fewer than ``_WRITES_IN_FLIGHT`` wait; raise a write's failure."""
        while self.pending and (self.pending[0].done() or len(self.pending) >= _WRITES_IN_FLIGHT):
            self._collect()
        self.pending.append(self.pool.submit(self._write, job))

    def drain(self) -> None:
        """Wait until every job handed over is written; raise a write's failure."""
        while self.pending:
            self._collect()

    def close(self) -> None:
        """Let the write in progress finish (the store may be closed next); drop those queued."""
        self.stopped.set()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _collect(self) -> None:
        written, deleted = self.pending.popleft().result()
        self.counts.chunks_written += written
        self.counts.stale_deleted += deleted

    def _write(self, job: _Job) -> tuple[int, int]:
        if self.stopped.is_set():
            return 0, 0
        try:
            if job.points:
                points = job.points
                if job.texts:  # BM25 terms, unless the points came with them (distributed ingest)
                    sparse = self.bm25.embed_documents(job.texts)
                    points = [replace(p, sparse=s) for p, s in zip(points, sparse, strict=True)]
                self.store.upsert(points)
            if job.stale:  # only after the replacements are stored: see the module docstring
                self.store.delete_points(job.stale)
            self.progress.advance(
                documents=job.documents,
                chunks=len(job.points),
                unchanged=job.unchanged,
                bytes_done=job.bytes_done,
            )
            if time.monotonic() - self.last_flush > _CHECKPOINT_SECONDS:
                self.store.flush()
                self.last_flush = time.monotonic()
        except BaseException:
            self.stopped.set()
            raise
        return len(job.points), len(job.stale)
