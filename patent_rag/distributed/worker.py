"""One worker's side of a distributed ingest: parse, chunk, embed and, for a server, write.

:class:`IngestWorker` is a plain class; the driver runs it as a Ray actor (one per worker, one
model load each). It works on one part of one input file at a time, in two steps per batch of
about ``window`` chunks, so that only what changed is embedded:

1. ``next_batch`` parses and chunks the next documents and returns a :class:`Manifest`: each
   patent's number, input position and chunk content hashes (small), plus the parse issues met;
   the chunks themselves stay in the worker;
2. the driver compares the hashes with the index and calls ``embed`` with the chunks to write and
   the stale ones to delete. The worker embeds them and computes their BM25 terms; it writes them
   itself to a Qdrant server (acknowledged, in parallel with the other workers), or returns the
   points for the driver to write into an embedded index, which one process owns.

Batches come out exactly as a local ingest cuts them (the same chunker, window and payloads), and
the same input always gives the same batches, so a part restarted after its worker died can skip
the batches already written.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import patent_rag
from patent_rag.distributed.spec import EncoderSpec
from patent_rag.documents.chunking import Chunker
from patent_rag.documents.parsers import DocumentPart, ParseIssue, ParseReport, parse_files
from patent_rag.documents.parsers.tabular import CsvMapping
from patent_rag.documents.record import PatentDocument
from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.ingest import _batches, _Doc
from patent_rag.stores import Store, StoredPoint, open_store
from patent_rag.stores.base import check_dense
from patent_rag.stores.sparse import Bm25Encoder

__all__ = [
    "DocumentManifest",
    "EmbedResult",
    "IngestWorker",
    "Manifest",
    "StoreTarget",
    "WorkUnit",
    "WorkerInfo",
]

Position = tuple[int, int, int]  # input file, zip member (in reading order), document in it


@dataclass(frozen=True)
class WorkUnit:
    """One part of one input file (``part`` None: the whole file)."""

    id: int
    file_index: int
    path: str
    part: DocumentPart | None
    size: float  # the input bytes this unit stands for, for progress

    def __str__(self) -> str:
        return (
            self.path
            if self.part is None
            else f"{self.path} (part {self.part.index + 1} of {self.part.count})"
        )


@dataclass(frozen=True)
class StoreTarget:
    """An index the workers write to themselves (a Qdrant server collection): an ``open_store``
    location. The API key stays in the ``api_key_env`` variable on each node."""

    location: str
    api_key_env: str | None = None


@dataclass(frozen=True)
class WorkerInfo:
    """What a started worker reports, for the driver to check that all workers agree."""

    host: str
    pid: int
    device: str
    precision: str
    fingerprint: Fingerprint
    bm25: dict[str, Any]
    version: str


@dataclass(frozen=True)
class DocumentManifest:
    number: str
    position: Position
    hashes: dict[str, str]  # point id -> content hash


@dataclass(frozen=True)
class Manifest:
    """A batch parsed and chunked in the worker, described for the driver; ``last`` ends the unit."""

    unit: int
    seq: int
    documents: tuple[DocumentManifest, ...]
    issues: tuple[ParseIssue, ...]
    read: int  # documents the parser yielded since the previous manifest
    repeated: tuple[str, ...]  # numbers met twice within the batch (the later copy is kept)
    last: bool = False


@dataclass(frozen=True)
class EmbedResult:
    points: list[StoredPoint]  # for the driver to write; empty when the worker wrote them
    written: int
    deleted: int


@dataclass
class _Unit:
    unit: WorkUnit
    batches: Iterator[tuple[list[_Doc], int]]
    report: ParseReport
    skip: int
    seq: int = 0
    issues_seen: int = 0
    read_seen: int = 0
    members: dict[str, int] = field(default_factory=dict)  # stream name -> order met
    positions: dict[int, Position] = field(default_factory=dict)  # id(document) -> position, until described


class IngestWorker:
    """Parses, chunks and embeds the parts of the input it is given (see the module docstring)."""

    def __init__(
        self,
        *,
        encoder: EncoderSpec,
        window: int,
        format: str,
        csv_mapping: CsvMapping | None,
        max_document_bytes: int,
        writes_to: StoreTarget | None = None,
    ) -> None:
        self._encoder = encoder.load()
        self._chunker = Chunker.for_encoder(self._encoder)
        self._bm25 = Bm25Encoder()
        self._window = window
        self._parse = {"format": format, "csv_mapping": csv_mapping, "max_document_bytes": max_document_bytes}
        self._target = writes_to
        self._store: Store | None = None
        self._units: dict[int, _Unit] = {}
        self._held: dict[tuple[int, int], list[_Doc]] = {}  # batches described, not yet embedded

    def describe(self) -> WorkerInfo:
        return WorkerInfo(
            host=socket.gethostname(),
            pid=os.getpid(),
            device=self._encoder.device,
            precision=self._encoder.precision,
            fingerprint=self._encoder.fingerprint,
            bm25=self._bm25.config,
            version=patent_rag.__version__,
        )

    def start(self, unit: WorkUnit, *, skip: int = 0) -> None:
        """Begin ``unit``; its first ``skip`` batches (already written) are cut but not returned."""
        if self._target is not None and self._store is None:
            # Every writer of one load joins its deferred indexing; the driver's optimize() ends it.
            store = open_store(self._target.location, api_key_env=self._target.api_key_env, bulk_load=True)
            store.open(fingerprint=self._encoder.fingerprint)
            self._store = store
        report = ParseReport()
        documents = parse_files([unit.path], part=unit.part, report=report, **self._parse)  # type: ignore[arg-type]
        state = _Unit(unit, iter(()), report, skip)
        state.batches = _batches(self._located(state, documents), self._chunker, self._window, lambda: 0)
        self._units[unit.id] = state

    def next_batch(self, unit_id: int) -> Manifest | None:
        """The next batch of the unit, described; a ``last`` manifest (with no documents) at its end,
        and None when asked again after it."""
        state = self._units.get(unit_id)
        if state is None:
            return None
        while True:
            batch = next(state.batches, None)
            seq = state.seq
            state.seq += 1
            issues = tuple(state.report.issues[state.issues_seen :])
            read = state.report.read - state.read_seen
            state.issues_seen, state.read_seen = len(state.report.issues), state.report.read
            if batch is None:
                del self._units[unit_id]
                return Manifest(unit_id, seq, (), issues, read, (), last=True)
            if seq < state.skip:
                continue
            positions = {id(entry.doc): state.positions.pop(id(entry.doc)) for entry in batch[0]}
            docs, repeated = _keep_last(batch[0])
            self._held[unit_id, seq] = docs
            described = tuple(
                DocumentManifest(
                    entry.doc.publication_number,
                    positions[id(entry.doc)],
                    {pid: payload["content_hash"] for pid, (_, payload) in entry.points.items()},
                )
                for entry in docs
            )
            return Manifest(unit_id, seq, described, issues, read, repeated)

    def embed(self, unit_id: int, seq: int, *, changed: list[str], stale: list[str]) -> EmbedResult:
        """Embed the ``changed`` chunks of a batch; write them (and delete ``stale``) on a server."""
        docs = self._held.pop((unit_id, seq))
        wanted = set(changed)
        chosen = [
            (pid, text, payload)
            for doc in docs
            for pid, (text, payload) in doc.points.items()
            if pid in wanted
        ]
        texts = [text for _, text, _ in chosen]
        if texts:
            vectors = self._encoder.encode_documents(texts)
        else:
            vectors = np.empty((0, self._encoder.dim), np.float32)
        check_dense(vectors, dim=self._encoder.dim, ids=[pid for pid, _, _ in chosen])
        sparse = self._bm25.embed_documents(texts)
        points = [
            StoredPoint(pid, vector, terms, payload)
            for (pid, _, payload), vector, terms in zip(chosen, vectors, sparse, strict=True)
        ]
        if self._store is None:
            return EmbedResult(points, len(points), len(stale))
        self._store.upsert(points)
        if stale:  # only after their replacements are stored, as in a local ingest
            self._store.delete_points(stale)
        return EmbedResult([], len(points), len(stale))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    @staticmethod
    def _located(state: _Unit, documents: Iterator[PatentDocument]) -> Iterator[PatentDocument]:
        """``documents``, noting the input position of each (by identity) as the parser yields it."""
        for doc in documents:
            stream, index = state.report.position or ("", 0)
            member = state.members.setdefault(stream, len(state.members))
            state.positions[id(doc)] = (state.unit.file_index, member, index)
            yield doc


def _keep_last(batch: list[_Doc]) -> tuple[list[_Doc], tuple[str, ...]]:
    """The batch with each patent once (its later copy), and the numbers that repeated."""
    last: dict[str, _Doc] = {}
    repeated = []
    for entry in batch:
        number = entry.doc.publication_number
        if number in last:
            repeated.append(number)
        last[number] = entry
    return list(last.values()), tuple(repeated)
