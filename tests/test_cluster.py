"""Qdrant server collections: cluster settings and their sizing, the create call, bulk loads, the CLI.

There is no Qdrant server here, so most tests run the store against :class:`FakeServer`: points live
in a real qdrant-client local-mode client, and the collection settings a server would keep
(shards, replicas, storage, the optimizer's ``indexing_threshold`` and HNSW ``m``) are recorded
from the ``create_collection``/``update_collection`` calls the store sends and reported back by
``get_collection``. What these tests check is the arguments the store sends and what it does with
what the server reports, not Qdrant itself: the tests marked ``server`` at the end do that when
``QDRANT_URL`` is set (a 3-node cluster: ``deploy/qdrant-cluster/compose.yaml``).
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import statistics
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as m
from rich.console import Console
from typer.testing import CliRunner

import patent_rag.cli.commands  # registers the commands
import patent_rag.cli.ingest
import patent_rag.stores._bulk_load as bulk
import patent_rag.stores.qdrant
from patent_rag.cli import app
from patent_rag.cli.ingest import run_ingest
from patent_rag.documents import PatentDocument
from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.errors import ConfigurationError
from patent_rag.stores import ClusterSettings, StoredPoint, open_store
from patent_rag.stores.cluster import (
    PROFILES,
    RAM_BUDGET,
    SHARD_POINTS,
    profile_for,
    size_cluster,
)
from patent_rag.stores.layout import DENSE_VECTOR, SPARSE_VECTOR
from patent_rag.stores.qdrant import UPSERT_BATCH, QdrantStore

FP = Fingerprint(
    model_id="test/tiny",
    revision="r1",
    pooling="mean",
    dim=8,
    normalize=True,
    document_prompt="doc: ",
    max_seq_length=512,
)
URL = "http://qdrant.test:6333"
SERVER_THRESHOLD, SERVER_M = 10_000, 24  # the fake server's own values: not Qdrant's defaults


# -- sizing ----------------------------------------------------------------------------------
def test_the_full_uspto_corpus_on_three_nodes() -> None:
    """8M grants of patembed-small (384-d, 512 tokens) on 3 nodes: 304M chunks, 12 shards (a multiple
    of 3, 4 per node because 2 per node would exceed SHARD_POINTS), 2 replicas, vectors on disk with
    int8 in RAM and payload on disk; 512 GiB nodes hold it, 256 GiB nodes need 6 of them."""
    big = size_cluster(patents=8_000_000, nodes=3, dim=384, ram_per_node_gib=512)
    assert big.chunks == 304_000_000
    s = big.settings
    assert s.shard_number == 12 and s.shard_number % 3 == 0
    assert SHARD_POINTS < 304_000_000 / (3 * 2)  # so more than 2 per node, and 4 at most
    assert (s.replication_factor, s.write_consistency_factor) == (2, 1)
    assert (s.on_disk, s.quantization, s.on_disk_payload) == (True, "int8", True)
    assert big.fits and 250 < big.ram_needed_gib < 512 * RAM_BUDGET
    small_nodes = size_cluster(patents=8_000_000, nodes=3, dim=384, ram_per_node_gib=256)
    assert not small_nodes.fits and small_nodes.min_nodes == 6
    assert "fits: no; needs 6 nodes of 256 GiB" in small_nodes.summary()
    assert size_cluster(patents=8_000_000, nodes=6, dim=384, ram_per_node_gib=256).fits


@pytest.mark.parametrize(
    ("patents", "on_disk", "payload_on_disk", "quantization"),
    [
        (100_000, False, False, "none"),  # 3.8M chunks: 36 GiB with payload, within 38.4 GiB
        (200_000, False, True, "none"),  # payload would not fit: on disk, vectors stay in RAM
        (1_000_000, True, True, "int8"),  # vectors do not fit either: on disk, int8 in RAM
    ],
)
def test_storage_moves_to_disk_step_by_step_as_the_corpus_outgrows_ram(
    patents: int, on_disk: bool, payload_on_disk: bool, quantization: str
) -> None:
    s = size_cluster(patents=patents, nodes=1, dim=384, ram_per_node_gib=64).settings
    assert (s.on_disk, s.on_disk_payload, s.quantization) == (on_disk, payload_on_disk, quantization)


@pytest.mark.parametrize("nodes", range(1, 9))
@pytest.mark.parametrize("patents", [1_000, 8_000_000])
def test_shards_are_a_multiple_of_the_nodes_two_to_four_each(nodes: int, patents: int) -> None:
    s = size_cluster(patents=patents, nodes=nodes, dim=384, ram_per_node_gib=1024).settings
    assert s.shard_number is not None and s.shard_number % nodes == 0
    assert 2 <= s.shard_number // nodes <= 4
    assert s.replication_factor == (1 if nodes == 1 else 2)


def test_chunks_can_be_given_instead_of_patents_and_the_model_length_picks_the_profile() -> None:
    assert size_cluster(chunks=1_000, dim=8).chunks == 1_000
    assert profile_for(256).chunks_per_patent == 68.5 and profile_for(512).chunks_per_patent == 38.0
    assert profile_for(4096) is profile_for(512) and profile_for(384) is profile_for(512)
    assert size_cluster(patents=1_000, dim=384, max_seq_length=256).chunks == 68_500


def test_the_corpus_profiles_match_the_packaged_sample(minilm_encoder: Any) -> None:
    """The measured figures of PROFILES, measured again: chunks per patent, payload bytes, indexed
    values and BM25 terms per chunk of the 75 packaged grants (full text), at both budgets."""
    from patent_rag.documents.chunking import Chunker
    from patent_rag.sample import sample_documents
    from patent_rag.stores.layout import INDEXED_FIELDS, build_payload
    from patent_rag.stores.sparse import Bm25Encoder

    docs = sample_documents(full=True)
    bm25 = Bm25Encoder()
    for profile, budget in zip(PROFILES, (minilm_encoder.document_token_budget, 510), strict=True):
        chunker = Chunker(count_tokens=minilm_encoder.count_tokens, max_tokens=budget)
        pairs = [(doc, chunk) for doc in docs for chunk in chunker.chunk(doc)]
        payloads = [build_payload(doc, chunk) for doc, chunk in pairs]
        values = [
            sum(len(v) if isinstance(v, list) else 1 for k in INDEXED_FIELDS if (v := p.get(k)) is not None)
            for p in payloads
        ]
        terms = [len(t.indices) for t in bm25.embed_documents([chunk.text for _, chunk in pairs])]
        assert len(pairs) / len(docs) == pytest.approx(profile.chunks_per_patent, abs=0.05)
        assert statistics.mean(len(json.dumps(p, default=str).encode()) for p in payloads) == pytest.approx(
            profile.payload_bytes, abs=1
        )
        assert statistics.mean(values) == pytest.approx(profile.indexed_values, abs=0.05)
        assert statistics.mean(terms) == pytest.approx(profile.bm25_terms, abs=0.05)


# -- settings: validation and resolution -----------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"shard_number": 0}, r"^shard_number must be a whole number of at least 1, got 0$"),
        (
            {"replication_factor": True},
            r"^replication_factor must be a whole number of at least 1, got True$",
        ),
        ({"nodes": 2.5}, r"^nodes must be a whole number of at least 1, got 2\.5$"),
        ({"quantization": "binary"}, r"^quantization must be one of none, int8, got 'binary'$"),
        ({"on_disk": "yes"}, r"^on_disk must be True, False or None \(server default\), got 'yes'$"),
        (
            {"write_consistency_factor": 2},
            r"^write_consistency_factor 2 exceeds replication_factor 1 \(Qdrant's default\): every write "
            r"would fail; use at most 1, or raise replication_factor$",
        ),
        (
            {"replication_factor": 3, "nodes": 2},
            r"^replication_factor 3 needs at least 3 nodes \(each copy of a shard lives on another node\); "
            r"the cluster has 2$",
        ),
        (
            {"replication_factor": 2, "expected_patents": 1_000},
            r"the cluster has 1 \(assumed without nodes: give the node count\)$",
        ),
        ({"ram_per_node_gib": 64}, r"^ram_per_node_gib sizes storage for a corpus: give expected_patents"),
        (
            {"ram_per_node_gib": 0, "expected_patents": 1},
            r"^ram_per_node_gib must be a positive number of GiB, got 0$",
        ),
    ],
)
def test_settings_are_checked_once_with_messages_that_say_what_works(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ClusterSettings(**fields)


def test_what_is_set_wins_over_the_sizing_and_counts_in_it() -> None:
    fixed = ClusterSettings(expected_patents=8_000_000, nodes=3, ram_per_node_gib=512, on_disk=False)
    resolved = fixed.resolve(dim=384)
    assert (resolved.on_disk, resolved.shard_number, resolved.replication_factor) == (False, 12, 2)
    sizing = fixed.sizing(dim=384)
    assert sizing is not None and not sizing.fits  # 304M float32 vectors in RAM: far over the budget
    assert ClusterSettings(nodes=3).resolve(dim=8) == ClusterSettings(
        shard_number=6, replication_factor=2, write_consistency_factor=1, nodes=3
    )
    assert ClusterSettings(shard_number=5).resolve(dim=8) == ClusterSettings(shard_number=5)
    assert ClusterSettings().is_default and not ClusterSettings(on_disk=False).is_default


# -- the store against a recording fake server -----------------------------------------------
class FakeServer:
    """Collections as a Qdrant server keeps them, for the calls the store makes (see the module
    docstring): points in a local-mode client, settings from the calls that set them."""

    def __init__(self) -> None:
        self.local = QdrantClient(":memory:")
        self.created: dict[str, dict[str, Any]] = {}
        self.indexing: dict[str, dict[str, int]] = {}
        self.updates: list[dict[str, Any]] = []  # every update_collection call, in order
        self.upserts: list[int] = []  # points per upsert request

    def client(self, **_: Any) -> FakeClient:
        return FakeClient(self)


class FakeClient:
    """What ``QdrantClient(url=...)`` returns while a test patches it (one per store, one server)."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server.local, name)

    def close(self) -> None:  # the server outlives its clients
        pass

    def create_collection(self, name: str, **kwargs: Any) -> bool:
        self.server.created[name] = kwargs
        self.server.indexing[name] = {"indexing_threshold": SERVER_THRESHOLD, "m": SERVER_M}
        return self.server.local.create_collection(
            name,
            vectors_config=kwargs["vectors_config"],
            sparse_vectors_config=kwargs["sparse_vectors_config"],
            metadata=kwargs["metadata"],
        )

    def create_payload_index(self, *args: Any, **kwargs: Any) -> None:
        pass  # local mode has no payload indexes (and warns)

    def update_collection(self, name: str, **kwargs: Any) -> bool:
        self.server.updates.append(kwargs)
        indexing = self.server.indexing[name]
        if kwargs.get("optimizers_config") is not None:
            indexing["indexing_threshold"] = kwargs["optimizers_config"].indexing_threshold
        if kwargs.get("hnsw_config") is not None:
            indexing["m"] = kwargs["hnsw_config"].m
        if kwargs.get("metadata") is not None:
            self.server.local.update_collection(name, metadata=kwargs["metadata"])
        return True

    def get_collection(self, name: str) -> Any:
        info = self.server.local.get_collection(name)
        created, config = self.server.created[name], info.config
        config.params.shard_number = created["shard_number"] or 1
        config.params.replication_factor = created["replication_factor"] or 1
        config.params.write_consistency_factor = created["write_consistency_factor"] or 1
        config.params.on_disk_payload = created["on_disk_payload"] is not False
        config.quantization_config = created["quantization_config"]
        config.optimizer_config.indexing_threshold = self.server.indexing[name]["indexing_threshold"]
        config.hnsw_config.m = self.server.indexing[name]["m"]
        return info

    def upsert(self, name: str, points: list[Any], **kwargs: Any) -> Any:
        self.server.upserts.append(len(points))
        return self.server.local.upsert(name, points=points, **kwargs)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    fake = FakeServer()
    monkeypatch.setattr(patent_rag.stores.qdrant, "QdrantClient", fake.client)
    yield fake
    fake.local.close()


