"""Index growth: how the embedded engine (Qdrant Edge) grows from thousands to a million chunks.

For each size, a fresh Edge index of ``benchmarks/query_latency.py``'s synthetic chunks (384-dim
vectors, real payloads, 8 chunks per patent), streamed into the store in batches, so that a million
chunks never sit in this process at once. Each size runs in two child processes of its own, so that
neither the sizes nor building and serving share a heap: the first writes (timed: the upserts and the
final flush, not generating the chunks), optimizes, closes and syncs; the second opens, warms and
runs query_latency's filtered, grouped dense and hybrid queries. Measured per size: those times,
p50/p99, the serving process's resident memory (``/proc/self/status``), the building process's
peak heap (sampled), the page cache the index's files hold once opened and warmed (``fincore``,
when installed), and the disk the index takes (allocated blocks), per chunk and by part. Then how
each figure grows (log-log slopes) and what a larger index needs by extrapolation: RAM, disk and
nodes. Keep sizes above 20,000 chunks: at 8,000, ``optimize()`` built no HNSW graph.

    python benchmarks/index_growth.py [--sizes 50000,200000,1000000] [--queries 300] [--seed 0]
                                      [--target 100000000] [--node-gib 64] [--headroom 0.75]
                                      [--dir TMP] [--json] [--report EARLIER.json]

Linux only (``/proc``). Needs no data from ``../shared``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from query_latency import DIM, FINGERPRINT, iter_points, latency, queries  # noqa: E402

from patent_rag.stores import EdgeStore  # noqa: E402

SAMPLE = 5000  # stored vectors kept to aim the queries at (a uniform sample of the index)
# The part of a segment each top-level entry holds (anything else in a segment: id tracker, versions).
PARTS = {
    "vector_storage-dense": "dense vectors",
    "vector_index-dense": "HNSW graph",
    "vector_storage-bm25": "sparse vectors",
    "vector_index-bm25": "sparse index",
    "payload_storage": "payloads",
    "payload_index": "payload indexes",
}
GIB = 2**30


def memory() -> dict[str, int]:
    """This process's resident memory in bytes: total, anonymous (heap), file-backed, and the peak."""
    wanted = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file", "VmHWM": "peak"}
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in wanted:
            out[wanted[key]] = int(value.split()[0]) * 1024
    return out


def part(path: Path, index: Path) -> str:
    rel = path.relative_to(index).parts
    if rel[:2] == ("shard", "wal"):
        return "WAL"
    if rel[:2] == ("shard", "segments") and len(rel) > 3:
        return PARTS.get(rel[3], "id tracker, other")
    return "other"


def files(index: Path) -> list[Path]:
    return [path for path in index.rglob("*") if path.is_file() and not path.is_symlink()]


def disk(index: Path) -> dict[str, Any]:
    """Allocated bytes under the index, by part; Edge preallocates sparse files, so apparent sizes
    (also given) overstate the disk taken."""
    parts: dict[str, int] = {}
    allocated = apparent = 0
    for path in files(index):
        stat = path.stat()
        allocated += stat.st_blocks * 512
        apparent += stat.st_size
        parts[part(path, index)] = parts.get(part(path, index), 0) + stat.st_blocks * 512
    return {"bytes": allocated, "apparent_bytes": apparent, "parts": parts}


