"""Distributed ingestion throughput: the plain local ingest vs ``ingest_on_ray`` on a local Ray
cluster with 1 and 2 workers, same input, same model, one run.

Every configuration ingests the same files into a fresh Qdrant Edge index (parse, chunk, embed,
write, optimize) with the packaged all-MiniLM-L6-v2 in fp32; the wall time includes Ray's start and
the workers' model loads, which the local path does before its clock starts (its model load is
printed separately). Workers run at the local process's priority (Ray's default is nice 15).
The configurations alternate over ``--repeats`` rounds and the best time of
each is reported, so that other load on the machine favours none. Input: the packaged USPTO sample
(full-text grants from three weekly bulk files), or ``--files``.

    python benchmarks/ray_ingest.py [--files F ...] [--repeats 1] [--json]

On one machine Ray cannot beat the local path's use of the same cores by much: it exists for
clusters. What this measures is its overhead, and whether two single-threaded workers use two cores
better than one two-threaded encoder does.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Ray starts its workers at nice 15, so on a machine with other work they get less CPU than the
# local path's process; the comparison runs both at the same priority (the clusters it starts only).
os.environ.setdefault("RAY_worker_niceness", "0")

from patent_rag.distributed import EncoderSpec, RayOptions, ingest_on_ray  # noqa: E402
from patent_rag.encoding.encoder import Encoder  # noqa: E402
from patent_rag.ingest import IngestSummary, ingest  # noqa: E402
from patent_rag.sample import sample_files  # noqa: E402
from patent_rag.stores import open_store  # noqa: E402

CONFIGS = {
    "local (1 process, 2 torch threads)": None,
    "ray, 1 worker x 2 CPUs": RayOptions(address="local", workers=1, cpus_per_worker=2),
    "ray, 2 workers x 1 CPU": RayOptions(address="local", workers=2, cpus_per_worker=1),
}


def run_one(name: str, files: list[Path], folder: Path, encoder: Encoder) -> IngestSummary:
    index = folder / "index"
    shutil.rmtree(index, ignore_errors=True)
    store = open_store(str(index))
    try:
        options = CONFIGS[name]
        if options is None:
            return ingest(files, store=store, encoder=encoder)
        return ingest_on_ray(files, store=store, encoder=EncoderSpec(precision="fp32"), options=options)
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", nargs="+", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    files = args.files or sample_files()
    started = time.perf_counter()
    encoder = Encoder("all-minilm-l6-v2", precision="fp32")
    load = time.perf_counter() - started
    best: dict[str, float] = {}
    chunks: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeats):
            names = list(CONFIGS) if round_ % 2 == 0 else list(reversed(CONFIGS))
            for name in names:
                load_before = os.getloadavg()[0]
                started = time.perf_counter()
                summary = run_one(name, files, Path(tmp), encoder)
                seconds = time.perf_counter() - started
                best[name] = min(best.get(name, seconds), seconds)
                chunks[name] = summary.index.chunks if summary.index else 0
                print(
                    f"{name}: {seconds:.1f} s, {summary.documents} documents, {chunks[name]} chunks "
                    f"(load {load_before:.1f} -> {os.getloadavg()[0]:.1f})",
                    file=sys.stderr,
                )
    local = best[next(iter(CONFIGS))]
    rows = [
        {
            "config": name,
            "seconds": round(seconds, 1),
            "chunks_per_s": round(chunks[name] / seconds, 1),
            "vs_local": round(seconds / local, 2),
        }
        for name, seconds in best.items()
    ]
    if args.json:
        print(
            json.dumps(
                {"files": [str(f) for f in files], "model_load_s": round(load, 1), "rows": rows}, indent=2
            )
        )
        return
    print(f"input: {', '.join(f.name for f in files)}; local model load {load:.1f} s (not timed)")
    print(f"{'config':<38} {'wall s':>8} {'chunks/s':>9} {'vs local':>9}")
    for row in rows:
        print(f"{row['config']:<38} {row['seconds']:>8} {row['chunks_per_s']:>9} {row['vs_local']:>8}x")


if __name__ == "__main__":
    main()
