"""Ingestion past one machine: parsing, chunking and embedding on a Ray cluster.

``ingest_on_ray`` (or ``patent-rag ingest FILES --index LOC --ray ADDRESS``) gives the index a
local :func:`~patent_rag.ingest.ingest` of the same input gives: same point ids, payloads and
vectors, idempotent and resumable. Ray is an optional dependency: ``pip install 'patent-rag[ray]'``.

Example:
    >>> from patent_rag.stores import open_store
    >>> spec = EncoderSpec(model="all-minilm-l6-v2")
    >>> ingest_on_ray(["grants.xml"], store=open_store("my-index"), encoder=spec)  # doctest: +SKIP
"""

from __future__ import annotations

from patent_rag.distributed.driver import ingest_on_ray
from patent_rag.distributed.spec import EncoderSpec, RayOptions

__all__ = ["EncoderSpec", "RayOptions", "ingest_on_ray"]
