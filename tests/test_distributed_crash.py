"""kill -9 the driver of a distributed ingest (its workers and local Ray cluster die with it), then
run the same command again: the index ends with exactly the input's documents and chunks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from patent_rag.documents.chunking import Chunker
from tests.test_crash import _check, _docs

pytest.importorskip("ray")
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import sys
    from patent_rag.distributed import EncoderSpec, RayOptions, ingest_on_ray
    from patent_rag.stores import open_store

    class Say:
        def start(self, *, total_bytes):
            print("start", flush=True)
        def advance(self, *, documents, chunks, unchanged, bytes_done):
            print("advance", documents, chunks, flush=True)
        def stage(self, message):
            print("stage", message, flush=True)
        def finish(self, summary):
            print("finish", summary.chunks_written, flush=True)

    store = open_store(sys.argv[1])
    options = RayOptions(address="local", workers=2, parts_per_file=2)
    spec = EncoderSpec(precision="fp32")
    ingest_on_ray([sys.argv[2]], store=store, encoder=spec, options=options, window=2, progress=Say())
    store.close()
    print("done", flush=True)
    """
)


def _run(location: str, records: Path, kill_after_writes: int | None = None) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, location, str(records)], stdout=subprocess.PIPE, text=True, env=env
    )
    seen: list[str] = []
    assert child.stdout is not None
    for line in child.stdout:
        seen.append(line.strip())
        if kill_after_writes is not None and sum(s.startswith("advance") for s in seen) == kill_after_writes:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=300)
    child.stdout.close()
    if kill_after_writes is None:
        assert child.returncode == 0 and seen[-1] == "done", seen
    else:
        assert child.returncode == -signal.SIGKILL, seen
    return seen


def test_kill_the_driver_then_rerun_gives_exactly_the_input(tmp_path: Path, minilm_encoder: Any) -> None:
    records = tmp_path / "records.jsonl"
    docs = _docs(1)
    records.write_text("".join(d.model_dump_json() + "\n" for d in docs))
    location = str(tmp_path / "index")
    _run(location, records, kill_after_writes=2)
    seen = _run(location, records)
    written = int(next(line for line in seen if line.startswith("finish")).split()[1])
    total = sum(len(Chunker.for_encoder(minilm_encoder).chunk(d)) for d in docs)
    assert 0 < written < total  # the rerun wrote only what the killed run had not
    _check(location, docs, minilm_encoder)
