"""Using a Qdrant server: ingest into a collection by URL, then search it for prior art.

    export QDRANT_URL=http://localhost:6333          # or https://xyz.cloud.qdrant.io:6333
    export QDRANT_API_KEY=...                        # only if the server needs one
    python examples/qdrant_server.py [--collection patent_rag_example]

The API key is read from the environment variable (never printed). The same collection can be
opened by several processes at once, and by llama-index's QdrantVectorStore.
"""

from __future__ import annotations

import argparse
import os
import sys

from patent_rag.encoding.encoder import Encoder
from patent_rag.ingest import ingest_documents
from patent_rag.sample import sample_documents
from patent_rag.search import PatentSearcher, SearchOptions
from patent_rag.stores import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description="patent_rag on a Qdrant server")
    parser.add_argument("--collection", default="patent_rag_example")
    args = parser.parse_args()
    url = os.environ.get("QDRANT_URL")
    if not url:
        sys.exit(
            "set QDRANT_URL to your Qdrant server (e.g. http://localhost:6333), "
            "and QDRANT_API_KEY if it needs one"
        )
    key_env = "QDRANT_API_KEY" if os.environ.get("QDRANT_API_KEY") else None
    store = open_store(f"{url}#{args.collection}", api_key_env=key_env)
    encoder = Encoder("all-minilm-l6-v2")
    summary = ingest_documents(sample_documents(), store=store, encoder=encoder)
    print(
        f"{store.location}: {summary.documents_written} patents written, "
        f"{summary.documents_unchanged} unchanged"
    )
    # On a server, grouping per patent and hybrid fusion run inside Qdrant (group-by, prefetch + RRF).
    options = SearchOptions(top_k=5, mode="hybrid")
    with PatentSearcher(index=store, encoder=encoder, options=options) as searcher:
        for hit in searcher.prior_art("US8089324B2"):
            print(f"{hit.rank}. {hit.publication_number} {hit.earliest_date} {hit.title} ({hit.best.label})")
    store.close()


if __name__ == "__main__":
    main()
