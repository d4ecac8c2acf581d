"""A LlamaIndex query engine over patents.

Two ways to answer questions from retrieved patents:

1. llama-index's stock ``RetrieverQueryEngine`` with patent_rag's ``PriorArtRetriever`` as the
   retriever: nodes are patents (best chunk text, bibliographic metadata).
2. patent_rag's ``PatentQueryEngine``: retrieved text is passed as labelled, escaped untrusted data,
   and the answer's ``[US...]`` citations are checked against what was retrieved.

Runs offline with llama-index's ``MockLLM``. To use a real model, point it at any OpenAI-compatible
server (Ollama, vLLM, llama.cpp):

    PATENT_RAG_LLM_URL=http://localhost:11434/v1 PATENT_RAG_LLM_MODEL=llama3.1 \
        python examples/llamaindex_query_engine.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from llama_index.core.llms import LLM, MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine

from patent_rag.encoding.encoder import Encoder
from patent_rag.ingest import ingest_documents
from patent_rag.llama_index.llm import OpenAICompatibleLLM
from patent_rag.llama_index.qa import PatentQueryEngine
from patent_rag.llama_index.retriever import PriorArtRetriever
from patent_rag.sample import sample_documents
from patent_rag.stores import open_store

QUESTION = "Which patents describe a voltage controlled oscillator, and how do they reduce jitter?"


def pick_llm() -> LLM:
    url, model = os.environ.get("PATENT_RAG_LLM_URL"), os.environ.get("PATENT_RAG_LLM_MODEL")
    if url and model:
        return OpenAICompatibleLLM(
            base_url=url, model=model, api_key_env=os.environ.get("PATENT_RAG_LLM_KEY_ENV")
        )
    print(
        "(no PATENT_RAG_LLM_URL / PATENT_RAG_LLM_MODEL set: using llama-index's MockLLM, "
        "answers are placeholders)"
    )
    return MockLLM(max_tokens=24)


def main() -> None:
    llm = pick_llm()
    encoder = Encoder("all-minilm-l6-v2")
    with tempfile.TemporaryDirectory() as scratch:
        store = open_store(str(Path(scratch) / "index"))
        ingest_documents(sample_documents(), store=store, encoder=encoder)
        retriever = PriorArtRetriever(index=store, embedding=encoder, top_k=4)

        stock = RetrieverQueryEngine.from_args(retriever, llm=llm)
        response = stock.query(QUESTION)
        print("\n1. RetrieverQueryEngine")
        print(f"   answer: {str(response)[:300]}")
        print(f"   sources: {[n.node.metadata['publication_number'] for n in response.source_nodes]}")

        engine = PatentQueryEngine(retriever=retriever, llm=llm)
        answer = engine.ask(QUESTION)
        print("\n2. PatentQueryEngine (checked citations)")
        print(f"   answer: {answer.answer[:300]}")
        print(f"   citations resolved: {answer.citations}; removed: {answer.unresolved_citations}")
        print(f"   retrieved: {[hit.publication_number for hit in answer.hits]}")
        store.close()


if __name__ == "__main__":
    main()
