"""kill -9 at several points of a real ingest subprocess, then the same command again: the index
ends with exactly the input's documents and chunks, nothing duplicated, nothing stale."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from patent_rag.documents import Claim, PatentDocument
from patent_rag.documents.chunking import Chunker
from patent_rag.stores import open_store
from patent_rag.stores.layout import build_payload, point_id

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]

# A progress display that prints each event, so the parent can kill the child at a chosen point.
SAY = textwrap.dedent(
    """
    class Say:
        def start(self, *, total_bytes):
            print("start", flush=True)
        def advance(self, *, documents, chunks, unchanged, bytes_done):
            print("advance", documents, chunks, flush=True)
        def stage(self, message):
            print("stage", message, flush=True)
        def finish(self, summary):
            print("finish", summary.chunks_written, flush=True)
    """
)
CHILD = SAY + textwrap.dedent(
    """
    import sys
    from patent_rag.encoding.encoder import Encoder
    from patent_rag.ingest import ingest
    from patent_rag.stores import open_store

    encoder = Encoder("all-minilm-l6-v2", precision="fp32")
    print("loaded", flush=True)
    store = open_store(sys.argv[1])
    ingest([sys.argv[2]], store=store, encoder=encoder, window=2, progress=Say())
    store.close()
    print("done", flush=True)
    """
)


def _docs(version: int) -> list[PatentDocument]:
    docs = []
    for n in range(8):
        claims = 3 if version == 1 else 1 + n % 2
        docs.append(
            PatentDocument(
                publication_number=f"US{8100 + n}B2",
                title=f"Sensor {n}",
                abstract=f"A sensor {n} measuring strain (version {version if n % 3 == 0 else 1}).",
                claims=[Claim(number=i + 1, text=f"The sensor {n} with element {i}.") for i in range(claims)],
                priority_date=date(2001, 1, 1 + n),
            )
        )
    return docs


def _run(location: str, records: Path, kill_when: Any = None, *, child_script: str = CHILD) -> list[str]:
    """Run the ingest command; with ``kill_when(line, seen)``, SIGKILL it when that returns True."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", child_script, location, str(records)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    seen: list[str] = []
    assert child.stdout is not None
    for line in child.stdout:
        seen.append(line.strip())
        if kill_when is not None and kill_when(line.strip(), seen):
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=300)
    child.stdout.close()
    if kill_when is None:
        assert child.returncode == 0 and seen[-1] == "done", seen
    else:
        assert child.returncode == -signal.SIGKILL, seen
    return seen


def _after_delay(seconds: float) -> Any:
    def when(line: str, seen: list[str]) -> bool:
        if line == "start":
            time.sleep(seconds)
            return True
        return False

    return when


def _check(location: str, docs: list[PatentDocument], encoder: Any) -> None:
    chunker = Chunker.for_encoder(encoder)
    expected = {
        d.publication_number: {
            point_id(d.publication_number, c.section, c.ordinal): build_payload(d, c)["content_hash"]
            for c in chunker.chunk(d)
        }
        for d in docs
    }
    store = open_store(location)
    info = store.open(fingerprint=encoder.fingerprint)
    assert store.existing_hashes(sorted(expected)) == expected
    assert (info.patents, info.chunks) == (len(docs), sum(len(v) for v in expected.values()))
    store.close()


@pytest.mark.parametrize(
    "kill_when",
    [
        pytest.param(lambda line, seen: line == "start", id="after-create"),
        pytest.param(
            lambda line, seen: sum(s.startswith("advance") for s in seen) == 1, id="after-first-write"
        ),
        pytest.param(lambda line, seen: sum(s.startswith("advance") for s in seen) == 3, id="mid-run"),
        pytest.param(lambda line, seen: line.startswith("stage optimizing"), id="during-optimize"),
        pytest.param(_after_delay(0.7), id="at-a-random-moment"),
    ],
)
def test_kill_then_rerun_gives_exactly_the_input(tmp_path: Path, minilm_encoder: Any, kill_when: Any) -> None:
    records = tmp_path / "records.jsonl"
    docs = _docs(1)
    records.write_text("".join(d.model_dump_json() + "\n" for d in docs))
    location = str(tmp_path / "index")
    _run(location, records, kill_when)
    _run(location, records)
    _check(location, docs, minilm_encoder)


def test_kill_while_replacing_changed_documents(tmp_path: Path, minilm_encoder: Any) -> None:
    records = tmp_path / "records.jsonl"
    location = str(tmp_path / "index")
    records.write_text("".join(d.model_dump_json() + "\n" for d in _docs(1)))
    _run(location, records)
    records.write_text("".join(d.model_dump_json() + "\n" for d in _docs(2)))  # fewer claims, new abstracts
    _run(location, records, lambda line, seen: sum(s.startswith("advance") for s in seen) == 2)
    _run(location, records)
    _check(location, _docs(2), minilm_encoder)
