"""A damaged index is refused when it is opened, with a message naming what is damaged and how to
rebuild, instead of being searched silently (Edge recreates missing parts empty and says nothing).

Real damage to real indexes: an Edge shard with an optimized (immutable) segment and an appendable
one, both holding chunks, copied per test and then broken the ways a disk, a sync tool or a user
breaks it; qdrant-client local mode likewise."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pydantic
import pytest
from typer.testing import CliRunner

import patent_rag.cli.commands  # noqa: F401 - registers the commands on the app
from patent_rag import IndexCorruptError
from patent_rag.cli import app
from patent_rag.errors import StoreError
from patent_rag.stores import EdgeStore, QdrantStore, open_store
from patent_rag.stores.base import IndexMetadata
from tests.test_stores import CORPUS, FP, _doc, points_for, vector_for

BULK = [_doc(n) for n in range(200, 350)]  # 300 chunks: enough for Edge's optimizer to build a segment
CHUNKS = 300 + 12
REBUILD = (
    r"rebuild it: `patent-rag ingest FILES --index NEW_DIR` into a new folder, or delete \S+ and ingest again"
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Edge index whose chunks lie in an optimized segment (300) and an appendable one (12)."""
    path = tmp_path_factory.mktemp("pristine") / "index"
    store = EdgeStore(path=path)
    store.create(fingerprint=FP)
    store.close()
    config_file = path / "shard" / "edge_config.json"
    config = json.loads(config_file.read_text())
    config["optimizers"] = {"indexing_threshold": 1}  # KB: optimize 300 chunks of 8 dimensions
    config_file.write_text(json.dumps(config))
    store.open()
    store.upsert(points_for(store, BULK))
    store.optimize()
    store.upsert(points_for(store, CORPUS))
    store.close()
    return path


def _segment(index: Path, kind: str) -> Path:
    """The optimized segment ("immutable": its dense vectors in matrix.dat) or the appendable one."""
    for segment in (index / "shard" / "segments").iterdir():
        immutable = (segment / "vector_storage-dense" / "matrix.dat").is_file()
        if immutable == (kind == "immutable"):
            return segment
    raise AssertionError(f"no {kind} segment in {index}")


