"""Chat over patents with an OpenAI-compatible LLM (Ollama, vLLM, llama.cpp server ...).

    export PATENT_RAG_LLM_URL=http://localhost:11434/v1     # the server
    export PATENT_RAG_LLM_MODEL=llama3.1                    # a model it serves
    export PATENT_RAG_LLM_KEY_ENV=MY_LLM_KEY                # optional: the variable holding the API key
    python examples/chat_openai_compatible.py [--index DIR] [--interactive]

Without ``--index`` it chats over the packaged USPTO sample (indexed on the fly with MiniLM). Each
answer cites publication numbers; citations that match no retrieved patent are removed and listed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from patent_rag.encoding.resolve import encoder_for_index
from patent_rag.ingest import ingest_documents
from patent_rag.llama_index.llm import OpenAICompatibleLLM
from patent_rag.llama_index.qa import PatentChatEngine
from patent_rag.sample import sample_documents
from patent_rag.search import PatentSearcher, SearchOptions
from patent_rag.stores import open_store

TURNS = [
    "Which patents describe a low-jitter voltage controlled oscillator?",
    "How does the multiphase one work?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description="chat over patents")
    parser.add_argument("--index", help="an existing patent_rag index (default: the packaged sample)")
    parser.add_argument("--interactive", action="store_true", help="type your own questions")
    args = parser.parse_args()
    url, model = os.environ.get("PATENT_RAG_LLM_URL"), os.environ.get("PATENT_RAG_LLM_MODEL")
    if not url or not model:
        sys.exit(
            "set PATENT_RAG_LLM_URL (e.g. http://localhost:11434/v1) and PATENT_RAG_LLM_MODEL "
            "(e.g. llama3.1) to an OpenAI-compatible server, and PATENT_RAG_LLM_KEY_ENV to the name "
            "of the variable holding its API key if it needs one"
        )
    llm = OpenAICompatibleLLM(base_url=url, model=model, api_key_env=os.environ.get("PATENT_RAG_LLM_KEY_ENV"))
    with tempfile.TemporaryDirectory() as scratch:
        store = open_store(args.index or str(Path(scratch) / "index"))
        if args.index:
            store.open()
            encoder = encoder_for_index(store.metadata.fingerprint)
        else:
            from patent_rag.encoding.encoder import Encoder

            encoder = Encoder("all-minilm-l6-v2")
            ingest_documents(sample_documents(), store=store, encoder=encoder)
        searcher = PatentSearcher(index=store, encoder=encoder, options=SearchOptions(top_k=4))
        chat = PatentChatEngine(retriever=searcher, llm=llm)
        questions = iter(lambda: input("\nyou> ").strip(), "") if args.interactive else iter(TURNS)
        for question in questions:
            response = chat.chat(question)
            print(f"\nyou> {question}\nllm> {response}")
            meta = response.metadata or {}
            print(f"     cited: {meta['citations']}; removed: {meta['unresolved_citations']}")
        store.close()
    llm.close()


if __name__ == "__main__":
    main()
