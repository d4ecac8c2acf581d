"""patent_rag: patent retrieval for LlamaIndex and Qdrant.

Task-prompted patent embeddings (:class:`Encoder`, :class:`PatentEmbedding`), streaming parsers
for USPTO / EPO / JSONL / CSV (:func:`parse_files`), section-aware chunking (:class:`Chunker`),
idempotent Qdrant ingestion (:func:`ingest`, :func:`open_store`), a prior-art retriever
(:class:`PriorArtRetriever`) and QA chains with citations (:class:`PatentQueryEngine`).

Names whose modules pull in heavy frameworks (llama-index, qdrant-client) are imported on first
use, so ``import patent_rag`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from patent_rag.chunking import Chunk, Chunker
from patent_rag.documents import (
    Claim,
    Paragraph,
    PatentDocument,
    normalize_classification,
    normalize_publication_number,
)
from patent_rag.encoder import Encoder
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
from patent_rag.fingerprint import Fingerprint
from patent_rag.models import ModelProfile, TaskPrompts, get_profile, list_profiles, register_profile
from patent_rag.parsers import ParseReport, parse_files

if TYPE_CHECKING:
    from patent_rag.boosts import MetadataBoosts
    from patent_rag.embedding import PatentEmbedding
    from patent_rag.hits import Evidence, PatentHit
    from patent_rag.ingest import IngestSummary, ingest, ingest_documents
    from patent_rag.llm import OpenAICompatibleLLM
    from patent_rag.qa import PatentAnswer, PatentChatEngine, PatentQueryEngine
    from patent_rag.retriever import PriorArtRetriever
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
    "PriorArtRetriever",
    "SearchFilter",
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
    "MetadataBoosts": "patent_rag.boosts",
    "PatentEmbedding": "patent_rag.embedding",
    "Evidence": "patent_rag.hits",
    "PatentHit": "patent_rag.hits",
    "OpenAICompatibleLLM": "patent_rag.llm",
    "PatentAnswer": "patent_rag.qa",
    "PatentChatEngine": "patent_rag.qa",
    "PatentQueryEngine": "patent_rag.qa",
    "PriorArtRetriever": "patent_rag.retriever",
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