def _store(**kwargs: Any) -> QdrantStore:
    return QdrantStore(url=URL, collection="pr", **kwargs)


def _points(store: QdrantStore, count: int) -> list[StoredPoint]:
    rng = np.random.default_rng(0)
    terms = store.bm25.embed_documents(["a heat exchanger"])[0]
    return [
        StoredPoint(
            str(uuid.uuid5(uuid.NAMESPACE_OID, str(n))),
            rng.normal(size=FP.dim).astype(np.float32),
            terms,
            {"publication_number": f"US{n}B2", "ordinal": 0, "content_hash": str(n)},
        )
        for n in range(count)
    ]


def _indexing(server: FakeServer) -> tuple[dict[str, int], Any]:
    """The collection's indexing settings and its bulk-load record, as the server holds them."""
    metadata = server.local.get_collection("pr").config.metadata or {}
    return server.indexing["pr"], metadata.get(bulk.KEY)


def test_the_create_call_carries_the_settings(server: FakeServer) -> None:
    settings = ClusterSettings(
        shard_number=6,
        replication_factor=2,
        write_consistency_factor=2,
        on_disk=True,
        on_disk_payload=True,
        quantization="int8",
    )
    info = _store(cluster=settings).create(fingerprint=FP)
    sent = server.created["pr"]
    assert (sent["shard_number"], sent["replication_factor"], sent["write_consistency_factor"]) == (6, 2, 2)
    assert sent["on_disk_payload"] is True
    assert sent["vectors_config"][DENSE_VECTOR].on_disk is True
    assert sent["sparse_vectors_config"][SPARSE_VECTOR].index == m.SparseIndexParams(on_disk=True)
    assert sent["quantization_config"] == m.ScalarQuantization(
        scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8, always_ram=True)
    )
    assert {
        k: info.details[k] for k in ("shard_number", "replication_factor", "write_consistency_factor")
    } == {
        "shard_number": 6,
        "replication_factor": 2,
        "write_consistency_factor": 2,
    }
    assert (info.details["on_disk"], info.details["quantization"], info.details["indexing"]) == (
        True,
        "int8",
        "on",
    )


