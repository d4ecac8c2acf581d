"""The worker of a distributed ingest, in this process (no Ray): what it tells the driver, how a
restarted part skips what was written, and its own writes (the path it takes for a Qdrant server,
exercised here on a qdrant-client local folder that only the worker holds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from patent_rag.distributed import EncoderSpec
from patent_rag.distributed.worker import IngestWorker, Manifest, StoreTarget, WorkUnit
from patent_rag.documents.chunking import Chunker
from patent_rag.documents.parsers import DocumentPart
from patent_rag.ingest import chunk_changes
from patent_rag.sample import sample_documents
from patent_rag.stores import open_store
from patent_rag.stores.layout import build_payload, point_id

WINDOW = 8


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = [doc.model_dump_json() for doc in sample_documents()[:12]]
    docs.insert(4, "not json")  # document 4: rejected
    docs.insert(7, docs[1])  # document 7 repeats document 1
    path = tmp_path_factory.mktemp("records") / "records.jsonl"
    path.write_text("\n".join(docs) + "\n")
    return path


def _worker(minilm_encoder: Any, **kwargs: Any) -> IngestWorker:
    spec = EncoderSpec.of(minilm_encoder)
    return IngestWorker(
        encoder=spec, window=WINDOW, format="auto", csv_mapping=None, max_document_bytes=1 << 20, **kwargs
    )


def _all(worker: IngestWorker, unit: WorkUnit, *, skip: int = 0) -> list[Manifest]:
    worker.start(unit, skip=skip)
    manifests = []
    while True:
        manifest = worker.next_batch(unit.id)
        assert manifest is not None
        manifests.append(manifest)
        if manifest.last:
            assert worker.next_batch(unit.id) is None  # asked again past the end
            return manifests


def test_manifests_describe_each_document_with_its_input_position(records: Path, minilm_encoder: Any) -> None:
    worker = _worker(minilm_encoder)
    unit = WorkUnit(id=0, file_index=2, path=str(records), part=None, size=100.0)
    manifests = _all(worker, unit)
    described = [doc for m in manifests for doc in m.documents]
    # Positions are the line index in this file, not the records' own ``source`` (JSONL keeps that).
    lines = records.read_text().splitlines()
    assert all(doc.position[:2] == (2, 0) for doc in described)
    assert all(f'"{doc.number}"' in lines[doc.position[2]] for doc in described)
    chunker = Chunker.for_encoder(minilm_encoder)
    first = sample_documents()[0]
    assert described[0].hashes == {
        point_id(first.publication_number, c.section, c.ordinal): build_payload(first, c)["content_hash"]
        for c in chunker.chunk(first)
    }
    issues = [issue for m in manifests for issue in m.issues]
    assert [(issue.outcome, issue.document) for issue in issues] == [("rejected", 4)]
    # Document 7 repeats document 1: in one batch, only the later copy is described.
    repeat = sample_documents()[1].publication_number
    copies = [doc.position[2] for doc in described if doc.number == repeat]
    repeated = [number for m in manifests for number in m.repeated]
    assert (copies, repeated) in [([1, 7], []), ([7], [repeat])]
    assert [m.seq for m in manifests] == list(range(len(manifests)))


def test_a_restarted_part_skips_the_batches_already_written(records: Path, minilm_encoder: Any) -> None:
    worker = _worker(minilm_encoder)
    part = DocumentPart(index=1, count=2)
    unit = WorkUnit(id=5, file_index=0, path=str(records), part=part, size=50.0)
    whole = _all(worker, unit)
    again = _all(worker, unit, skip=2)
    assert [m.seq for m in again] == [m.seq for m in whole][2:]
    assert [m.documents for m in again] == [m.documents for m in whole][2:]
    assert all(doc.position[2] % 2 == 1 for m in whole for doc in m.documents)


def test_a_worker_that_writes_embeds_only_what_it_is_asked_then_deletes_stale(
    tmp_path: Path, records: Path, minilm_encoder: Any
) -> None:
    location = f"qdrant-local:{tmp_path / 'index'}"
    with open_store(location) as store:
        store.create(fingerprint=minilm_encoder.fingerprint)
    worker = _worker(minilm_encoder, writes_to=StoreTarget(location))
    unit = WorkUnit(id=0, file_index=0, path=str(records), part=None, size=1.0)
    worker.start(unit)
    manifest = worker.next_batch(unit.id)
    assert manifest is not None and manifest.documents
    doc = manifest.documents[0]
    changed, _ = chunk_changes(doc.hashes, {})
    result = worker.embed(unit.id, manifest.seq, changed=changed, stale=[])
    assert (result.points, result.written, result.deleted) == ([], len(changed), 0)
    stale_id = point_id(doc.number, "claim", 99)
    nothing = worker.next_batch(unit.id)
    assert nothing is not None
    result = worker.embed(unit.id, nothing.seq, changed=[], stale=[stale_id])
    assert (result.written, result.deleted) == (0, 1)
    worker.close()
    with open_store(location) as store:
        store.open()
        assert store.existing_hashes([doc.number]) == {doc.number: doc.hashes}


def test_a_worker_without_a_target_returns_the_points_with_their_bm25_terms(
    records: Path, minilm_encoder: Any
) -> None:
    worker = _worker(minilm_encoder)
    unit = WorkUnit(id=0, file_index=0, path=str(records), part=None, size=1.0)
    worker.start(unit)
    manifest = worker.next_batch(unit.id)
    assert manifest is not None
    wanted = sorted(manifest.documents[1].hashes)
    result = worker.embed(unit.id, manifest.seq, changed=wanted, stale=["gone"])
    assert sorted(p.id for p in result.points) == wanted
    assert all(p.sparse is not None and p.sparse.indices for p in result.points)
    assert all(p.dense.shape == (minilm_encoder.dim,) for p in result.points)
    assert (result.written, result.deleted) == (len(wanted), 1)
