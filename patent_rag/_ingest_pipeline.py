"""The three threads behind :func:`patent_rag.ingest.ingest` and how they hand work over.

reader (parse, chunk, payloads) -> bounded queue -> caller's thread (skip unchanged, embed) ->
bounded queue -> writer (BM25 terms, acknowledged upserts, then stale deletions). Queues are
small, so memory stays bounded and a slow stage holds the others back instead of piling work up.
A failure in any stage stops the others and is re-raised in the caller's thread; a write in
progress is always allowed to finish before the caller returns (the store may be closed next).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from patent_rag.documents.chunking import Chunker
from patent_rag.documents.record import PatentDocument
from patent_rag.stores.base import Store, StoredPoint, check_dense
from patent_rag.stores.layout import build_payload, point_id

if TYPE_CHECKING:
    from patent_rag.encoding.encoder import Encoder
    from patent_rag.ingest import IngestProgress

__all__ = ["Counts", "run_pipeline"]

logger = logging.getLogger(__name__)

_DONE = object()
_EXAMPLES = 5  # repeated publication numbers named in the summary


@dataclass
class _Doc:
    doc: PatentDocument
    points: dict[str, tuple[str, dict[str, Any]]]  # id -> (text, payload)


@dataclass
class _Job:
    points: list[StoredPoint]
    texts: list[str]
    stale: list[str]
    documents: int
    unchanged: int
    bytes_done: int


@dataclass
class Counts:
    """What the stages did; each field is written by one thread only (caller or writer)."""

    documents: int = 0
    documents_written: int = 0
    documents_unchanged: int = 0
    chunks_written: int = 0
    chunks_unchanged: int = 0
    stale_deleted: int = 0
    duplicates: int = 0
    duplicate_numbers: list[str] = field(default_factory=list)  # the first few, for the summary


class _Stage(threading.Thread):
    """A daemon thread whose failure is re-raised in the caller."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.error: BaseException | None = None
        self.stop = threading.Event()


def _put(q: queue.Queue[Any], item: Any, stage: _Stage, *, failing: bool = False) -> None:
    """Put into a stage's queue without ever blocking on a stage that stopped (or failed, unless
    the stage itself is reporting its failure)."""
    while True:
        if stage.stop.is_set() or (stage.error is not None and not failing):
            raise _Cancelled
        try:
            q.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


class _Cancelled(Exception):
    pass


def run_pipeline(
    documents: Iterable[PatentDocument],
    *,
    store: Store,
    encoder: Encoder,
    chunker: Chunker,
    window: int,
    progress: IngestProgress,
    position: Callable[[], int],
) -> Counts:
    """Run the three stages over ``documents`` until all are written; return the counts."""
    counts = Counts()
    reader = _Reader(documents, chunker, window, position, id_scheme=store.metadata.id_scheme)
    writer = _Writer(store, progress, counts)
    reader.start()
    writer.start()
    try:
        _embed_loop(reader, writer, store, encoder, counts)
        _put(writer.jobs, _DONE, writer)
        writer.join()
    except _Cancelled:
        pass  # the writer failed: its error is raised below
    except BaseException:
        _shutdown(writer)
        raise
    finally:
        reader.stop.set()
    if writer.error is not None:
        _shutdown(writer)
        raise writer.error
    return counts


