"""Files beside an embedded index: an exclusive process lock and atomically replaced JSON."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from patent_rag.errors import IndexLockedError

try:  # POSIX; elsewhere Edge's own WAL lock is the only guard
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = ["DirectoryLock", "write_json_atomically"]


class DirectoryLock:
    """``flock`` on ``DIR/.lock``, held while a process has the index open.

    The kernel releases it when the process dies (even by ``kill -9``), so a crashed run never
    leaves a stale lock behind. The holder's pid is written into the file for the error message.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, *, what: str) -> None:
        if self._fd is not None or fcntl is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            if holder == str(os.getpid()):
                raise IndexLockedError(
                    f"{what} is already open in this process; share the open store (or one "
                    "PatentSearcher / PatentService) instead of opening the index twice."
                ) from None
            raise IndexLockedError(
                f"{what} is open in another process (pid {holder}); only one process may open an embedded "
                "index. Wait for it to finish, or use a Qdrant server URL for concurrent access."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor releases the flock


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write-to-temp, fsync, rename, fsync the directory: a crash leaves the old file or the new one."""
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
