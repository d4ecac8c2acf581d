"""A :class:`~patent_rag.search.hits.PatentHit` as the ``NodeWithScore`` LlamaIndex consumes.

The node carries the best chunk's text, and the patent's bibliographic fields as metadata; the
evidence and the fields a prompt does not need are kept out of embeddings and LLM prompts (the
query and chat engines render evidence themselves).

Example:
    >>> from patent_rag.search.hits import Evidence, PatentHit
    >>> hit = PatentHit(rank=1, publication_number="US8613112B2", score=0.83,
    ...                 evidence=[Evidence(chunk_id="a", section="claim", claim_number=1, text="A hinge ...",
    ...                                    score=0.83)])
    >>> to_node(hit).node.metadata["publication_number"]
    'US8613112B2'
"""

from __future__ import annotations

from datetime import date
from typing import Any

from llama_index.core.schema import NodeRelationship, NodeWithScore, RelatedNodeInfo, TextNode

from patent_rag.search.hits import PatentHit

__all__ = ["to_node"]

# Metadata kept out of embeddings and LLM prompts (the prompt builder renders evidence itself).
_HIDDEN_KEYS = [
    "evidence",
    "chunk_id",
    "score",
    "rank",
    "family_id",
    "ipc",
    "uspc",
    "priority_date",
    "filing_date",
    "publication_date",
]


def to_node(hit: PatentHit) -> NodeWithScore:
    """``hit`` as LlamaIndex's ``NodeWithScore``: best chunk text, bibliographic metadata."""
    best = hit.best
    metadata: dict[str, Any] = {
        "publication_number": hit.publication_number,
        "title": hit.title,
        "priority_date": _iso(hit.priority_date),
        "earliest_date": _iso(hit.earliest_date),
        "filing_date": _iso(hit.filing_date),
        "publication_date": _iso(hit.publication_date),
        "cpc": list(hit.cpc[:8]),
        "ipc": list(hit.ipc[:8]),
        "uspc": list(hit.uspc[:8]),
        "family_id": hit.family_id,
        "section": best.section,
        "claim_number": best.claim_number,
        "chunk_id": best.chunk_id,
        "score": hit.score,
        "rank": hit.rank,
        "evidence": [item.model_dump() for item in hit.evidence],
    }
    node = TextNode(
        id_=best.chunk_id,
        text=best.text,
        metadata=metadata,
        excluded_embed_metadata_keys=list(metadata),
        excluded_llm_metadata_keys=list(_HIDDEN_KEYS),
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=hit.publication_number)},
    )
    return NodeWithScore(node=node, score=hit.score)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
