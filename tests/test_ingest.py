"""The ingestion pipeline with the real packaged MiniLM encoder, on every backend."""

from __future__ import annotations

import io
import json
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from patent_rag.cli.ingest import run_info, run_ingest
from patent_rag.documents import Claim, PatentDocument
from patent_rag.documents.chunking import Chunker
from patent_rag.documents.parsers import ParseReport
from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.errors import FingerprintMismatchError, IndexOutdatedError, ParseError
from patent_rag.ingest import IngestSummary, ingest, ingest_documents
from patent_rag.stores import Store, StoredPoint, open_store
from patent_rag.stores.base import IndexMetadata
from patent_rag.stores.layout import LAYOUT_VERSION, build_payload, point_id


class CountingEncoder:
    """The real encoder, counting the texts it is asked to embed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.encode_documents(texts)


def _doc(n: int, claims: int = 1, abstract: str | None = None, **fields: Any) -> PatentDocument:
    return PatentDocument(
        publication_number=f"US{7000 + n}B2",
        title=f"Wireless device {n}",
        abstract=abstract or f"A wireless device {n} that adjusts its transmit power.",
        claims=[Claim(number=i + 1, text=f"A device {n} comprising part {i}.") for i in range(claims)],
        priority_date=date(2000 + n, 1, 1),
        cpc=["H04W 52/02"],
        **fields,
    )


DOCS = [_doc(0), _doc(1, claims=2), _doc(2, family_id="FAM2")]


def expected_hashes(docs: list[PatentDocument], chunker: Chunker) -> dict[str, dict[str, str]]:
    return {
        d.publication_number: {
            point_id(d.publication_number, c.section, c.ordinal): build_payload(d, c)["content_hash"]
            for c in chunker.chunk(d)
        }
        for d in docs
    }


BACKENDS = ["edge", "local-memory", "local-path", pytest.param("server", marks=pytest.mark.server)]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    kind = request.param
    if kind == "server" and not os.environ.get("QDRANT_URL"):
        pytest.skip("QDRANT_URL is not set: no Qdrant server to test against")
    location = {
        "edge": str(tmp_path / "index"),
        "local-memory": "qdrant-local::memory:",
        "local-path": f"qdrant-local:{tmp_path / 'local'}",
        "server": f"{os.environ.get('QDRANT_URL')}#pr_test_{uuid.uuid4().hex[:12]}",
    }[kind]
    s = open_store(
        location,
        api_key_env="QDRANT_API_KEY" if kind == "server" and os.environ.get("QDRANT_API_KEY") else None,
    )
    yield s
    if kind == "server" and s.exists():
        s.delete_index()
    s.close()


@pytest.fixture
def encoder(minilm_encoder: Any) -> CountingEncoder:
    return CountingEncoder(minilm_encoder)


def test_reingest_is_idempotent_and_embeds_nothing(store: Store, encoder: CountingEncoder) -> None:
    first = ingest_documents(DOCS, store=store, encoder=encoder)  # type: ignore[arg-type]
    chunker = Chunker.for_encoder(encoder)
    total = sum(len(chunker.chunk(d)) for d in DOCS)
    assert (first.documents, first.documents_written, first.chunks_written) == (3, 3, total)
    assert (first.index.patents, first.index.chunks) == (3, total)  # type: ignore[union-attr]
    embedded = len(encoder.texts)
    second = ingest_documents(DOCS, store=store, encoder=encoder)  # type: ignore[arg-type]
    assert (second.documents_unchanged, second.chunks_written, second.chunks_unchanged) == (3, 0, total)
    assert len(encoder.texts) == embedded  # nothing embedded again
    assert store.existing_hashes([d.publication_number for d in DOCS]) == expected_hashes(DOCS, chunker)


@pytest.mark.parametrize("where", ["edge", "local"])
def test_an_index_from_an_earlier_layout_is_refused_with_how_to_rebuild(
    tmp_path: Path, encoder: CountingEncoder, where: str
) -> None:
    """An index written with an earlier layout (uuid5 point ids, Edge shards without the integer
    filter fields...) is refused on opening with the way to rebuild it; ingesting into it embeds
    nothing."""
    location = str(tmp_path / "old") if where == "edge" else f"qdrant-local:{tmp_path / 'old'}"
    written = IndexMetadata.to_dict
    with pytest.MonkeyPatch.context() as patch:  # metadata as the first layout wrote it
        patch.setattr(IndexMetadata, "to_dict", lambda self: {**written(self), "layout_version": 1})
        old = open_store(location)
        old.create(fingerprint=encoder.fingerprint)
        old.close()
    command = r"`patent-rag ingest FILES --index "
    rebuild = (
        rf"rebuild it: {command}NEW_DIR` into a new folder, or delete \S+ and ingest again"
        if where == "edge"
        else rf"rebuild it: {command}qdrant-local:\S+#NEW_NAME` into a new collection, or delete this one "
        r"and ingest again"
    )
    message = (
        rf"^{re.escape(old.location)} was built by an earlier version of patent_rag \(index layout 1; this "
        rf"version reads layout {LAYOUT_VERSION} only\); {rebuild}$"
    )
    old = open_store(location)
    with pytest.raises(IndexOutdatedError, match=message):
        old.open()
    assert not old.is_open
    with pytest.raises(IndexOutdatedError, match=message):
        ingest_documents(DOCS, store=old, encoder=encoder)  # type: ignore[arg-type]
    assert encoder.texts == []
    old.close()


def test_changed_document_replaces_its_chunks(store: Store, encoder: CountingEncoder) -> None:
    ingest_documents([_doc(0, claims=3), _doc(1)], store=store, encoder=encoder)  # type: ignore[arg-type]
    encoder.texts.clear()
    changed = _doc(0, claims=1, abstract="A wireless device that lowers its transmit power when idle.")
    summary = ingest_documents([changed, _doc(1)], store=store, encoder=encoder)  # type: ignore[arg-type]
    assert (summary.documents_written, summary.documents_unchanged, summary.stale_deleted) == (1, 1, 2)
    # Only the changed abstract is embedded: claim 1 and the other document are stored unchanged.
    assert encoder.texts == [
        c.text for c in Chunker.for_encoder(encoder).chunk(changed) if c.section == "abstract"
    ]
    chunker = Chunker.for_encoder(encoder)
    assert store.existing_hashes(["US7000B2", "US7001B2"]) == expected_hashes([changed, _doc(1)], chunker)


def test_rerun_after_a_crash_between_write_and_stale_delete(store: Store, encoder: CountingEncoder) -> None:
    """The state a crash leaves after a changed document's new chunks are written but before its
    stale ones are deleted: the rerun deletes them and embeds nothing."""
    old, new = _doc(0, claims=3), _doc(0, claims=1, abstract="A new abstract of the wireless device.")
    ingest_documents([old], store=store, encoder=encoder)  # type: ignore[arg-type]
    chunker = Chunker.for_encoder(encoder)
    chunks = chunker.chunk(new)
    vectors = encoder.encode_documents([c.text for c in chunks])
    store.upsert(
        [
            StoredPoint(
                point_id(new.publication_number, c.section, c.ordinal), v, None, build_payload(new, c)
            )
            for c, v in zip(chunks, vectors, strict=True)
        ]
    )
    encoder.texts.clear()
    summary = ingest_documents([new], store=store, encoder=encoder)  # type: ignore[arg-type]
    assert (summary.chunks_written, summary.stale_deleted, encoder.texts) == (0, 2, [])
    assert store.existing_hashes(["US7000B2"]) == expected_hashes([new], chunker)


def test_same_patent_twice_in_one_run_keeps_the_last(store: Store, encoder: CountingEncoder) -> None:
    later = _doc(0, claims=2, abstract="A second, corrected abstract of the wireless device.")
    summary = ingest_documents([_doc(0, claims=4), _doc(1), later], store=store, encoder=encoder, window=1)  # type: ignore[arg-type]
    assert summary.duplicates == 1
    chunker = Chunker.for_encoder(encoder)
    assert store.existing_hashes(["US7000B2"]) == expected_hashes([later], chunker)


def test_fingerprint_mismatch_is_refused_before_anything_is_written(
    store: Store, encoder: CountingEncoder
) -> None:
    other = Fingerprint(**{**encoder.fingerprint.as_dict(), "document_prompt": "passage: "})
    store.create(fingerprint=other)
    with pytest.raises(FingerprintMismatchError, match=r"document_prompt: encoder='' vs index='passage: '"):
        ingest_documents(DOCS, store=store, encoder=encoder)  # type: ignore[arg-type]
    assert encoder.texts == [] and store.describe().chunks == 0


def test_dimension_mismatch_is_refused(store: Store, encoder: CountingEncoder) -> None:
    store.create(fingerprint=Fingerprint(**{**encoder.fingerprint.as_dict(), "dim": 768}))
    with pytest.raises(FingerprintMismatchError, match=r"dim: encoder=384 vs index=768"):
        ingest_documents(DOCS, store=store, encoder=encoder)  # type: ignore[arg-type]
    assert store.describe().chunks == 0


def test_a_failing_input_stops_the_run_and_a_rerun_completes(store: Store, encoder: CountingEncoder) -> None:
    def broken() -> Iterator[PatentDocument]:
        yield from DOCS[:2]
        raise ParseError("disk went away", file="x.xml")

    with pytest.raises(ParseError, match="disk went away"):
        ingest_documents(broken(), store=store, encoder=encoder, window=1)  # type: ignore[arg-type]
    summary = ingest_documents(DOCS, store=store, encoder=encoder)  # type: ignore[arg-type]
    assert summary.index.patents == 3  # type: ignore[union-attr]
    chunker = Chunker.for_encoder(encoder)
    assert store.existing_hashes([d.publication_number for d in DOCS]) == expected_hashes(DOCS, chunker)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def start(self, *, total_bytes: int) -> None:
        self.events.append(("start", total_bytes))

    def advance(self, *, documents: int, chunks: int, unchanged: int, bytes_done: int) -> None:
        self.events.append(("advance", (documents, chunks, unchanged, bytes_done)))

    def stage(self, message: str) -> None:
        self.events.append(("stage", message))

    def finish(self, summary: IngestSummary) -> None:
        self.events.append(("finish", summary))


def test_ingest_files_with_progress_and_report(tmp_path: Path, encoder: CountingEncoder) -> None:
    records = tmp_path / "records.jsonl"
    lines = [d.model_dump_json() for d in DOCS[:2]] + ['{"publication_number": 12', DOCS[2].model_dump_json()]
    records.write_text("\n".join(lines) + "\n")
    recorder = Recorder()
    store = open_store(str(tmp_path / "index"))
    summary = ingest([records], store=store, encoder=encoder, progress=recorder)  # type: ignore[arg-type]
    store.close()
    assert (summary.documents, summary.rejected) == (3, 1)
    kinds = [kind for kind, _ in recorder.events]
    assert kinds[0] == "start" and kinds[-1] == "finish" and "stage" in kinds
    advances = [value for kind, value in recorder.events if kind == "advance"]
    assert sum(a[0] for a in advances) == 3 and sum(a[1] for a in advances) == summary.chunks_written
    assert recorder.events[0][1] == records.stat().st_size == advances[-1][3]


@pytest.mark.parametrize("where", ["memory", "path"])
def test_llama_index_reads_our_collection(tmp_path: Path, minilm_encoder: Any, where: str) -> None:
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    from patent_rag.llama_index.embedding import PatentEmbedding

    location = "qdrant-local::memory:" if where == "memory" else f"qdrant-local:{tmp_path / 'local'}"
    store = open_store(location)
    ingest_documents(DOCS, store=store, encoder=minilm_encoder)
    if where == "memory":
        client = store.client  # type: ignore[attr-defined]
    else:
        store.close()  # local mode: one client per folder
        client = QdrantClient(path=str(tmp_path / "local"))
    vector_store = QdrantVectorStore(client=client, collection_name="patents", dense_vector_name="dense")
    index = VectorStoreIndex.from_vector_store(
        vector_store, embed_model=PatentEmbedding(encoder=minilm_encoder)
    )
    nodes = index.as_retriever(similarity_top_k=3).retrieve("wireless device 2 transmit power")
    assert len(nodes) == 3
    for found in nodes:
        assert found.node.get_content() and found.node.metadata["publication_number"].startswith("US700")
        assert found.node.ref_doc_id == found.node.metadata["publication_number"]
        assert found.node.metadata["section"] in {"abstract", "claim"}
    client.close()


def test_cli_functions(tmp_path: Path, minilm_encoder: Any) -> None:
    records = tmp_path / "records.jsonl"
    records.write_text("\n".join(d.model_dump_json() for d in DOCS) + "\n")
    console = Console(file=io.StringIO(), width=120)
    summary = run_ingest([records], index=str(tmp_path / "index"), console=console, encoder=minilm_encoder)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "ingested: 3 documents" in text and "patents" in text and summary.documents == 3
    out = Console(file=io.StringIO(), width=200)
    info = run_info(str(tmp_path / "index"), console=console, out=out, as_json=True)
    data = json.loads(out.file.getvalue())  # type: ignore[attr-defined]
    assert (data["patents"], data["backend"], data["fingerprint"]["dim"]) == (3, "edge", 384)
    assert info.patents == 3


def test_ingest_refuses_an_oversized_record_and_keeps_the_others(
    tmp_path: Path, encoder: CountingEncoder
) -> None:
    records = tmp_path / "records.jsonl"
    huge = DOCS[1].model_copy(update={"abstract": "word " * 300_000}).model_dump_json()  # about 1.5 MiB
    records.write_text("\n".join([DOCS[0].model_dump_json(), huge, DOCS[2].model_dump_json()]) + "\n")
    store = open_store(str(tmp_path / "index"))
    report = ParseReport()
    summary = ingest([records], store=store, encoder=encoder, report=report, max_document_bytes=1 << 20)  # type: ignore[arg-type]
    store.close()
    assert (summary.documents, summary.rejected) == (2, 1)
    assert "1048576" in report.issues[0].reason or "1 MiB" in report.issues[0].reason
    assert report.issues[0].line == 2