def page_cache(index: Path) -> dict[str, Any] | None:
    """Bytes of the index's files in the page cache, by part (``fincore``; None without it)."""
    if shutil.which("fincore") is None:
        return None
    paths = files(index)
    parts: dict[str, int] = {}
    for start in range(0, len(paths), 500):
        chunk = paths[start : start + 500]
        out = subprocess.run(
            ["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES,FILE", *map(str, chunk)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for line in out.splitlines():
            resident, _, name = line.partition(" ")
            key = part(Path(name), index)
            parts[key] = parts.get(key, 0) + int(resident)
    return {"bytes": sum(parts.values()), "parts": parts}


def build(size: int, folder: Path, *, seed: int, batch: int) -> dict[str, Any]:
    """Write, flush, optimize, close and sync an index of ``size`` chunks in ``folder/index``."""
    index = folder / "index"
    store = EdgeStore(path=index)
    store.create(fingerprint=FINGERPRINT)
    stride = max(1, size // SAMPLE)
    sample: list[np.ndarray] = []
    pending = []
    writing = 0.0
    started = time.perf_counter()
    written = 0
    for row, point in enumerate(iter_points(size, seed)):
        written = row + 1
        if row % stride == 0:
            sample.append(point.dense)
        pending.append(point)
        if len(pending) == batch:
            began = time.perf_counter()
            store.upsert(pending)
            writing += time.perf_counter() - began
            pending = []
    began = time.perf_counter()
    store.upsert(pending)
    store.flush()
    writing += time.perf_counter() - began
    generating = time.perf_counter() - started - writing
    np.save(folder / "sample.npy", np.stack(sample))
    unoptimized = disk(index)
    began = time.perf_counter()
    store.optimize()
    optimizing = time.perf_counter() - began
    store.close()
    began = time.perf_counter()
    os.sync()  # as query_latency: the kernel's writeback is not timed as opening and searching
    return {
        "chunks": written,
        "generate_s": generating,
        "write_s": writing,
        "optimize_s": optimizing,
        "sync_s": time.perf_counter() - began,
        "disk_before_optimize": unoptimized,
        "disk": disk(index),
        "build_peak_rss": memory()["peak"],
    }


def serve(folder: Path, *, n_queries: int, seed: int) -> dict[str, Any]:
    """Open, warm and query the index in ``folder/index``; memory before and after."""
    index = folder / "index"
    qs = queries(np.load(folder / "sample.npy"), n_queries, seed)
    gc.collect()
    before = memory()
    cached_before = page_cache(index)
    store = EdgeStore(path=index)
    began = time.perf_counter()
    info = store.open(fingerprint=FINGERPRINT)
    opening = time.perf_counter() - began
    began = time.perf_counter()
    store.warm()
    warming = time.perf_counter() - began
    warmed = memory()
    cached = page_cache(index)
    dense = latency(store, qs, "dense")
    hybrid = latency(store, qs, "hybrid")
    after = memory()
    store.close()
    return {
        "indexed_chunks": info.chunks,
        "open_s": opening,
        "warm_s": warming,
        "dense": dense,
        "hybrid": hybrid,
        "rss_before_open": before,
        "rss_warm": warmed,
        "rss_after_queries": after,
        "page_cache_before_open": cached_before,
        "page_cache_warm": cached,
    }


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def child(mode: str, size: int, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run one phase in a fresh process; its figures, and the peak of its heap (``RssAnon``) sampled
    from here twice a second (the kernel keeps no peak of it, and optimizing holds the child's GIL)."""
    command = [sys.executable, __file__, f"--{mode}", str(size), "--folder", str(folder)]
    command += ["--seed", str(args.seed), "--queries", str(args.queries), "--batch", str(args.batch)]
    peak = 0
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(command, stdout=out, text=True)
        status = Path(f"/proc/{process.pid}/status")
        while process.poll() is None:
            with contextlib.suppress(OSError):
                for line in status.read_text().splitlines():
                    if line.startswith("RssAnon:"):
                        peak = max(peak, int(line.split()[1]) * 1024)
            time.sleep(0.5)
        if process.returncode:
            raise subprocess.CalledProcessError(process.returncode, command)
        out.seek(0)
        result: dict[str, Any] = json.loads(out.read().splitlines()[-1])
    result[f"{mode}_peak_anon"] = peak
    return result


def measure(size: int, args: argparse.Namespace) -> dict[str, Any]:
    load = [loadavg()]
    with tempfile.TemporaryDirectory(prefix="growth-", dir=args.dir) as name:
        folder = Path(name)
        print(f"{time.strftime('%H:%M:%S')} {size} chunks: building (load {load[-1]})", file=sys.stderr)
        built = child("build", size, folder, args)
        load.append(loadavg())
        print(f"{time.strftime('%H:%M:%S')} {size} chunks: serving (load {load[-1]})", file=sys.stderr)
        served = child("serve", size, folder, args)
        load.append(loadavg())
    row = {**built, **served, "load": load}
    print(f"{size} chunks: {json.dumps(row)}", file=sys.stderr)
    return row


def figures(row: dict[str, Any]) -> dict[str, float]:
    """The table's figures of one size (times in s, latency in ms, sizes in bytes)."""
    rss = row["rss_warm"]["rss"] - row["rss_before_open"]["rss"]
    anon = row["rss_warm"]["anon"] - row["rss_before_open"]["anon"]
    cache = row["page_cache_warm"]
    return {
        "chunks": row["chunks"],
        "write_s": row["write_s"],
        "optimize_s": row["optimize_s"],
        "open_s": row["open_s"],
        "warm_s": row["warm_s"],
        "dense_p50_ms": row["dense"]["p50_ms"],
        "dense_p99_ms": row["dense"]["p99_ms"],
        "hybrid_p50_ms": row["hybrid"]["p50_ms"],
        "hybrid_p99_ms": row["hybrid"]["p99_ms"],
        "rss_bytes": rss,
        "anon_bytes": anon,
        "page_cache_bytes": cache["bytes"] if cache else math.nan,
        "build_peak_rss_bytes": row["build_peak_rss"],
        "serve_peak_rss_bytes": row["rss_after_queries"]["peak"],
        "build_peak_anon_bytes": row.get("build_peak_anon", math.nan),
        "disk_bytes": row["disk"]["bytes"],
    }


def slope(a: dict[str, float], b: dict[str, float], key: str) -> float:
    if a[key] <= 0 or b[key] <= 0 or not math.isfinite(a[key] + b[key]):
        return math.nan
    return math.log(b[key] / a[key]) / math.log(b["chunks"] / a["chunks"])


def marginal(a: dict[str, float], b: dict[str, float], key: str) -> float:
    """Bytes per added chunk between two sizes (fixed overheads cancel); per chunk with one size."""
    if a is b:
        return a[key] / a["chunks"]
    return (b[key] - a[key]) / (b["chunks"] - a["chunks"])


def extrapolate(
    rows: list[dict[str, float]], measured: list[dict[str, Any]], args: argparse.Namespace
) -> dict[str, Any]:
    """RAM, disk and nodes for ``args.target`` chunks, from the bytes per chunk added between the two
    largest sizes (fixed overheads, such as the write-ahead log and preallocated files, cancel)."""
    pair = (-2, -1) if len(rows) > 1 else (-1, -1)
    a, b = rows[pair[0]], rows[pair[1]]
    small, large = measured[pair[0]]["disk"]["parts"], measured[pair[1]]["disk"]["parts"]
    span = b["chunks"] - a["chunks"] if a is not b else b["chunks"]
    base = 0 if a is b else 1
    parts = {key: (large.get(key, 0) - base * small.get(key, 0)) / span for key in large}
    disk = marginal(a, b, "disk_bytes")
    cached = marginal(a, b, "page_cache_bytes")
    anon = max(marginal(a, b, "anon_bytes"), 0.0)
    # Edge as configured: every file read into the page cache at open, plus the process's heap.
    edge_ram = (cached if math.isfinite(cached) else disk) + anon
    # A Qdrant server sized for a large corpus: original float32 vectors, payloads and sparse vectors
    # on disk; int8 quantized vectors (dim bytes each), the HNSW graph, the payload and sparse indexes
    # and the id tracker in RAM, each as large as Edge's (the same engine).
    in_ram = ("HNSW graph", "payload indexes", "sparse index", "id tracker, other")
    server_ram = DIM + sum(parts.get(key, 0.0) for key in in_ram)
    server_disk = disk + 2 * DIM + DIM  # float32 originals instead of float16, plus the int8 copy
    usable = args.node_gib * GIB * args.headroom
    n = args.target
    scale = n / b["chunks"]
    return {
        "target_chunks": n,
        "from_sizes": [a["chunks"], b["chunks"]],
        "per_chunk": {
            "disk": disk,
            "disk_parts": parts,
            "page_cache": cached,
            "anon": anon,
            "edge_ram": edge_ram,
            "server_ram": server_ram,
            "server_disk": server_disk,
        },
        "edge_ram_gib": edge_ram * n / GIB,
        "edge_disk_gib": disk * n / GIB,
        "edge_fits_one_node": edge_ram * n <= usable,
        "all_in_ram_nodes_per_replica": math.ceil(edge_ram * n / usable),
        "server_ram_gib": server_ram * n / GIB,
        "server_disk_gib": server_disk * n / GIB,
        "node_gib": args.node_gib,
        "headroom": args.headroom,
        "server_nodes_per_replica": math.ceil(server_ram * n / usable),
        "write_hours_one_process": b["write_s"] * scale / 3600,
        "optimize_hours_one_shard": (
            b["optimize_s"] * scale ** slope(a, b, "optimize_s") / 3600 if a is not b else math.nan
        ),
    }


def report(measured: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    rows = [figures(row) for row in measured]
    slopes = {
        f"{a['chunks']}->{b['chunks']}": {key: slope(a, b, key) for key in rows[0] if key != "chunks"}
        for a, b in itertools.pairwise(rows)
    }
    return {
        "sizes": measured,
        "table": rows,
        "slopes": slopes,
        "extrapolation": extrapolate(rows, measured, args),
    }


def show(result: dict[str, Any]) -> None:
    mb = 1e6
    print(
        "| chunks | write s | optimize s | open s | dense p50 / p99 ms | hybrid p50 / p99 ms "
        "| RSS added MB (B/chunk) | page cache MB (B/chunk) | peak RSS MB build (heap) / serve "
        "| disk MB (B/chunk) "
        "| load before/built/served |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for row, raw in zip(result["table"], result["sizes"], strict=True):
        n = row["chunks"]
        print(
            f"| {n:,} | {row['write_s']:.1f} | {row['optimize_s']:.1f} | {row['open_s']:.2f} "
            f"| {row['dense_p50_ms']:.2f} / {row['dense_p99_ms']:.2f} "
            f"| {row['hybrid_p50_ms']:.2f} / {row['hybrid_p99_ms']:.2f} "
            f"| {row['rss_bytes'] / mb:.0f} ({row['rss_bytes'] / n:.0f}) "
            f"| {row['page_cache_bytes'] / mb:.0f} ({row['page_cache_bytes'] / n:.0f}) "
            f"| {row['build_peak_rss_bytes'] / mb:.0f} ({row['build_peak_anon_bytes'] / mb:.0f}) "
            f"/ {row['serve_peak_rss_bytes'] / mb:.0f} "
            f"| {row['disk_bytes'] / mb:.0f} ({row['disk_bytes'] / n:.0f}) "
            f"| {' / '.join(raw['load'])} |"
        )
    x = result["extrapolation"]
    first, last = x["from_sizes"]
    basis = f"per chunk added from {first:,} to {last:,}" if first != last else f"per chunk at {last:,}"
    print(f"\ndisk by part, bytes {basis}:")
    for key, value in sorted(x["per_chunk"]["disk_parts"].items(), key=lambda item: -item[1]):
        print(f"  {key:18} {value:8.0f}")
    if result["slopes"]:
        print("\nlog-log slopes (1 = linear, 0 = flat):")
        keys = list(next(iter(result["slopes"].values())))
        print(f"  {'':22}" + "".join(f"{span:>18}" for span in result["slopes"]))
        for key in keys:
            print(f"  {key:22}" + "".join(f"{s[key]:18.2f}" for s in result["slopes"].values()))
    per = x["per_chunk"]
    print(f"\nextrapolated to {x['target_chunks']:,} chunks from the bytes {basis}:")
    print(
        f"  Edge (one process, everything in the page cache): {per['edge_ram']:.0f} B/chunk of RAM "
        f"(page cache {per['page_cache']:.0f} + heap {per['anon']:.0f}) -> {x['edge_ram_gib']:,.0f} GiB RAM, "
        f"{per['disk']:.0f} B/chunk of disk -> {x['edge_disk_gib']:,.0f} GiB; "
        f"{'fits' if x['edge_fits_one_node'] else 'does not fit'} one {x['node_gib']} GiB node; "
        f"sharded with everything in RAM: {x['all_in_ram_nodes_per_replica']} nodes per replica"
    )
    print(
        f"  Qdrant server (originals and payloads on disk; int8 vectors, HNSW, payload and sparse indexes "
        f"in RAM): {per['server_ram']:.0f} B/chunk of RAM -> {x['server_ram_gib']:,.0f} GiB, "
        f"{per['server_disk']:.0f} B/chunk of disk -> {x['server_disk_gib']:,.0f} GiB; "
        f"{x['server_nodes_per_replica']} nodes of {x['node_gib']} GiB per replica at "
        f"{x['headroom']:.0%} of their RAM"
    )
    print(
        f"  one process on this machine: writing {x['write_hours_one_process']:.1f} h (linear), "
        f"optimizing one shard {x['optimize_hours_one_shard']:.1f} h (power law of the last two sizes)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50000,200000,1000000", help="chunks, comma-separated")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=1000, help="chunks per upsert")
    parser.add_argument("--target", type=int, default=100_000_000, help="chunks to extrapolate to")
    parser.add_argument("--node-gib", type=int, default=64, help="RAM of one node, for the node count")
    parser.add_argument(
        "--headroom", type=float, default=0.75, help="share of a node's RAM the index may use"
    )
    parser.add_argument("--dir", default=None, help="where the temporary indexes go (default: the system's)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--report", type=Path, help="no run: report the sizes of an earlier --json output")
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        print(json.dumps(build(args.build, args.folder, seed=args.seed, batch=args.batch)))
        return
    if args.serve:
        print(json.dumps(serve(args.folder, n_queries=args.queries, seed=args.seed)))
        return
    if args.report:
        measured = json.loads(args.report.read_text())["sizes"]
    else:
        measured = [measure(size, args) for size in sorted(int(size) for size in args.sizes.split(","))]
    result = report(measured, args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        show(result)


if __name__ == "__main__":
    main()
