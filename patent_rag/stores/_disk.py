"""The disk under an embedded index: free space checked before writing, file-system errors in words.

Qdrant Edge memory-maps its files and creates them at full size but sparse (an empty index takes
a few hundred times less disk than its files' size, and each write-ahead-log segment is a 32 MB
file), then fills their pages as it writes. On a full disk a write into a mapped page cannot fail with an
error: the kernel kills the process with SIGBUS, without a message, and opening the half-written
index afterwards dies the same way while Edge replays its log. So before each write the free space
is checked against an estimate of what the write will take, plus :data:`MARGIN` for Edge's own
allocations, and a clear :class:`~patent_rag.errors.StoreError` is raised instead. Every write is
in the log before it returns, so stopping there is safe: the same command, run again once there is
space, resumes.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from patent_rag.errors import StoreError

__all__ = [
    "MARGIN",
    "RESUME",
    "ensure_free",
    "free_bytes",
    "mount_point",
    "os_errors",
    "points_bytes",
    "used_bytes",
]

# Kept free beyond every estimate: Edge allocates pages of its sparse files as it fills them (a new
# 32 MB write-ahead-log segment, 32 MB vector chunks, 4 MB payload index pages), not only the bytes
# of the points it is given.
MARGIN = 64 * 2**20
# What to do after a write was refused or failed for space.
RESUME = "free space and run the same command again: the index resumes where it stopped"
_MB = 2**20


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing ancestor (the index folder may not exist yet)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: Path) -> int:
    """Bytes this process may still write on the file system holding ``path``."""
    return shutil.disk_usage(_existing(path)).free


def mount_point(path: Path) -> Path:
    """The mount point of the file system holding ``path`` (what ``df`` names)."""
    path = _existing(path).resolve()
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def ensure_free(path: Path, *, needed: int, location: str, doing: str, then: str = RESUME) -> None:
    """Refuse to go on when the disk holding ``path`` has less than ``needed`` bytes free."""
    free = free_bytes(path)
    if free < needed:
        raise StoreError(
            f"not enough free space on {mount_point(path)} for {location}: {free / _MB:.0f} MB free, "
            f"about {needed / _MB:.0f} MB needed to {doing}; {then}"
        )


def points_bytes(*, dim: int, texts: Sequence[str], terms: int) -> int:
    """A generous estimate of the disk an Edge write of these points takes, log included.

    Per point: the vector in the segment (float16) and in the log (float32), the BM25 terms twice
    over in both, the chunk text three times (payload storage, log, and as much again for slack)
    and 2 KB for the other payload fields and their index entries. It is above what batches of the
    latency benchmark's points usually take, and below the most they take when a file grows by a
    block of pages, which :data:`MARGIN` covers (docs/benchmarks.md).
    """
    return len(texts) * (6 * dim + 2048) + 32 * terms + 3 * sum(len(text) for text in texts)


def used_bytes(folder: Path) -> int:
    """Disk actually used by the files under ``folder`` (sparse files count their written pages)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue  # removed meanwhile
    return total


@contextmanager
def os_errors(location: str, *, verb: str = "write") -> Iterator[None]:
    """Translate an ``OSError`` from our own file operations on an index into one clear line."""
    try:
        yield
    except OSError as error:
        if isinstance(error, ConnectionError | TimeoutError | BlockingIOError):
            raise
        name = error.filename or location
        code = error.errno
        if code in (errno.ENOSPC, errno.EDQUOT):
            raise StoreError(
                f"not enough free space on {mount_point(Path(name))} for {location} "
                f"({name}: {error.strerror}); {RESUME}"
            ) from error
        if code == errno.EROFS:
            raise StoreError(
                f"cannot {verb} {name}: {mount_point(Path(name))} is a read-only file system; "
                "choose a writable location for the index"
            ) from error
        if code in (errno.EACCES, errno.EPERM):
            raise StoreError(
                f"cannot {verb} {name}: permission denied; choose a location you may write to, or "
                "change the folder's permissions"
            ) from error
        if code == errno.ENOTDIR:
            raise StoreError(
                f"cannot {verb} {name}: part of that path is a file, not a folder; choose another "
                "location for the index"
            ) from error
        raise StoreError(f"cannot {verb} {name}: {error.strerror or error}") from error
