"""Quickstart: index patents and search them for prior art with the Python API.

Runs offline: it indexes the small public-domain USPTO sample shipped with patent_rag (75 grants,
titles, abstracts and independent claims) with the packaged MiniLM model into an embedded Qdrant
Edge index, then asks for the prior art of one grant and runs a free-text search.

    python examples/quickstart.py [--index DIR]

With ``--index DIR`` the index is kept in DIR (re-running skips what is already stored).
For your own data use a patent model (e.g. ``Encoder("patembed-base")``) and ``ingest([...files])``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from patent_rag.encoding.encoder import Encoder
from patent_rag.ingest import ingest_documents
from patent_rag.llama_index.retriever import PriorArtRetriever
from patent_rag.sample import sample_documents
from patent_rag.search import PatentSearcher, SearchOptions
from patent_rag.stores import SearchFilter, open_store


def main() -> None:
    parser = argparse.ArgumentParser(description="patent_rag quickstart")
    parser.add_argument("--index", type=Path, help="keep the index in this directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        location = str(args.index or Path(scratch) / "index")
        encoder = Encoder("all-minilm-l6-v2")

        # 1. Ingest: parse -> chunk -> embed -> write (idempotent: unchanged patents are skipped).
        store = open_store(location)
        summary = ingest_documents(sample_documents(), store=store, encoder=encoder)
        print(f"indexed {summary.documents} patents, {summary.index.chunks if summary.index else '?'} chunks")

        # 2. Prior art for a patent in the index: its claims and abstract are the queries, it and its
        #    family are excluded, and only documents dated before its priority date are kept.
        with PatentSearcher(index=store, encoder=encoder, options=SearchOptions(top_k=5)) as searcher:
            print("\nPrior art for US8089324B2 (varactor-free oscillator, filed 2008-12-31):")
            for hit in searcher.prior_art("US8089324B2"):
                print(
                    f"  {hit.rank}. {hit.publication_number} {hit.earliest_date} {hit.score:.4f} {hit.title}"
                )
                print(f"     best evidence ({hit.best.label}): {hit.best.snippet(100)}")

            # 3. Free text, filtered by IPC prefix (any level: section, class, subclass, group).
            print("\nFree text 'light emitting diode with a heat sink' in IPC class H01L:")
            for hit in searcher.search(
                "light emitting diode with a heat sink", filters=SearchFilter(ipc=("H01L",)), top_k=3
            ):
                print(f"  {hit.rank}. {hit.publication_number} {hit.title} [{', '.join(hit.ipc)}]")

            # 4. Other options are another searcher over the same index (nothing is mutated).
            bm25 = searcher.with_options(mode="bm25", top_k=3)
            print(f"\nBM25 only: {[hit.publication_number for hit in bm25.search('ring oscillator')]}")

            # 5. For LlamaIndex, the searcher wrapped as a BaseRetriever.
            nodes = PriorArtRetriever(searcher=searcher).retrieve("ring oscillator with low jitter")
            print(f"\nLlamaIndex nodes: {[n.node.metadata['publication_number'] for n in nodes[:3]]}")
        store.close()


if __name__ == "__main__":
    main()