def _copy(pristine: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    # cp keeps Edge's sparse files sparse (copying them byte for byte would write 260 MB of zeros).
    subprocess.run(["cp", "-a", "--sparse=always", str(pristine), str(target)], check=True)
    return target


def test_a_healthy_index_opens_and_every_mode_finds_chunks(pristine: Path, tmp_path: Path) -> None:
    index = _copy(pristine, tmp_path)
    with EdgeStore(path=index) as store:
        assert store.open().chunks == CHUNKS
        for mode in ("dense", "bm25", "hybrid"):
            assert store.search(dense=vector_for("a" * 8), text="wireless power", mode=mode)


def _remove(kind: str, part: str) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        target = _segment(index, kind) / part
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()

    return damage


def _truncate(kind: str, part: str, *, keep: float) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        target = _segment(index, kind) / part
        with target.open("r+b") as handle:
            handle.truncate(int(target.stat().st_size * keep))

    return damage


def _everywhere(part: str) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        for kind in ("immutable", "appendable"):
            shutil.rmtree(_segment(index, kind) / part)

    return damage


def _no_config(index: Path) -> None:
    (index / "shard" / "edge_config.json").unlink()


DAMAGE = [
    pytest.param(
        _remove("appendable", "vector_storage-dense/vectors/status.dat"),
        rf"only 300 of the {CHUNKS} chunks in its Edge shard have their 'dense' vector \(missing when it was "
        r"opened: \S+/vector_storage-dense/vectors/status\.dat\), so dense and hybrid search would miss "
        rf"12 chunks; {REBUILD}",
        id="dense-status-file-deleted",
    ),
    pytest.param(
        _remove("immutable", "vector_storage-dense/matrix.dat"),
        rf"only 12 of the {CHUNKS} chunks in its Edge shard have their 'dense' vector \(missing when it was "
        r"opened: \S+/vector_storage-dense/matrix\.dat\), so dense and hybrid search would miss 300 chunks",
        id="dense-matrix-deleted",
    ),
    pytest.param(
        _truncate("immutable", "vector_storage-dense/matrix.dat", keep=0.5),
        rf"only \d+ of the {CHUNKS} chunks in its Edge shard have their 'dense' vector \(a file under "
        r"\S+/shard/segments/\*/vector_storage-dense was deleted or truncated\)",
        id="dense-matrix-truncated",
    ),
    pytest.param(
        _remove("immutable", "vector_storage-bm25"),
        rf"is damaged: \S+/vector_storage-bm25 is missing, so the 'bm25' vectors of that segment of its Edge "
        rf"shard are lost; {REBUILD}",
        id="sparse-storage-deleted",
    ),
    pytest.param(
        _remove("immutable", "vector_storage-bm25/deleted"),
        rf"is damaged: \S+/vector_storage-bm25/deleted was missing when it was opened \(Edge recreated it "
        rf"empty\), so the vectors it held are lost; {REBUILD}",
        id="sparse-flags-deleted-in-one-segment",
    ),
    pytest.param(
        _everywhere("vector_storage-bm25/deleted"),
        rf"none of the {CHUNKS} chunks in its Edge shard has its 'bm25' vector \(missing when it was opened: "
        r"\S+/vector_storage-bm25/deleted, \S+/vector_storage-bm25/deleted\), so BM25 and hybrid search "
        r"would find nothing",
        id="sparse-flags-deleted-everywhere",
    ),
    pytest.param(
        _no_config,
        r"is damaged: the configuration file of its Edge shard, \S+/shard/edge_config\.json, is missing, "
        rf"while the shard holds 2 segment folder\(s\) under \S+/shard/segments; {REBUILD}",
        id="shard-config-deleted",
    ),
]


@pytest.mark.parametrize(("damage", "message"), DAMAGE)
def test_a_damaged_edge_index_is_refused_on_opening(
    pristine: Path, tmp_path: Path, damage: Callable[[Path], None], message: str
) -> None:
    index = _copy(pristine, tmp_path)
    damage(index)
    store = EdgeStore(path=index)
    with pytest.raises(IndexCorruptError, match=message):
        store.open()
    # Refused again the next time (the lock was released, and what Edge recreated does not hide it).
    with pytest.raises(IndexCorruptError, match=rf"^{index} is damaged: "):
        EdgeStore(path=index).open(fingerprint=FP)


def test_a_truncated_appendable_vector_file_fails_the_search_clearly(pristine: Path, tmp_path: Path) -> None:
    """Edge reads an appendable segment's vectors when searching; the lost ones are reported then."""
    index = _copy(pristine, tmp_path)
    _truncate("appendable", "vector_storage-dense/vectors/chunk_0.mmap", keep=0.0)(index)
    with EdgeStore(path=index) as store:
        store.open()
        with pytest.raises(IndexCorruptError, match=rf"is damaged: .* is not readable from \S+; {REBUILD}"):
            store.search(dense=vector_for("a" * 8))


def test_info_on_a_damaged_index_is_one_line_and_exit_1(pristine: Path, tmp_path: Path) -> None:
    index = _copy(pristine, tmp_path)
    _remove("appendable", "vector_storage-dense/vectors/status.dat")(index)
    result = CliRunner().invoke(app, ["info", "--index", str(index)])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"error: {index} is damaged: only 300 of the {CHUNKS} chunks")


def test_a_shard_whose_creation_was_interrupted_is_completed(tmp_path: Path) -> None:
    """Edge writes the shard's configuration before any segment: without either, creation resumes."""
    index = tmp_path / "index"
    with EdgeStore(path=index) as store:
        store.create(fingerprint=FP)
    shutil.rmtree(index / "shard")
    (index / "shard" / "wal").mkdir(parents=True)
    (index / "shard" / "segments").mkdir()
    with EdgeStore(path=index) as store:
        assert store.open().chunks == 0
        store.upsert(points_for(store, CORPUS))
        assert store.describe().chunks == 12


