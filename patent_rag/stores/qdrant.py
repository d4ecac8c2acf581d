"""The qdrant-client backend: a Qdrant server by URL, or qdrant-client's local mode.

A server is what users grow into (sharding, replication, HNSW with quantization, many readers and
writers). Local mode (``path=`` or ``":memory:"``) is qdrant-client's pure-Python re-implementation:
exact brute-force search that ignores HNSW, quantization, sharding and payload indexes. It is handy
for tests and small experiments, and said so in a log line when opened.

The encoder fingerprint is stored as collection metadata (Qdrant 1.16+), so the collection carries
it wherever it is copied. Writes wait for acknowledgement (``wait=True``) and go to a server in
batches of at most :data:`UPSERT_BATCH` points (Qdrant's bulk-upload advice: 64-256 per request).
A collection is created with :class:`~patent_rag.stores.cluster.ClusterSettings` (shards,
replicas, write consistency, on-disk vectors and payload, quantization), and a store opened with
``bulk_load=True`` defers dense indexing while it writes (:mod:`patent_rag.stores._bulk_load`).
The API key is read from an environment variable (or passed in) and never appears in a repr, a
log line or an error.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from pydantic import SecretStr
from qdrant_client import QdrantClient
from qdrant_client import models as m

from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.errors import (
    ConfigurationError,
    IndexCorruptError,
    IndexExistsError,
    IndexNotFoundError,
    StoreError,
)
from patent_rag.stores import _disk
from patent_rag.stores import _qdrant_convert as c
from patent_rag.stores._bulk_load import KEY as _BULK_KEY
from patent_rag.stores._bulk_load import LEASE_SECONDS, Deferral, dense_on_disk, update_arguments
from patent_rag.stores._shared import collect_hashes, ordered_hits
from patent_rag.stores.base import (
    HitGroup,
    IndexInfo,
    IndexMetadata,
    SearchHit,
    StoredPoint,
    check_dense,
)
from patent_rag.stores.cluster import RAM_BUDGET, ClusterSettings
from patent_rag.stores.filters import SearchFilter, compile_filter
from patent_rag.stores.layout import DENSE_VECTOR, INDEXED_FIELDS, SPARSE_VECTOR
from patent_rag.stores.plan import PlannedSearches, QueryPlan
from patent_rag.stores.sparse import Bm25Encoder

__all__ = ["UPSERT_BATCH", "QdrantStore"]

logger = logging.getLogger(__name__)

UPSERT_BATCH = 256  # points per upsert request

_SCHEMA = {
    "keyword": m.PayloadSchemaType.KEYWORD,
    "datetime": m.PayloadSchemaType.DATETIME,
    "integer": m.PayloadSchemaType.INTEGER,
}


class QdrantStore(PlannedSearches):
    """A patent index in a Qdrant collection, on a server (``url=``) or in local mode (``path=``).

    Args:
        cluster: create-time settings of a server collection (shards, replicas, on-disk storage,
            quantization), sized from the expected corpus when it gives one; local mode warns
            that it ignores them.
        bulk_load: defer dense indexing while this store writes to a server, until ``optimize()``
            (see :mod:`patent_rag.stores._bulk_load`); every writer of one load passes it, and
            the one that finishes calls ``optimize()``.

    Example:
        >>> store = QdrantStore(path=":memory:")
        >>> store.exists()
        False
        >>> QdrantStore(url="https://qdrant.example:6333", api_key="s3cret")
        QdrantStore(url='https://qdrant.example:6333', collection='patents', api_key=<set>)
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        path: str | None = None,
        collection: str = "patents",
        api_key: str | None = None,
        api_key_env: str | None = None,
        timeout: float = 30.0,
        https: bool | None = None,
        cluster: ClusterSettings | None = None,
        bulk_load: bool = False,
    ) -> None:
        if (url is None) == (path is None):
            raise ConfigurationError(
                "pass exactly one of url= (a Qdrant server) or path= (local mode, or ':memory:')"
            )
        if api_key is None and api_key_env:
            api_key = os.environ.get(api_key_env)
            if not api_key:
                raise ConfigurationError(
                    f"environment variable {api_key_env} is not set; export it with the Qdrant API key"
                )
        if url is not None:
            _check_url(url)
        self._url, self._path, self._collection = url, path, collection
        self._api_key = SecretStr(api_key) if api_key else None
        self._key_env = api_key_env
        self._timeout, self._https = timeout, https
        self._cluster = cluster or ClusterSettings()
        self._bulk_load = bulk_load and url is not None
        self._deferral: Deferral | None = None  # the bulk load this store joined, while it writes
        self._renew_at = 0.0
        self._client: QdrantClient | None = None
        self._lock: AbstractContextManager[Any] = nullcontext() if url else threading.RLock()
        self._metadata: IndexMetadata | None = None
        self._bm25 = Bm25Encoder()
        if path is not None and not self._cluster.is_default:
            warnings.warn(
                "qdrant-client local mode ignores the cluster settings (shards, replicas, write consistency, "
                "on-disk storage, quantization; it keeps every vector in memory and searches exhaustively): "
                "use a Qdrant server URL for them",
                UserWarning,
                stacklevel=2,
            )

    def __repr__(self) -> str:
        where = f"url={self._public_url()!r}" if self._url else f"path={self._path!r}"
        key = ", api_key=<set>" if self._api_key else ""
        return f"QdrantStore({where}, collection={self._collection!r}{key})"

    def __enter__(self) -> QdrantStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _public_url(self) -> str:
        parts = urlsplit(self._url or "")
        if parts.username or parts.password:  # credentials in the URL are secrets too
            parts = parts._replace(netloc=(parts.hostname or "") + (f":{parts.port}" if parts.port else ""))
        return urlunsplit(parts)

    @property
    def backend(self) -> str:
        return "qdrant-server" if self._url else "qdrant-local"

    @property
    def location(self) -> str:
        where = self._public_url() if self._url else f"qdrant-local:{self._path}"
        return f"{where}#{self._collection}"

    @property
    def is_open(self) -> bool:
        return self._metadata is not None

    @property
    def metadata(self) -> IndexMetadata:
        if self._metadata is None:
            raise StoreError(f"{self.location} is not open; call open() or create() first")
        return self._metadata

    @property
    def bm25(self) -> Bm25Encoder:
        return self._bm25

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Around qdrant-client calls only: what it raises is translated, so our own values are
        built before (a mistake in them is ours, and surfaces as itself)."""
        # Local mode is plain Python over dicts and SQLite: the ingest writer thread and the main
        # thread must not interleave inside it. A server client is thread-safe and is not locked.
        # Local mode reads and writes files itself: their OSErrors are about the folder, not a network.
        secret = self._api_key.get_secret_value() if self._api_key else None
        files = _disk.os_errors(self.location) if self._path not in (None, ":memory:") else nullcontext()
        with self._lock, c.client_errors(self.location, secret=secret, key_env=self._key_env), files:
            yield

    def _connect(self) -> QdrantClient:
        if self._client is None:
            with self._errors():
                if self._url is not None:
                    self._client = QdrantClient(
                        url=self._url,
                        api_key=self._api_key.get_secret_value() if self._api_key else None,
                        timeout=self._timeout,  # type: ignore[arg-type]
                        https=self._https,
                        check_compatibility=False,  # no network call (and warning) in a constructor
                    )
                else:
                    # The ingest writer thread uses the client too; _errors() serializes the calls.
                    self._client = self._local_client()
                    logger.warning(
                        "%s: qdrant-client local mode searches exhaustively in Python and ignores HNSW, "
                        "quantization and payload indexes; use the default embedded index (a directory) "
                        "or a Qdrant server for real collections",
                        self.location,
                    )
        return self._client

    def _local_client(self) -> QdrantClient:
        try:
            return QdrantClient(path=self._path, force_disable_check_same_thread=True)
        except json.JSONDecodeError as error:  # local mode keeps every collection's config in meta.json
            raise IndexCorruptError(
                f"{self.location} is damaged: {os.path.join(str(self._path), 'meta.json')} is not valid JSON "
                f"({error}); rebuild it: `patent-rag ingest FILES --index qdrant-local:NEW_DIR` into a new "
                f"folder, or delete {self._path} and ingest again"
            ) from error

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def _open(self) -> QdrantClient:
        self.metadata  # noqa: B018 - raises when the index was not opened
        return self._connect()

    @property
    def client(self) -> QdrantClient:
        """The underlying ``QdrantClient``, e.g. for llama-index's ``QdrantVectorStore``.

        Example:
            >>> from llama_index.vector_stores.qdrant import QdrantVectorStore
            >>> store = QdrantStore(path=":memory:")
            >>> vector_store = QdrantVectorStore(
            ...     client=store.client, collection_name="patents", dense_vector_name="dense"
            ... )
        """
        return self._connect()

    def exists(self) -> bool:
        with self._errors():
            return self._connect().collection_exists(self._collection)

    def create(self, *, fingerprint: Fingerprint, overwrite: bool = False) -> IndexInfo:
        """Create the collection, fingerprint in its metadata; refuse an existing one unless ``overwrite``."""
        client = self._connect()
        metadata = IndexMetadata(fingerprint=fingerprint, bm25=self._bm25.config)
        # Our own values are built outside the translated block: a mistake in them is ours, not the client's.
        settings = self._create_settings(fingerprint)
        quantization = (
            m.ScalarQuantization(scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8, always_ram=True))
            if settings.quantization == "int8"
            else None
        )
        dense = m.VectorParams(size=fingerprint.dim, distance=m.Distance.COSINE, on_disk=settings.on_disk)
        sparse = m.SparseVectorParams(
            modifier=m.Modifier.IDF,
            index=m.SparseIndexParams(on_disk=True) if settings.on_disk else None,
        )
        stored = {"patent_rag": metadata.to_dict()}
        with self._errors():
            if client.collection_exists(self._collection):
                if not overwrite:
                    raise IndexExistsError(
                        f"an index already exists at {self.location}; open it, or pass overwrite=True to "
                        "replace it"
                    )
                client.delete_collection(self._collection)
            client.create_collection(
                self._collection,
                vectors_config={DENSE_VECTOR: dense},
                sparse_vectors_config={SPARSE_VECTOR: sparse},
                quantization_config=quantization,
                metadata=stored,
                shard_number=settings.shard_number,
                replication_factor=settings.replication_factor,
                write_consistency_factor=settings.write_consistency_factor,
                on_disk_payload=settings.on_disk_payload,
            )
        self._metadata = metadata
        self._deferral = None
        self._ensure_indexes()
        return self.describe()

    def _create_settings(self, fingerprint: Fingerprint) -> ClusterSettings:
        """The cluster settings a new server collection gets, sized for this encoder's vectors."""
        if self._url is None:
            return ClusterSettings()  # local mode ignores them (and warned when the store was made)
        sizing = self._cluster.sizing(dim=fingerprint.dim, max_seq_length=fingerprint.max_seq_length)
        if sizing is not None:
            logger.info("%s: sized for the expected corpus:\n%s", self.location, sizing.summary())
            if not sizing.fits:
                logger.warning(
                    "%s: the expected corpus needs %.0f GiB of RAM per node with these settings, more than "
                    "the %.0f GiB budgeted on each of %d nodes; use %d nodes or more",
                    self.location,
                    sizing.ram_needed_gib,
                    sizing.ram_per_node_gib * RAM_BUDGET,
                    sizing.nodes,
                    sizing.min_nodes,
                )
        return self._cluster.resolve(dim=fingerprint.dim, max_seq_length=fingerprint.max_seq_length)

    def _ensure_indexes(self) -> None:
        if self._url is None:
            return  # local mode ignores payload indexes (and warns if asked to build one)
        with self._errors():
            schema = self._connect().get_collection(self._collection).payload_schema or {}
        for name, kind in INDEXED_FIELDS.items():
            if name not in schema:
                with self._errors():
                    self._connect().create_payload_index(self._collection, name, _SCHEMA[kind], wait=True)

    def open(self, *, fingerprint: Fingerprint | None = None) -> IndexInfo:
        """Open the collection; with ``fingerprint``, refuse an encoder that does not match it."""
        with self._errors():
            if not self._connect().collection_exists(self._collection):
                raise IndexNotFoundError(
                    f"no patent_rag index at {self.location}; create one with "
                    f"`patent-rag ingest FILES --index {self.location}`"
                )
            config = self._connect().get_collection(self._collection).config
        stored = (getattr(config, "metadata", None) or {}).get("patent_rag", {})
        metadata = IndexMetadata.from_dict(stored, location=self.location, rebuild=self._rebuild())
        if fingerprint is not None:
            fingerprint.ensure_matches(metadata.fingerprint, index_name=self.location)
        self._check_vectors(config, dim=metadata.fingerprint.dim)
        self._metadata = metadata
        self._deferral = None
        try:  # completes a creation that was interrupted; needs write access, which readers may lack
            self._ensure_indexes()
        except StoreError as error:
            logger.warning(
                "%s: could not create missing payload indexes (%s); filters still work", self.location, error
            )
        left = Deferral.of(config) if self._url is not None else None
        if left is not None and left.expired() and not self._bulk_load:
            try:  # a bulk load whose writer died: its lease ran out
                self._restore_indexing(left, why="its writer stopped before the end (the lease expired)")
            except StoreError as error:
                logger.warning(
                    "%s: dense indexing is still deferred by an unfinished bulk load and could not be "
                    "restored (%s); searches work, more slowly; run `patent-rag ingest` again to finish it",
                    self.location,
                    error,
                )
        return self.describe()

    def _check_vectors(self, config: Any, *, dim: int) -> None:
        """Refuse a collection that lacks the named vectors the layout gives every patent_rag index."""
        params = config.params
        vectors = params.vectors if isinstance(params.vectors, dict) else {}
        dense = vectors.get(DENSE_VECTOR)
        problem = None
        if dense is None:
            problem = f"it has no {DENSE_VECTOR!r} dense vectors (it has {sorted(vectors) or 'none'})"
        elif dense.size != dim:
            problem = f"its {DENSE_VECTOR!r} vectors have {dense.size} dimensions, its metadata says {dim}"
        elif SPARSE_VECTOR not in (params.sparse_vectors or {}):
            problem = f"it has no {SPARSE_VECTOR!r} sparse (BM25) vectors"
        if problem:
            raise IndexCorruptError(
                f"{self.location} does not have the layout of a patent_rag index: {problem}; "
                f"{self._rebuild()}"
            )

    def _rebuild(self) -> str:
        """How to get a working index back: a new collection (or this one deleted first)."""
        where = self.location.rpartition("#")[0]
        return (
            f"rebuild it: `patent-rag ingest FILES --index {where}#NEW_NAME` into a new collection, or "
            "delete this one and ingest again"
        )

    def describe(self) -> IndexInfo:
        metadata = self.metadata
        first_chunks = c.first_chunks()
        with self._errors():
            chunks = self._open.count(self._collection, exact=True).count
            patents = self._open.count(self._collection, count_filter=first_chunks, exact=True).count
            config = self._open.get_collection(self._collection).config if self._url else None
        details: dict[str, Any] = {"collection": self._collection}
        if config is not None:
            details.update(_server_details(config))
        return IndexInfo(
            backend=self.backend,
            location=self.location,
            chunks=chunks,
            patents=patents,
            fingerprint=metadata.fingerprint,
            layout_version=metadata.layout_version,
            details=details,
        )

    def close(self) -> None:
        """Close the client (local mode releases its folder). Safe to call twice."""
        self._metadata = None
        if self._client is not None:
            client, self._client = self._client, None
            with self._errors():
                client.close()

    def delete_index(self) -> None:
        with self._errors():
            self._connect().delete_collection(self._collection)
        self._metadata = None
        self._deferral = None

    # -- writes ------------------------------------------------------------------------------
    def upsert(self, points: Sequence[StoredPoint]) -> None:
        if not points:
            return
        dense = np.stack([np.asarray(point.dense, dtype=np.float32) for point in points])
        check_dense(dense, dim=self.metadata.fingerprint.dim, ids=[point.id for point in points])
        batch = [c.point(point, vector) for point, vector in zip(points, dense.tolist(), strict=True)]
        if self._bulk_load:
            self._keep_deferred()
        for start in range(0, len(batch), UPSERT_BATCH):
            with self._errors():
                self._open.upsert(self._collection, points=batch[start : start + UPSERT_BATCH], wait=True)

    def delete_points(self, ids: Sequence[str]) -> None:
        if ids:
            selector = m.PointIdsList(points=list(ids))
            with self._errors():
                self._open.delete(self._collection, points_selector=selector, wait=True)

    def flush(self) -> None:
        """Nothing to do: every write was acknowledged (server) or persisted (local) already."""

    def warm(self) -> None:
        """Nothing to do: a server manages its own memory; local mode holds everything in Python."""

    def optimize(self, *, progress: Callable[[str], None] | None = None) -> None:
        """End a bulk load (dense indexing restored: the server builds its index in the background).

        A server otherwise optimizes by itself; local mode has no index to build. The deferral of
        another writer is left alone while its lease runs, unless this store is a bulk-load writer.
        """
        message = (
            "optimization runs in the Qdrant server's background" if self._url else "nothing to optimize"
        )
        if self._url is not None:
            with self._errors():
                held = Deferral.of(self._open.get_collection(self._collection).config)
            if held is not None and (self._bulk_load or held.expired()):
                self._restore_indexing(held, why="the bulk load ended")
                message = "dense indexing restored: the Qdrant server builds its index in the background"
            elif held is not None:
                logger.info("%s: another bulk load is writing; dense indexing stays deferred", self.location)
        if progress:
            progress(message)

    # -- bulk loads --------------------------------------------------------------------------
    def _keep_deferred(self) -> None:
        """Defer dense indexing before this store's first write (joining a deferral already
        recorded), and renew the lease as writes go on."""
        if self._deferral is not None and time.monotonic() < self._renew_at:
            return
        with self._errors():
            config = self._open.get_collection(self._collection).config
        held = Deferral.of(config)
        deferral = (held or Deferral.start(config)).renewed()
        with self._errors():
            # The values to restore are recorded before indexing is turned off: a crash in between
            # leaves a record whose restore changes nothing.
            self._open.update_collection(self._collection, metadata=deferral.to_metadata())
            if held is None or self._deferral is None:
                self._open.update_collection(
                    self._collection, **update_arguments(dict.fromkeys(deferral.restore, 0))
                )
        if self._deferral is None:
            logger.info(
                "%s: bulk load: dense indexing deferred (%s) until the load ends",
                self.location,
                ", ".join(f"{key}=0" for key in deferral.restore),
            )
        self._deferral = deferral
        self._renew_at = time.monotonic() + LEASE_SECONDS / 2

    def _restore_indexing(self, deferral: Deferral, *, why: str) -> None:
        """Put the deferred indexing settings back, then remove the record (in that order: a crash
        in between leaves a record whose restore is harmless to repeat)."""
        with self._errors():
            self._open.update_collection(self._collection, **update_arguments(deferral.restore))
            self._open.update_collection(self._collection, metadata={_BULK_KEY: None})
        self._deferral = None
        logger.info(
            "%s: dense indexing restored (%s): %s",
            self.location,
            ", ".join(f"{key}={value}" for key, value in deferral.restore.items()),
            why,
        )

    # -- reads -------------------------------------------------------------------------------
    def _scroll(self, flt: m.Filter | None, fields: Any, limit: int) -> list[Any]:
        records: list[Any] = []
        offset = None
        with self._errors():
            while len(records) < limit:
                page, offset = self._open.scroll(
                    self._collection,
                    scroll_filter=flt,
                    limit=min(1000, limit - len(records)),
                    offset=offset,
                    with_payload=fields,
                    with_vectors=False,
                )
                records.extend(page)
                if offset is None or not page:
                    break
        return records

    def existing_hashes(self, publication_numbers: Sequence[str]) -> dict[str, dict[str, str]]:
        """``{publication number: {point id: content hash}}`` of what the index holds."""
        flt = c.client_filter(compile_filter(SearchFilter(publication_numbers=tuple(publication_numbers))))
        records = (
            self._scroll(flt, ["publication_number", "content_hash"], 2**62) if publication_numbers else []
        )
        return collect_hashes(publication_numbers, records)

    def fetch(self, search_filter: SearchFilter, *, limit: int = 1000) -> list[SearchHit]:
        """Chunks matching a filter (score 0.0), in patent and chunk order."""
        return ordered_hits(self._scroll(c.client_filter(compile_filter(search_filter)), c.PAYLOAD, limit))

    def _search(self, plan: QueryPlan) -> list[SearchHit]:
        # Each hybrid prefetch feeds the fusion at least as many chunks as are returned.
        parts = c.query_parts(plan, depth=max(plan.candidates or 0, plan.limit))
        with self._errors():
            points = self._open.query_points(
                self._collection, limit=plan.limit, with_payload=c.PAYLOAD, **parts
            ).points
        return [SearchHit(str(p.id), float(p.score), dict(p.payload or {})) for p in points]

    def _groups(self, plan: QueryPlan) -> list[HitGroup]:
        """One group per patent (or family) with Qdrant's group-by, best chunk first."""
        # Without ``candidates``, each hybrid prefetch feeds the fusion the chunks the groups can hold.
        depth = max(plan.candidates or plan.limit * plan.group_size, plan.limit)
        parts = c.query_parts(plan, depth=depth)
        with self._errors():
            result = self._open.query_points_groups(
                self._collection,
                group_by=plan.group_field,
                limit=plan.limit,
                group_size=plan.group_size,
                with_payload=c.PAYLOAD,
                **parts,
            )
        return [
            HitGroup(
                str(group.id),
                tuple(SearchHit(str(p.id), float(p.score), dict(p.payload or {})) for p in group.hits),
            )
            for group in result.groups
        ]


