"""How ingestion's stages hand work over: each input file read once, bounded read-ahead and writes in
flight, a failure in any stage raised in the caller, and a write in progress finished first."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from patent_rag.cli.ingest import run_ingest
from patent_rag.documents import Claim, PatentDocument
from patent_rag.errors import ParseError, StoreError
from patent_rag.ingest import _READ_AHEAD, _WRITES_IN_FLIGHT, ingest, ingest_documents
from patent_rag.stores import Store, StoredPoint, open_store
from tests.test_ingest import Recorder


def _doc(n: int) -> PatentDocument:
    return PatentDocument(
        publication_number=f"US{7300 + n}B2",
        title=f"Valve {n}",
        abstract=f"A valve {n} that closes under pressure.",
        claims=[Claim(number=1, text=f"A valve {n} comprising a seat.")],
        priority_date=date(2003, 1, 1 + n % 28),
    )


class Proxy:
    """A real store with hooks around its writes."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.upserts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        self.upserts += 1
        self.inner.upsert(points)


def _jsonl(path: Path, docs: list[PatentDocument]) -> Path:
    path.write_text("".join(doc.model_dump_json() + "\n" for doc in docs))
    return path


def test_each_input_file_is_read_once_and_progress_counts_every_byte(
    tmp_path: Path, minilm_encoder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [_jsonl(tmp_path / "a.jsonl", [_doc(0), _doc(1)]), _jsonl(tmp_path / "b.jsonl", [_doc(2)])]
    opened: Counter[Path] = Counter()
    path_open = Path.open

    def counting_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self in files:
            opened[self] += 1
        return path_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", counting_open)
    recorder = Recorder()
    console = Console(file=None, width=120, quiet=True)
    summary = run_ingest(
        files, index=str(tmp_path / "index"), console=console, encoder=minilm_encoder, progress=recorder
    )
    assert summary.documents == 3
    # Opened at most twice: once to tell its format from its first bytes, once to parse it.
    assert all(1 <= opened[path] <= 2 for path in files), opened
    advances = [value for kind, value in recorder.events if kind == "advance"]
    total = sum(path.stat().st_size for path in files)
    assert recorder.events[0] == ("start", total) and advances[-1][3] == total
    positions = [advance[3] for advance in advances]
    assert positions == sorted(positions)


def test_a_missing_file_is_refused_before_the_store_is_created(tmp_path: Path, minilm_encoder: Any) -> None:
    store = open_store(str(tmp_path / "index"))
    with pytest.raises(ParseError, match="no such file"):
        ingest([tmp_path / "missing.jsonl"], store=store, encoder=minilm_encoder)
    assert not store.exists()
    store.close()


def test_a_failed_write_stops_the_run_and_nothing_is_written_after_it(
    tmp_path: Path, minilm_encoder: Any
) -> None:
    class FailingSecondWrite(Proxy):
        def upsert(self, points: Sequence[StoredPoint]) -> None:
            self.upserts += 1
            if self.upserts == 2:
                raise StoreError("disk went away")
            self.inner.upsert(points)

    inner = open_store(str(tmp_path / "index"))
    store = FailingSecondWrite(inner)
    docs = [_doc(n) for n in range(12)]
    with pytest.raises(StoreError, match="disk went away"):
        ingest_documents(docs, store=store, encoder=minilm_encoder, window=1)
    assert store.upserts == 2
    assert inner.describe().patents == 1
    summary = ingest_documents(docs, store=inner, encoder=minilm_encoder)
    assert (summary.documents_unchanged, summary.documents_written, summary.index.patents) == (1, 11, 12)  # type: ignore[union-attr]
    inner.close()


def test_a_failure_in_the_caller_waits_for_the_write_in_progress(tmp_path: Path, minilm_encoder: Any) -> None:
    """The store may be closed as soon as ingestion raises: the write under way finishes first."""
    failed = threading.Event()
    finished: list[bool] = []

    class SlowWrite(Proxy):
        def upsert(self, points: Sequence[StoredPoint]) -> None:
            failed.wait(timeout=30)  # still writing when the caller fails
            time.sleep(0.2)
            super().upsert(points)
            finished.append(True)

    class FailingSecondBatch:
        def __init__(self, inner: Any) -> None:
            self.inner, self.calls = inner, 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
            self.calls += 1
            if self.calls == 2:
                failed.set()
                raise RuntimeError("encoder failed")
            return self.inner.encode_documents(texts)

    inner = open_store(str(tmp_path / "index"))
    store = SlowWrite(inner)
    with pytest.raises(RuntimeError, match="encoder failed"):
        ingest_documents(
            [_doc(n) for n in range(6)],
            store=store,
            encoder=FailingSecondBatch(minilm_encoder),  # type: ignore[arg-type]
            window=1,
        )
    assert finished == [True] and store.upserts == 1
    inner.close()
    assert open_store(str(tmp_path / "index")).open().patents == 1


def test_reading_and_writing_run_a_bounded_way_ahead(tmp_path: Path, minilm_encoder: Any) -> None:
    """While the first write hangs, the reader and the encoder stop a few batches later."""
    release = threading.Event()
    pulled: list[int] = []

    class HangingFirstWrite(Proxy):
        def upsert(self, points: Sequence[StoredPoint]) -> None:
            if self.upserts == 0:
                release.wait(timeout=60)
            super().upsert(points)

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner, self.calls = inner, 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
            self.calls += 1
            return self.inner.encode_documents(texts)

    def documents() -> Iterator[PatentDocument]:
        for n in range(40):
            pulled.append(n)
            yield _doc(n)

    inner = open_store(str(tmp_path / "index"))
    encoder = Counting(minilm_encoder)
    with ThreadPoolExecutor(max_workers=1) as pool:
        run = pool.submit(
            ingest_documents,
            documents(),
            store=HangingFirstWrite(inner),
            encoder=encoder,  # type: ignore[arg-type]
            window=1,  # one document per batch
        )
        time.sleep(1.5)  # time enough for unbounded stages to run far ahead
        embedded, read = encoder.calls, len(pulled)
        release.set()
        summary = run.result(timeout=120)
    assert embedded <= _WRITES_IN_FLIGHT + 1
    assert read <= embedded + _READ_AHEAD
    assert summary.documents_written == 40 and summary.index.patents == 40  # type: ignore[union-attr]
    inner.close()