# -- the metadata file --------------------------------------------------------------------------
def _first_half(text: bytes) -> bytes:
    return text[: len(text) // 2]


def test_a_shard_without_its_metadata_file_is_refused_not_adopted(pristine: Path, tmp_path: Path) -> None:
    """Adopting it would add one model's vectors to a shard filled by another, unknown one."""
    index = _copy(pristine, tmp_path)
    (index / "patent_rag.json").unlink()
    message = (
        r"index is damaged: its Edge shard \S+ holds data but the metadata file \S+patent_rag.json "
        r"that names the encoder which built it is missing\. Restore that file from a copy of the index, "
        rf"or {REBUILD}"
    )
    with pytest.raises(IndexCorruptError, match=message):
        EdgeStore(path=index).open()
    store = EdgeStore(path=index)
    with pytest.raises(IndexCorruptError, match=message):
        store.create(fingerprint=replace(FP, model_id="another-model"))
    store.close()
    assert not (index / "patent_rag.json").exists()


@pytest.mark.parametrize(
    ("rewrite", "reason"),
    [
        pytest.param(lambda text: b"", "empty", id="empty"),
        pytest.param(lambda text: b"\x00\xffgarbage", r"UnicodeDecodeError: .*", id="garbage"),
        pytest.param(_first_half, r"JSONDecodeError: .*", id="truncated"),
        pytest.param(lambda text: b"[1, 2]", "ValueError: a JSON list, not an object", id="not-an-object"),
        pytest.param(
            lambda text: text.replace(b'"dim"', b'"dimension"'), r"TypeError: .*", id="fingerprint-field-lost"
        ),
        pytest.param(
            lambda text: re.sub(rb'"dim": *\d+', b'"dim": "abc"', text),
            r"TypeError: fingerprint field 'dim' is 'abc', not an integer",
            id="fingerprint-field-mistyped",
        ),
    ],
)
def test_a_damaged_metadata_file_is_one_clear_error(
    tmp_path: Path, rewrite: Callable[[bytes], bytes], reason: str
) -> None:
    index = tmp_path / "index"
    with EdgeStore(path=index) as store:
        store.create(fingerprint=FP)
    meta = index / "patent_rag.json"
    meta.write_bytes(rewrite(meta.read_bytes()))
    message = (
        rf"^{index} is damaged: its metadata file {meta} cannot be read \({reason}\)\. patent_rag replaces "
        r"that file atomically, so something else changed it; restore it from a copy of the index, or "
        rf"{REBUILD}$"
    )
    for _ in range(2):  # the lock is released: the second attempt says the same
        with pytest.raises(IndexCorruptError, match=message):
            EdgeStore(path=index).open()


# -- qdrant-client local mode -------------------------------------------------------------------
def test_a_local_collection_without_the_bm25_vectors_is_refused() -> None:
    from qdrant_client import models as m

    store = QdrantStore(path=":memory:")
    store.client.create_collection(
        "patents",
        vectors_config={"dense": m.VectorParams(size=8, distance=m.Distance.COSINE)},
        metadata={"patent_rag": IndexMetadata(fingerprint=FP).to_dict()},
    )
    with pytest.raises(
        IndexCorruptError,
        match=r"^qdrant-local::memory:#patents does not have the layout of a patent_rag index: it has no "
        r"'bm25' sparse \(BM25\) vectors; rebuild it: `patent-rag ingest FILES --index "
        r"qdrant-local::memory:#NEW_NAME` into a new collection",
    ):
        store.open()


def test_a_local_collection_with_other_dense_vectors_is_refused() -> None:
    from qdrant_client import models as m

    store = QdrantStore(path=":memory:")
    store.client.create_collection(
        "patents",
        vectors_config={"text": m.VectorParams(size=8, distance=m.Distance.COSINE)},
        sparse_vectors_config={"bm25": m.SparseVectorParams(modifier=m.Modifier.IDF)},
        metadata={"patent_rag": IndexMetadata(fingerprint=FP).to_dict()},
    )
    with pytest.raises(IndexCorruptError, match=r"it has no 'dense' dense vectors \(it has \['text'\]\)"):
        store.open()


def test_a_local_folder_with_damaged_meta_json_is_refused(tmp_path: Path) -> None:
    location = f"qdrant-local:{tmp_path / 'local'}"
    store = open_store(location)
    store.create(fingerprint=FP)
    store.close()
    (tmp_path / "local" / "meta.json").write_text("{garbage")
    with pytest.raises(
        IndexCorruptError,
        match=rf"^{location}#patents is damaged: {tmp_path / 'local' / 'meta.json'} is not valid JSON \(",
    ):
        open_store(location).open()


def test_our_own_mistakes_are_not_reported_as_the_clients() -> None:
    """Values patent_rag builds for qdrant-client are checked outside the client's error translation:
    a bug of ours stays a bug (here pydantic refusing a dimension that is not a number)."""
    store = QdrantStore(path=":memory:")
    with pytest.raises(pydantic.ValidationError) as caught:
        store.create(fingerprint=replace(FP, dim="eight"))  # type: ignore[arg-type]
    assert not isinstance(caught.value, StoreError)
