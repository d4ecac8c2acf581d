"""Create-time settings of a Qdrant server collection, and the sizing rules behind their defaults.

:class:`ClusterSettings` is the one value every front end (``open_store``, ``QdrantStore``,
``patent-rag ingest --shards ...``) passes down: shard number, replication factor, write
consistency, on-disk vectors and payload, quantization, and optionally the corpus to size the
rest from (expected patents, nodes, RAM per node). It is validated once, when built.

:func:`size_cluster` turns an expected corpus into settings, with these rules:

- **Chunks.** ``patents x chunks per patent``, measured with our chunker on the packaged USPTO
  sample (:data:`PROFILES`): 38 chunks per grant for 512-token models (median 29), 68.5 for
  256-token models such as all-MiniLM-L6-v2 (median 47), 4.2 kB (3.1 kB) of payload JSON and
  66 (46) BM25 terms per chunk.
- **Shards**: a multiple of the node count, because Qdrant spreads shards evenly at creation and
  never rebalances by itself (Qdrant, *Distributed deployment*: "we recommend setting the number of
  shards to be a multiple of the number of nodes"); 2 per node, the low end of Qdrant's "two to
  four shards per machine" (*Bulk upload*), so the cluster can double without resharding; up to 4
  per node while a shard would otherwise hold more than :data:`SHARD_POINTS` points (our cap:
  Qdrant gives no shard size, and a shard is the unit that moves between nodes and is re-indexed
  where it lands, so smaller shards make adding nodes cheaper).
- **Replication factor** 2 on two nodes or more: one node can fail or restart without downtime
  or data loss; 3+ nodes with 2+ replicas is Qdrant's recommended production setup
  (*Distributed deployment*, "How many Qdrant nodes should I run?"). 1 on a single node.
- **Write consistency factor** 1 (Qdrant's default): a write is acknowledged once one replica
  applied it and goes to every active replica in parallel; 2 would stop every write while a node
  is down ("Write operations will fail if the number of active replicas is less than the
  write_consistency_factor"). A rerun of an interrupted ingest repairs what a crash lost.
- **Storage** in three steps, the first whose RAM fits the budget (:data:`RAM_BUDGET` of each
  node's RAM; the rest is the page cache that serves the on-disk parts): everything in RAM; then
  payload on disk (only the top hits' payload is read, and indexed fields stay in RAM); then
  vectors on disk (dense originals memory-mapped, BM25 inverted index on disk) with int8 scalar
  quantization kept in RAM (4x smaller; Qdrant rescores with the originals). RAM follows Qdrant's
  *Capacity planning* formula: bytes x 1.5 for indexes, point versions and the optimizer's
  temporary segments.

Example:
    >>> sizing = size_cluster(patents=8_000_000, nodes=3, dim=384, ram_per_node_gib=512)
    >>> sizing.chunks, sizing.settings.shard_number, sizing.settings.replication_factor
    (304000000, 12, 2)
    >>> sizing.settings.on_disk, sizing.settings.quantization, sizing.fits
    (True, 'int8', True)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal, get_args

from patent_rag.errors import ConfigurationError

__all__ = [
    "DEFAULT_RAM_GIB",
    "PROFILES",
    "QUANTIZATIONS",
    "RAM_BUDGET",
    "SHARD_POINTS",
    "ClusterSettings",
    "ClusterSizing",
    "CorpusProfile",
    "Quantization",
    "profile_for",
    "size_cluster",
]

Quantization = Literal["none", "int8"]
QUANTIZATIONS: tuple[str, ...] = get_args(Quantization)

DEFAULT_RAM_GIB = 64.0  # RAM per node assumed when the corpus is given without it
RAM_BUDGET = 0.6  # share of a node's RAM the collection's in-RAM parts may take
SHARD_POINTS = 25_000_000  # points per shard above which more shards per node are made (up to 4)
_OVERHEAD = 1.5  # Qdrant's capacity-planning factor (indexes, point versions, optimizer segments)
_HNSW_LINK_BYTES = 2 * 16 * 4  # layer-0 links of HNSW with m=16, 4 bytes each
_SPARSE_ENTRY_BYTES = 8  # one posting of the BM25 inverted index: point offset + weight
_INDEX_ENTRY_BYTES = 16  # a payload index entry: the point in the value's list, the value in the point's
_GIB = 1024**3


@dataclass(frozen=True)
class CorpusProfile:
    """What our chunker makes of a USPTO grant for a model of ``max_seq_length`` tokens.

    Measured on the 75 grants of the packaged sample (``patent_rag.sample``), full text, with the
    all-MiniLM-L6-v2 tokenizer (``tests/test_cluster.py`` measures it again): chunks per patent
    (mean), payload JSON bytes per chunk, values of its indexed fields (each one entry in a payload
    index), BM25 terms per chunk.
    """

    max_seq_length: int
    chunks_per_patent: float
    payload_bytes: int
    indexed_values: float
    bm25_terms: float


PROFILES: tuple[CorpusProfile, ...] = (
    CorpusProfile(
        max_seq_length=256, chunks_per_patent=68.5, payload_bytes=3149, indexed_values=25.6, bm25_terms=45.8
    ),
    CorpusProfile(
        max_seq_length=512, chunks_per_patent=38.0, payload_bytes=4228, indexed_values=25.3, bm25_terms=65.8
    ),
)


def profile_for(max_seq_length: int) -> CorpusProfile:
    """The measured profile nearest to a model's sequence length (longer models: the 512 one,
    which overestimates their chunk count)."""
    return min(PROFILES, key=lambda p: (abs(p.max_seq_length - max_seq_length), -p.max_seq_length))


@dataclass(frozen=True, kw_only=True)
class ClusterSettings:
    """Create-time settings of a Qdrant server collection; None leaves a value to the sizing
    (when ``expected_patents`` or ``nodes`` is given) or else to the server's default.

    Args:
        shard_number: shards of the collection (Qdrant's default: the node count).
        replication_factor: copies of each shard (Qdrant's default: 1).
        write_consistency_factor: replicas that must apply a write before it is acknowledged
            (at most ``replication_factor``; Qdrant's default: 1).
        on_disk: dense vectors memory-mapped from disk and the BM25 index on disk.
        on_disk_payload: payload read from disk (Qdrant's default: on disk).
        quantization: ``"int8"`` (scalar quantization kept in RAM) or ``"none"``.
        expected_patents: the corpus the defaults are sized for (:func:`size_cluster`).
        nodes: Qdrant nodes of the cluster the defaults are sized for.
        ram_per_node_gib: RAM of each node, for the sizing (default :data:`DEFAULT_RAM_GIB`).

    Raises:
        ConfigurationError: a value out of range, naming the valid ones.

    Example:
        >>> ClusterSettings(nodes=3).resolve(dim=384)
        ClusterSettings(shard_number=6, replication_factor=2, write_consistency_factor=1, nodes=3)
    """

    shard_number: int | None = None
    replication_factor: int | None = None
    write_consistency_factor: int | None = None
    on_disk: bool | None = None
    on_disk_payload: bool | None = None
    quantization: Quantization | None = None
    expected_patents: int | None = None
    nodes: int | None = None
    ram_per_node_gib: float | None = None

    def __post_init__(self) -> None:
        for name in (
            "shard_number",
            "replication_factor",
            "write_consistency_factor",
            "expected_patents",
            "nodes",
        ):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigurationError(f"{name} must be a whole number of at least 1, got {value!r}")
        for name in ("on_disk", "on_disk_payload"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ConfigurationError(
                    f"{name} must be True, False or None (server default), got {value!r}"
                )
        if self.quantization is not None and self.quantization not in QUANTIZATIONS:
            raise ConfigurationError(
                f"quantization must be one of {', '.join(QUANTIZATIONS)}, got {self.quantization!r}"
            )
        ram = self.ram_per_node_gib
        if ram is not None and (isinstance(ram, bool) or not isinstance(ram, int | float) or not ram > 0):
            raise ConfigurationError(f"ram_per_node_gib must be a positive number of GiB, got {ram!r}")
        if ram is not None and self.expected_patents is None:
            raise ConfigurationError(
                "ram_per_node_gib sizes storage for a corpus: give expected_patents with it, or set on_disk, "
                "on_disk_payload and quantization directly"
            )
        _check_consistency(self.replication_factor, self.write_consistency_factor)
        # The sizing assumes one node when it is given a corpus without a node count.
        nodes = self.nodes or (1 if self.expected_patents is not None else None)
        if self.replication_factor is not None and nodes is not None:
            _check_replicas(self.replication_factor, nodes, assumed=self.nodes is None)

    def __repr__(self) -> str:
        fields = (f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"ClusterSettings({', '.join(f for f in fields if not f.endswith('=None'))})"

    @property
    def is_default(self) -> bool:
        """Nothing set: the server decides everything."""
        return all(getattr(self, f.name) is None for f in dataclasses.fields(self))

    def sizing(self, *, dim: int, max_seq_length: int = 512) -> ClusterSizing | None:
        """The sizing of ``expected_patents`` on ``nodes`` for ``dim``-dimensional vectors (None
        without ``expected_patents``); the values set here are kept, and counted in RAM and disk."""
        if self.expected_patents is None:
            return None
        return size_cluster(
            patents=self.expected_patents,
            nodes=self.nodes or 1,
            dim=dim,
            ram_per_node_gib=self.ram_per_node_gib or DEFAULT_RAM_GIB,
            max_seq_length=max_seq_length,
            fixed=self,
        )

    def resolve(self, *, dim: int, max_seq_length: int = 512) -> ClusterSettings:
        """These settings with the unset values sized (see :func:`size_cluster`); unchanged when
        neither ``expected_patents`` nor ``nodes`` is given.

        Example:
            >>> ClusterSettings(expected_patents=1000, replication_factor=1).resolve(dim=384).shard_number
            2
        """
        sizing = self.sizing(dim=dim, max_seq_length=max_seq_length)
        if sizing is not None:
            sized = sizing.settings
        elif self.nodes is not None:
            sized = _topology(chunks=None, nodes=self.nodes, fixed=self)
        else:
            return self
        return dataclasses.replace(
            self,
            **{name: getattr(sized, name) for name in _SETTINGS if getattr(self, name) is None},
        )

    def create_options(self) -> dict[str, object]:
        """The settings that are set, by name (what ``describe()`` and log lines show)."""
        return {name: getattr(self, name) for name in _SETTINGS if getattr(self, name) is not None}


_SETTINGS = (
    "shard_number",
    "replication_factor",
    "write_consistency_factor",
    "on_disk",
    "on_disk_payload",
    "quantization",
)


def _check_consistency(replicas: int | None, consistency: int | None) -> None:
    if consistency is not None and consistency > (replicas or 1):
        shown = f"replication_factor {replicas}" if replicas else "replication_factor 1 (Qdrant's default)"
        raise ConfigurationError(
            f"write_consistency_factor {consistency} exceeds {shown}: every write would fail; use at most "
            f"{replicas or 1}, or raise replication_factor"
        )


def _check_replicas(replicas: int, nodes: int, *, assumed: bool) -> None:
    if replicas > nodes:
        hint = " (assumed without nodes: give the node count)" if assumed else ""
        raise ConfigurationError(
            f"replication_factor {replicas} needs at least {replicas} nodes (each copy of a shard lives on "
            f"another node); the cluster has {nodes}{hint}"
        )


@dataclass(frozen=True)
class ClusterSizing:
    """Settings sized for a corpus on a cluster, and the RAM and disk they need per node.

    ``ram_needed_gib`` and ``disk_needed_gib`` are per node, replicas included; ``min_nodes`` is
    the smallest cluster of nodes like these whose RAM budget holds the collection so stored.
    """

    patents: int | None
    chunks: int
    nodes: int
    dim: int
    ram_per_node_gib: float
    profile: CorpusProfile
    settings: ClusterSettings
    ram_needed_gib: float
    disk_needed_gib: float
    min_nodes: int

    @property
    def fits(self) -> bool:
        return self.ram_needed_gib <= self.ram_per_node_gib * RAM_BUDGET

    def summary(self) -> str:
        """A few lines for people: the corpus, each setting, RAM and disk per node."""
        s = self.settings
        corpus = f"{self.chunks:,} chunks"
        if self.patents is not None:
            corpus = f"{self.patents:,} patents x {self.profile.chunks_per_patent:g} chunks = {corpus}"
        shards = s.shard_number or 1
        replicas = s.replication_factor or 1
        storage = (
            "dense vectors and BM25 index on disk, int8 quantized vectors in RAM"
            if s.on_disk and s.quantization == "int8"
            else ("vectors on disk" if s.on_disk else "vectors in RAM")
            + (", int8 quantization" if s.quantization == "int8" and not s.on_disk else "")
        )
        lines = [
            f"corpus: {corpus}, {self.dim}-d vectors ({self.profile.max_seq_length}-token profile)",
            f"cluster: {self.nodes} node(s) with {self.ram_per_node_gib:g} GiB RAM, "
            f"{RAM_BUDGET:.0%} of it for the collection",
            f"shard_number: {shards} ({shards / self.nodes:g} per node, "
            f"~{self.chunks / shards / 1e6:.1f}M points each)",
            f"replication_factor: {replicas}; write_consistency_factor: {s.write_consistency_factor or 1}",
            f"storage: {storage}; payload {'on disk' if s.on_disk_payload else 'in RAM'}",
            f"per node: {self.ram_needed_gib:,.0f} GiB RAM needed of "
            f"{self.ram_per_node_gib * RAM_BUDGET:,.0f} GiB budgeted; {self.disk_needed_gib:,.0f} GiB disk",
        ]
        if self.fits:
            lines.append("fits: yes")
        else:
            per_node = math.ceil(self.ram_needed_gib / RAM_BUDGET)
            lines.append(
                f"fits: no; needs {self.min_nodes} nodes of {self.ram_per_node_gib:g} GiB, or "
                f"{self.nodes} nodes of {per_node:,} GiB"
            )
        return "\n".join(lines)


def size_cluster(
    *,
    patents: int | None = None,
    chunks: int | None = None,
    nodes: int = 1,
    dim: int,
    ram_per_node_gib: float = DEFAULT_RAM_GIB,
    max_seq_length: int = 512,
    fixed: ClusterSettings | None = None,
) -> ClusterSizing:
    """Settings for ``patents`` (or ``chunks``) on ``nodes`` nodes of ``ram_per_node_gib`` GiB.

    The rules and their sources are in the module docstring. ``fixed`` holds values already
    chosen: they are kept, and the RAM and disk figures count them.

    Raises:
        ConfigurationError: neither or both of ``patents`` and ``chunks``, or a count below 1.

    Example:
        >>> print(size_cluster(patents=8_000_000, nodes=3, dim=384, ram_per_node_gib=512).summary())
        corpus: 8,000,000 patents x 38 chunks = 304,000,000 chunks, 384-d vectors (512-token profile)
        cluster: 3 node(s) with 512 GiB RAM, 60% of it for the collection
        shard_number: 12 (4 per node, ~25.3M points each)
        replication_factor: 2; write_consistency_factor: 1
        storage: dense vectors and BM25 index on disk, int8 quantized vectors in RAM; payload on disk
        per node: 260 GiB RAM needed of 307 GiB budgeted; 2,041 GiB disk
        fits: yes
    """
    if (patents is None) == (chunks is None):
        raise ConfigurationError("give the expected corpus as patents= or chunks=, one of them")
    for name, value in (("patents", patents), ("chunks", chunks), ("nodes", nodes), ("dim", dim)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigurationError(f"{name} must be a whole number of at least 1, got {value!r}")
    if not ram_per_node_gib > 0:
        raise ConfigurationError(
            f"ram_per_node_gib must be a positive number of GiB, got {ram_per_node_gib!r}"
        )
    fixed = fixed or ClusterSettings()
    profile = profile_for(max_seq_length)
    total = chunks if chunks is not None else math.ceil((patents or 0) * profile.chunks_per_patent)
    topology = _topology(chunks=total, nodes=nodes, fixed=fixed)
    replicas = topology.replication_factor or 1
    budget = ram_per_node_gib * RAM_BUDGET * _GIB
    candidates = [
        dataclasses.replace(topology, on_disk=on_disk, on_disk_payload=payload, quantization=quantization)
        for on_disk, payload, quantization in _LADDER
    ]
    # What was set explicitly wins over every step of the ladder.
    candidates = [
        dataclasses.replace(c, **{n: getattr(fixed, n) for n in _STORAGE if getattr(fixed, n) is not None})
        for c in candidates
    ]
    per_node = total * replicas / nodes
    chosen = next(
        (c for c in candidates if per_node * _ram_per_chunk(c, dim, profile) <= budget), candidates[-1]
    )
    ram = total * replicas * _ram_per_chunk(chosen, dim, profile)
    return ClusterSizing(
        patents=patents,
        chunks=total,
        nodes=nodes,
        dim=dim,
        ram_per_node_gib=float(ram_per_node_gib),
        profile=profile,
        settings=chosen,
        ram_needed_gib=ram / nodes / _GIB,
        disk_needed_gib=per_node * _disk_per_chunk(chosen, dim, profile) / _GIB,
        min_nodes=max(replicas, math.ceil(ram / budget)),
    )


_STORAGE = ("on_disk", "on_disk_payload", "quantization")
# (on_disk, on_disk_payload, quantization), least RAM last: the first that fits is taken.
_LADDER: tuple[tuple[bool, bool, Quantization], ...] = (
    (False, False, "none"),
    (False, True, "none"),
    (True, True, "int8"),
)


def _topology(*, chunks: int | None, nodes: int, fixed: ClusterSettings) -> ClusterSettings:
    """Shards, replicas and write consistency for ``nodes`` (the values in ``fixed`` kept)."""
    per_node = 2
    if chunks is not None:
        per_node = min(4, max(2, math.ceil(chunks / (nodes * SHARD_POINTS))))
    replicas = fixed.replication_factor or (2 if nodes >= 2 else 1)
    _check_replicas(replicas, nodes, assumed=False)
    consistency = fixed.write_consistency_factor or 1
    _check_consistency(replicas, consistency)
    return ClusterSettings(
        shard_number=fixed.shard_number or nodes * per_node,
        replication_factor=replicas,
        write_consistency_factor=consistency,
        on_disk=fixed.on_disk,
        on_disk_payload=fixed.on_disk_payload,
        quantization=fixed.quantization,
        nodes=nodes,
    )


def _ram_per_chunk(settings: ClusterSettings, dim: int, profile: CorpusProfile) -> float:
    """Bytes of RAM one replica of one chunk takes with these settings (Qdrant's x1.5 included)."""
    in_ram = not settings.on_disk
    vectors = (4 * dim if in_ram else 0) + (dim if settings.quantization == "int8" else 0)
    sparse = profile.bm25_terms * _SPARSE_ENTRY_BYTES if in_ram else 0.0
    payload = (
        profile.payload_bytes if settings.on_disk_payload is False else 0
    )  # None: the server's on-disk default
    return _OVERHEAD * (vectors + _HNSW_LINK_BYTES + sparse + _index_bytes(profile) + payload)


def _disk_per_chunk(settings: ClusterSettings, dim: int, profile: CorpusProfile) -> float:
    """Bytes of disk one replica of one chunk takes: everything is persisted, wherever it is read from."""
    vectors = 4 * dim + (dim if settings.quantization == "int8" else 0)
    sparse = profile.bm25_terms * _SPARSE_ENTRY_BYTES
    return _OVERHEAD * (vectors + _HNSW_LINK_BYTES + sparse + _index_bytes(profile) + profile.payload_bytes)


def _index_bytes(profile: CorpusProfile) -> float:
    return profile.indexed_values * _INDEX_ENTRY_BYTES
