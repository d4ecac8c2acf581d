"""The index layout every backend shares: vector names, point ids, payload fields and their indexes.

One point per chunk. A point has a named dense vector ``"dense"`` (cosine, sized from the model)
and a sparse vector ``"bm25"`` whose IDF is applied by Qdrant's ``Modifier.IDF``. Its payload
holds the patent's bibliographic fields (dates as RFC 3339 datetimes so Qdrant's datetime indexes
and ranges apply; CPC/IPC codes with every prefix level as keyword arrays), the chunk's section,
position and text, and the fields llama-index's ``QdrantVectorStore`` reads (``_node_content``,
``_node_type``, ``doc_id``...), so the collection is also a llama-index vector store.

Point ids are deterministic (re-ingesting a chunk overwrites its point) and start with 64 bits
that name the patent: every chunk of a patent shares them, so an engine without group-by (Qdrant
Edge) groups search hits by patent from their ids alone, without reading a payload.

An index records the layout version it was written with; a patent_rag reads its own layout only
and refuses an index of another (:class:`~patent_rag.stores.base.IndexMetadata`).

Example:
    >>> point_id("US8613112B2", "claim", 3)
    '9f03fb78-9dd7-5049-8d94-ac1607482c47'
    >>> patent_key(point_id("US8613112B2", "claim", 3)) == patent_key(point_id("US8613112B2", "abstract", 0))
    True
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import date
from typing import Any

from patent_rag.documents.chunking import Chunk
from patent_rag.documents.record import PatentDocument

__all__ = [
    "DENSE_VECTOR",
    "INDEXED_FIELDS",
    "LAYOUT_VERSION",
    "LLAMA_INDEX_FIELDS",
    "POINT_NAMESPACE",
    "SPARSE_VECTOR",
    "assignee_key",
    "build_payload",
    "classification_prefixes",
    "patent_key",
    "point_id",
    "rfc3339",
]

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "bm25"
# Bump when what is written for a chunk changes (point ids, payload fields, a backend's stored
# fields or settings): an index of another version is refused with the way to rebuild it. The
# version is also part of every point's hash.
LAYOUT_VERSION = 2
# Written for llama-index's QdrantVectorStore in qdrant-client collections (not in Edge shards,
# which it cannot read), left out of our own search results (the node JSON repeats the chunk text:
# returning it would double what every query reads).
LLAMA_INDEX_FIELDS = ("_node_content", "_node_type", "doc_id", "document_id", "ref_doc_id")
POINT_NAMESPACE = uuid.UUID("6f1c2a52-3b0e-5a8e-9a43-8d1f0c4e7b21")

# field -> index kind. Every field a filter or a group-by touches is indexed (server and Edge use
# the indexes; qdrant-client's local mode ignores them and scans).
INDEXED_FIELDS: dict[str, str] = {
    "publication_number": "keyword",
    "family_id": "keyword",
    "family_key": "keyword",
    "country": "keyword",
    "kind": "keyword",
    "section": "keyword",
    "cpc_prefixes": "keyword",
    "ipc_prefixes": "keyword",
    "uspc_prefixes": "keyword",
    "assignee_keys": "keyword",
    "priority_date": "datetime",
    "filing_date": "datetime",
    "publication_date": "datetime",
    "earliest_date": "datetime",
    # ordinal 0 marks the first chunk of each patent: counting them counts patents.
    "ordinal": "integer",
}

_GROUP = re.compile(r"^([A-HY]\d\d[A-Z])(\d+)(?:/(\d+))?$")


def point_id(publication_number: str, section: str, ordinal: int) -> str:
    """The deterministic id of a chunk's point: re-ingesting the same chunk overwrites it.

    The uuid5 of ``"number|section|ordinal"`` with its first 8 bytes replaced by those of the
    uuid5 of the publication number, so that the id names the patent (:func:`patent_key`). The
    result is a well-formed version-5 UUID (its version and variant bits come from the two
    uuid5s). Two patents share a key with probability 2**-60 per pair.
    """
    chunk = uuid.uuid5(POINT_NAMESPACE, f"{publication_number}|{section}|{ordinal}")
    patent = uuid.uuid5(POINT_NAMESPACE, publication_number)
    return str(uuid.UUID(bytes=patent.bytes[:8] + chunk.bytes[8:]))


def patent_key(point: str) -> str:
    """The patent part of a point id (its first 8 bytes, as the id's first 18 characters)."""
    return point[:18]


def classification_prefixes(code: str) -> list[str]:
    """Every level of a normalized CPC/IPC symbol, coarsest first, the full symbol last.

    >>> classification_prefixes("H04W52/02")
    ['H', 'H04', 'H04W', 'H04W52', 'H04W52/02']
    >>> classification_prefixes("H04W")
    ['H', 'H04', 'H04W']
    """
    levels = [code[:1], code[:3], code[:4]]
    match = _GROUP.match(code)
    if match:
        levels.append(match.group(1) + match.group(2))
    levels.append(code)
    return list(dict.fromkeys(level for level in levels if level))


def assignee_key(name: str) -> str:
    """The form assignee names are matched in: case-folded, punctuation and spacing collapsed.

    >>> assignee_key("Apple,  Inc.")
    'apple inc'
    """
    return " ".join(re.sub(r"[^\w]+", " ", name.casefold()).split())


def rfc3339(value: date) -> str:
    """A date as the RFC 3339 datetime Qdrant's datetime index parses (midnight UTC)."""
    return f"{value.isoformat()}T00:00:00Z"


def _prefixes(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(level for code in codes for level in classification_prefixes(code)))


def _node_content(pid: str, doc: PatentDocument, chunk: Chunk) -> str:
    # A minimal llama-index TextNode: TextNode.from_json fills every other field with its default,
    # which keeps the payload small and survives llama-index adding fields. The SOURCE relation (1)
    # makes node.ref_doc_id the publication number.
    metadata: dict[str, Any] = {
        "publication_number": doc.publication_number,
        "title": doc.title,
        "section": chunk.section,
        "claim_number": chunk.claim_number,
        "priority_date": doc.priority_date.isoformat() if doc.priority_date else None,
        "publication_date": doc.publication_date.isoformat() if doc.publication_date else None,
        "cpc": doc.cpc[:8],
    }
    node = {
        "id_": pid,
        "text": chunk.text,
        "metadata": metadata,
        "excluded_embed_metadata_keys": list(metadata),
        "relationships": {"1": {"node_id": doc.publication_number, "node_type": "4"}},
        "class_name": "TextNode",
    }
    return json.dumps(node, ensure_ascii=False, separators=(",", ":"))


def build_payload(doc: PatentDocument, chunk: Chunk) -> dict[str, Any]:
    """The payload of one chunk's point, ``content_hash`` included.

    ``content_hash`` hashes everything written for the chunk except vectors (its text, position,
    the document's fields and the layout version), so "stored hash == this hash" means the point
    is up to date and the chunk need not be embedded again.
    """
    pid = point_id(doc.publication_number, chunk.section, chunk.ordinal)
    payload: dict[str, Any] = {
        "publication_number": doc.publication_number,
        "family_key": doc.family_id or f"pn:{doc.publication_number}",
        "country": doc.country,
        "section": chunk.section,
        "ordinal": chunk.ordinal,
        "text": chunk.text,
        "title": doc.title or "",
        "cpc": doc.cpc,
        "cpc_prefixes": _prefixes(doc.cpc),
        "ipc": doc.ipc,
        "ipc_prefixes": _prefixes(doc.ipc),
        "uspc": doc.uspc,
        "uspc_prefixes": list(
            dict.fromkeys(level for code in doc.uspc for level in (code.split("/")[0], code))
        ),
        "assignees": doc.assignees,
        "assignee_keys": [assignee_key(name) for name in doc.assignees],
        "inventors": doc.inventors,
    }
    optional = {
        "family_id": doc.family_id,
        "kind": doc.kind,
        "language": doc.language,
        "claim_number": chunk.claim_number,
        "parent_claim": chunk.parent_claim,
        "paragraph_start": chunk.paragraph_start,
        "paragraph_end": chunk.paragraph_end,
        "priority_date": doc.priority_date and rfc3339(doc.priority_date),
        "filing_date": doc.filing_date and rfc3339(doc.filing_date),
        "publication_date": doc.publication_date and rfc3339(doc.publication_date),
        "earliest_date": doc.earliest_date and rfc3339(doc.earliest_date),
    }
    # Missing values are left out rather than stored as null: a date range then simply does not
    # match them, and "is empty" finds them on every backend.
    payload.update({key: value for key, value in optional.items() if value is not None})
    digest = hashlib.sha256(f"{LAYOUT_VERSION}|{chunk.content_hash}|".encode())
    digest.update(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode())
    payload["content_hash"] = digest.hexdigest()[:32]
    # llama-index QdrantVectorStore compatibility (node_to_metadata_dict's keys).
    payload["_node_content"] = _node_content(pid, doc, chunk)
    payload["_node_type"] = "TextNode"
    payload["doc_id"] = payload["document_id"] = payload["ref_doc_id"] = doc.publication_number
    return payload
