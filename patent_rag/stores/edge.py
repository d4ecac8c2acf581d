"""The embedded default backend: Qdrant Edge (``qdrant-edge-py``), the Qdrant engine in-process.

An index is a directory::

    INDEX/
      patent_rag.json   index metadata (encoder fingerprint, layout, BM25), written atomically
      .lock             held with flock while a process has the index open
      shard/            the Edge shard (segments + write-ahead log)
      patent_rag.damaged  only when opening found the shard damaged: what was found

Opening checks that the shard's parts agree and refuses a damaged one
(:mod:`patent_rag.stores._edge_check`); writing checks the free space first, because Edge dies by
SIGBUS on a full disk (:mod:`patent_rag.stores._disk`).

Facts about Edge 0.9 this module is built on (measured, not assumed; figures in docs/benchmarks.md):

- Every update goes to the shard's write-ahead log before ``update()`` returns; after ``kill -9``
  the next ``load()`` replays it. ``flush()`` persists segments and shortens the replay.
- Edge locks its WAL: a second ``load()`` of an open shard fails at once with a bare
  ``Exception("... Can't init WAL: Kind(WouldBlock)")``. We take our own ``flock`` first so the
  second process gets :class:`IndexLockedError` naming the holder, before Edge is touched.
- Edge raises plain ``Exception`` for everything, so errors are told apart by message, here, once.
- No background optimizer: :meth:`EdgeStore.optimize` must be called after ingestion (it builds
  HNSW/payload indexes; it holds the GIL until done, so progress is reported before and after).
- No group-by in the Python API: :meth:`EdgeStore.search_groups` groups client-side, fetching
  more chunks until at least ``limit`` distinct patents are seen, which makes the top patents
  exact with respect to the chunk scores. Reading a payload costs more than scoring a vector (Edge
  parses the whole stored payload even to return one field), so the grouping by patent reads the
  patent from the point ids (see :func:`~patent_rag.stores.layout.point_id`; by family: the group
  key only), then the full payloads of the chunks it keeps; the first fetch is sized from the
  index's chunks per patent, so that a second search is rare.
- A filtered search checks the filter on every HNSW candidate, and comparing CPC prefix strings and
  RFC 3339 datetimes was most of its time: shards store integer twins of those fields and filter
  on them (see ``TWINS`` in :mod:`patent_rag.stores._edge_convert`). llama-index's payload fields
  are not written to Edge.
- Edge, like Qdrant, gives every indexed field's values their own HNSW links unless a field's
  index says ``enable_hnsw=False``; shards keep them for the CPC prefixes only, store float16
  vectors and search with a deeper beam (``LINKED``, ``_VECTORS`` and ``HNSW_EF`` in
  ``_edge_convert``).
- Edge drops a shard's files from the page cache on ``close()``; what is not warmed at ``load()``
  (memory tier "Cached") is read from disk by the first queries that touch it. Shards warm
  everything (see ``shard_config`` in :mod:`patent_rag.stores._edge_convert`).
- Edge accepts NaN and all-zero vectors silently; we refuse them before writing.
- Edge opens a damaged shard silently, recreating a missing part empty (see ``_edge_check``).
- ``MatchValue(True)`` does not match boolean payloads in 0.9, so the layout avoids booleans.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.errors import IndexCorruptError, IndexExistsError, IndexNotFoundError, StoreError
from patent_rag.stores import _disk
from patent_rag.stores import _edge_check as check
from patent_rag.stores import _edge_convert as e
from patent_rag.stores._files import DirectoryLock, write_json_atomically
from patent_rag.stores._shared import collect_hashes, group_hits, ordered_hits, payload_key, widening_groups
from patent_rag.stores.base import (
    HitGroup,
    IndexInfo,
    IndexMetadata,
    SearchHit,
    StoredPoint,
    check_dense,
)
from patent_rag.stores.filters import SearchFilter, compile_filter
from patent_rag.stores.layout import DENSE_VECTOR, patent_key
from patent_rag.stores.plan import PlannedSearches, QueryPlan
from patent_rag.stores.sparse import Bm25Encoder

__all__ = ["EdgeStore"]

logger = logging.getLogger(__name__)

_META = "patent_rag.json"
# search_groups' first fetch, per patent wanted, at most: the cap that had the best median, tail and
# mean latency at 8 chunks a patent (fewer make more searches fetch again, more read more payloads;
# docs/benchmarks.md).
_MAX_CHUNKS_PER_PATENT = 6.0
_LOCK = ".lock"
_SHARD = "shard"
_DAMAGED = "patent_rag.damaged"  # what open() found damaged (see _load_shard)


class EdgeStore(PlannedSearches):
    """A patent index in a local directory, served by the embedded Qdrant Edge engine.

    Example:
        >>> store = EdgeStore(path="my-index")
        >>> store.exists()
        False
    """

    backend = "edge"

    def __init__(self, *, path: str | os.PathLike[str]) -> None:
        self._root = Path(path)
        self._lock = DirectoryLock(self._root / _LOCK)
        self._shard: qe.EdgeShard | None = None
        self._metadata: IndexMetadata | None = None
        self._chunks_per_patent: float | None = None  # sizes search_groups' first fetch
        self._bm25 = Bm25Encoder()

    def __repr__(self) -> str:
        return f"EdgeStore(path={str(self._root)!r}, {'open' if self._shard is not None else 'closed'})"

    def __enter__(self) -> EdgeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def location(self) -> str:
        return str(self._root)

    @property
    def is_open(self) -> bool:
        return self._shard is not None and self._metadata is not None

    @property
    def metadata(self) -> IndexMetadata:
        if self._metadata is None:
            raise StoreError(f"{self.location} is not open; call open() or create() first")
        return self._metadata

    @property
    def bm25(self) -> Bm25Encoder:
        return self._bm25

    @property
    def _engine(self) -> qe.EdgeShard:
        if self._shard is None:
            raise StoreError(f"{self.location} is not open; call open() or create() first")
        return self._shard

    # -- lifecycle ---------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self._root / _META).is_file()

    def create(self, *, fingerprint: Fingerprint, overwrite: bool = False) -> IndexInfo:
        """Create the index directory; refuse an existing index unless ``overwrite``."""
        if self._root.exists() and not self._root.is_dir():
            raise IndexExistsError(f"{self.location} is a file; choose a directory for the index")
        foreign = self._root.is_dir() and not self.exists()
        self._refuse_orphan_shard()
        if foreign and any(entry.name not in (_LOCK, _SHARD) for entry in self._root.iterdir()):
            raise IndexExistsError(
                f"{self.location} is a non-empty directory that is not a patent_rag index; "
                "choose a new or empty directory"
            )
        with _disk.os_errors(self.location):
            self._lock.acquire(what=self.location)
        if self.exists() and not overwrite:
            if self._shard is None:
                self._lock.release()
            raise IndexExistsError(
                f"an index already exists at {self.location}; open it, or pass overwrite=True to replace it"
            )
        try:
            with _disk.os_errors(self.location):
                if self.exists():
                    self._close_shard()
                    # Shard before metadata: a crash in between leaves metadata without a shard.
                    shutil.rmtree(self._root / _SHARD, ignore_errors=True)
                    (self._root / _META).unlink()
                    (self._root / _DAMAGED).unlink(missing_ok=True)
                _disk.ensure_free(
                    self._root, needed=_disk.MARGIN, location=self.location, doing="create the index"
                )
                metadata = IndexMetadata(fingerprint=fingerprint, bm25=self._bm25.config)
                # Metadata first, shard second: a crash in between leaves metadata without a shard,
                # which open() completes; never a shard whose encoder nobody knows.
                write_json_atomically(self._root / _META, metadata.to_dict())
                self._metadata = metadata
                self._load_shard()
        except BaseException:
            self.close()
            raise
        logger.info("created Edge index at %s (dim %d)", self.location, fingerprint.dim)
        return self.describe()

    def open(self, *, fingerprint: Fingerprint | None = None) -> IndexInfo:
        """Open the index; with ``fingerprint``, refuse an encoder that does not match it."""
        if self._shard is None:
            if not self.exists():
                self._refuse_orphan_shard()
                raise IndexNotFoundError(
                    f"no patent_rag index at {self.location}; create one with "
                    f"`patent-rag ingest FILES --index {self.location}`"
                )
            try:
                with _disk.os_errors(self.location, verb="open"):
                    self._lock.acquire(what=self.location)
                    self._metadata = self._read_metadata()
                    if fingerprint is not None:
                        fingerprint.ensure_matches(self._metadata.fingerprint, index_name=self.location)
                    self._load_shard()
            except BaseException:
                self.close()
                raise
            _warn_tokenizer(self.location, self._metadata.bm25, self._bm25.config)
        elif fingerprint is not None:
            fingerprint.ensure_matches(self.metadata.fingerprint, index_name=self.location)
        return self.describe()

    def _refuse_orphan_shard(self) -> None:
        """A shard holding data without the metadata file: its vectors came from an encoder nobody
        knows any more, so adding to it would mix two models' vectors in one index."""
        shard = self._root / _SHARD
        if self.exists() or not shard.is_dir() or not any(shard.iterdir()):
            return
        raise IndexCorruptError(
            f"{self.location} is damaged: its Edge shard {shard} holds data but the metadata file "
            f"{self._root / _META} that names the encoder which built it is missing. Restore that file from "
            f"a copy of the index, or {check.rebuild(self.location)}"
        )

    def _read_metadata(self) -> IndexMetadata:
        path = self._root / _META
        try:
            data = json.loads(path.read_bytes())
            if not isinstance(data, dict):
                raise ValueError(f"a JSON {type(data).__name__}, not an object")
            return IndexMetadata.from_dict(data, location=self.location, rebuild=check.rebuild(self.location))
        except (ValueError, TypeError, KeyError) as error:
            # Written atomically (write_json_atomically), so a damaged file was changed from outside.
            reason = "empty" if not path.stat().st_size else f"{type(error).__name__}: {error}"
            raise IndexCorruptError(
                f"{self.location} is damaged: its metadata file {path} cannot be read ({reason}). patent_rag "
                f"replaces that file atomically, so something else changed it; restore it from a copy of "
                f"the index, or {check.rebuild(self.location)}"
            ) from error

    def _load_shard(self) -> None:
        path = self._root / _SHARD
        marker = self._root / _DAMAGED
        if marker.is_file():
            raise IndexCorruptError(
                f"{marker.read_text(encoding='utf-8', errors='replace').strip()} (found on an earlier open; "
                f"recorded in {marker})"
            )
        with e.edge_errors(self.location):
            try:
                files = check.check_files(path, location=self.location)
                if files is not None:
                    self._ensure_replay_space(path)
                    shard = self._shard = qe.EdgeShard.load(str(path))
                    info = shard.info()
                    check.check_opened(shard, info.points_count, files, location=self.location)
            except IndexCorruptError as error:
                # Edge recreates a missing part empty when it opens a shard, so that the next open
                # might not see the damage: it is recorded beside the index.
                with suppress(OSError):
                    marker.write_text(f"{error}\n", encoding="utf-8")
                raise
            if files is not None:
                present = set(info.payload_schema)
            else:
                config = e.shard_config(self.metadata.fingerprint.dim)
                shard = self._shard = qe.EdgeShard.create(str(path), config)
                present = set()
            # Idempotent, so it also completes a creation that was interrupted.
            for name, params in e.field_indexes().items():
                if name not in present:
                    shard.update(qe.UpdateOperation.create_field_index(name, params))

    def _ensure_replay_space(self, shard: Path) -> None:
        """Opening replays the operations logged since the last flush into the segments (after a crash):
        refuse when the disk cannot hold them, rather than die by SIGBUS inside Edge. Replaying takes
        less disk than the log's size (the segments' memory-mapped pages are partly written already),
        so the log's size bounds it."""
        logged = check.unflushed_log_bytes(shard) if (shard / "wal").is_dir() else 0
        if logged:
            _disk.ensure_free(
                shard,
                needed=logged + _disk.MARGIN // 4,
                location=self.location,
                doing="replay the writes logged before the index was last closed",
                then="free space and open it again: the index completes those writes",
            )

    def _close_shard(self) -> None:
        if self._shard is not None:
            shard, self._shard = self._shard, None
            with e.edge_errors(self.location):
                shard.close()

    def close(self) -> None:
        """Close the shard (Edge persists on close) and release the lock. Safe to call twice."""
        try:
            self._close_shard()
        finally:
            self._metadata = None
            self._lock.release()

    def delete_index(self) -> None:
        """Remove the index (metadata first, so an interrupted delete leaves no half index)."""
        self._close_shard()
        self._lock.acquire(what=self.location)
        try:
            (self._root / _META).unlink(missing_ok=True)
            shutil.rmtree(self._root / _SHARD, ignore_errors=True)
            (self._root / _DAMAGED).unlink(missing_ok=True)
        finally:
            self.close()
        (self._root / _LOCK).unlink(missing_ok=True)
        with suppress(OSError):
            self._root.rmdir()

    def describe(self) -> IndexInfo:
        shard = self._engine
        with e.edge_errors(self.location):
            chunks = shard.count(qe.CountRequest(exact=True))
            patents = shard.count(qe.CountRequest(exact=True, filter=e.first_chunks()))
            info = shard.info()
        self._chunks_per_patent = chunks / patents if patents else None
        return IndexInfo(
            backend=self.backend,
            location=self.location,
            chunks=chunks,
            patents=patents,
            fingerprint=self.metadata.fingerprint,
            layout_version=self.metadata.layout_version,
            details={"segments": info.segments_count, "indexed_vectors": info.indexed_vectors_count},
        )

    # -- writes ------------------------------------------------------------------------------
    def upsert(self, points: Sequence[StoredPoint]) -> None:
        """Write points; durable on return (write-ahead log). Bad vectors refuse the whole batch."""
        if not points:
            return
        dense = np.stack([np.asarray(point.dense, dtype=np.float32) for point in points])
        check_dense(dense, dim=self.metadata.fingerprint.dim, ids=[point.id for point in points])
        self._chunks_per_patent = None
        batch = [e.point(point, vector) for point, vector in zip(points, dense.tolist(), strict=True)]
        texts = [str(point.payload.get("text", "")) for point in points]
        terms = sum(len(point.sparse.indices) for point in points if point.sparse)
        _disk.ensure_free(
            self._root,
            needed=_disk.points_bytes(dim=dense.shape[1], texts=texts, terms=terms) + _disk.MARGIN,
            location=self.location,
            doing=f"write {len(points)} chunks",
        )
        with e.edge_errors(self.location):
            self._engine.update(qe.UpdateOperation.upsert_points(batch))

    def delete_points(self, ids: Sequence[str]) -> None:
        if ids:
            self._chunks_per_patent = None
            with e.edge_errors(self.location):
                self._engine.update(qe.UpdateOperation.delete_points(list(ids)))

    def flush(self) -> None:
        """Persist segments (shortens the log replay after a crash)."""
        with e.edge_errors(self.location):
            self._engine.flush()

    def optimize(self, *, progress: Callable[[str], None] | None = None) -> None:
        """Merge segments and build HNSW/payload indexes; blocks (holding the GIL) until done."""
        report = progress or (lambda message: None)
        # The optimizer writes the merged segments beside the old ones before it drops them: at the
        # peak the disk holds about the segments' size once more.
        _disk.ensure_free(
            self._root,
            needed=_disk.used_bytes(self._root / _SHARD / "segments") * 5 // 4 + _disk.MARGIN,
            location=self.location,
            doing="optimize it (Edge writes its segments anew before dropping the old ones)",
        )
        report("optimizing the Edge shard (HNSW and payload indexes)")
        started = time.perf_counter()
        with e.edge_errors(self.location):
            self._engine.flush()
            changed = self._engine.optimize()
            self._engine.flush()
        seconds = time.perf_counter() - started
        logger.info("optimized %s in %.1f s (changed: %s)", self.location, seconds, changed)
        report(f"optimized in {seconds:.1f} s")

    def warm(self) -> None:
        """Map the whole dense vector storage into this process with one exhaustive search.

        ``load()`` reads a shard into the page cache, but the process maps each page the first time
        a search touches it, which is at times a costly fault: the searches right after an open can
        be markedly slower than later ones, and this call, a fraction of a second, makes them as
        fast (docs/benchmarks.md). Call it once in a long-running service; a one-off search (the
        CLI) would only pay for it.
        """
        started = time.perf_counter()
        dim = self.metadata.fingerprint.dim
        request = qe.QueryRequest(
            limit=1,
            query=qe.Query.Nearest([dim**-0.5] * dim, using=DENSE_VECTOR),
            with_payload=False,
            params=qe.SearchParams(exact=True),
        )
        with e.edge_errors(self.location):
            self._engine.query(request)
        logger.info("warmed %s in %.2f s", self.location, time.perf_counter() - started)

    # -- reads -------------------------------------------------------------------------------
    def _scroll(self, search_filter: SearchFilter, fields: Any, limit: int) -> list[Any]:
        flt = e.edge_filter(compile_filter(search_filter))
        records: list[Any] = []
        offset = None
        with e.edge_errors(self.location):
            while len(records) < limit:
                request = qe.ScrollRequest(
                    offset=offset, limit=min(1000, limit - len(records)), filter=flt, with_payload=fields
                )
                page, offset = self._engine.scroll(request)
                records.extend(page)
                if offset is None or not page:
                    break
        return records

    def existing_hashes(self, publication_numbers: Sequence[str]) -> dict[str, dict[str, str]]:
        """``{publication number: {point id: content hash}}`` of what the index holds."""
        wanted = SearchFilter(publication_numbers=tuple(publication_numbers))
        records = (
            self._scroll(wanted, ["publication_number", "content_hash"], 2**62) if publication_numbers else []
        )
        return collect_hashes(publication_numbers, records)

    def fetch(self, search_filter: SearchFilter, *, limit: int = 1000) -> list[SearchHit]:
        """Chunks matching a filter (score 0.0), in patent and chunk order."""
        return ordered_hits(self._scroll(search_filter, e.PAYLOAD, limit))

    def _search(self, plan: QueryPlan) -> list[SearchHit]:
        return self._query(e.requests(plan)(plan.limit, e.PAYLOAD))

    def _query(self, request: qe.QueryRequest) -> list[SearchHit]:
        with e.edge_errors(self.location):
            points = self._engine.query(request)
        return [SearchHit(str(point.id), float(point.score), dict(point.payload or {})) for point in points]

    def _groups(self, plan: QueryPlan) -> list[HitGroup]:
        """One group per patent (or family), grouped client-side (Edge has no group-by).

        See :func:`~patent_rag.stores._shared.widening_groups`: the top ``limit`` groups are exact
        with respect to the chunk scores. Reading a payload costs more than scoring its vector, and
        most fetched chunks are dropped by the grouping, so the ranking reads no payload when
        grouping by patent (the point ids name their patents), and only the group key by family;
        the full payloads are read afterwards for the chunks the groups keep.
        """
        request = e.requests(plan)
        by_field = payload_key(plan.group_field)
        by_id = plan.group_field == "publication_number"
        selector: qe.PayloadSelector | bool = (
            False if by_id else qe.PayloadSelector.Include([plan.group_field])
        )
        key = _id_key if by_id else by_field

        def fetch(size: int) -> list[SearchHit]:
            return self._query(request(size, selector))

        # The fused ranking of a hybrid search is a prefix of the same search fetching more, so the
        # fetch need not reach ``candidates`` (the depth each prefetch feeds the fusion).
        start = self._first_fetch(plan.limit)
        groups = widening_groups(fetch, key=key, limit=plan.limit, group_size=plan.group_size, start=start)
        return self._with_payloads(groups, key=by_field, limit=plan.limit, group_size=plan.group_size)

    def _first_fetch(self, limit: int) -> int:
        """Chunks to fetch first, from the index's chunks per patent (4 to 6 a patent wanted: long
        patents should not make every search read hundreds of payloads; widening covers the rest)."""
        if self._chunks_per_patent is None:
            self.describe()
        per_patent = min(max(self._chunks_per_patent or 0.0, 4.0), _MAX_CHUNKS_PER_PATENT)
        return max(math.ceil(limit * per_patent), 32)

    def _with_payloads(
        self, groups: list[HitGroup], *, key: Callable[[SearchHit], str | None], limit: int, group_size: int
    ) -> list[HitGroup]:
        """The groups' chunks with their full payloads, grouped again by ``key`` (the group field):
        groups keyed by id become keyed by publication number, and a chunk deleted meanwhile is dropped."""
        hits = [hit for group in groups for hit in group.hits]
        if not hits:
            return groups
        # Whole payloads, the hidden fields dropped here: Edge selects fields more slowly than it
        # returns them all.
        ids: list[int | uuid.UUID | str] = [hit.id for hit in hits]
        with e.edge_errors(self.location):
            records = self._engine.retrieve(ids, True, False)
        payloads = {str(record.id): record.payload or {} for record in records}
        for payload in payloads.values():
            for hidden in e.HIDDEN:
                payload.pop(hidden, None)
        filled = [SearchHit(hit.id, hit.score, payloads[hit.id]) for hit in hits if hit.id in payloads]
        return group_hits(filled, key=key, limit=limit, group_size=group_size)


def _id_key(hit: SearchHit) -> str:
    return patent_key(hit.id)


def _warn_tokenizer(location: str, stored: dict[str, Any], current: dict[str, Any]) -> None:
    if stored.get("tokenizer") != current.get("tokenizer"):
        logger.warning(
            "%s was built with BM25 from %s, this process uses %s: BM25 scores may drift; re-ingest "
            "to rebuild the sparse vectors",
            location,
            stored.get("tokenizer"),
            current.get("tokenizer"),
        )
