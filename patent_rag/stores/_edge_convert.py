"""Qdrant Edge glue: neutral values to ``qdrant_edge`` classes, and Edge's exceptions to ours.

Edge 0.9 raises a plain ``Exception`` for every failure; the message is all there is to go by.
Observed messages: ``"... failed to open WAL ...: Kind(WouldBlock)"`` (shard open elsewhere),
``"... directory X does not exist"``, ``"... path already contains segment data"``,
``"Vector dimension error: expected dim: 8, got 7"``, ``"Service runtime error: Shard is not
initialized"`` (after ``close()``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import qdrant_edge as qe

from patent_rag.errors import (
    IndexExistsError,
    IndexLockedError,
    IndexNotFoundError,
    InvalidVectorError,
    StoreError,
)
from patent_rag.stores.base import RRF_K, StoredPoint
from patent_rag.stores.filters import AnyOf, CompiledFilter, DateWindow
from patent_rag.stores.layout import DENSE_VECTOR, LLAMA_INDEX_FIELDS, SPARSE_VECTOR
from patent_rag.stores.sparse import SparseTerms

__all__ = ["PAYLOAD", "edge_errors", "edge_filter", "first_chunks", "point", "query_request"]

PAYLOAD = qe.PayloadSelector.Exclude(list(LLAMA_INDEX_FIELDS))


@contextmanager
def edge_errors(location: str) -> Iterator[None]:
    """Translate Edge's plain ``Exception`` by its message into the project's error tree."""
    try:
        yield
    except Exception as error:
        if type(error) is not Exception:  # ours, or a Python error (TypeError...) that is a bug
            raise
        text = str(error)
        if "WouldBlock" in text:
            raise IndexLockedError(
                f"{location} is open in another process; only one process may open an embedded index "
                "(use a Qdrant server for concurrent access)"
            ) from error
        if "does not exist" in text:
            raise IndexNotFoundError(f"no Edge shard at {location}") from error
        if "already contains segment data" in text:
            raise IndexExistsError(f"{location} already holds an Edge shard") from error
        if "dimension error" in text:
            raise InvalidVectorError(f"{location}: {text}") from error
        if "not initialized" in text:
            raise StoreError(f"{location} is closed; open it again") from error
        raise StoreError(f"Qdrant Edge failed on {location}: {text}") from error


def point(stored: StoredPoint, dense: list[float]) -> qe.Point:
    vectors: dict[str, Any] = {DENSE_VECTOR: dense}
    if stored.sparse:
        vectors[SPARSE_VECTOR] = qe.SparseVector(list(stored.sparse.indices), list(stored.sparse.values))
    return qe.Point(stored.id, vectors, dict(stored.payload))


def _condition(condition: AnyOf | DateWindow) -> Any:
    if isinstance(condition, AnyOf):
        return qe.FieldCondition(condition.key, match=qe.MatchAny(list(condition.values)))  # type: ignore[arg-type]
    window = qe.FieldCondition(condition.key, range=qe.RangeDateTime(gte=condition.gte, lt=condition.lt))
    if condition.include_missing:
        return qe.Filter(should=[window, qe.IsEmptyCondition(condition.key)])
    return window


def edge_filter(compiled: CompiledFilter) -> qe.Filter | None:
    if not compiled:
        return None
    return qe.Filter(
        must=[_condition(c) for c in compiled.must] or None,
        must_not=[_condition(c) for c in compiled.must_not] or None,
    )


def first_chunks() -> qe.Filter:
    """Ordinal 0: one point per patent (an integer, because Edge 0.9 cannot match booleans)."""
    return qe.Filter(must=[qe.FieldCondition("ordinal", match=qe.MatchValue(0))])


def query_request(
    dense: np.ndarray | None,
    sparse: SparseTerms | None,
    *,
    mode: str,
    flt: qe.Filter | None,
    limit: int,
    candidates: int,
    fusion: str,
) -> qe.QueryRequest:
    dense_query = qe.Query.Nearest(dense.tolist(), using=DENSE_VECTOR) if dense is not None else None
    sparse_query = (
        qe.Query.Nearest(qe.SparseVector(list(sparse.indices), list(sparse.values)), using=SPARSE_VECTOR)
        if sparse is not None
        else None
    )
    if mode == "dense":
        return qe.QueryRequest(limit=limit, query=dense_query, filter=flt, with_payload=PAYLOAD)
    if mode == "bm25":
        return qe.QueryRequest(limit=limit, query=sparse_query, filter=flt, with_payload=PAYLOAD)
    prefetches = [qe.Prefetch(limit=candidates, query=dense_query, filter=flt)]
    if sparse:
        prefetches.append(qe.Prefetch(limit=candidates, query=sparse_query, filter=flt))
    method: Any = (
        qe.Fusion.Rrf(k=RRF_K) if fusion == "rrf" else qe.Fusion.Dbsf()
    )  # the stub types Fusion only
    return qe.QueryRequest(limit=limit, prefetches=prefetches, query=method, filter=flt, with_payload=PAYLOAD)
