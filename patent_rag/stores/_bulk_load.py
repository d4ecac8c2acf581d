"""Deferred dense indexing while a bulk load writes into a Qdrant server collection.

Qdrant builds HNSW graphs as points arrive; during a large upload that work is repeated as
segments grow and merge. Its advice is to defer the graph and build it once at the end
(*Bulk upload* and *Optimizing Memory for Bulk Uploads*): ``optimizer_config.indexing_threshold=0``
("fastest upload, tolerate high RAM usage") for collections whose vectors live in RAM anyway, and
``hnsw_config.m=0`` ("low memory usage during upload", the optimizer still moves segments to disk
and quantizes them) for collections whose vectors are on disk.

The deferral is written into the collection's metadata (``patent_rag_bulk_load``: the values to
restore and a lease) *before* indexing is turned off, so it outlives the process that made it:

- the store that deferred indexing renews the lease as it writes, and restores the values at
  ``optimize()`` (the end of every ingest), then removes the record;
- a later ingest joins a deferral it finds (keeping the values recorded first) and restores it;
- when the writer died, any later open or optimize restores it once the lease has expired.

A crash between any two of these steps leaves either nothing to do or a record whose restore is
harmless to repeat.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qdrant_client import models as m

from patent_rag.stores.layout import DENSE_VECTOR

__all__ = ["KEY", "LEASE_SECONDS", "Deferral", "deferral_key", "dense_on_disk", "update_arguments"]

KEY = "patent_rag_bulk_load"
LEASE_SECONDS = 3600.0  # a writer renews it after half of it
# Qdrant's documented defaults, restored when the server reports no value of its own.
_DEFAULTS = {"indexing_threshold": 20_000, "m": 16}


@dataclass(frozen=True)
class Deferral:
    """Indexing settings turned off by a bulk load: the values to restore, and the lease's end
    (seconds since the epoch)."""

    restore: Mapping[str, int]
    expires: float

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires

    def renewed(self) -> Deferral:
        return Deferral(self.restore, time.time() + LEASE_SECONDS)

    def to_metadata(self) -> dict[str, Any]:
        return {KEY: {"restore": dict(self.restore), "expires": self.expires}}

    @classmethod
    def start(cls, config: Any) -> Deferral:
        """A new deferral of what ``config`` (a collection's config) has now."""
        key = deferral_key(config)
        current = (
            config.optimizer_config.indexing_threshold
            if key == "indexing_threshold"
            else config.hnsw_config.m
        )
        return cls({key: current or _DEFAULTS[key]}, time.time() + LEASE_SECONDS)

    @classmethod
    def of(cls, config: Any) -> Deferral | None:
        """The deferral recorded in a collection's config, if any. A record that cannot be read
        (edited by hand) restores Qdrant's defaults at once rather than leave indexing off."""
        record = (getattr(config, "metadata", None) or {}).get(KEY)
        if record is None:
            return None
        try:
            restore = {str(k): int(v) for k, v in record["restore"].items() if k in _DEFAULTS and int(v) > 0}
            if restore:
                return cls(restore, float(record["expires"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            pass
        return cls(dict(_DEFAULTS), 0.0)


def deferral_key(config: Any) -> str:
    """``"m"`` for a collection whose dense vectors are on disk, else ``"indexing_threshold"``."""
    return "m" if dense_on_disk(config) else "indexing_threshold"


def dense_on_disk(config: Any) -> bool:
    """Whether a collection's dense vectors are served from disk (``on_disk``, or since Qdrant 1.19
    ``memory: cold``, which a server may report instead)."""
    vectors = config.params.vectors if isinstance(config.params.vectors, dict) else {}
    dense = vectors.get(DENSE_VECTOR)
    return dense is not None and bool(dense.on_disk or getattr(dense, "memory", None) == m.Memory.COLD)


def update_arguments(values: Mapping[str, int]) -> dict[str, Any]:
    """``update_collection`` keyword arguments that set ``values`` (0 defers, others restore)."""
    arguments: dict[str, Any] = {}
    if "indexing_threshold" in values:
        arguments["optimizers_config"] = m.OptimizersConfigDiff(
            indexing_threshold=values["indexing_threshold"]
        )
    if "m" in values:
        arguments["hnsw_config"] = m.HnswConfigDiff(m=values["m"])
    return arguments
