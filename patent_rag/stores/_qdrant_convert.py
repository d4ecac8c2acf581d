"""qdrant-client glue: neutral values to ``models`` classes, and its exceptions to ours.

qdrant-client raises different exceptions for the same failure depending on where the collection
lives (checked against qdrant-client 1.20):

=====================  ====================================  ============================================
failure                server (REST)                         local mode (``:memory:`` / ``path=``)
=====================  ====================================  ============================================
missing collection     ``UnexpectedResponse`` 404            ``ValueError("Collection x not found")``
collection exists      ``UnexpectedResponse`` 409 (400)      ``ValueError("Collection c already exists")``
wrong vector size      ``UnexpectedResponse`` 400            ``ValueError("... Vector dimension error")``
folder in use          n/a                                   ``RuntimeError("... already accessed ...")``
unreachable / timeout  ``ResponseHandlingException``         n/a
bad API key            ``UnexpectedResponse`` 401 / 403      n/a
client closed          n/a                                   ``RuntimeError("... instance is closed")``
=====================  ====================================  ============================================

:func:`client_errors` maps all of them once; the secret (API key) is scrubbed from every message.
It wraps calls into qdrant-client only: a pydantic ``ValidationError`` (a ``ValueError``) means a
value we built is wrong, a bug to see as itself, never a "qdrant-client failed".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from pydantic import ValidationError
from qdrant_client import models as m
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from patent_rag.errors import (
    BackendUnavailableError,
    IndexExistsError,
    IndexLockedError,
    IndexNotFoundError,
    InvalidVectorError,
    PatentRagError,
    StoreError,
)
from patent_rag.stores.base import RRF_K, StoredPoint
from patent_rag.stores.filters import AnyOf, CompiledFilter, DateWindow
from patent_rag.stores.layout import DENSE_VECTOR, LLAMA_INDEX_FIELDS, SPARSE_VECTOR
from patent_rag.stores.plan import QueryPlan

__all__ = ["PAYLOAD", "client_errors", "client_filter", "first_chunks", "point", "query_parts", "scrub"]


# llama-index's fields are written for its QdrantVectorStore; our results leave them out.
PAYLOAD = m.PayloadSelectorExclude(exclude=list(LLAMA_INDEX_FIELDS))


def scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _server_detail(error: UnexpectedResponse) -> str:
    try:
        return str(json.loads(error.content)["status"]["error"])
    except (ValueError, KeyError, TypeError):
        return error.content[:200].decode("utf-8", "replace") or (error.reason_phrase or "")


@contextmanager
def client_errors(location: str, *, secret: str | None = None, key_env: str | None = None) -> Iterator[None]:
    """Translate qdrant-client's server and local-mode exceptions into the project's tree."""
    try:
        yield
    except (PatentRagError, ValidationError):
        raise
    except UnexpectedResponse as error:
        status, detail = error.status_code, scrub(_server_detail(error), secret)
        if status in (401, 403):
            source = f"the key in ${key_env}" if key_env else "the API key"
            raise BackendUnavailableError(
                f"Qdrant at {location} refused the request ({status}): check {source}"
            ) from None
        if status == 404:
            raise IndexNotFoundError(f"no such collection at {location}: {detail}") from None
        if status == 409 or "already exists" in detail:
            raise IndexExistsError(f"{location} already exists: {detail}") from None
        if "dimension" in detail.lower():
            raise InvalidVectorError(f"{location}: {detail}") from None
        if status is not None and (status >= 500 or status == 429):
            raise BackendUnavailableError(
                f"Qdrant at {location} is unavailable ({status}): {detail}"
            ) from None
        raise StoreError(f"Qdrant at {location} answered {status}: {detail}") from None
    except (ResponseHandlingException, httpx.HTTPError, ConnectionError, TimeoutError) as error:
        cause = error.source if isinstance(error, ResponseHandlingException) else error
        raise BackendUnavailableError(
            f"cannot reach Qdrant at {location} ({type(cause).__name__}: {scrub(str(cause), secret)}); "
            "check the URL, that the server is running, and the timeout"
        ) from None
    except ValueError as error:
        text = scrub(str(error), secret)
        if "not found" in text and "ollection" in text:
            raise IndexNotFoundError(f"no such collection at {location}: {text}") from error
        if "already exists" in text:
            raise IndexExistsError(f"{location} already exists: {text}") from error
        if "dimension" in text.lower() or "not aligned" in text or "NaN" in text:
            raise InvalidVectorError(f"{location}: {text}") from error
        raise StoreError(f"qdrant-client failed on {location}: {text}") from error
    except RuntimeError as error:
        text = scrub(str(error), secret)
        if "already accessed by another instance" in text:
            raise IndexLockedError(
                f"{location} is open in another process; only one process may open a local-mode folder "
                "(use a Qdrant server for concurrent access)"
            ) from error
        if "closed" in text:
            raise StoreError(f"{location} is closed; open it again") from error
        raise


def point(stored: StoredPoint, dense: list[float]) -> m.PointStruct:
    vectors: dict[str, Any] = {DENSE_VECTOR: dense}
    if stored.sparse:
        vectors[SPARSE_VECTOR] = m.SparseVector(
            indices=list(stored.sparse.indices), values=list(stored.sparse.values)
        )
    return m.PointStruct(id=stored.id, vector=vectors, payload=dict(stored.payload))


def _condition(condition: AnyOf | DateWindow) -> Any:
    if isinstance(condition, AnyOf):
        return m.FieldCondition(key=condition.key, match=m.MatchAny(any=list(condition.values)))  # type: ignore[arg-type]
    # DatetimeRange parses RFC 3339 strings (its annotation says datetime only).
    window = m.FieldCondition(key=condition.key, range=m.DatetimeRange(gte=condition.gte, lt=condition.lt))  # type: ignore[arg-type]
    if condition.include_missing:
        return m.Filter(should=[window, m.IsEmptyCondition(is_empty=m.PayloadField(key=condition.key))])
    return window


def client_filter(compiled: CompiledFilter) -> m.Filter | None:
    if not compiled:
        return None
    return m.Filter(
        must=[_condition(c) for c in compiled.must] or None,
        must_not=[_condition(c) for c in compiled.must_not] or None,
    )


def first_chunks() -> m.Filter:
    return m.Filter(must=[m.FieldCondition(key="ordinal", match=m.MatchValue(value=0))])


def query_parts(plan: QueryPlan, *, depth: int) -> dict[str, Any]:
    """The plan as keyword arguments for ``query_points`` / ``query_points_groups``; each hybrid
    prefetch is ``depth`` chunks deep (the BM25 one only when the text has a term)."""
    flt = client_filter(plan.filter)
    dense = list(plan.dense) if plan.dense is not None else None
    sparse = (
        m.SparseVector(indices=list(plan.sparse.indices), values=list(plan.sparse.values))
        if plan.sparse is not None
        else None
    )
    if plan.mode == "dense":
        return {"query": dense, "using": DENSE_VECTOR, "query_filter": flt}
    if plan.mode == "bm25":
        return {"query": sparse, "using": SPARSE_VECTOR, "query_filter": flt}
    prefetch = [m.Prefetch(query=dense, using=DENSE_VECTOR, filter=flt, limit=depth)]
    if sparse is not None:
        prefetch.append(m.Prefetch(query=sparse, using=SPARSE_VECTOR, filter=flt, limit=depth))
    method = m.RrfQuery(rrf=m.Rrf(k=RRF_K)) if plan.fusion == "rrf" else m.FusionQuery(fusion=m.Fusion.DBSF)
    return {"prefetch": prefetch, "query": method, "query_filter": flt}
