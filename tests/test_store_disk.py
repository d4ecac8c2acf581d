"""The disk under an embedded index: a full disk and a read-only one give one clear error instead of a
SIGBUS or a traceback, and the same command, run again once there is room, resumes.

Qdrant Edge memory-maps sparse files: on a full disk a write into a mapped page kills the process
with SIGBUS. The free space is therefore checked before Edge writes; most tests report little free
space through ``_disk.free_bytes``, and one (slow) fills a real loop-mounted file system."""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from patent_rag.documents import Claim, PatentDocument
from patent_rag.documents.chunking import Chunker
from patent_rag.errors import StoreError
from patent_rag.ingest import ingest
from patent_rag.stores import EdgeStore, _disk, open_store
from patent_rag.stores._edge_check import unflushed_log_bytes
from patent_rag.stores.layout import build_payload, point_id
from tests.test_stores import CORPUS, FP, points_for

ROOT = Path(__file__).resolve().parents[1]
MB = 2**20
RESUME = "free space and run the same command again: the index resumes where it stopped"


def _docs(first: int, count: int) -> list[PatentDocument]:
    return [
        PatentDocument(
            publication_number=f"US{8200 + n}B2",
            title=f"Valve {n}",
            abstract=f"A valve {n} that closes when the pressure drops below a threshold.",
            claims=[Claim(number=i + 1, text=f"The valve {n} with seal {i}.") for i in range(2)],
            priority_date=date(2002, 1, 1 + n % 28),
        )
        for n in range(first, first + count)
    ]


def _records(path: Path, docs: list[PatentDocument]) -> Path:
    path.write_text("".join(doc.model_dump_json() + "\n" for doc in docs))
    return path


def _expected(docs: list[PatentDocument], encoder: Any) -> dict[str, dict[str, str]]:
    chunker = Chunker.for_encoder(encoder)
    return {
        d.publication_number: {
            point_id(d.publication_number, c.section, c.ordinal): build_payload(d, c)["content_hash"]
            for c in chunker.chunk(d)
        }
        for d in docs
    }


def _mount(tmp_path: Path) -> str:
    return re.escape(str(_disk.mount_point(tmp_path)))


class _Disk:
    """``free_bytes`` reporting plenty for the first ``plenty`` calls, then ``then`` bytes."""

    def __init__(self, *, plenty: int, then: int) -> None:
        self.calls, self.plenty, self.then = 0, plenty, then

    def __call__(self, path: Path) -> int:
        self.calls += 1
        return 10**12 if self.calls <= self.plenty else self.then


def test_ingest_stops_for_space_and_the_same_command_resumes(
    tmp_path: Path, minilm_encoder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _docs(0, 8)
    records = _records(tmp_path / "records.jsonl", docs)
    location = str(tmp_path / "index")
    disk = _Disk(plenty=3, then=5 * MB)  # creating the index and two writes, then the disk is full
    monkeypatch.setattr(_disk, "free_bytes", disk)
    store = open_store(location)
    with pytest.raises(
        StoreError,
        match=rf"^not enough free space on {_mount(tmp_path)} for {re.escape(location)}: 5 MB free, about "
        rf"6\d MB needed to write \d+ chunks; {RESUME}$",
    ):
        ingest([records], store=store, encoder=minilm_encoder, window=2)
    store.close()
    monkeypatch.undo()  # the space returns
    with EdgeStore(path=location) as partial:
        written = partial.open().chunks
    total = sum(len(chunks) for chunks in _expected(docs, minilm_encoder).values())
    assert 0 < written < total
    store = open_store(location)
    summary = ingest([records], store=store, encoder=minilm_encoder, window=2)
    assert (summary.chunks_unchanged, summary.chunks_written) == (written, total - written)
    assert store.existing_hashes([d.publication_number for d in docs]) == _expected(docs, minilm_encoder)
    store.close()


CRASHING_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from patent_rag.stores import EdgeStore
    from tests.test_stores import FP, points_for
    store = EdgeStore(path=sys.argv[1])
    store.create(fingerprint=FP)
    store.close()
    store.open()
    store.upsert(points_for(store))  # in the write-ahead log, not yet in a flushed segment
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_opening_after_a_crash_needs_room_to_replay_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, str(index)], env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    assert child.returncode == -signal.SIGKILL
    logged = unflushed_log_bytes(index / "shard")
    assert logged > 0
    monkeypatch.setattr(_disk, "free_bytes", lambda path: 2 * MB)
    with pytest.raises(
        StoreError,
        match=rf"^not enough free space on {_mount(tmp_path)} for {re.escape(str(index))}: 2 MB free, about "
        r"\d+ MB needed to replay the writes logged before the index was last closed; free space and open "
        r"it again: the index completes those writes$",
    ):
        EdgeStore(path=index).open()
    monkeypatch.undo()
    with EdgeStore(path=index) as store:
        assert store.open(fingerprint=FP).chunks == 12
    assert unflushed_log_bytes(index / "shard") == 0  # closed cleanly: nothing left to replay


