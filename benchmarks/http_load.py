"""HTTP API load: requests/s and p50/p99 latency of text search and prior art through ``patent-rag serve``.

One server process (uvicorn, as ``patent-rag serve`` runs it) per index, and a bounded local load
generator: ``C`` client threads, each with its own keep-alive ``httpx`` connection, sending
requests back to back until ``--requests`` have been answered. The same operations are timed in
process (``PatentService``, serially) on the same index, so the table shows what HTTP, JSON and the
server add to a search; that comparison runs in the same process and minute, so the ratio holds
where absolute times move with the machine.

Two indexes:

- ``demo``: the 75 packaged sample patents (315 chunks), ingested with all-MiniLM-L6-v2.
- ``synthetic``: ``--chunks`` chunks (default 200,000; 8 per patent) with the payloads patent_rag
  writes and clustered vectors, built as ``benchmarks/query_latency.py`` builds them, under the
  MiniLM fingerprint, so the server embeds each query with the real model and searches a real
  200k-chunk Edge index (the ranking means nothing; the work per request is real).

The load generator and the server share the machine's cores: on a 2-core machine, concurrency above
2 measures contention, not capacity.

    python benchmarks/http_load.py [--chunks 200000] [--requests 200] [--concurrency 1 4] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from query_latency import WORDS, build_points  # noqa: E402

from patent_rag.encoding.encoder import Encoder  # noqa: E402
from patent_rag.ingest import ingest_documents  # noqa: E402
from patent_rag.sample import sample_documents  # noqa: E402
from patent_rag.search.requests import PriorArtRequest, SearchRequest  # noqa: E402
from patent_rag.search.service import PatentService  # noqa: E402
from patent_rag.stores import EdgeStore  # noqa: E402

MODEL = "all-minilm-l6-v2"
DEMO_QUERIES = [
    "voltage controlled oscillator with low phase noise",
    "hinge for a foldable electronic device",
    "battery charging circuit with temperature protection",
    "image sensor pixel readout",
    "wireless network access point handover",
    "semiconductor memory cell array",
    "fuel injection control for an engine",
    "display panel driving method",
]


def build_demo(folder: Path, encoder: Encoder) -> list[str]:
    store = EdgeStore(path=folder)
    documents = sample_documents()
    ingest_documents(documents, store=store, encoder=encoder)
    store.close()
    return [doc.publication_number for doc in documents]


def build_synthetic(folder: Path, encoder: Encoder, chunks: int, seed: int) -> list[str]:
    points, _ = build_points(chunks, seed)
    store = EdgeStore(path=folder)
    store.create(fingerprint=encoder.fingerprint)
    for start in range(0, len(points), 2000):
        store.upsert(points[start : start + 2000])
    store.optimize()
    store.close()
    numbers = sorted({str(point.payload["publication_number"]) for point in points})
    os.sync()  # the kernel's writeback of the new index is not the server's work
    return numbers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(index: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-c", "from patent_rag.cli import main; main()", "serve"]
    command += ["--index", str(index), "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not answer /health within 180 s")


def summary(latencies: list[float], wall: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "rps": len(ordered) / wall,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    }


def load(base: str, path: str, bodies: list[dict[str, Any]], concurrency: int) -> dict[str, float]:
    """Send every body once, ``concurrency`` at a time; every answer must be 200."""
    chunks = [bodies[i::concurrency] for i in range(concurrency)]

    def client(share: list[dict[str, Any]]) -> list[float]:
        times = []
        with httpx.Client(base_url=base, timeout=60) as http:
            for body in share:
                started = time.perf_counter()
                response = http.post(path, json=body)
                times.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise SystemExit(f"{path} answered {response.status_code}: {response.text[:300]}")
        return times

    with httpx.Client(base_url=base, timeout=60) as http:  # one warm-up request per operation
        http.post(path, json=bodies[0])
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = [t for part in pool.map(client, chunks) for t in part]
    return summary(latencies, time.perf_counter() - started)


def in_process(index: Path, calls: list[Callable[[PatentService], object]]) -> dict[str, float]:
    with PatentService.open(str(index)) as service:
        calls[0](service)
        latencies = []
        started = time.perf_counter()
        for call in calls:
            began = time.perf_counter()
            call(service)
            latencies.append(time.perf_counter() - began)
    return summary(latencies, time.perf_counter() - started)


def workload(numbers: list[str], texts: list[str], count: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    return {
        "search": [{"query": rng.choice(texts), "top_k": 10} for _ in range(count)],
        "prior-art": [{"publication_number": rng.choice(numbers), "top_k": 10} for _ in range(count)],
    }


def measure(
    name: str, index: Path, bodies: dict[str, list[dict[str, Any]]], levels: list[int]
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    server, base = start_server(index)
    try:
        for operation, items in bodies.items():
            for level in levels:
                figures = load(base, f"/api/{operation}", items, level)
                results[f"{operation} http c={level}"] = figures
                print(f"{name} {operation} c={level}: {figures}", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(30)
    searches: list[Callable[[PatentService], object]] = [
        lambda service, body=body: service.search(SearchRequest(**body)) for body in bodies["search"]
    ]
    prior: list[Callable[[PatentService], object]] = [
        lambda service, body=body: service.prior_art(PriorArtRequest(**body)) for body in bodies["prior-art"]
    ]
    for operation, calls in (("search", searches), ("prior-art", prior)):
        figures = in_process(index, calls)
        results[f"{operation} in-process"] = figures
        print(f"{name} {operation} in-process: {figures}", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--chunks", type=int, default=200_000, help="chunks of the synthetic index (0: skip it)"
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per operation and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    encoder = Encoder(MODEL)
    results: dict[str, Any] = {"cpus": os.cpu_count(), "requests": args.requests}
    with tempfile.TemporaryDirectory(prefix="http-load-") as folder:
        demo = Path(folder) / "demo"
        numbers = build_demo(demo, encoder)
        bodies = workload(numbers, DEMO_QUERIES, args.requests, args.seed)
        results["demo"] = {"chunks": 315, **measure("demo", demo, bodies, args.concurrency)}
        if args.chunks:
            started = time.perf_counter()
            synthetic = Path(folder) / "synthetic"
            numbers = build_synthetic(synthetic, encoder, args.chunks, args.seed)
            print(f"built the synthetic index in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            texts = [" ".join(random.Random(i).choices(WORDS, k=8)) for i in range(64)]
            bodies = workload(numbers, texts, args.requests, args.seed)
            results["synthetic"] = {
                "chunks": args.chunks,
                **measure("synthetic", synthetic, bodies, args.concurrency),
            }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("| index | operation | requests/s | p50 ms | p99 ms | p50 vs in-process |")
    print("|---|---|---:|---:|---:|---:|")
    for name in ("demo", "synthetic"):
        if name not in results:
            continue
        figures = results[name]
        for key, row in figures.items():
            if not isinstance(row, dict):
                continue
            operation = key.split(" ")[0]
            base = figures[f"{operation} in-process"]["p50_ms"]
            label = f"{name} ({figures['chunks']:,} chunks)"
            print(
                f"| {label} | {key} | {row['rps']:.1f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
                f"| {row['p50_ms'] / base:.2f}x |"
            )


if __name__ == "__main__":
    main()