def test_unset_settings_are_left_to_the_server(server: FakeServer) -> None:
    _store().create(fingerprint=FP)
    sent = server.created["pr"]
    assert [sent[k] for k in ("shard_number", "replication_factor", "write_consistency_factor")] == [None] * 3
    assert sent["on_disk_payload"] is None and sent["quantization_config"] is None
    assert sent["vectors_config"][DENSE_VECTOR].on_disk is None
    assert sent["sparse_vectors_config"][SPARSE_VECTOR].index is None


def test_a_sized_collection_is_created_for_the_encoders_vectors(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    fingerprint = dataclasses.replace(FP, dim=384)
    cluster = ClusterSettings(expected_patents=8_000_000, nodes=3, ram_per_node_gib=256)
    with caplog.at_level(logging.INFO, logger="patent_rag.stores.qdrant"):
        _store(cluster=cluster).create(fingerprint=fingerprint)
    sent = server.created["pr"]
    assert (sent["shard_number"], sent["replication_factor"], sent["on_disk_payload"]) == (12, 2, True)
    assert sent["vectors_config"][DENSE_VECTOR].on_disk is True and sent["quantization_config"] is not None
    assert "shard_number: 12 (4 per node, ~25.3M points each)" in caplog.text
    assert "needs 260 GiB of RAM per node with these settings" in caplog.text and "use 6 nodes" in caplog.text


def test_upserts_go_in_batches(server: FakeServer) -> None:
    store = _store()
    store.create(fingerprint=FP)
    store.upsert(_points(store, 2 * UPSERT_BATCH + 88))
    assert server.upserts == [UPSERT_BATCH, UPSERT_BATCH, 88] and store.describe().chunks == 600


@pytest.mark.parametrize(
    ("on_disk", "key", "value"), [(False, "indexing_threshold", SERVER_THRESHOLD), (True, "m", SERVER_M)]
)
def test_a_bulk_load_defers_indexing_until_optimize(
    server: FakeServer, on_disk: bool, key: str, value: int
) -> None:
    """Vectors in RAM: indexing_threshold=0; on disk: m=0 (Qdrant's low-memory choice). The record
    goes in before indexing is turned off, and out after it is back."""
    store = _store(cluster=ClusterSettings(on_disk=on_disk), bulk_load=True)
    store.create(fingerprint=FP)
    assert server.updates == []  # nothing deferred before the first write
    store.upsert(_points(store, 10))
    record, defer = server.updates
    assert record["metadata"][bulk.KEY]["restore"] == {key: value}
    assert defer == bulk.update_arguments({key: 0})
    assert _indexing(server)[0][key] == 0
    assert store.describe().details["indexing"] == f"deferred by a bulk load ({key}=0, restored to {value})"
    store.upsert(_points(store, 10))  # the lease is fresh: nothing more to say to the server
    assert len(server.updates) == 2
    store.optimize()
    restore, cleared = server.updates[2:]
    assert restore == bulk.update_arguments({key: value}) and cleared == {"metadata": {bulk.KEY: None}}
    assert _indexing(server) == ({"indexing_threshold": SERVER_THRESHOLD, "m": SERVER_M}, None)
    assert store.describe().details["indexing"] == "on"


def test_a_dead_bulk_load_is_restored_by_the_next_open_once_its_lease_expires(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = _store(bulk_load=True)
    writer.create(fingerprint=FP)
    writer.upsert(_points(writer, 5))
    writer.close()  # the run dies: no optimize()
    reader = _store()
    reader.open()  # the lease still runs: a live load is left alone
    reader.optimize()
    assert _indexing(server)[0]["indexing_threshold"] == 0
    reader.close()
    later = bulk.time.time() + bulk.LEASE_SECONDS + 1
    monkeypatch.setattr(bulk.time, "time", lambda: later)
    _store().open()
    assert _indexing(server) == ({"indexing_threshold": SERVER_THRESHOLD, "m": SERVER_M}, None)


def test_the_next_ingest_joins_a_dead_load_and_restores_what_it_recorded(server: FakeServer) -> None:
    first = _store(bulk_load=True)
    first.create(fingerprint=FP)
    first.upsert(_points(first, 5))
    first.close()
    second = _store(bulk_load=True)
    second.open()
    second.upsert(_points(second, 5))  # joins: the values to restore are the first run's, not 0
    assert server.updates[-2]["metadata"][bulk.KEY]["restore"] == {"indexing_threshold": SERVER_THRESHOLD}
    second.optimize()
    assert _indexing(server) == ({"indexing_threshold": SERVER_THRESHOLD, "m": SERVER_M}, None)
    third = _store(bulk_load=True)  # an ingest with nothing to write still ends a load it finds
    third.open()
    first.open()
    first.upsert(_points(first, 1))
    first.close()
    third.optimize()
    assert _indexing(server)[1] is None


def test_the_lease_is_renewed_as_writes_go_on(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(bulk_load=True)
    store.create(fingerprint=FP)
    store.upsert(_points(store, 1))
    first = server.updates[0]["metadata"][bulk.KEY]["expires"]
    later = bulk.time.monotonic() + bulk.LEASE_SECONDS
    monkeypatch.setattr(patent_rag.stores.qdrant.time, "monotonic", lambda: later)
    store.upsert(_points(store, 1))
    renewal = server.updates[-1]
    assert list(renewal) == ["metadata"] and renewal["metadata"][bulk.KEY]["expires"] >= first


def test_a_damaged_record_restores_qdrants_defaults(server: FakeServer) -> None:
    store = _store()
    store.create(fingerprint=FP)
    server.local.update_collection("pr", metadata={bulk.KEY: {"restore": "?"}})
    store.close()
    _store().open()
    assert _indexing(server) == ({"indexing_threshold": 20_000, "m": 16}, None)


# -- the CLI ---------------------------------------------------------------------------------
def _jsonl(path: Path, count: int) -> Path:
    docs = [
        PatentDocument(
            publication_number=f"US{9300000 + n}B2",
            title=f"Heat exchanger {n}",
            abstract=f"A heat exchanger {n} with finned tubes.",
            priority_date=date(2005, 1, 1 + n),
        )
        for n in range(count)
    ]
    path.write_text("".join(doc.model_dump_json() + "\n" for doc in docs))
    return path


def test_the_flags_reach_the_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(patent_rag.cli.ingest, "run_ingest", lambda files, **kwargs: seen.update(kwargs))
    records = _jsonl(tmp_path / "r.jsonl", 1)
    flags = "--shards 6 --replicas 2 --write-consistency 2 --on-disk --payload-on-disk --quantization int8"
    sizing = "--expected-patents 8000000 --nodes 3 --ram-gib 512"
    result = CliRunner().invoke(
        app, ["ingest", str(records), "--index", URL, *flags.split(), *sizing.split()]
    )
    assert result.exit_code == 0, result.output
    assert seen["cluster"] == ClusterSettings(
        shard_number=6,
        replication_factor=2,
        write_consistency_factor=2,
        on_disk=True,
        on_disk_payload=True,
        quantization="int8",
        expected_patents=8_000_000,
        nodes=3,
        ram_per_node_gib=512.0,
    )
    result = CliRunner().invoke(app, ["ingest", str(records), "--index", URL, "--in-ram", "--payload-in-ram"])
    assert result.exit_code == 0, result.output
    assert seen["cluster"] == ClusterSettings(on_disk=False, on_disk_payload=False)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--shards", "3"], "is an embedded (Qdrant Edge) index directory; API keys, collections and server"),
        (["--quantization", "binary"], "quantization must be one of none, int8, got 'binary'"),
        (["--replicas", "3", "--nodes", "2"], "replication_factor 3 needs at least 3 nodes"),
    ],
)
def test_bad_flags_are_one_line_errors_before_the_model_loads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, flags: list[str], message: str
) -> None:
    def no_model(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(patent_rag.cli.ingest, "Encoder", no_model)
    records = _jsonl(tmp_path / "r.jsonl", 1)
    result = CliRunner().invoke(app, ["ingest", str(records), "--index", str(tmp_path / "index"), *flags])
    assert result.exit_code == 1 and result.output.startswith("error: "), result.output
    assert message in result.output.replace("\n", " ")
    assert not (tmp_path / "index").exists()


def test_an_ingest_into_a_server_creates_sizes_defers_and_restores(
    server: FakeServer, minilm_encoder: Any, tmp_path: Path
) -> None:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    cluster = ClusterSettings(expected_patents=8_000_000, nodes=3, ram_per_node_gib=512)
    summary = run_ingest(
        [_jsonl(tmp_path / "r.jsonl", 12)],
        index=f"{URL}#pr",
        console=console,
        encoder=minilm_encoder,
        cluster=cluster,
    )
    assert summary.chunks_written == 12 and summary.index is not None
    sent = server.created["pr"]
    assert (sent["shard_number"], sent["replication_factor"]) == (12, 2)  # 256-token profile: 548M chunks
    kinds = [sorted(update) for update in server.updates]
    assert kinds == [["metadata"], ["hnsw_config"], ["hnsw_config"], ["metadata"]]  # on disk: m deferred
    assert _indexing(server) == ({"indexing_threshold": SERVER_THRESHOLD, "m": SERVER_M}, None)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "shards           12 x 2 replica(s), write consistency 1" in text
    assert "storage          vectors on disk, quantization int8, payload on disk" in text
    assert "indexing         on" in text
    again = Console(file=io.StringIO(), width=200, color_system=None)
    run_ingest(
        [tmp_path / "r.jsonl"], index=f"{URL}#pr", console=again, encoder=minilm_encoder, cluster=cluster
    )
    assert "the server options apply when an ingest creates a collection" in again.file.getvalue()  # type: ignore[attr-defined]


# -- a real server (QDRANT_URL) ---------------------------------------------------------------
def _server_url() -> str:
    url = os.environ.get("QDRANT_URL")
    if not url:
        pytest.skip("QDRANT_URL is not set: no Qdrant server to test against")
    return url


def _server_client(url: str) -> QdrantClient:
    return QdrantClient(url=url, api_key=os.environ.get("QDRANT_API_KEY"), check_compatibility=False)


def _key_env() -> str | None:
    return "QDRANT_API_KEY" if os.environ.get("QDRANT_API_KEY") else None


def _server_defaults(client: QdrantClient) -> tuple[int | None, int]:
    """The indexing_threshold and HNSW m the server gives a collection created without them."""
    name = f"pr_probe_{uuid.uuid4().hex[:12]}"
    client.create_collection(name, vectors_config=m.VectorParams(size=4, distance=m.Distance.COSINE))
    try:
        config = client.get_collection(name).config
        return config.optimizer_config.indexing_threshold, config.hnsw_config.m
    finally:
        client.delete_collection(name)


def _sample_jsonl(path: Path) -> tuple[Path, PatentDocument]:
    from patent_rag.sample import sample_documents

    docs = sample_documents()
    path.write_text("".join(doc.model_dump_json() + "\n" for doc in docs))
    return path, next(doc for doc in docs if doc.abstract)


def _ingest_and_check(
    url: str, tmp_path: Path, encoder: Any, cluster: ClusterSettings
) -> tuple[QdrantClient, str, Any]:
    """Ingest the sample into a new collection with ``cluster``, search it, return its config."""
    name = f"pr_cluster_{uuid.uuid4().hex[:12]}"
    client = _server_client(url)
    records, probe = _sample_jsonl(tmp_path / "sample.jsonl")
    console = Console(file=io.StringIO(), width=200, color_system=None)
    summary = run_ingest(
        [records],
        index=f"{url}#{name}",
        console=console,
        encoder=encoder,
        api_key_env=_key_env(),
        cluster=cluster,
    )
    assert summary.documents == 75 and summary.index is not None and summary.index.patents == 75
    store = open_store(f"{url}#{name}", api_key_env=_key_env())
    try:
        store.open(fingerprint=encoder.fingerprint)
        groups = store.search_groups(
            dense=encoder.encode_query(probe.abstract), text=probe.abstract, mode="hybrid", limit=3
        )
        assert groups[0].key == probe.publication_number
        assert store.describe().details["indexing"] == "on"
    finally:
        store.close()
    return client, name, client.get_collection(name).config


@pytest.mark.server
def test_server_sharded_replicated_collection(tmp_path: Path, minilm_encoder: Any) -> None:
    """3 shards x 2 replicas (write consistency 2) on a cluster of 2+ nodes: the sample goes in, is
    found, the collection reports the settings and every shard replica, and indexing_threshold is
    the server's own again after the ingest."""
    url = _server_url()
    client = _server_client(url)
    status = client.cluster_status()
    peers = len(status.peers) if status.status == "enabled" else 1
    if peers < 2:
        pytest.skip(f"replication_factor 2 needs a Qdrant cluster of 2+ nodes at QDRANT_URL; it has {peers}")
    threshold, _ = _server_defaults(client)
    cluster = ClusterSettings(shard_number=3, replication_factor=2, write_consistency_factor=2)
    client, name, config = _ingest_and_check(url, tmp_path, minilm_encoder, cluster)
    try:
        params = config.params
        assert (params.shard_number, params.replication_factor, params.write_consistency_factor) == (3, 2, 2)
        assert config.optimizer_config.indexing_threshold == threshold
        assert bulk.KEY not in (config.metadata or {})
        shards = client.collection_cluster_info(name)
        assert shards.shard_count == 3
        assert len(shards.local_shards) + len(shards.remote_shards) == 6  # (replicas seen from this peer)
    finally:
        client.delete_collection(name)


@pytest.mark.server
def test_server_on_disk_collection_defers_hnsw_and_restores_it(tmp_path: Path, minilm_encoder: Any) -> None:
    """Vectors on disk with int8 in RAM, payload on disk, 3 shards (any server, one node is enough):
    the bulk load defers with m=0 and the ingest ends with the server's own m."""
    url = _server_url()
    _, m_default = _server_defaults(_server_client(url))
    cluster = ClusterSettings(shard_number=3, on_disk=True, on_disk_payload=True, quantization="int8")
    client, name, config = _ingest_and_check(url, tmp_path, minilm_encoder, cluster)
    try:
        assert config.params.shard_number == 3 and config.params.on_disk_payload is True
        assert config.params.vectors[DENSE_VECTOR].on_disk is True
        assert config.quantization_config.scalar.type == m.ScalarType.INT8
        assert config.hnsw_config.m == m_default and bulk.KEY not in (config.metadata or {})
    finally:
        client.delete_collection(name)


@pytest.mark.server
def test_server_dead_bulk_load_is_finished_by_the_next_ingest(monkeypatch: pytest.MonkeyPatch) -> None:
    url = _server_url()
    location = f"{url}#pr_bulk_{uuid.uuid4().hex[:12]}"
    writer = open_store(location, api_key_env=_key_env(), bulk_load=True)
    assert isinstance(writer, QdrantStore)
    writer.create(fingerprint=FP)
    name = location.rpartition("#")[2]
    threshold = writer.client.get_collection(name).config.optimizer_config.indexing_threshold
    writer.upsert(_points(writer, 300))
    client = _server_client(url)
    try:
        config = client.get_collection(name).config
        assert config.optimizer_config.indexing_threshold == 0 and bulk.KEY in (config.metadata or {})
        writer.close()  # dies without optimize()
        later = bulk.time.time() + bulk.LEASE_SECONDS + 1
        monkeypatch.setattr(bulk.time, "time", lambda: later)
        reader = open_store(location, api_key_env=_key_env())
        reader.open()
        reader.close()
        config = client.get_collection(name).config
        assert config.optimizer_config.indexing_threshold == threshold
        assert bulk.KEY not in (config.metadata or {})
    finally:
        client.delete_collection(name)
