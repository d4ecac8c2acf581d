"""Offline full-text check on the USPTO fixtures shipped in the repository (public domain).

1. Citation pairs: every fixture's ``us-references-cited`` list (``doc.cited_patents``) is matched
   against the publication numbers of the fixtures themselves (with and without kind codes). Pairs
   found become qrels and are scored with the prior-art searcher (query by patent).
2. Known item, because the fixtures are weekly slices of unrelated grants that rarely cite each
   other: each patent is indexed *without its claims* (title, abstract, description chunks) and
   searched with its first independent claim as free text; the relevant document is the patent
   itself. This exercises full-text chunking and retrieval, not prior-art quality.

    python benchmarks/quality_uspto_citations.py [--limit N] [--mode hybrid] [--json OUT.json]

Sources: tests/fixtures/uspto and patent_rag/data (the demo sample), both in the repository.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import get_args

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from patent_rag.documents import PatentDocument  # noqa: E402
from patent_rag.documents.parsers import parse_files  # noqa: E402
from patent_rag.documents.parsers.base import ParseReport  # noqa: E402
from patent_rag.encoding.encoder import Encoder  # noqa: E402
from patent_rag.ingest import ingest_documents  # noqa: E402
from patent_rag.search.evaluation import evaluate  # noqa: E402
from patent_rag.search.options import SearchMode, SearchOptions  # noqa: E402
from patent_rag.search.searcher import PatentSearcher  # noqa: E402
from patent_rag.stores import open_store  # noqa: E402

SOURCES = (ROOT / "tests" / "fixtures" / "uspto", ROOT / "patent_rag" / "data")
_KIND = re.compile(r"(?<=\d)[A-Z]\d?$")


def load_fixtures() -> list[PatentDocument]:
    """Every patent the fixtures hold once (broken fixtures are skipped by the parser's report)."""
    files = sorted(p for root in SOURCES for p in root.iterdir() if p.suffix.lower() in (".xml", ".gz"))
    docs: dict[str, PatentDocument] = {}
    report = ParseReport()
    for path in files:
        for doc in parse_files([path], report=report):
            docs.setdefault(doc.publication_number, doc)
    return list(docs.values())


def citation_pairs(docs: list[PatentDocument]) -> dict[str, dict[str, int]]:
    """query patent -> cited patents that are in ``docs`` (kind codes ignored for the match)."""
    by_number = {_KIND.sub("", doc.publication_number): doc.publication_number for doc in docs}
    qrels: dict[str, dict[str, int]] = {}
    for doc in docs:
        for cited in doc.cited_patents:
            target = by_number.get(_KIND.sub("", cited))
            if target and target != doc.publication_number:
                qrels.setdefault(doc.publication_number, {})[target] = 1
    return qrels


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=40, help="patents in the known-item check (0: all)")
    parser.add_argument("--mode", default="hybrid", choices=get_args(SearchMode))
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    docs = load_fixtures()
    cited = sum(len(doc.cited_patents) for doc in docs)
    qrels = citation_pairs(docs)
    pairs = sum(len(found) for found in qrels.values())
    print(
        f"{len(docs)} fixture patents, {cited} cited references, {pairs} citation pairs inside the fixtures"
    )
    result: dict[str, object] = {"patents": len(docs), "references": cited, "in_corpus_pairs": pairs}
    encoder = Encoder("all-minilm-l6-v2")
    with tempfile.TemporaryDirectory(prefix="quality-uspto-") as tmp:
        if qrels:
            store = open_store(str(Path(tmp) / "citations"))
            ingest_documents(docs, store=store, encoder=encoder)
            options = SearchOptions(mode=args.mode, cutoff=None)
            with PatentSearcher(index=store, encoder=encoder, options=options) as searcher:
                scored = evaluate(searcher, qrels, top_k=100)
            store.close()
            m = scored.metrics
            print(
                f"citations ({scored.queries} queries): "
                f"nDCG@10 {m['ndcg@10']:.3f}, R@100 {m['recall@100']:.3f}"
            )
            result["citations"] = scored.as_dict()
        else:
            print("no fixture cites another fixture: the citation lists support no ranking measurement")
        known = [doc for doc in docs if doc.independent_claims and (doc.description or doc.abstract)]
        known = known[: args.limit] if args.limit else known
        store = open_store(str(Path(tmp) / "known-item"))
        started = time.perf_counter()
        ingest_documents(
            [doc.model_copy(update={"claims": []}) for doc in known], store=store, encoder=encoder
        )
        queries = {doc.publication_number: doc.independent_claims[0].text for doc in known}
        items = {number: {number: 1} for number in queries}
        with PatentSearcher(index=store, encoder=encoder, options=SearchOptions(mode=args.mode)) as searcher:
            scored = evaluate(
                searcher, items, queries=queries, top_k=10, measures=["mrr", "recall@1", "recall@10"]
            )
        store.close()
        m = scored.metrics
        print(
            f"known item ({len(known)} patents indexed without claims, {args.mode}, first claim as query): "
            f"MRR {m['mrr']:.3f}, R@1 {m['recall@1']:.3f}, R@10 {m['recall@10']:.3f} "
            f"({time.perf_counter() - started:.0f} s)"
        )
        result["known_item"] = scored.as_dict()
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
