"""The driver of a distributed ingest: split the input, run workers on Ray, keep the index exact.

The input files are split into units (parts of files, see
:class:`~patent_rag.documents.parsers.DocumentPart`), and each worker works through one unit at a
time. For every batch a worker describes, the driver looks up what the index already holds, and
asks the worker to embed only the new and changed chunks; it then writes them into an embedded
index (Edge, qdrant-client local mode: one process owns those), or the worker has written them
to the Qdrant server itself. A local ingest's guarantees carry over:

* **the same index**: the same chunker, encoder recipe, payloads and point ids, checked on every
  worker (fingerprint, BM25 tokenizer and patent_rag version) before anything is written;
* **idempotent and resumable**: unchanged chunks are never embedded again, a patent's new chunks
  are written before its stale ones are deleted, and writes are acknowledged, so rerunning after
  the driver was killed leaves each patent once with nothing missing;
* **a repeated patent ends as its later copy** in input order, even when its copies are in parts
  handled by different workers: the driver orders the writes of every repeated number;
* **a worker that dies** (killed, out of memory, node lost) costs only its unfinished batches:
  its unit restarts on a new worker, skipping the batches already written, up to
  ``RayOptions.retries`` times.
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patent_rag.distributed.spec import EncoderSpec, RayOptions
from patent_rag.distributed.worker import (
    EmbedResult,
    IngestWorker,
    Manifest,
    Position,
    StoreTarget,
    WorkerInfo,
    WorkUnit,
)
from patent_rag.documents.parsers import DocumentPart, ParseIssue, ParseReport, check_inputs, parse_files
from patent_rag.documents.parsers._input import is_archive
from patent_rag.documents.parsers.base import DEFAULT_MAX_DOCUMENT_BYTES
from patent_rag.documents.parsers.tabular import CsvMapping
from patent_rag.errors import ConfigurationError, PatentRagError, WorkerError
from patent_rag.ingest import (
    _EXAMPLES,
    IngestProgress,
    IngestSummary,
    NullProgress,
    _Counts,
    _Job,
    _Writer,
    chunk_changes,
)
from patent_rag.stores.base import Store, open_or_create

__all__ = ["WORKER_NAME", "ingest_on_ray"]

logger = logging.getLogger(__name__)

WORKER_NAME = "patent-rag-ingest"  # Ray actor names: WORKER_NAME-RUN-N
_READ_AHEAD = 2  # batches each worker describes ahead of the one it embeds


def ingest_on_ray(
    paths: Sequence[str | os.PathLike[str]],
    *,
    store: Store,
    encoder: EncoderSpec,
    options: RayOptions | None = None,
    window: int = 512,
    progress: IngestProgress | None = None,
    optimize: bool = True,
    report: ParseReport | None = None,
    format: str = "auto",
    csv_mapping: CsvMapping | None = None,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    api_key_env: str | None = None,
) -> IngestSummary:
    """Ingest ``paths`` into ``store`` with workers on a Ray cluster; the result equals :func:`ingest`'s.

    Every node must be able to read the input files and the model at the same paths (a shared
    filesystem), and have patent_rag installed. With a Qdrant server, each worker writes its own
    points (``api_key_env`` names the API key's variable, which must be set on every node); with an
    embedded index, this process writes what the workers return.

    Raises:
        ConfigurationError: Ray is not installed, or the options ask for more than the cluster has.
        WorkerError: a worker could not start, disagrees with the others, or died too often.
        ParseError, StoreError, FingerprintMismatchError: as :func:`ingest`.

    Example:
        >>> spec = EncoderSpec(model="patembed-small", model_path="/shared/models/patembed-small")
        >>> store = open_store("http://qdrant:6333")
        >>> ingest_on_ray(["ipg240102.zip"], store=store, encoder=spec)  # doctest: +SKIP
    """
    options = options or RayOptions()
    files = check_inputs(paths, format=format, max_document_bytes=max_document_bytes)
    # Format detection and the CSV-mapping check, before a cluster is started (reads no documents).
    parse_files(files, format=format, csv_mapping=csv_mapping, max_document_bytes=max_document_bytes)
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=options.address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    writes_to = StoreTarget(store.location, api_key_env) if store.backend == "qdrant-server" else None
    cluster = _Cluster(ray, options)
    try:
        units = _units(files, cluster.workers_wanted(), options.parts_per_file)
        workers = cluster.start(
            min(len(units), cluster.workers_wanted()),
            encoder=encoder,
            window=window,
            format=format,
            csv_mapping=csv_mapping,
            max_document_bytes=max_document_bytes,
            writes_to=writes_to,
        )
        fingerprint = workers.agreed_fingerprint(store)
        open_or_create(store, fingerprint=fingerprint)
        run = _Run(
            ray,
            store,
            workers,
            units,
            progress or NullProgress(),
            report or ParseReport(),
            retries=options.retries,
            workers_write=writes_to is not None,
        )
        return run.run(optimize=optimize)
    finally:
        cluster.stop()
        if started_here:
            ray.shutdown()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigurationError(
            "distributed ingestion needs Ray: pip install 'patent-rag[ray]' (on the driver and every node)"
        ) from None
    return ray


def _units(files: Sequence[Path], workers: int, parts_per_file: int | None) -> list[WorkUnit]:
    """Each file in ``parts_per_file`` parts (zip archives whole), by default two units per worker."""
    parts = parts_per_file or max(1, math.ceil(2 * workers / len(files)))
    units: list[WorkUnit] = []
    for index, path in enumerate(files):
        count = 1 if is_archive(path) else parts
        size = os.path.getsize(path)
        for k in range(count):
            part = DocumentPart(index=k, count=count) if count > 1 else None
            units.append(WorkUnit(len(units), index, str(path), part, size / count))
    return units


class _Cluster:
    """The Ray workers of one run: sized from the cluster, started together, stopped together."""

    def __init__(self, ray: Any, options: RayOptions) -> None:
        self.ray, self.options = ray, options
        self.run = uuid.uuid4().hex[:8]
        self.actors: list[Any] = []
        resources = ray.cluster_resources()
        self.cpus, self.gpus = float(resources.get("CPU", 0)), float(resources.get("GPU", 0))
        wanted = options.gpus_per_worker
        self.gpus_per_worker = wanted if wanted is not None else (1.0 if self.gpus >= 1 else 0.0)

    def workers_wanted(self) -> int:
        if self.options.workers is not None:
            workers = self.options.workers
        elif self.gpus_per_worker > 0:
            workers = int(self.gpus // self.gpus_per_worker)
        else:
            workers = int(self.cpus // self.options.cpus_per_worker)
        cpus, gpus = workers * self.options.cpus_per_worker, workers * self.gpus_per_worker
        if workers < 1 or cpus > self.cpus or gpus > self.gpus:
            raise ConfigurationError(
                f"{max(workers, 1)} worker(s) of {self.options.cpus_per_worker:g} CPU and "
                f"{self.gpus_per_worker:g} GPU need more than the Ray cluster has "
                f"({self.cpus:g} CPUs, {self.gpus:g} GPUs); ask for fewer "
                "workers or less per worker, or add nodes"
            )
        return workers

    def start(self, count: int, **settings: Any) -> _Workers:
        remote = self.ray.remote(
            num_cpus=self.options.cpus_per_worker,
            num_gpus=self.gpus_per_worker,
            concurrency_groups={"read": 1},  # cutting batches runs beside embedding, in order
            max_restarts=0,
        )(IngestWorker)
        workers = _Workers(self.ray, lambda: self._spawn(remote, settings))
        workers.add(count)
        return workers

    def _spawn(self, remote: Any, settings: dict[str, Any]) -> Any:
        # Named, so `ray list actors` (and a test) can tell this run's workers apart.
        name = f"{WORKER_NAME}-{self.run}-{len(self.actors)}"
        actor = remote.options(name=name).remote(**settings)
        self.actors.append(actor)
        return actor

    def stop(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)
        self.actors.clear()


class _Workers:
    """The live workers, each checked against the first one when it starts."""

    def __init__(self, ray: Any, spawn: Any) -> None:
        self.ray, self.spawn = ray, spawn
        self.idle: deque[Any] = deque()
        self.reference: WorkerInfo | None = None

    def add(self, count: int) -> None:
        actors = [self.spawn() for _ in range(count)]
        for actor in actors:
            info = self._describe(actor)
            self._check(info)
            self.idle.append(actor)

    def _describe(self, actor: Any) -> WorkerInfo:
        try:
            info: WorkerInfo = self.ray.get(actor.describe.remote())
        except self.ray.exceptions.RayError as error:
            cause = getattr(error, "cause", None)
            if isinstance(cause, PatentRagError):
                raise cause from None
            # A failed __init__ comes back as text only: its last line is the original error.
            raise WorkerError(f"a Ray worker could not start: {_last_line(error)}") from None
        return info

    def _check(self, info: WorkerInfo) -> None:
        if self.reference is None:
            self.reference = info
            logger.info("worker on %s (pid %d): %s, %s", info.host, info.pid, info.device, info.precision)
            return
        reference = self.reference
        if info.version != reference.version:
            problem = f"patent_rag {info.version}, the first worker {reference.version}"
        elif info.bm25 != reference.bm25:
            mine, theirs = info.bm25.get("tokenizer"), reference.bm25.get("tokenizer")
            problem = f"BM25 tokenizer {mine}, the first worker {theirs}"
        elif differences := info.fingerprint.differences(reference.fingerprint):
            problem = (
                "a different encoder ("
                + ", ".join(f"{name} {mine!r} vs {theirs!r}" for name, (mine, theirs) in differences.items())
                + ")"
            )
        else:
            return
        raise WorkerError(
            f"the worker on {info.host} (pid {info.pid}) has {problem}; install the same patent_rag, "
            "qdrant-edge-py and model files on every node"
        )

    def agreed_fingerprint(self, store: Store) -> Any:
        """The workers' encoder fingerprint, after checking their BM25 tokenizer against this process's."""
        reference = self.reference
        if reference is None:
            raise WorkerError("no Ray worker started")
        if reference.bm25 != store.bm25.config:
            raise WorkerError(
                f"the workers tokenize BM25 with {reference.bm25.get('tokenizer')}, this process with "
                f"{store.bm25.config.get('tokenizer')}; install the same qdrant-edge-py everywhere"
            )
        return reference.fingerprint

    def replace(self) -> Any:
        """A new worker for one that died (checked like the others)."""
        actor = self.spawn()
        self._check(self._describe(actor))
        return actor


@dataclass
class _UnitState:
    unit: WorkUnit
    attempts: int = 0
    last: int | None = None  # seq of the unit's last manifest, once received
    completed: set[int] = field(default_factory=set)
    issues: dict[int, tuple[ParseIssue, ...]] = field(default_factory=dict)
    read: dict[int, int] = field(default_factory=dict)

    def done(self) -> bool:
        return self.last is not None and len(self.completed) == self.last + 1

    def skip(self) -> int:
        """Batches from the start that are written: a restarted unit does not return them again."""
        seq = 0
        while seq in self.completed:
            seq += 1
        return seq


@dataclass
class _Slot:
    """A worker busy with one unit."""

    actor: Any
    unit: _UnitState
    describing: int = 0  # next_batch calls in flight
    finished: bool = False


@dataclass
class _Batch:
    """A batch handed to a worker to embed: what the driver decided, applied once it is written."""

    slot: _Slot
    manifest: Manifest
    changed: list[str]
    stale: list[str]
    documents: int
    unchanged: int
    chunks_unchanged: int
    repeated: list[str]


@dataclass
class _Copy:
    position: Position
    batch: tuple[int, int]  # (unit, seq) that writes it


class _Run:
    """One distributed ingest's event loop; everything here runs in the driver's thread."""

    def __init__(
        self,
        ray: Any,
        store: Store,
        workers: _Workers,
        units: list[WorkUnit],
        progress: IngestProgress,
        report: ParseReport,
        *,
        retries: int,
        workers_write: bool,
    ) -> None:
        self.ray, self.store, self.workers, self.retries = ray, store, workers, retries
        self.progress, self.report = progress, report
        self.units = {unit.id: _UnitState(unit) for unit in units}
        self.queue: deque[_UnitState] = deque(self.units.values())
        self.refs: dict[
            Any, tuple[str, Any]
        ] = {}  # ObjectRef -> ("start"|"manifest", slot) | ("embed", batch)
        self.counts = _Counts()
        self.copies: dict[str, _Copy] = {}  # the latest-positioned copy of every patent met
        self.waiting: list[tuple[_Slot, Manifest]] = []  # batches whose repeated patents wait for a write
        self.bytes_done = 0.0
        # Workers write to a server themselves; an embedded index is written here, by one writer.
        self.writer = None if workers_write else _Writer(store, progress, self.counts)

    def run(self, *, optimize: bool) -> IngestSummary:
        started = time.perf_counter()
        self.progress.start(total_bytes=int(sum(state.unit.size for state in self.units.values())))
        try:
            while self.queue or self.refs or self.waiting:
                self._assign()
                if not self.refs:
                    raise WorkerError("ingest stalled: batches wait for writes that no worker is doing")
                ready, _ = self.ray.wait(list(self.refs), num_returns=1)
                for ref in ready:
                    self._handle(ref)
            if self.writer is not None:
                self.writer.drain()
        finally:
            if self.writer is not None:
                self.writer.close()
        self.store.flush()
        if optimize:
            self.store.optimize(progress=self.progress.stage)
        return self._summary(time.perf_counter() - started)

    # -- scheduling ----------------------------------------------------------------------------
    def _assign(self) -> None:
        while self.queue and self.workers.idle:
            state = self.queue.popleft()
            slot = _Slot(self.workers.idle.popleft(), state)
            started = slot.actor.start.options(concurrency_group="read").remote(state.unit, skip=state.skip())
            self.refs[started] = ("start", slot)  # only its failure matters (the server cannot be opened...)
            self._describe(slot)

    def _describe(self, slot: _Slot) -> None:
        ref = slot.actor.next_batch.options(concurrency_group="read").remote(slot.unit.unit.id)
        self.refs[ref] = ("manifest", slot)
        slot.describing += 1

    def _handle(self, ref: Any) -> None:
        kind, item = self.refs.pop(ref)
        slot: _Slot = item.slot if kind == "embed" else item
        try:
            value = self.ray.get(ref)
        except self.ray.exceptions.RayActorError as error:
            self._lost(slot, error)
            return
        except self.ray.exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None)
            if isinstance(cause, PatentRagError):
                raise cause from None
            raise
        if kind == "manifest":
            self._described(slot, value)
        elif kind == "embed":
            self._written(item, value)

    def _described(self, slot: _Slot, manifest: Manifest | None) -> None:
        slot.describing -= 1
        state = slot.unit
        if manifest is None:  # asked for past the unit's end
            self._maybe_done(slot)
            return
        state.issues[manifest.seq] = manifest.issues
        state.read[manifest.seq] = manifest.read
        if manifest.last:
            state.last = manifest.seq
            state.completed.add(manifest.seq)
            self._maybe_done(slot)
            return
        if state.last is None and slot.describing < _READ_AHEAD:
            self._describe(slot)
        self._plan(slot, manifest)

    def _plan(self, slot: _Slot, manifest: Manifest) -> None:
        """Decide what the batch writes, or park it while an earlier copy of one of its patents is written."""
        state = slot.unit
        if manifest.seq in state.completed:  # written before its worker died: release it, count nothing
            self._embed(_Batch(slot, manifest, [], [], 0, 0, 0, []))
            return
        keep, repeated, waits = [], list(manifest.repeated), False
        for doc in manifest.documents:
            copy = self.copies.get(doc.number)
            if copy is not None and copy.position != doc.position:  # the same patent again
                repeated.append(doc.number)
                if copy.position > doc.position:
                    continue  # its later copy is (being) written: this one is dropped
                unit, seq = copy.batch
                waits = waits or seq not in self.units[unit].completed
            keep.append(doc)
        if waits:  # the earlier copy's write must land first, as a local ingest orders them
            self.waiting.append((slot, manifest))
            return
        for doc in keep:
            self.copies[doc.number] = _Copy(doc.position, (state.unit.id, manifest.seq))
        if self.writer is not None and len(repeated) > len(manifest.repeated):
            self.writer.drain()  # the earlier copies are written before the stored state is read
        stored = self.store.existing_hashes(sorted({doc.number for doc in keep})) if keep else {}
        changed: list[str] = []
        stale: list[str] = []
        unchanged = chunks_unchanged = 0
        for doc in keep:
            new, old = chunk_changes(doc.hashes, stored.get(doc.number, {}))
            unchanged += not new and not old
            chunks_unchanged += len(doc.hashes) - len(new)
            changed.extend(new)
            stale.extend(old)
        self._embed(_Batch(slot, manifest, changed, stale, len(keep), unchanged, chunks_unchanged, repeated))

    def _embed(self, batch: _Batch) -> None:
        ref = batch.slot.actor.embed.remote(
            batch.slot.unit.unit.id, batch.manifest.seq, changed=batch.changed, stale=batch.stale
        )
        self.refs[ref] = ("embed", batch)

    def _written(self, batch: _Batch, result: EmbedResult) -> None:
        state = batch.slot.unit
        manifest = batch.manifest
        if manifest.seq in state.completed:
            return
        if self.writer is not None:
            job = _Job(result.points, [], batch.stale, batch.documents, batch.unchanged, int(self.bytes_done))
            self.writer.submit(job)
        else:
            self.counts.chunks_written += result.written
            self.counts.stale_deleted += result.deleted
            self.progress.advance(
                documents=batch.documents,
                chunks=result.written,
                unchanged=batch.unchanged,
                bytes_done=int(self.bytes_done),
            )
        self.counts.documents += batch.documents
        self.counts.documents_unchanged += batch.unchanged
        self.counts.documents_written += batch.documents - batch.unchanged
        self.counts.chunks_unchanged += batch.chunks_unchanged
        self.counts.duplicates += len(batch.repeated)
        for number in batch.repeated:
            self.report.duplicates[number] += 1
            if len(self.counts.duplicate_numbers) < _EXAMPLES and number not in self.counts.duplicate_numbers:
                self.counts.duplicate_numbers.append(number)
        state.completed.add(manifest.seq)
        self._maybe_done(batch.slot)
        self._retry_waiting()

    def _retry_waiting(self) -> None:
        waiting, self.waiting = self.waiting, []
        for slot, manifest in waiting:
            self._plan(slot, manifest)

    def _maybe_done(self, slot: _Slot) -> None:
        if slot.unit.done() and slot.describing == 0 and not slot.finished:
            slot.finished = True
            self.bytes_done += slot.unit.unit.size
            self.workers.idle.append(slot.actor)

    # -- failures ------------------------------------------------------------------------------
    def _lost(self, slot: _Slot, error: BaseException) -> None:
        """A worker died: forget its work in flight and restart its unit on a new worker."""
        for ref, (kind, item) in list(self.refs.items()):
            if (item.slot if kind == "embed" else item) is slot:
                del self.refs[ref]
        self.waiting = [(s, m) for s, m in self.waiting if s is not slot]
        state = slot.unit
        state.attempts += 1
        logger.warning(
            "a worker died while working on %s (%s); restarting it", state.unit, _first_line(error)
        )
        if state.attempts > self.retries:
            raise WorkerError(
                f"{state.unit}: its worker died {state.attempts} times (last: {_first_line(error)}); "
                "check the workers' memory and logs (`ray logs`), then run the same command again"
            )
        state.last = None
        self.queue.appendleft(state)
        self.workers.idle.append(self.workers.replace())

    # -- summary -------------------------------------------------------------------------------
    def _summary(self, seconds: float) -> IngestSummary:
        issues = _merge_issues(self.units.values())
        self.report.issues.extend(issues)
        self.report.read += sum(sum(state.read.values()) for state in self.units.values())
        summary = IngestSummary(
            documents=self.counts.documents,
            documents_written=self.counts.documents_written,
            documents_unchanged=self.counts.documents_unchanged,
            chunks_written=self.counts.chunks_written,
            chunks_unchanged=self.counts.chunks_unchanged,
            stale_deleted=self.counts.stale_deleted,
            rejected=sum(1 for issue in issues if issue.outcome == "rejected"),
            skipped=sum(1 for issue in issues if issue.outcome == "skipped"),
            duplicates=self.counts.duplicates,
            duplicate_numbers=tuple(self.counts.duplicate_numbers),
            seconds=seconds,
            index=self.store.describe(),
            issues=tuple(f"{issue.outcome}: {issue}" for issue in issues),
        )
        self.progress.finish(summary)
        return summary


def _merge_issues(states: Any) -> list[ParseIssue]:
    """Every unit's parse issues in input order, each once (a file-wide problem is met by every part)."""
    by_file: dict[int, list[ParseIssue]] = {}
    for state in sorted(states, key=lambda s: s.unit.id):
        issues = by_file.setdefault(state.unit.file_index, [])
        for seq in sorted(state.issues):
            issues.extend(issue for issue in state.issues[seq] if issue not in issues)
    merged = []
    for index in sorted(by_file):
        merged.extend(
            sorted(by_file[index], key=lambda issue: -1 if issue.document is None else issue.document)
        )
    return merged


def _last_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[-1].strip() if text else type(error).__name__


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