class _Reader(_Stage):
    """Parse, chunk and build payloads; hand over windows of documents."""

    def __init__(
        self,
        documents: Iterable[PatentDocument],
        chunker: Chunker,
        window: int,
        position: Callable[[], int],
        *,
        id_scheme: int,
    ) -> None:
        super().__init__("patent-rag-reader")
        self.documents, self.chunker, self.window, self.position = documents, chunker, window, position
        self.id_scheme = id_scheme  # the index's: ids must match those it already holds
        self.batches: queue.Queue[Any] = queue.Queue(maxsize=4)

    def run(self) -> None:
        try:
            batch: list[_Doc] = []
            size = 0
            for doc in self.documents:
                chunks = self.chunker.chunk(doc)
                points = {
                    point_id(doc.publication_number, chunk.section, chunk.ordinal, scheme=self.id_scheme): (
                        chunk.text,
                        build_payload(doc, chunk),
                    )
                    for chunk in chunks
                }
                batch.append(_Doc(doc, points))
                size += len(points)
                if size >= self.window:
                    _put(self.batches, (batch, self.position()), self)
                    batch, size = [], 0
            _put(self.batches, (batch, self.position()), self)
            _put(self.batches, _DONE, self)
        except _Cancelled:
            pass
        except BaseException as error:  # handed to the caller, which re-raises it
            self.error = error
            with contextlib.suppress(_Cancelled):
                _put(self.batches, _DONE, self, failing=True)


def _embed_loop(reader: _Reader, writer: _Writer, store: Store, encoder: Encoder, counts: Counts) -> None:
    seen: set[str] = set()
    while True:
        item = reader.batches.get()
        if writer.error is not None:
            raise _Cancelled
        if item is _DONE:
            if reader.error is not None:
                raise reader.error
            return
        batch, bytes_done = item
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
        stored = store.existing_hashes(sorted(set(numbers)))
        points: list[tuple[str, str, dict[str, Any]]] = []
        stale: list[str] = []
        unchanged = 0
        for entry in batch:
            have = stored.get(entry.doc.publication_number, {})
            changed = [
                (pid, text, payload)
                for pid, (text, payload) in entry.points.items()
                if have.get(pid) != payload["content_hash"]
            ]
            old = [pid for pid in have if pid not in entry.points]
            if not changed and not old:
                unchanged += 1
            points.extend(changed)
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
        _put(writer.jobs, _Job(stored_points, texts, stale, len(batch), unchanged, bytes_done), writer)


def _shutdown(writer: _Writer) -> None:
    # Let the write in progress finish (the store must not be closed under it), skip the rest.
    writer.stop.set()
    deadline = time.monotonic() + 60
    while writer.is_alive() and time.monotonic() < deadline:
        try:
            writer.jobs.put(_DONE, timeout=0.2)
        except queue.Full:
            continue
        writer.join(timeout=60)


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


class _Writer(_Stage):
    """BM25 terms, acknowledged writes, then stale deletions; flushes at checkpoints."""

    checkpoint_seconds = 30.0

    def __init__(self, store: Store, progress: IngestProgress, counts: Counts) -> None:
        super().__init__("patent-rag-writer")
        self.store, self.progress, self.counts = store, progress, counts
        self.jobs: queue.Queue[Any] = queue.Queue(maxsize=3)
        self.bm25 = store.bm25

    def drain(self) -> None:
        self.jobs.join()
        if self.error is not None:
            raise self.error

    def run(self) -> None:
        last_flush = time.monotonic()
        while True:
            job = self.jobs.get()
            try:
                if job is _DONE:
                    return
                if self.error is None and not self.stop.is_set():
                    self._write(job)
                    if time.monotonic() - last_flush > self.checkpoint_seconds:
                        self.store.flush()
                        last_flush = time.monotonic()
            except BaseException as error:
                self.error = error
            finally:
                self.jobs.task_done()

    def _write(self, job: _Job) -> None:
        if job.points:
            sparse = self.bm25.embed_documents(job.texts)
            self.store.upsert(
                [StoredPoint(p.id, p.dense, s, p.payload) for p, s in zip(job.points, sparse, strict=True)]
            )
        if job.stale:  # only after the replacements are stored: see the module docstring
            self.store.delete_points(job.stale)
        self.counts.chunks_written += len(job.points)
        self.counts.stale_deleted += len(job.stale)
        self.progress.advance(
            documents=job.documents,
            chunks=len(job.points),
            unchanged=job.unchanged,
            bytes_done=job.bytes_done,
        )
