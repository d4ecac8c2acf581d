"""Qdrant Edge glue: neutral values to ``qdrant_edge`` classes, and Edge's exceptions to ours.

Edge 0.9 raises a plain ``Exception`` for every failure; the message is all there is to go by.
Observed messages: ``"... failed to open WAL ...: Kind(WouldBlock)"`` (shard open elsewhere),
``"... directory X does not exist"``, ``"... path already contains segment data"``,
``"Vector dimension error: expected dim: 8, got 7"``, ``"Service runtime error: Shard is not
initialized"`` (after ``close()``); for damaged files ``"failed to load segment ..."``, ``"Storage
file not found: ..."``, ``"vector 9114 is not readable from ..."`` (a truncated vector file) and
``"Gridstore IO error: ... out of bounds"`` (a truncated payload or sparse vector file).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any

import numpy as np
import qdrant_edge as qe

from patent_rag.errors import (
    IndexCorruptError,
    IndexExistsError,
    IndexLockedError,
    IndexNotFoundError,
    InvalidVectorError,
    StoreError,
)
from patent_rag.stores._disk import RESUME
from patent_rag.stores._edge_check import rebuild
from patent_rag.stores.base import RRF_K, StoredPoint
from patent_rag.stores.filters import AnyOf, CompiledFilter, DateWindow
from patent_rag.stores.layout import DENSE_VECTOR, LLAMA_INDEX_FIELDS, SPARSE_VECTOR
from patent_rag.stores.sparse import SparseTerms

__all__ = [
    "HIDDEN",
    "HNSW_EF",
    "LINKED",
    "PAYLOAD",
    "TWINS",
    "edge_errors",
    "edge_filter",
    "field_index",
    "first_chunks",
    "point",
    "query_request",
    "search_params",
    "shard_config",
    "twin_index",
]

# Integer twins of the fields filters touch most, written to Edge only (payload field -> twin).
# Edge checks the filter on every HNSW candidate it visits, and most of a filtered search's time
# went to comparing CPC prefix strings and RFC 3339 datetimes; 63-bit hashes of the prefixes and
# days since 1970 compare as integers: 15-20% faster at 200,000 chunks, same results. Indexes
# created before have no twin indexes and filter on the original fields (see ``edge_filter``).
TWINS: dict[str, str] = {
    "cpc_prefixes": "cpc_prefix_ids",
    "ipc_prefixes": "ipc_prefix_ids",
    "priority_date": "priority_day",
    "filing_date": "filing_day",
    "publication_date": "publication_day",
    "earliest_date": "earliest_day",
}
# The payload fields search results leave out (Edge-only twins; llama-index's, in shards written before).
HIDDEN = frozenset((*LLAMA_INDEX_FIELDS, *TWINS.values()))
PAYLOAD = qe.PayloadSelector.Exclude(sorted(HIDDEN))
_EPOCH = date(1970, 1, 1)
# What Edge says of files it cannot read (see the module docstring).
_DAMAGE = ("failed to load segment", "Storage file not found", "is not readable from", "Gridstore IO error")
# Qdrant adds HNSW links per value of every indexed field unless told not to (``enable_hnsw``), so
# that a search filtered to one value still walks a connected graph. New shards keep them for the
# CPC prefixes only: users narrow prior art by CPC class or subclass, which can hold a few percent of
# an index, while a prior-art date cutoff keeps most of it and the other fields are rarely filtered
# on. With links for every field each point carried those of a dozen value blocks and every search,
# filtered or not, scored that many more neighbours (at 200,000 chunks a date + CPC filtered search
# took 2.2x as long); with no such links at all, filtered searches lose most of their recall. The
# thinner graph of float16 vectors (``_VECTORS``) is searched deeper (``HNSW_EF``): at 200,000
# chunks, patent recall@10 against exact search 0.91, was 0.89 (README, query latency).
LINKED = frozenset({"cpc_prefix_ids"})
HNSW_EF = 240
# Memory placement of what a new shard stores: memory-mapped and read into the page cache when the
# shard loads. Edge drops its files from the page cache when a shard closes, so "Cold" (Edge's
# default for payloads) makes the first queries after an open read payloads from disk a page at a
# time, and "Pinned" (the default for payload and sparse indexes) rebuilds those indexes on the
# heap at every load; a sequential warm-up is cheaper than both. No int8 quantization: it made
# filtered dense search ~20% faster at 200,000 chunks but loading took 2.6 s instead of 0.9 s
# (Edge reads quantized vectors into memory a page at a time).
_MEMORY = qe.Memory.Cached
# Dense vectors are stored as float16: they are the largest part of a shard, and opening reads the
# shard back into the page cache (at 200,000 chunks 680 MB instead of 831 MB, opening 0.68-0.74 s
# instead of 0.93-1.02 s, optimize() 147-198 s instead of 223-268 s). Search is as fast at equal recall
# (float16 needs hnsw_ef 240 where float32 needed 160); scores differ from float32 by up to 2e-4.
_VECTORS = qe.VectorStorageDatatype.Float16


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
        if "No space left on device" in text or "Disk quota exceeded" in text:
            raise StoreError(f"not enough free space for {location} ({text}); {RESUME}") from error
        if any(sign in text for sign in _DAMAGE):
            raise IndexCorruptError(f"{location} is damaged: {text}; {rebuild(location)}") from error
        raise StoreError(f"Qdrant Edge failed on {location}: {text}") from error


def _prefix_id(prefix: str) -> int:
    """A classification prefix as a stable 63-bit integer (Edge integers are signed 64-bit)."""
    return int.from_bytes(hashlib.blake2b(prefix.encode(), digest_size=8).digest(), "little") >> 1


def _day(rfc3339: str) -> int:
    return (date.fromisoformat(rfc3339[:10]) - _EPOCH).days


def _twin_value(field: str, value: Any) -> Any:
    return [_prefix_id(prefix) for prefix in value] if field.endswith("_prefixes") else _day(value)


def point(stored: StoredPoint, dense: list[float]) -> qe.Point:
    vectors: dict[str, Any] = {DENSE_VECTOR: dense}
    if stored.sparse:
        vectors[SPARSE_VECTOR] = qe.SparseVector(list(stored.sparse.indices), list(stored.sparse.values))
    # llama-index's fields serve qdrant-client collections; nothing reads them from an Edge shard, and
    # every payload read parses the whole payload (a third shorter without them: reads ~20% faster).
    payload = {key: value for key, value in stored.payload.items() if key not in LLAMA_INDEX_FIELDS}
    payload.update(
        {twin: _twin_value(field, payload[field]) for field, twin in TWINS.items() if field in payload}
    )
    return qe.Point(stored.id, vectors, payload)


def shard_config(dim: int) -> qe.EdgeConfig:
    """The configuration of a new shard (an existing shard keeps the one it was created with)."""
    dense = qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine, memory=_MEMORY, datatype=_VECTORS)
    sparse = qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf, memory=_MEMORY)
    return qe.EdgeConfig(
        vectors={DENSE_VECTOR: dense}, sparse_vectors={SPARSE_VECTOR: sparse}, payload_memory=_MEMORY
    )


def field_index(kind: str) -> qe.KeywordIndexParams | qe.DatetimeIndexParams | qe.IntegerIndexParams:
    """Index parameters of a field of kind ``keyword``, ``datetime`` or ``integer`` (no HNSW links)."""
    if kind == "keyword":
        return qe.KeywordIndexParams(memory=_MEMORY, enable_hnsw=False)
    if kind == "datetime":
        return qe.DatetimeIndexParams(memory=_MEMORY, enable_hnsw=False)
    if kind == "integer":
        return qe.IntegerIndexParams(lookup=True, range=True, memory=_MEMORY, enable_hnsw=False)
    raise StoreError(f"no Edge payload index for field kind {kind!r}")


def twin_index(twin: str) -> qe.IntegerIndexParams:
    """Index parameters of a twin field: prefix ids are matched, days compared."""
    days = twin.endswith("_day")
    return qe.IntegerIndexParams(lookup=not days, range=days, memory=_MEMORY, enable_hnsw=twin in LINKED)


def search_params(schema: Mapping[str, Any]) -> qe.SearchParams | None:
    """The dense search parameters for a shard with this payload schema: ``HNSW_EF`` when its indexes
    give HNSW links to ``LINKED`` fields only (new shards); Edge's default for older shards."""
    lean = all(
        getattr(info.params, "enable_hnsw", None) is False
        for name, info in schema.items()
        if name not in LINKED
    )
    return qe.SearchParams(hnsw_ef=HNSW_EF) if lean and set(schema) >= LINKED else None


