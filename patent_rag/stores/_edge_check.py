"""Checks, on every open, that the parts of an Edge shard agree (file presence and counts, no scan).

Edge 0.9 opens a damaged shard without a word (measured): with a segment's
``vector_storage-dense/vectors/status.dat`` deleted it recreates the file empty, and the segment's
points keep their payloads but lose their dense vectors, so dense search finds nothing and hybrid
search silently becomes BM25 alone; a deleted folder of a vector storage (``vector_storage-bm25``,
its ``deleted`` flags...) is recreated empty the same way, and a truncated ``matrix.dat`` loses the
vectors past the cut. Three checks tell these apart:

- before Edge opens the shard: its configuration file is there, and every segment has the vector
  storage folders its ``segment.json`` declares (a missing one is refused before Edge recreates it);
- after: every point has its dense vector, and some point has its BM25 vector (a chunk without any
  BM25 term, only stop words, has none). Edge counts the points having a vector from each
  segment's vector storage without a scan (the exact count, a scan, is only taken to confirm a
  disagreement);
- after: Edge recreated no folder inside a vector storage (opening healthy shards, cleanly closed or
  killed while writing, created none; a file may come and go, as a gridstore's tracker journal does).

Listing the segments' vector storage files before and after costs a small fraction of opening the
shard (docs/benchmarks.md); the lists also let a refusal name the files that were missing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from patent_rag.errors import IndexCorruptError

__all__ = ["CONFIG", "ShardFiles", "check_files", "check_opened", "rebuild", "unflushed_log_bytes"]

CONFIG = "edge_config.json"
_SEGMENTS = "segments"
_STORAGE = "vector_storage-"


def rebuild(location: str) -> str:
    """How to get a working index back (Edge cannot repair a shard in place)."""
    return (
        f"rebuild it: `patent-rag ingest FILES --index NEW_DIR` into a new folder, or delete {location} and "
        "ingest again"
    )


@dataclass(frozen=True)
class ShardFiles:
    """What the shard's files were before Edge opened it."""

    shard: Path
    dense: frozenset[str]
    sparse: frozenset[str]
    storage: frozenset[tuple[str, bool]]  # (path relative to the shard, is a folder) in vector storages


def _segments(shard: Path) -> list[Path]:
    """The shard's complete segments: Edge drops a folder without ``version.info`` (a segment whose
    creation was interrupted) or named ``*.deleted`` when it loads, so those are not checked."""
    folder = shard / _SEGMENTS
    if not folder.is_dir():
        return []
    return [
        entry
        for entry in sorted(folder.iterdir())
        if entry.is_dir()
        and not entry.name.startswith(".")
        and not entry.name.endswith(".deleted")
        and (entry / "version.info").is_file()
    ]


