"""kill -9 the driver of a distributed ingest (its workers and local Ray cluster die with it), then
run the same command again: the index ends with exactly the input's documents and chunks."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from patent_rag.documents.chunking import Chunker
from tests.test_crash import SAY, _check, _docs, _run

pytest.importorskip("ray")
pytestmark = pytest.mark.slow

CHILD = SAY + textwrap.dedent(
    """
    import sys
    from patent_rag.distributed import EncoderSpec, RayOptions, ingest_on_ray
    from patent_rag.stores import open_store

    store = open_store(sys.argv[1])
    options = RayOptions(address="local", workers=2, parts_per_file=2)
    spec = EncoderSpec(precision="fp32")
    ingest_on_ray([sys.argv[2]], store=store, encoder=spec, options=options, window=2, progress=Say())
    store.close()
    print("done", flush=True)
    """
)


def test_kill_the_driver_then_rerun_gives_exactly_the_input(tmp_path: Path, minilm_encoder: Any) -> None:
    records = tmp_path / "records.jsonl"
    docs = _docs(1)
    records.write_text("".join(d.model_dump_json() + "\n" for d in docs))
    location = str(tmp_path / "index")
    after_two_writes = lambda line, seen: sum(s.startswith("advance") for s in seen) == 2  # noqa: E731
    _run(location, records, after_two_writes, child_script=CHILD)
    seen = _run(location, records, child_script=CHILD)
    written = int(next(line for line in seen if line.startswith("finish")).split()[1])
    total = sum(len(Chunker.for_encoder(minilm_encoder).chunk(d)) for d in docs)
    assert 0 < written < total  # the rerun wrote only what the killed run had not
    _check(location, docs, minilm_encoder)
