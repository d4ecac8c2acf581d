"""Patent indexes in Qdrant: one :class:`Store` seam, three ways to run it.

================================  =====================================================
``--index`` / ``location``        backend
================================  =====================================================
``DIR`` (a directory path)        Qdrant Edge, the embedded engine (the default)
``qdrant-local:PATH``             qdrant-client local mode in ``PATH``
``qdrant-local::memory:``         qdrant-client local mode in memory
``http(s)://HOST:PORT``           a Qdrant server (``api_key_env`` names the key's variable)
================================  =====================================================

A ``#name`` suffix picks the collection on qdrant-client backends (default ``patents``).

Example:
    >>> store = open_store("qdrant-local::memory:#demo")
    >>> store.backend, store.location
    ('qdrant-local', 'qdrant-local::memory:#demo')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from patent_rag.errors import ConfigurationError
from patent_rag.stores.base import (
    HitGroup,
    IndexInfo,
    IndexMetadata,
    SearchHit,
    Store,
    StoredPoint,
    open_or_create,
)
from patent_rag.stores.edge import EdgeStore
from patent_rag.stores.filters import DateRange, SearchFilter
from patent_rag.stores.sparse import Bm25Encoder, SparseTerms

if TYPE_CHECKING:
    from patent_rag.stores.qdrant import QdrantStore

__all__ = [
    "Bm25Encoder",
    "DateRange",
    "EdgeStore",
    "HitGroup",
    "IndexInfo",
    "IndexMetadata",
    "QdrantStore",
    "SearchFilter",
    "SearchHit",
    "SparseTerms",
    "Store",
    "StoredPoint",
    "open_or_create",
    "open_store",
]

_LOCAL = "qdrant-local:"


def __getattr__(name: str) -> Any:
    # qdrant-client takes a second or two to import; Edge-only programs never pay for it.
    if name == "QdrantStore":
        from patent_rag.stores.qdrant import QdrantStore

        return QdrantStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(
    location: str,
    *,
    api_key: str | None = None,
    api_key_env: str | None = None,
    collection: str | None = None,
    timeout: float = 30.0,
    shard_number: int | None = None,
    replication_factor: int | None = None,
    write_consistency_factor: int | None = None,
    on_disk: bool = False,
    quantization: bool = False,
) -> Store:
    """The store for a location string (nothing is opened yet: call ``open()`` or ``create()``).

    Args:
        location: a directory (Qdrant Edge), ``qdrant-local:PATH``, ``qdrant-local::memory:`` or an
            ``http(s)://`` URL, optionally followed by ``#collection`` for the qdrant-client forms.
        api_key / api_key_env: the server's API key, or the environment variable that holds it.
        collection: the collection name on qdrant-client backends (overrides ``#name``).
        timeout, shard_number, replication_factor, write_consistency_factor, on_disk,
            quantization: server options (scalar int8 quantization); local mode warns they are ignored.

    Raises:
        ConfigurationError: an unknown URL scheme, server options for an embedded index, or an
            API-key variable that is not set.

    Example:
        >>> open_store("my-index")
        EdgeStore(path='my-index', closed)
    """
    server_options = (
        api_key
        or api_key_env
        or shard_number
        or replication_factor
        or write_consistency_factor
        or on_disk
        or quantization
    )
    if location.startswith(("http://", "https://")) or location.startswith(_LOCAL):
        from patent_rag.stores.qdrant import QdrantStore

        target, _, fragment = location.partition("#")
        name = collection or fragment or "patents"
        if target.startswith(_LOCAL):
            return QdrantStore(
                path=target[len(_LOCAL) :] or ":memory:",
                collection=name,
                on_disk=on_disk,
                quantization=quantization,
                shard_number=shard_number,
                replication_factor=replication_factor,
                write_consistency_factor=write_consistency_factor,
            )
        return QdrantStore(
            url=target,
            collection=name,
            api_key=api_key,
            api_key_env=api_key_env,
            timeout=timeout,
            https=target.startswith("https://"),
            shard_number=shard_number,
            replication_factor=replication_factor,
            write_consistency_factor=write_consistency_factor,
            on_disk=on_disk,
            quantization=quantization,
        )
    if "://" in location:
        raise ConfigurationError(
            f"unsupported index location {location.split('://')[0]}://...; use a directory, "
            "qdrant-local:PATH, qdrant-local::memory: or an http(s):// Qdrant URL"
        )
    if server_options or collection:
        raise ConfigurationError(
            f"{location} is an embedded (Qdrant Edge) index directory; API keys, collections and server "
            "options apply to http(s):// Qdrant URLs only"
        )
    return EdgeStore(path=location)
