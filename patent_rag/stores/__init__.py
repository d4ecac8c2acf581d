"""Patent indexes in Qdrant: one :class:`Store` seam, three ways to run it.

================================  =====================================================
``--index`` / ``location``        backend
================================  =====================================================
``DIR`` (a directory path)        Qdrant Edge, the embedded engine (the default)
``qdrant-local:PATH``             qdrant-client local mode in ``PATH``
``qdrant-local::memory:``         qdrant-client local mode in memory
``http(s)://HOST:PORT``           a Qdrant server (``api_key_env`` names the key's variable)
================================  =====================================================

A ``#name`` suffix picks the collection on qdrant-client backends (default ``patents``). A server
collection is created with :class:`ClusterSettings` (shards, replicas, on-disk storage,
quantization, or the expected corpus to size them from: :mod:`patent_rag.stores.cluster`).

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
from patent_rag.stores.cluster import ClusterSettings
from patent_rag.stores.edge import EdgeStore
from patent_rag.stores.filters import DateRange, SearchFilter
from patent_rag.stores.sparse import Bm25Encoder, SparseTerms

if TYPE_CHECKING:
    from patent_rag.stores.qdrant import QdrantStore

__all__ = [
    "Bm25Encoder",
    "ClusterSettings",
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
    cluster: ClusterSettings | None = None,
    bulk_load: bool = False,
) -> Store:
    """The store for a location string (nothing is opened yet: call ``open()`` or ``create()``).

    Args:
        location: a directory (Qdrant Edge), ``qdrant-local:PATH``, ``qdrant-local::memory:`` or an
            ``http(s)://`` URL, optionally followed by ``#collection`` for the qdrant-client forms.
        api_key / api_key_env: the server's API key, or the environment variable that holds it.
        collection: the collection name on qdrant-client backends (overrides ``#name``).
        timeout: seconds a server request may take.
        cluster: how a new server collection is created (shards, replicas, storage), or the corpus
            to size that from; local mode warns it ignores them.
        bulk_load: on a server, defer dense indexing while this store writes, until ``optimize()``
            (an ingest's end); ignored elsewhere (an embedded index builds its index at optimize()).

    Raises:
        ConfigurationError: an unknown URL scheme, server options for an embedded index, or an
            API-key variable that is not set.

    Example:
        >>> open_store("my-index")
        EdgeStore(path='my-index', closed)
        >>> open_store("http://localhost:6333#patents", cluster=ClusterSettings(shard_number=6))
        QdrantStore(url='http://localhost:6333', collection='patents')
    """
    server_options = api_key or api_key_env or (cluster is not None and not cluster.is_default)
    if location.startswith(("http://", "https://")) or location.startswith(_LOCAL):
        from patent_rag.stores.qdrant import QdrantStore

        target, _, fragment = location.partition("#")
        name = collection or fragment or "patents"
        if target.startswith(_LOCAL):
            return QdrantStore(path=target[len(_LOCAL) :] or ":memory:", collection=name, cluster=cluster)
        return QdrantStore(
            url=target,
            collection=name,
            api_key=api_key,
            api_key_env=api_key_env,
            timeout=timeout,
            https=target.startswith("https://"),
            cluster=cluster,
            bulk_load=bulk_load,
        )
    if "://" in location:
        raise ConfigurationError(
            f"unsupported index location {location.split('://')[0]}://...; use a directory, "
            "qdrant-local:PATH, qdrant-local::memory: or an http(s):// Qdrant URL"
        )
    if server_options or collection:
        raise ConfigurationError(
            f"{location} is an embedded (Qdrant Edge) index directory; API keys, collections and server "
            "options (shards, replicas, write consistency, on-disk storage, quantization, the expected "
            "corpus) apply to http(s):// Qdrant URLs only"
        )
    return EdgeStore(path=location)
