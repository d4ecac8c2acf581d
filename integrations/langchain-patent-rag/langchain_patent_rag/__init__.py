"""LangChain integration for patent_rag: :class:`PatentRetriever` and :class:`PatentEmbeddings`.

Thin adapters over the framework-neutral core: :class:`~patent_rag.search.searcher.PatentSearcher`
searches, :class:`~patent_rag.encoding.encoder.Encoder` embeds; this package translates their types
to LangChain's.
"""

from __future__ import annotations

from langchain_patent_rag.embeddings import PatentEmbeddings
from langchain_patent_rag.retrievers import PatentRetriever, SearchType, to_document

__all__ = ["PatentEmbeddings", "PatentRetriever", "SearchType", "__version__", "to_document"]

__version__ = "0.1.0"
