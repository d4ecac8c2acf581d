"""LlamaIndex adapters over the search core: the ``BaseEmbedding``
(:class:`~.embedding.PatentEmbedding`), the ``BaseRetriever`` (:class:`~.retriever.PriorArtRetriever`),
hits as nodes (:func:`~.nodes.to_node`), query and chat engines with checked citations (:mod:`.qa`)
and an LLM for OpenAI-compatible endpoints (:mod:`.llm`). The only package that imports llama-index.
"""

from __future__ import annotations

from patent_rag.llama_index.embedding import PatentEmbedding
from patent_rag.llama_index.llm import OpenAICompatibleLLM
from patent_rag.llama_index.nodes import to_node
from patent_rag.llama_index.qa import PatentAnswer, PatentChatEngine, PatentQueryEngine
from patent_rag.llama_index.retriever import PriorArtRetriever

__all__ = [
    "OpenAICompatibleLLM",
    "PatentAnswer",
    "PatentChatEngine",
    "PatentEmbedding",
    "PatentQueryEngine",
    "PriorArtRetriever",
    "to_node",
]