def _condition(condition: AnyOf | DateWindow, twins: Mapping[str, str]) -> Any:
    twin = twins.get(condition.key)
    if isinstance(condition, AnyOf):
        if twin is not None:
            return qe.FieldCondition(twin, match=qe.MatchAny([_prefix_id(str(v)) for v in condition.values]))
        return qe.FieldCondition(condition.key, match=qe.MatchAny(list(condition.values)))  # type: ignore[arg-type]
    if twin is not None:
        days = qe.RangeFloat(
            gte=_day(condition.gte) if condition.gte else None,
            lt=_day(condition.lt) if condition.lt else None,
        )
        window = qe.FieldCondition(twin, range=days)
    else:
        window = qe.FieldCondition(condition.key, range=qe.RangeDateTime(gte=condition.gte, lt=condition.lt))
    if condition.include_missing:
        return qe.Filter(should=[window, qe.IsEmptyCondition(twin or condition.key)])
    return window


def edge_filter(compiled: CompiledFilter, twins: Mapping[str, str] | None = None) -> qe.Filter | None:
    """The Edge filter; ``twins`` (payload field -> twin) are the indexed twins to filter on instead."""
    if not compiled:
        return None
    twins = twins or {}
    return qe.Filter(
        must=[_condition(c, twins) for c in compiled.must] or None,
        must_not=[_condition(c, twins) for c in compiled.must_not] or None,
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
    payload: qe.PayloadSelector | bool = PAYLOAD,
    params: qe.SearchParams | None = None,
) -> qe.QueryRequest:
    """A dense, BM25 or fused hybrid query returning ``payload`` (by default all but llama-index's)."""
    dense_query = qe.Query.Nearest(dense.tolist(), using=DENSE_VECTOR) if dense is not None else None
    sparse_query = (
        qe.Query.Nearest(qe.SparseVector(list(sparse.indices), list(sparse.values)), using=SPARSE_VECTOR)
        if sparse is not None
        else None
    )
    if mode == "dense":
        return qe.QueryRequest(
            limit=limit, query=dense_query, filter=flt, with_payload=payload, params=params
        )
    if mode == "bm25":
        return qe.QueryRequest(limit=limit, query=sparse_query, filter=flt, with_payload=payload)
    prefetches = [qe.Prefetch(limit=candidates, query=dense_query, filter=flt, params=params)]
    if sparse:
        prefetches.append(qe.Prefetch(limit=candidates, query=sparse_query, filter=flt))
    method: Any = (
        qe.Fusion.Rrf(k=RRF_K) if fusion == "rrf" else qe.Fusion.Dbsf()
    )  # the stub types Fusion only
    # The prefetches are filtered, so the fused result is: filtering it again costs a second pass.
    return qe.QueryRequest(limit=limit, prefetches=prefetches, query=method, with_payload=payload)