def test_a_cleanly_closed_index_opens_on_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening to search writes nothing when the log holds nothing to replay."""
    with EdgeStore(path=tmp_path / "index") as store:
        store.create(fingerprint=FP)
        store.upsert(points_for(store))
    monkeypatch.setattr(_disk, "free_bytes", lambda path: 0)
    with EdgeStore(path=tmp_path / "index") as store:
        assert store.open().chunks == 12


def test_creating_and_optimizing_check_the_space_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = str(tmp_path / "index")
    monkeypatch.setattr(_disk, "free_bytes", lambda path: 10 * MB)
    with pytest.raises(
        StoreError,
        match=rf"^not enough free space on {_mount(tmp_path)} for {re.escape(location)}: 10 MB free, about "
        rf"64 MB needed to create the index; {RESUME}$",
    ):
        EdgeStore(path=location).create(fingerprint=FP)
    monkeypatch.undo()
    with EdgeStore(path=location) as store:  # the refused creation left nothing in the way
        store.create(fingerprint=FP)
        store.upsert(points_for(store))
        monkeypatch.setattr(_disk, "free_bytes", lambda path: 10 * MB)
        with pytest.raises(
            StoreError,
            match=r"10 MB free, about 6\d MB needed to optimize it \(Edge writes its segments anew before "
            rf"dropping the old ones\); {RESUME}$",
        ):
            store.optimize()
        with pytest.raises(StoreError, match=r"10 MB free, about 6\d MB needed to write 12 chunks"):
            store.upsert(points_for(store))
        monkeypatch.undo()
        store.optimize()
        assert store.describe().chunks == 12


def test_a_full_disk_under_our_own_files_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import patent_rag.stores.edge as edge

    def full(path: Path, data: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(edge, "write_json_atomically", full)
    index = tmp_path / "index"
    with pytest.raises(
        StoreError,
        match=rf"^not enough free space on {_mount(tmp_path)} for {re.escape(str(index))} "
        rf"\({re.escape(str(index / 'patent_rag.json'))}: No space left on device\); {RESUME}$",
    ):
        EdgeStore(path=index).create(fingerprint=FP)


# -- read-only places -----------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["edge", "local"])
def test_an_index_below_a_file_is_one_clear_error(tmp_path: Path, backend: str) -> None:
    (tmp_path / "file").write_text("not a folder")
    path = tmp_path / "file" / "index"
    store = open_store(str(path) if backend == "edge" else f"qdrant-local:{path}")
    with pytest.raises(
        StoreError,
        match=rf"^cannot write {re.escape(str(path))}: part of that path is a file, not a folder; choose "
        r"another location for the index$",
    ):
        store.create(fingerprint=FP)


@contextmanager
def _mounted(target: Path, *options: str) -> Iterator[None]:
    """``mount OPTIONS target`` for the test, or skip where mounting is not permitted."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a file system needs root and mount(8)")
    target.mkdir(exist_ok=True)
    result = subprocess.run(["mount", *options, str(target)], capture_output=True, text=True)
    if result.returncode:
        pytest.skip(f"cannot mount a file system here: {result.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


@pytest.mark.parametrize("backend", ["edge", "local"])
def test_an_index_on_a_read_only_file_system_is_one_clear_error(tmp_path: Path, backend: str) -> None:
    mnt = tmp_path / "ro"
    with _mounted(mnt, "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs"):
        path = mnt / "index"
        store = open_store(str(path) if backend == "edge" else f"qdrant-local:{path}")
        with pytest.raises(
            StoreError,
            match=rf"^cannot write {re.escape(str(path))}: {re.escape(str(mnt))} is a read-only file system; "
            r"choose a writable location for the index$",
        ):
            store.create(fingerprint=FP)


def test_opening_an_index_on_a_file_system_made_read_only(tmp_path: Path) -> None:
    mnt = tmp_path / "disk"
    with _mounted(mnt, "-t", "tmpfs", "-o", "size=400m", "tmpfs"):
        with EdgeStore(path=mnt / "index") as store:
            store.create(fingerprint=FP)
            store.upsert(points_for(store, CORPUS[:2]))
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        with pytest.raises(
            StoreError,
            match=rf"^cannot open {re.escape(str(mnt / 'index' / '.lock'))}: {re.escape(str(mnt))} is a "
            r"read-only file system; choose a writable location for the index$",
        ):
            EdgeStore(path=mnt / "index").open()


# -- a real full disk -----------------------------------------------------------------------------
CLI = "import sys; from patent_rag.cli import main; sys.argv[0] = 'patent-rag'; main()"
MODEL = "all-minilm-l6-v2"


def _ingest(records: Path, index: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI, "ingest", str(records), "--index", str(index), "--model", MODEL],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "400"},
        timeout=300,
    )


@pytest.mark.slow
def test_a_real_full_disk_stops_ingest_with_one_line_and_the_rerun_resumes(
    tmp_path: Path, minilm_encoder: Any
) -> None:
    """A loop-mounted ext4 of 160 MB (no blocks reserved for root), filled to 1 MB: without the check,
    Edge's next write kills the process with SIGBUS."""
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("mkfs.ext4 is not installed")
    image, mnt = tmp_path / "disk.img", tmp_path / "disk"
    with image.open("wb") as handle:
        handle.truncate(160 * MB)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], check=True, capture_output=True)
    with _mounted(mnt, "-o", "loop", str(image)):
        index = mnt / "index"
        first, more = _docs(0, 6), _docs(6, 150)  # 450 more chunks: several MB
        done = _ingest(_records(tmp_path / "first.jsonl", first), index)
        assert done.returncode == 0, done.stderr
        filler = mnt / "filler"
        with filler.open("wb") as handle:
            os.posix_fallocate(handle.fileno(), 0, shutil.disk_usage(mnt).free - MB)
        records = _records(tmp_path / "all.jsonl", first + more)
        full = _ingest(records, index)
        assert full.returncode == 1, (full.returncode, full.stderr)
        assert re.search(
            rf"error: not enough free space on {re.escape(str(mnt))} for {re.escape(str(index))}: [01] MB "
            rf"free, about \d+ MB needed to write \d+ chunks; {RESUME}",
            full.stderr,
        ), full.stderr
        filler.unlink()
        again = _ingest(records, index)
        assert again.returncode == 0, again.stderr
        store = open_store(str(index))
        store.open()
        expected = _expected(first + more, minilm_encoder)
        assert store.existing_hashes(sorted(expected)) == expected
        store.close()
