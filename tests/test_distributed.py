"""Distributed ingestion on a real local Ray cluster (started by the tests): the index it builds is
the one a local ingest builds, reruns embed nothing, a killed worker costs nothing but time, and
workers that cannot work say why."""

from __future__ import annotations

import logging
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import patent_rag.cli.commands  # noqa: F401  (registers the ingest command)
from patent_rag.cli import app
from patent_rag.distributed import EncoderSpec, RayOptions, ingest_on_ray
from patent_rag.distributed.driver import WORKER_NAME
from patent_rag.errors import ConfigurationError, WorkerError
from patent_rag.ingest import IngestSummary, ingest
from patent_rag.sample import sample_documents
from patent_rag.stores import EdgeStore, SearchFilter, open_store

ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]
XML = ROOT / "tests/fixtures/uspto/US08613112-20131224.XML"  # one full-text grant
RAY_OPTIONS = RayOptions(workers=2, parts_per_file=3)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two JSONL files and a USPTO XML file: a broken record, a patent repeated across files with a
    changed title (the later copy must win), one repeated unchanged within a file."""
    folder = tmp_path_factory.mktemp("inputs")
    docs = [doc.model_dump_json(exclude={"source"}) for doc in sample_documents()]
    changed = sample_documents()[3].model_copy(update={"title": "A changed title"})
    first = docs[:45]
    first.insert(10, '{"publication_number": "", "title": "no number"}')
    second = [*docs[45:], changed.model_dump_json(exclude={"source"}), docs[50]]
    (folder / "a.jsonl").write_text("\n".join(first) + "\n")
    (folder / "b.jsonl").write_text("\n".join(second) + "\n")
    return [folder / "a.jsonl", XML, folder / "b.jsonl"]


@pytest.fixture(scope="module")
def spec(minilm_encoder: Any) -> EncoderSpec:
    return EncoderSpec.of(minilm_encoder)


@pytest.fixture(scope="module")
def local(
    inputs: list[Path], minilm_encoder: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, IngestSummary]:
    path = tmp_path_factory.mktemp("local") / "index"
    store = open_store(str(path))
    summary = ingest(inputs, store=store, encoder=minilm_encoder)
    store.close()
    return path, summary


def _points(path: Path) -> dict[str, tuple[dict[str, Any], np.ndarray]]:
    """Every point of an Edge index: payload and dense vector by id."""
    store = EdgeStore(path=path)
    store.open()
    try:
        payloads = {hit.id: hit.payload for hit in store.fetch(SearchFilter(), limit=1_000_000)}
        records = store._engine.retrieve(sorted(payloads), False, True)
        vectors = {str(r.id): np.asarray(r.vector["dense"], np.float32) for r in records}
    finally:
        store.close()
    return {pid: (payloads[pid], vectors[pid]) for pid in payloads}


def _assert_same_index(path: Path, expected: Path) -> None:
    got, want = _points(path), _points(expected)
    assert sorted(got) == sorted(want)
    assert all(got[pid][0] == want[pid][0] for pid in want)
    a = np.stack([got[pid][1] for pid in sorted(want)])
    b = np.stack([want[pid][1] for pid in sorted(want)])
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 0.9999  # fp32 both sides; only batch composition differs


def test_ray_ingest_builds_the_index_a_local_ingest_builds(
    cluster: Any, inputs: list[Path], spec: EncoderSpec, local: tuple[Path, IngestSummary], tmp_path: Path
) -> None:
    expected, want = local
    store = open_store(str(tmp_path / "index"))
    summary = ingest_on_ray(inputs, store=store, encoder=spec, options=RAY_OPTIONS)
    store.close()
    _assert_same_index(tmp_path / "index", expected)
    changed = next(
        payload for payload, _ in _points(tmp_path / "index").values() if "changed" in payload["title"]
    )
    assert changed["title"] == "A changed title"  # the later copy of the repeated patent won
    # A repeated patent may be written once per copy here (its copies are in different batches), as
    # a local ingest with a smaller window would; so the counts are of the input, not of the writes.
    assert (summary.rejected, summary.skipped, summary.issues) == (want.rejected, want.skipped, want.issues)
    assert summary.rejected == 1 and "a.jsonl, document 10, line 11" in summary.issues[0]
    assert summary.duplicates == want.duplicates == 2
    assert (summary.index.patents, summary.index.chunks) == (want.index.patents, want.index.chunks)  # type: ignore[union-attr]


class _KillOneWorker:
    """Progress that SIGKILLs one of the run's workers the first time a batch is written."""

    def __init__(self) -> None:
        self.killed: int | None = None

    def start(self, *, total_bytes: int) -> None: ...
    def stage(self, message: str) -> None: ...
    def finish(self, summary: IngestSummary) -> None: ...

    def advance(self, *, documents: int, chunks: int, unchanged: int, bytes_done: int) -> None:
        if self.killed is not None:
            return
        name = next(n for n in ray.util.list_named_actors() if n.startswith(WORKER_NAME))
        info = ray.get(ray.get_actor(name).describe.remote())
        os.kill(info.pid, signal.SIGKILL)
        self.killed = info.pid


