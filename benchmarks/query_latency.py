"""Query latency: Qdrant Edge (the embedded default) vs qdrant-client local mode, one run.

Synthetic 384-dim vectors (latency does not depend on the weights) clustered by technology, with
the payloads patent_rag really writes (``build_payload``: dates, CPC/IPC codes and prefixes,
publication numbers, chunk text, the llama-index fields), several chunks per patent. Each query is
the searcher's patent-level search without query embedding: ``search_groups`` (one group per
patent, 3 evidence chunks, the searcher's over-fetch) with a priority-date cutoff and a CPC prefix
filter, then conversion to ``PatentHit``. Also timed: opening the index, writing it, optimizing it.
Dense search is timed twice: right after opening (each search also maps the pages it touches into
the process for the first time), and after ``warm()``, as a long-running service runs; hybrid after.

    python benchmarks/query_latency.py [--chunks 200000] [--queries 300] [--local-chunks 50000]
                                       [--local-queries 20] [--seed 0] [--json]

qdrant-client local mode is a brute-force Python implementation: it gets fewer queries, and a
smaller collection when ``--local-chunks`` is below ``--chunks`` (both sizes are printed).
Targets: Edge p50 <= 5 ms, opening <= 1 s.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from patent_rag.documents import Claim, PatentDocument  # noqa: E402
from patent_rag.documents.chunking import Chunk  # noqa: E402
from patent_rag.encoding.fingerprint import Fingerprint  # noqa: E402
from patent_rag.search.hits import hit_from_hits  # noqa: E402
from patent_rag.search.searcher import prefetch_depth  # noqa: E402
from patent_rag.stores import EdgeStore, QdrantStore  # noqa: E402
from patent_rag.stores.base import SearchMode, Store, StoredPoint  # noqa: E402
from patent_rag.stores.filters import DateRange, SearchFilter  # noqa: E402
from patent_rag.stores.layout import build_payload, point_id  # noqa: E402

DIM = 384
CHUNKS_PER_PATENT = 8
TOP_K, EVIDENCE = 10, 3
SUBCLASSES = [
    "H04W",
    "H04L",
    "H04N",
    "G06F",
    "G06N",
    "G06T",
    "G06Q",
    "H01L",
    "H01M",
    "H02J",
    "H02M",
    "H03K",
    "H03B",
    "A61K",
    "A61B",
    "A61M",
    "A61F",
    "C07D",
    "C07K",
    "C12N",
    "C08L",
    "B60L",
    "B60W",
    "B62D",
    "F16H",
    "F02D",
    "G01N",
    "G01S",
    "G02B",
    "B65D",
    "B29C",
    "E21B",
    "F24F",
    "G05B",
    "G11C",
    "H05K",
    "B01D",
    "C09D",
    "A01N",
]
_VOCABULARY = """
device method system signal circuit layer substrate control unit data network wireless terminal power
voltage current oscillator frequency antenna battery electrode polymer compound composition cell
protein vehicle engine valve sensor optical lens image display pixel memory processor receiver
"""
WORDS = _VOCABULARY.split()
FINGERPRINT = Fingerprint(
    model_id="synthetic/latency",
    revision="0",
    pooling="mean",
    dim=DIM,
    normalize=True,
    document_prompt="",
    max_seq_length=256,
)


def iter_points(n_chunks: int, seed: int) -> Iterator[StoredPoint]:
    """The synthetic chunks one at a time (unit float32 vectors), so that large sizes can be streamed."""
    from patent_rag.stores.sparse import Bm25Encoder

    rng = np.random.default_rng(seed)
    pyrng = random.Random(seed)
    centers = rng.standard_normal((len(SUBCLASSES), DIM)).astype(np.float32)
    n_patents = n_chunks // CHUNKS_PER_PATENT
    bm25 = Bm25Encoder()
    for i in range(n_patents):
        main = pyrng.randrange(len(SUBCLASSES))
        codes = [f"{SUBCLASSES[main]}{pyrng.randint(1, 99)}/{pyrng.randint(0, 99):02d}"] + [
            f"{pyrng.choice(SUBCLASSES)}{pyrng.randint(1, 99)}/{pyrng.randint(0, 99):02d}"
            for _ in range(pyrng.randint(0, 2))
        ]
        priority = date(1995, 1, 1) + timedelta(days=pyrng.randrange(365 * 20))
        filing = priority + timedelta(days=pyrng.randrange(366))
        doc = PatentDocument(
            publication_number=f"US{7000000 + i}B2",
            title=" ".join(pyrng.choices(WORDS, k=6)),
            priority_date=priority if pyrng.random() < 0.7 else None,
            filing_date=filing,
            publication_date=filing + timedelta(days=365 + pyrng.randrange(3 * 365)),
            cpc=codes,
            ipc=codes[:1],
            family_id=f"F{i // 2}" if pyrng.random() < 0.3 else None,
            assignees=[f"Company {pyrng.randrange(500)}"],
            claims=[Claim(number=1, text="x")],
        )
        base = centers[main] + 0.6 * rng.standard_normal(DIM).astype(np.float32)
        texts = [" ".join(pyrng.choices(WORDS, k=90)) for _ in range(CHUNKS_PER_PATENT)]
        sparse = bm25.embed_documents(texts)
        for ordinal, text in enumerate(texts):
            section = "abstract" if ordinal == 0 else ("claim" if ordinal < 4 else "description")
            chunk = Chunk(
                publication_number=doc.publication_number,
                section=section,
                ordinal=ordinal,
                text=text,
                claim_number=ordinal if section == "claim" else None,
                content_hash=f"{i}-{ordinal}",
            )
            vector = base + 0.4 * rng.standard_normal(DIM).astype(np.float32)
            yield StoredPoint(
                point_id(doc.publication_number, section, ordinal),
                vector / np.linalg.norm(vector),
                sparse[ordinal],
                build_payload(doc, chunk),
            )


def build_points(n_chunks: int, seed: int) -> tuple[list[StoredPoint], np.ndarray]:
    """All of :func:`iter_points` at once, and their vectors as one array (the points share its rows)."""
    points = list(iter_points(n_chunks, seed))
    vectors = np.empty((len(points), DIM), np.float32)
    for row, point in enumerate(points):
        vectors[row] = point.dense
    return [replace(point, dense=vectors[row]) for row, point in enumerate(points)], vectors


def queries(vectors: np.ndarray, count: int, seed: int) -> list[tuple[np.ndarray, str, SearchFilter]]:
    rng = np.random.default_rng(seed + 1)
    pyrng = random.Random(seed + 1)
    out = []
    for _ in range(count):
        vector = vectors[rng.integers(len(vectors))] + 0.3 * rng.standard_normal(DIM).astype(np.float32)
        cutoff = date(2003, 1, 1) + timedelta(days=pyrng.randrange(365 * 12))
        flt = SearchFilter(
            cpc=[pyrng.choice(SUBCLASSES)[:3]], dates=(DateRange(field="earliest", before=cutoff),)
        )
        out.append((vector / np.linalg.norm(vector), " ".join(pyrng.choices(WORDS, k=8)), flt))
    return out


def write(store: Store, points: list[StoredPoint], batch: int = 1000) -> float:
    started = time.perf_counter()
    store.create(fingerprint=FINGERPRINT)
    for start in range(0, len(points), batch):
        store.upsert(points[start : start + batch])
    store.flush()
    return time.perf_counter() - started


def latency(
    store: Store, qs: list[tuple[np.ndarray, str, SearchFilter]], mode: SearchMode
) -> dict[str, float]:
    def one(vector: np.ndarray, text: str, flt: SearchFilter) -> int:
        groups = store.search_groups(
            dense=vector,
            text=text,
            mode=mode,
            search_filter=flt,
            limit=TOP_K,  # type: ignore[arg-type]
            group_size=EVIDENCE,
            candidates=prefetch_depth(mode, TOP_K),  # what PatentSearcher passes
        )
        return len(
            [hit_from_hits(g.hits, rank=i + 1, score=g.score, limit=EVIDENCE) for i, g in enumerate(groups)]
        )

    started = time.perf_counter()
    one(*qs[0])  # warm-up, timed: dense runs first, so its first query is the first after opening
    first = (time.perf_counter() - started) * 1000
    times, found = [], []
    for vector, text, flt in qs:
        started = time.perf_counter()
        found.append(one(vector, text, flt))
        times.append((time.perf_counter() - started) * 1000)
    return {
        "queries": len(qs),
        "first_ms": first,
        "p50_ms": float(np.percentile(times, 50)),
        "p99_ms": float(np.percentile(times, 99)),
        "mean_ms": float(np.mean(times)),
        "mean_patents": float(np.mean(found)),
    }


def run(args: argparse.Namespace) -> dict[str, object]:
    results: dict[str, object] = {"chunks": args.chunks, "local_chunks": min(args.local_chunks, args.chunks)}
    started = time.perf_counter()
    points, vectors = build_points(args.chunks, args.seed)
    print(f"built {len(points)} points in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    qs = queries(vectors, args.queries, args.seed)
    with tempfile.TemporaryDirectory(prefix="latency-") as folder:
        edge = EdgeStore(path=Path(folder) / "edge")
        edge_write = write(edge, points)
        started = time.perf_counter()
        edge.optimize()
        edge_optimize = time.perf_counter() - started
        edge.close()
        # Let the kernel finish writing the new index out, so that its writeback (on the same two
        # cores) is not timed as opening and searching: users open an index long after building it.
        os.sync()
        started = time.perf_counter()
        edge.open(fingerprint=FINGERPRINT)
        edge_open = time.perf_counter() - started
        cold = latency(edge, qs, "dense")  # what a process that just opened the index sees
        edge.close()
        started = time.perf_counter()
        edge.open(fingerprint=FINGERPRINT)
        edge_reopen = time.perf_counter() - started
        started = time.perf_counter()
        edge.warm()  # what a long-running service does once after opening
        edge_warm = time.perf_counter() - started
        results["edge"] = {
            "write_s": edge_write,
            "optimize_s": edge_optimize,
            "open_s": edge_open,
            "reopen_s": edge_reopen,
            "warm_s": edge_warm,
            "dense_after_open": cold,
            "dense": latency(edge, qs, "dense"),
            "hybrid": latency(edge, qs, "hybrid"),
        }
        print(f"edge: {results['edge']}", file=sys.stderr)
        edge.close()
        del edge
        gc.collect()

        local_points = points[: results["local_chunks"]]  # type: ignore[misc]
        local_vectors = vectors[: len(local_points)]
        del points
        local = QdrantStore(path=str(Path(folder) / "local"))
        local_write = write(local, local_points)
        local.close()
        started = time.perf_counter()
        local = QdrantStore(path=str(Path(folder) / "local"))
        local.open(fingerprint=FINGERPRINT)
        local_open = time.perf_counter() - started
        local_qs = queries(local_vectors, args.local_queries, args.seed)
        results["local"] = {
            "write_s": local_write,
            "open_s": local_open,
            "dense": latency(local, local_qs, "dense"),
        }
        print(f"local: {results['local']}", file=sys.stderr)
        local.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--local-chunks", type=int, default=50_000)
    parser.add_argument("--local-queries", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results = run(args)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    edge, local = results["edge"], results["local"]  # type: ignore[index]
    print(
        f"Edge, {results['chunks']} chunks: open {edge['open_s']:.2f} s (again: {edge['reopen_s']:.2f} s), "
        f"warm {edge['warm_s']:.2f} s, write {edge['write_s']:.1f} s, optimize {edge['optimize_s']:.1f} s"
    )
    for mode, label in (
        ("dense_after_open", "dense, right after opening"),
        ("dense", "dense"),
        ("hybrid", "hybrid"),
    ):
        m = edge[mode]
        print(
            f"  {label:26} grouped+filtered: p50 {m['p50_ms']:.2f} ms, p99 {m['p99_ms']:.2f} ms "
            f"({m['queries']} queries; the first {m['first_ms']:.1f} ms)"
        )
    m = local["dense"]
    print(
        f"qdrant-client local mode, {results['local_chunks']} chunks: open {local['open_s']:.2f} s, "
        f"write {local['write_s']:.1f} s"
    )
    print(
        f"  dense  grouped+filtered: p50 {m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms "
        f"({m['queries']} queries)"
    )
    print(
        f"targets: Edge p50 <= 5 ms ({'met' if edge['dense']['p50_ms'] <= 5 else 'MISSED'} after warm(), "
        f"{'met' if edge['dense_after_open']['p50_ms'] <= 5 else 'MISSED'} right after opening), "
        f"open <= 1 s ({'met' if edge['open_s'] <= 1 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