def _json(path: Path) -> dict[str, Any]:
    """A small JSON object, or ``{}`` when unreadable: Edge refuses such a file itself, with its reason."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _storage(shard: Path, segments: list[Path]) -> set[tuple[str, bool]]:
    found: set[tuple[str, bool]] = set()
    for segment in segments:
        for storage in segment.glob(f"{_STORAGE}*"):
            for root, dirs, files in os.walk(storage):
                base = os.path.relpath(root, shard)
                found.update((os.path.join(base, name), True) for name in dirs)
                found.update((os.path.join(base, name), False) for name in files)
    return found


def check_files(shard: Path, *, location: str) -> ShardFiles | None:
    """Refuse a shard whose files are visibly incomplete, before Edge opens (and rewrites) it.

    Returns None when the shard has no configuration and no segment: its creation was interrupted
    before Edge wrote anything (Edge writes the configuration before any segment), and creating it
    again completes it.
    """
    if not (shard / CONFIG).is_file():
        folder = shard / _SEGMENTS
        held = sorted(entry.name for entry in folder.iterdir()) if folder.is_dir() else []
        if not held:
            return None
        raise IndexCorruptError(
            f"{location} is damaged: the configuration file of its Edge shard, {shard / CONFIG}, is "
            f"missing, while the shard holds {len(held)} segment folder(s) under {folder}; "
            f"{rebuild(location)}"
        )
    config = _json(shard / CONFIG)
    segments = _segments(shard)
    for segment in segments:
        declared = _json(segment / "segment.json").get("config", {})
        for kind in ("vector_data", "sparse_vector_data"):
            for name in declared.get(kind) or {}:
                storage = segment / f"{_STORAGE}{name}"
                if not storage.is_dir():
                    raise IndexCorruptError(
                        f"{location} is damaged: {storage} is missing, so the {name!r} vectors of that "
                        f"segment of its Edge shard are lost; {rebuild(location)}"
                    )
    return ShardFiles(
        shard=shard,
        dense=frozenset(config.get("vectors") or ()),
        sparse=frozenset(config.get("sparse_vectors") or ()),
        storage=frozenset(_storage(shard, segments)),
    )


def _having(engine: qe.EdgeShard, name: str, *, exact: bool) -> int:
    has = qe.Filter(must=[qe.HasVectorCondition(name)])
    return engine.count(qe.CountRequest(exact=exact, filter=has))


def _recreated(before: ShardFiles) -> list[tuple[str, bool]]:
    """Vector storage entries that appeared while Edge opened the shard, a folder without its files."""
    after = _storage(before.shard, _segments(before.shard))
    # A gridstore's tracker journal comes and goes with writes: its appearing says nothing.
    new = {entry for entry in after - before.storage if "journal" not in os.path.basename(entry[0])}
    folders = {path for path, is_dir in new if is_dir}
    return sorted(entry for entry in new if os.path.dirname(entry[0]) not in folders)


def _where(before: ShardFiles, recreated: list[tuple[str, bool]], name: str) -> str:
    prefix = f"{_STORAGE}{name}"
    paths = [str(before.shard / path) for path, _ in recreated if Path(path).parts[2:3] == (prefix,)]
    if paths:
        return "missing when it was opened: " + ", ".join(paths)
    return f"a file under {before.shard / _SEGMENTS}/*/{prefix} was deleted or truncated"


def check_opened(engine: qe.EdgeShard, points: int, before: ShardFiles, *, location: str) -> None:
    """Refuse an opened shard whose points lack vectors, or whose storage Edge had to recreate."""
    recreated = _recreated(before)
    for name in sorted(before.dense):
        having = _having(engine, name, exact=False) if points else 0
        if having != points:  # confirm with exact counts before refusing
            points = engine.count(qe.CountRequest(exact=True))
            having = _having(engine, name, exact=True)
        if having < points:
            raise IndexCorruptError(
                f"{location} is damaged: only {having} of the {points} chunks in its Edge shard have their "
                f"{name!r} vector ({_where(before, recreated, name)}), so dense and hybrid search would "
                f"miss {points - having} chunks; {rebuild(location)}"
            )
    for name in sorted(before.sparse):
        if points and _having(engine, name, exact=False) == 0 and _having(engine, name, exact=True) == 0:
            raise IndexCorruptError(
                f"{location} is damaged: none of the {points} chunks in its Edge shard has its {name!r} "
                f"vector ({_where(before, recreated, name)}), so BM25 and hybrid search would find "
                f"nothing; {rebuild(location)}"
            )
    folders = [str(before.shard / path) for path, is_dir in recreated if is_dir]
    if folders:
        raise IndexCorruptError(
            f"{location} is damaged: {', '.join(folders)} was missing when it was opened (Edge recreated it "
            f"empty), so the vectors it held are lost; {rebuild(location)}"
        )


def unflushed_log_bytes(shard: Path) -> int:
    """Disk used by write-ahead-log files written since the shard was last flushed (0 after a clean close).

    Edge records the last flushed operation in ``wal/first-index`` on every flush and close, so a
    log file modified after it holds operations that opening will replay into the segments (an
    upper bound: the file may also hold flushed ones); without that file nothing was flushed yet.
    """
    wal = shard / "wal"
    try:
        flushed = (wal / "first-index").stat().st_mtime_ns
    except OSError:
        flushed = -1
    total = 0
    with os.scandir(wal) as entries:
        for entry in entries:
            if entry.name != "first-index" and entry.is_file():
                stat = entry.stat()
                if stat.st_mtime_ns > flushed:
                    total += stat.st_blocks * 512
    return total