def _check_url(url: str) -> None:
    """Refuse a URL that urllib cannot take apart (``http://[/x]``), naming it unless it holds credentials."""
    shown = "the Qdrant URL given" if "@" in url else f"Qdrant URL {url!r}"
    expected = "expected http(s)://HOST[:PORT], e.g. http://localhost:6333"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (parses the host and port)
    except ValueError as error:
        raise ConfigurationError(f"{shown} is not a valid URL ({error}); {expected}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{shown} names no host; {expected}")


def _server_details(config: Any) -> dict[str, Any]:
    """The cluster and storage settings a server reports for a collection (``patent-rag info``)."""
    params = config.params
    payload_memory = getattr(getattr(params, "payload", None), "memory", None)
    deferral = Deferral.of(config)
    return {
        "shard_number": params.shard_number,
        "replication_factor": params.replication_factor,
        "write_consistency_factor": params.write_consistency_factor,
        "on_disk": dense_on_disk(config),
        # Qdrant 1.19+ may report the payload's placement as ``payload.memory`` (default: cold, on disk).
        "on_disk_payload": (
            params.on_disk_payload
            if params.on_disk_payload is not None
            else payload_memory != m.Memory.CACHED
        ),
        "quantization": _quantization_name(config.quantization_config),
        "indexing": (
            "on"
            if deferral is None
            else "deferred by a bulk load ("
            + ", ".join(f"{key}=0, restored to {value}" for key, value in deferral.restore.items())
            + ")"
        ),
    }


def _quantization_name(quantization: Any) -> str:
    """``"int8"`` for scalar int8 quantization, ``"none"``, or the kind of another one."""
    if quantization is None:
        return "none"
    scalar = getattr(quantization, "scalar", None)
    if scalar is not None:
        return str(getattr(scalar.type, "value", scalar.type))
    return type(quantization).__name__.removesuffix("Quantization").lower() or "other"
