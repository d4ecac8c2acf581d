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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

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
from patent_rag.stores.layout import DENSE_VECTOR, INDEXED_FIELDS, LLAMA_INDEX_FIELDS, SPARSE_VECTOR
from patent_rag.stores.plan import QueryPlan

__all__ = [
    "HIDDEN",
    "HNSW_EF",
    "LINKED",
    "PAYLOAD",
    "SEARCH_PARAMS",
    "TWINS",
    "edge_errors",
    "edge_filter",
    "field_index",
    "field_indexes",
    "first_chunks",
    "point",
    "requests",
    "shard_config",
    "twin_index",
]

# Integer twins of the fields filters touch most, written to Edge only (payload field -> twin);
# filters on those fields use the twins, which have the payload indexes. Edge checks the filter on
# every HNSW candidate it visits, and comparing CPC prefix strings and RFC 3339 datetimes was most
# of a filtered search's time: 63-bit hashes of the prefixes and days since 1970 compare as
# integers, with the same results (docs/benchmarks.md).
TWINS: dict[str, str] = {
    "cpc_prefixes": "cpc_prefix_ids",
    "ipc_prefixes": "ipc_prefix_ids",
    "priority_date": "priority_day",
    "filing_date": "filing_day",
    "publication_date": "publication_day",
    "earliest_date": "earliest_day",
}
# The payload fields search results leave out: the twins are the index's business.
HIDDEN = frozenset(TWINS.values())
PAYLOAD = qe.PayloadSelector.Exclude(sorted(HIDDEN))
_EPOCH = date(1970, 1, 1)
# What Edge says of files it cannot read (see the module docstring).
_DAMAGE = ("failed to load segment", "Storage file not found", "is not readable from", "Gridstore IO error")
# Qdrant adds HNSW links per value of every indexed field unless told not to (``enable_hnsw``), so
# that a search filtered to one value still walks a connected graph. Shards keep them for the CPC
# prefixes only: users narrow prior art by CPC class or subclass, which can hold a few percent of an
# index, while a prior-art date cutoff keeps most of it and the other fields are rarely filtered on.
# With links for every field each point carries those of a dozen value blocks and every search,
# filtered or not, scores that many more neighbours; with no such links at all, filtered searches
# lose most of their recall. The thinner graph of float16 vectors (``_VECTORS``) is searched deeper
# (``HNSW_EF``), which brings recall back at the same speed (docs/benchmarks.md).
LINKED = frozenset({"cpc_prefix_ids"})
HNSW_EF = 240
SEARCH_PARAMS = qe.SearchParams(hnsw_ef=HNSW_EF)
# Memory placement of what a shard stores: memory-mapped and read into the page cache when the
# shard loads. Edge drops its files from the page cache when a shard closes, so "Cold" (Edge's
# default for payloads) makes the first queries after an open read payloads from disk a page at a
# time, and "Pinned" (the default for payload and sparse indexes) rebuilds those indexes on the
# heap at every load; a sequential warm-up is cheaper than both. No int8 quantization: it makes
# filtered dense search faster but opening several times slower (Edge reads quantized vectors into
# memory a page at a time).
_MEMORY = qe.Memory.Cached
# Dense vectors are stored as float16: they are the largest part of a shard, and opening reads the
# shard back into the page cache, so a smaller shard opens and optimizes faster. Search is as fast
# at equal recall with a deeper beam (``HNSW_EF``); scores differ from float32 ones by up to 2e-4.
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
    # every payload read parses the whole payload, so they are not written.
    payload = {key: value for key, value in stored.payload.items() if key not in LLAMA_INDEX_FIELDS}
    payload.update(
        {twin: _twin_value(field, payload[field]) for field, twin in TWINS.items() if field in payload}
    )
    return qe.Point(stored.id, vectors, payload)


def shard_config(dim: int) -> qe.EdgeConfig:
    """The configuration of a new shard."""
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


def field_indexes() -> dict[str, qe.KeywordIndexParams | qe.DatetimeIndexParams | qe.IntegerIndexParams]:
    """Every payload index of a shard, in the order they are made: the twins, then the fields
    without a twin (a field with one is filtered on its twin, and needs no index of its own)."""
    indexes: dict[str, qe.KeywordIndexParams | qe.DatetimeIndexParams | qe.IntegerIndexParams] = {
        twin: twin_index(twin) for twin in TWINS.values()
    }
    indexes.update({name: field_index(kind) for name, kind in INDEXED_FIELDS.items() if name not in TWINS})
    return indexes


def _condition(condition: AnyOf | DateWindow) -> Any:
    twin = TWINS.get(condition.key)
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


def edge_filter(compiled: CompiledFilter) -> qe.Filter | None:
    """The Edge filter, on the twins of the fields that have one."""
    if not compiled:
        return None
    return qe.Filter(
        must=[_condition(c) for c in compiled.must] or None,
        must_not=[_condition(c) for c in compiled.must_not] or None,
    )


def first_chunks() -> qe.Filter:
    """Ordinal 0: one point per patent (an integer, because Edge 0.9 cannot match booleans)."""
    return qe.Filter(must=[qe.FieldCondition("ordinal", match=qe.MatchValue(0))])


def requests(plan: QueryPlan) -> Callable[[int, qe.PayloadSelector | bool], qe.QueryRequest]:
    """The plan translated once: returns ``(limit, payload) -> request`` for each fetch of a search.

    A hybrid search fuses a dense and a BM25 prefetch (the BM25 one only when the text has a
    term), each ``plan.candidates`` deep and at least as deep as the fetch. The prefetches are
    filtered, so the fused result is: filtering it again would cost a second pass.
    """
    flt = edge_filter(plan.filter)
    dense = qe.Query.Nearest(list(plan.dense), using=DENSE_VECTOR) if plan.dense is not None else None
    sparse = (
        qe.Query.Nearest(
            qe.SparseVector(list(plan.sparse.indices), list(plan.sparse.values)), using=SPARSE_VECTOR
        )
        if plan.sparse is not None
        else None
    )
    mode, candidates = plan.mode, plan.candidates or 0
    fusion: Any = qe.Fusion.Rrf(k=RRF_K) if plan.fusion == "rrf" else qe.Fusion.Dbsf()  # stubs: Fusion only

    def request(limit: int, payload: qe.PayloadSelector | bool) -> qe.QueryRequest:
        if mode == "dense":
            return qe.QueryRequest(
                limit=limit, query=dense, filter=flt, with_payload=payload, params=SEARCH_PARAMS
            )
        if mode == "bm25":
            return qe.QueryRequest(limit=limit, query=sparse, filter=flt, with_payload=payload)
        depth = max(candidates, limit)
        prefetches = [qe.Prefetch(limit=depth, query=dense, filter=flt, params=SEARCH_PARAMS)]
        if sparse is not None:
            prefetches.append(qe.Prefetch(limit=depth, query=sparse, filter=flt))
        return qe.QueryRequest(limit=limit, prefetches=prefetches, query=fusion, with_payload=payload)

    return request