def test_a_killed_worker_is_replaced_the_index_is_exact_and_a_rerun_embeds_nothing(
    cluster: Any, inputs: list[Path], spec: EncoderSpec, minilm_encoder: Any, tmp_path: Path
) -> None:
    unique = inputs[:2]  # no patent repeated: every chunk is written exactly once
    expected = tmp_path / "local"
    with open_store(str(expected)) as store:
        want = ingest(unique, store=store, encoder=minilm_encoder)
    progress = _KillOneWorker()
    store = open_store(str(tmp_path / "index"))
    summary = ingest_on_ray(unique, store=store, encoder=spec, options=RAY_OPTIONS, progress=progress)
    store.close()
    assert progress.killed is not None
    _assert_same_index(tmp_path / "index", expected)
    # Counted once: the batches written before the worker died were skipped when its part restarted.
    assert (summary.documents, summary.chunks_written) == (want.documents, want.chunks_written)
    assert summary.issues == want.issues

    store = open_store(str(tmp_path / "index"))
    again = ingest_on_ray(unique, store=store, encoder=spec, options=RAY_OPTIONS)
    store.close()
    assert (again.chunks_written, again.stale_deleted, again.documents_written) == (0, 0, 0)
    assert (again.documents_unchanged, again.chunks_unchanged) == (want.documents, want.chunks_written)
    _assert_same_index(tmp_path / "index", expected)


def test_workers_that_cannot_load_the_model_say_why(cluster: Any, inputs: list[Path], tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "index"))
    with pytest.raises(WorkerError, match=r"could not start: .*/nowhere is not a model directory"):
        ingest_on_ray(inputs, store=store, encoder=EncoderSpec(model_path=str(tmp_path / "nowhere")))
    assert not store.exists()  # nothing created


def test_more_workers_than_the_cluster_holds_are_refused(
    cluster: Any, inputs: list[Path], spec: EncoderSpec, tmp_path: Path
) -> None:
    store = open_store(str(tmp_path / "index"))
    with pytest.raises(
        ConfigurationError,
        match=r"3 worker\(s\) of 1 CPU and 0 GPU need more than the Ray cluster has \(2 CPUs, 0 GPUs\)",
    ):
        ingest_on_ray(inputs, store=store, encoder=spec, options=RayOptions(workers=3))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workers": 0}, "workers must be >= 1, got 0"),
        ({"cpus_per_worker": 0}, "cpus_per_worker must be > 0, got 0"),
        ({"parts_per_file": 0}, "parts_per_file must be >= 1, got 0"),
        ({"retries": -1}, "retries must be >= 0, got -1"),
    ],
)
def test_ray_options_are_checked_once(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RayOptions(**options)


@pytest.mark.server
def test_ray_workers_write_to_a_qdrant_server_what_a_local_ingest_writes(
    cluster: Any, inputs: list[Path], spec: EncoderSpec, local: tuple[Path, IngestSummary]
) -> None:
    url = os.environ.get("QDRANT_URL")
    if not url:
        pytest.skip("QDRANT_URL is not set: no Qdrant server to test against")
    key_env = "QDRANT_API_KEY" if os.environ.get("QDRANT_API_KEY") else None
    location = f"{url}#pr_test_ray_{uuid.uuid4().hex[:12]}"
    store = open_store(location, api_key_env=key_env)
    try:
        summary = ingest_on_ray(inputs, store=store, encoder=spec, options=RAY_OPTIONS, api_key_env=key_env)
        numbers = sorted({p["publication_number"] for p, _ in _points(local[0]).values()})
        expected = EdgeStore(path=local[0])
        expected.open()
        want = expected.existing_hashes(numbers)
        expected.close()
        assert store.existing_hashes(numbers) == want
        assert (summary.index.patents, summary.index.chunks) == (
            local[1].index.patents,
            local[1].index.chunks,
        )  # type: ignore[union-attr]
    finally:
        if store.exists():
            store.delete_index()
        store.close()


def test_the_ingest_command_runs_on_ray(cluster: Any, inputs: list[Path], tmp_path: Path) -> None:
    """``patent-rag ingest --ray``: the summary names the rejected record with its file and line;
    the index holds the input (Ray is already initialized here, so the address is not used)."""
    index = tmp_path / "index"
    arguments = ["ingest", str(inputs[0]), "--index", str(index), "--ray", "local", "--workers", "2"]
    result = CliRunner().invoke(app, arguments, env={"COLUMNS": "400"})  # one table row per line
    assert result.exit_code == 0, result.output
    assert "45 new or changed" in result.output
    assert "a.jsonl, document 10, line 11" in result.output
    with EdgeStore(path=index) as store:
        assert store.open().patents == 45


def test_worker_options_without_ray_are_refused(inputs: list[Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["ingest", str(inputs[0]), "--index", str(tmp_path / "i"), "--workers", "2"]
    )
    assert result.exit_code != 0
    assert "--workers, --worker-cpus and --worker-gpus apply with --ray ADDRESS only" in result.output
