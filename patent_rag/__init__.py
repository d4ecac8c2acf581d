"""patent_rag: patent retrieval for LlamaIndex and Qdrant.

Task-prompted patent embeddings (:class:`Encoder`), streaming parsers for USPTO / EPO / JSONL / CSV
(:func:`parse_files`), section-aware chunking (:class:`Chunker`), idempotent Qdrant ingestion
(:func:`ingest`, :func:`open_store`) and prior-art search (:class:`PatentSearcher`, configured by
:class:`SearchOptions`). LlamaIndex adapters: :class:`PatentEmbedding`, :class:`PriorArtRetriever`
and QA engines with checked citations (:class:`PatentQueryEngine`).

Names whose modules pull in heavy frameworks (llama-index, qdrant-client) are imported on first
use, so ``import patent_rag`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from patent_rag.documents.chunking import Chunk, Chunker
from patent_rag.documents.parsers import ParseReport, parse_files
from patent_rag.documents.record import (
    Claim,
    Paragraph,
    PatentDocument,
    normalize_classification,
    normalize_publication_number,
)
from patent_rag.encoding.encoder import Encoder
from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.encoding.models import ModelProfile, TaskPrompts, get_profile, list_profiles, register_profile
from patent_rag.errors import (
    ConfigurationError,
    EncodingError,
    FingerprintMismatchError,
    IndexCorruptError,
    ModelUnavailableError,
    ParseError,
    PatentRagError,
    StoreError,
)

if TYPE_CHECKING:
    from patent_rag.ingest import IngestSummary, ingest, ingest_documents
    from patent_rag.llama_index.embedding import PatentEmbedding
    from patent_rag.llama_index.llm import OpenAICompatibleLLM
    from patent_rag.llama_index.qa import PatentChatEngine, PatentQueryEngine
    from patent_rag.llama_index.retriever import PriorArtRetriever
    from patent_rag.search.answers import PatentAnswer
    from patent_rag.search.boosts import MetadataBoosts
    from patent_rag.search.hits import Evidence, PatentHit
    from patent_rag.search.options import SearchOptions
    from patent_rag.search.searcher import PatentSearcher
    from patent_rag.stores import DateRange, SearchFilter, Store, open_store

__all__ = [
    "Chunk",
    "Chunker",
    "Claim",
    "ConfigurationError",
    "DateRange",
    "Encoder",
    "EncodingError",
    "Evidence",
    "Fingerprint",
    "FingerprintMismatchError",
    "IndexCorruptError",
    "IngestSummary",
    "MetadataBoosts",
    "ModelProfile",
    "ModelUnavailableError",
    "OpenAICompatibleLLM",
    "Paragraph",
    "ParseError",
    "ParseReport",
    "PatentAnswer",
    "PatentChatEngine",
    "PatentDocument",
    "PatentEmbedding",
    "PatentHit",
    "PatentQueryEngine",
    "PatentRagError",
    "PatentSearcher",
    "PriorArtRetriever",
    "SearchFilter",
    "SearchOptions",
    "Store",
    "StoreError",
    "TaskPrompts",
    "__version__",
    "get_profile",
    "ingest",
    "ingest_documents",
    "list_profiles",
    "normalize_classification",
    "normalize_publication_number",
    "open_store",
    "parse_files",
    "register_profile",
]

__version__ = "0.1.0"

_LAZY = {
    "MetadataBoosts": "patent_rag.search.boosts",
    "PatentEmbedding": "patent_rag.llama_index.embedding",
    "Evidence": "patent_rag.search.hits",
    "PatentHit": "patent_rag.search.hits",
    "OpenAICompatibleLLM": "patent_rag.llama_index.llm",
    "PatentAnswer": "patent_rag.search.answers",
    "PatentChatEngine": "patent_rag.llama_index.qa",
    "PatentQueryEngine": "patent_rag.llama_index.qa",
    "PriorArtRetriever": "patent_rag.llama_index.retriever",
    "PatentSearcher": "patent_rag.search.searcher",
    "SearchOptions": "patent_rag.search.options",
    "DateRange": "patent_rag.stores",
    "IngestSummary": "patent_rag.ingest",
    "ingest": "patent_rag.ingest",
    "ingest_documents": "patent_rag.ingest",
    "SearchFilter": "patent_rag.stores",
    "Store": "patent_rag.stores",
    "open_store": "patent_rag.stores",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'patent_rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
