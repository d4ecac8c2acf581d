"""``patent-rag ingest`` as a user meets it: a busy index refused before the model loads, repeated
publication numbers and unreadable files named in the summary."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import patent_rag.cli.ingest
from patent_rag.cli.ingest import run_ingest
from patent_rag.documents import PatentDocument
from patent_rag.errors import IndexLockedError
from patent_rag.stores import open_store


def _doc(n: int, abstract: str = "") -> PatentDocument:
    return PatentDocument(
        publication_number=f"US{9200000 + n}B2",
        title=f"Heat exchanger {n}",
        abstract=abstract or f"A heat exchanger {n} with finned tubes.",
        priority_date=date(2005, 1, 1 + n),
    )


def _jsonl(path: Path, docs: list[PatentDocument]) -> Path:
    path.write_text("".join(doc.model_dump_json() + "\n" for doc in docs))
    return path


def _console() -> Console:
    return Console(file=io.StringIO(), width=250, color_system=None)


class _NoModel:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("the model was loaded before the index lock was taken")


@pytest.mark.parametrize("kind", ["edge", "local-path"])
def test_a_locked_index_is_refused_before_the_model_loads(
    tmp_path: Path, minilm_encoder: Any, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    location = str(tmp_path / "index") if kind == "edge" else f"qdrant-local:{tmp_path / 'local'}"
    records = _jsonl(tmp_path / "records.jsonl", [_doc(0)])
    holder = open_store(location)
    holder.create(fingerprint=minilm_encoder.fingerprint)  # held open: the index is busy
    monkeypatch.setattr(patent_rag.cli.ingest, "Encoder", _NoModel)
    try:
        for model in ("all-minilm-l6-v2", None):
            with pytest.raises(IndexLockedError, match=r"open in (another|this) process"):
                run_ingest([records], index=location, model=model, console=_console())
    finally:
        holder.close()


def test_repeated_publication_numbers_are_counted_and_named(tmp_path: Path, minilm_encoder: Any) -> None:
    # 12 records, 11 patents: the summary says which number came twice and that the later record won.
    docs = [_doc(n) for n in range(11)] + [_doc(3, abstract="A corrected abstract of heat exchanger 3.")]
    records = _jsonl(tmp_path / "records.jsonl", docs)
    console = _console()
    summary = run_ingest([records], index=str(tmp_path / "index"), console=console, encoder=minilm_encoder)
    assert (summary.documents, summary.duplicates, summary.duplicate_numbers) == (11, 1, ("US9200003B2",))
    assert summary.as_dict()["duplicate_numbers"] == ["US9200003B2"]
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "ingested: 11 documents" in text and ", 1 repeated in " in text
    assert (
        "1 record(s) repeat a publication number met earlier in this run (the later record is kept), "
        "e.g. US9200003B2" in text
    )
    store = open_store(str(tmp_path / "index"))
    try:
        store.open()
        texts = [hit.payload["text"] for hit in store.fetch(store_filter("US9200003B2"))]
    finally:
        store.close()
    assert any("corrected abstract" in text for text in texts)


def store_filter(number: str) -> Any:
    from patent_rag.stores import SearchFilter

    return SearchFilter(publication_numbers=(number,), sections=("abstract",))


def test_an_unreadable_file_among_several_is_reported_and_the_others_go_in(
    tmp_path: Path, minilm_encoder: Any
) -> None:
    good = _jsonl(tmp_path / "good.jsonl", [_doc(0), _doc(1)])
    empty = tmp_path / "[red]empty.jsonl"
    empty.write_bytes(b"")
    console = _console()
    summary = run_ingest(
        [good, empty], index=str(tmp_path / "index"), console=console, encoder=minilm_encoder
    )
    assert summary.documents == 2 and summary.rejected == 1
    assert any(issue.startswith(f"rejected: {empty}") for issue in summary.issues), summary.issues
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "ingested: 2 documents" in text and "1 rejected" in text
    rejected = [line for line in text.splitlines() if line.lstrip().startswith("rejected")]
    assert len(rejected) == 1 and str(empty) in rejected[0], text
