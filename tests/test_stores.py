"""One behaviour suite for every store backend: Qdrant Edge, qdrant-client local mode (memory and
folder) and, when QDRANT_URL is set, a Qdrant server. Vectors are seeded random unit vectors (no
model needed); the same point always gets the same vector, so backends can be compared."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar, cast

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import patent_rag.stores as stores_pkg
from patent_rag.documents import Claim, PatentDocument
from patent_rag.documents.chunking import Chunk
from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.errors import (
    BackendUnavailableError,
    ConfigurationError,
    FingerprintMismatchError,
    IndexExistsError,
    IndexLockedError,
    IndexNotFoundError,
    IndexOutdatedError,
    InvalidVectorError,
    StoreError,
)
from patent_rag.stores import (
    ClusterSettings,
    DateRange,
    EdgeStore,
    SearchFilter,
    Store,
    StoredPoint,
    open_store,
)
from patent_rag.stores._shared import payload_key
from patent_rag.stores.base import IndexMetadata
from patent_rag.stores.layout import (
    LAYOUT_VERSION,
    POINT_NAMESPACE,
    build_payload,
    classification_prefixes,
    patent_key,
    point_id,
)
from patent_rag.stores.plan import plan_query
from patent_rag.stores.qdrant import QdrantStore
from patent_rag.stores.sparse import Bm25Encoder

ROOT = Path(__file__).resolve().parents[1]
# The backends: the ``Store`` protocol and their own ``search`` of single chunks, which tests use.
Backend = EdgeStore | QdrantStore
FP = Fingerprint(
    model_id="test/tiny",
    revision="r1",
    pooling="mean",
    dim=8,
    normalize=True,
    document_prompt="doc: ",
    max_seq_length=64,
)


def _doc(n: int, **fields: object) -> PatentDocument:
    base: dict[str, object] = {
        "publication_number": f"US{1000 + n}B2",
        "title": f"Device {n}",
        "abstract": f"Abstract of device {n}.",
        "claims": [Claim(number=1, text=f"A device {n}.")],
    }
    return PatentDocument(**{**base, **fields})


CORPUS = [
    _doc(
        0,
        priority_date=date(2001, 5, 1),
        cpc=["H04W 52/02"],
        family_id="F1",
        assignees=["Apple, Inc."],
        abstract="Wireless power control for a mobile radio transmitter.",
    ),
    _doc(
        1,
        priority_date=date(2003, 1, 1),
        cpc=["H04W 52/04", "H04B 1/38"],
        family_id="F1",
        abstract="Transmit power of a wireless handset is reduced when the battery is low.",
    ),
    _doc(
        2,
        priority_date=date(2005, 6, 1),
        cpc=["E05D 7/00"],
        assignees=["Hinge Works GmbH"],
        abstract="A door hinge with a damper.",
    ),
    _doc(
        3,
        publication_number="EP2000000A1",
        priority_date=date(2007, 2, 2),
        cpc=["H02J 7/00"],
        abstract="Battery charging circuit with wireless charging coil.",
    ),
    _doc(
        4,
        filing_date=date(2009, 9, 9),
        cpc=["G06F 3/01"],
        ipc=["G06F 3/01"],
        abstract="A gesture recognition user interface.",
    ),  # no priority date: earliest = filing
    _doc(
        5,
        publication_number="WO2010000001A1",
        priority_date=date(2010, 1, 1),
        cpc=["H04W 72/04"],
        family_id="F2",
        abstract="Scheduling of radio resources in a wireless network.",
    ),
]


def chunks_of(doc: PatentDocument) -> list[Chunk]:
    texts = [("abstract", doc.abstract or "", None), *[("claim", c.text, c.number) for c in doc.claims]]
    return [
        Chunk(
            publication_number=doc.publication_number,
            section=section,
            ordinal=i,
            text=text,  # type: ignore[arg-type]
            claim_number=number,
            content_hash=hashlib.sha256(text.encode()).hexdigest(),
        )
        for i, (section, text, number) in enumerate(texts)
    ]


def vector_for(pid: str, dim: int = 8) -> np.ndarray:
    v = np.random.default_rng(int(pid.replace("-", "")[-16:], 16)).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def points_for(store: Store, docs: list[PatentDocument] = CORPUS) -> list[StoredPoint]:
    out = []
    for doc in docs:
        for chunk in chunks_of(doc):
            pid = point_id(doc.publication_number, chunk.section, chunk.ordinal)
            sparse = store.bm25.embed_documents([chunk.text])[0]
            out.append(StoredPoint(pid, vector_for(pid), sparse, build_payload(doc, chunk)))
    return out


BACKENDS = ["edge", "local-memory", "local-path", pytest.param("server", marks=pytest.mark.server)]


def _location(kind: str, tmp_path: Path) -> str:
    if kind == "edge":
        return str(tmp_path / "index")
    if kind == "local-memory":
        return "qdrant-local::memory:"
    if kind == "local-path":
        return f"qdrant-local:{tmp_path / 'local'}"
    url = os.environ.get("QDRANT_URL")
    if not url:
        pytest.skip("QDRANT_URL is not set: no Qdrant server to test against")
    return f"{url}#pr_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _location(request.param, tmp_path)


def _open(location: str) -> Backend:
    key_env = "QDRANT_API_KEY" if location.startswith("http") and os.environ.get("QDRANT_API_KEY") else None
    return cast("Backend", open_store(location, api_key_env=key_env))


@pytest.fixture
def store(location: str) -> Iterator[Backend]:
    s = _open(location)
    s.create(fingerprint=FP)
    yield s
    if location.startswith("http"):
        s.delete_index()
    s.close()


@pytest.fixture(scope="module", params=BACKENDS)
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """The corpus in each backend, shared by the read-only tests (creating an Edge index takes ~2 s:
    each payload index is persisted as it is created)."""
    location = _location(request.param, tmp_path_factory.mktemp("filled"))
    s = _open(location)
    s.create(fingerprint=FP)
    s.upsert(points_for(s))
    yield s
    if location.startswith("http"):
        s.delete_index()
    s.close()


def pubs(hits: list) -> set[str]:
    return {hit.publication_number for hit in hits}


# -- lifecycle -------------------------------------------------------------------------------
def test_create_open_describe_delete(location: str) -> None:
    store = _open(location)
    assert not store.exists() and not store.is_open
    with pytest.raises(IndexNotFoundError, match="no patent_rag index at"):
        store.open()
    assert not store.is_open
    info = store.create(fingerprint=FP)
    assert store.is_open
    assert (info.chunks, info.patents, info.fingerprint) == (0, 0, FP)
    with pytest.raises(IndexExistsError, match=r"an index already exists at .*pass overwrite=True"):
        store.create(fingerprint=FP)
    store.upsert(points_for(store))
    info = store.describe()
    assert (info.chunks, info.patents, info.backend) == (12, 6, store.backend)
    if location != "qdrant-local::memory:":  # a memory collection ends with its client
        store.close()
        assert not store.is_open
        store = _open(location)
        assert store.open(fingerprint=FP).chunks == 12 and store.is_open
    assert store.create(fingerprint=FP, overwrite=True).chunks == 0
    store.delete_index()
    assert not store.exists() and not store.is_open
    store.close()


@pytest.mark.parametrize("kind", ["edge", "local-path"])
@pytest.mark.parametrize("version", [LAYOUT_VERSION - 1, LAYOUT_VERSION + 1])
def test_an_index_of_another_layout_is_refused(tmp_path: Path, kind: str, version: int) -> None:
    """An earlier layout is refused with the way to rebuild it, a later one with the way to read it."""
    location = _location(kind, tmp_path)
    written = IndexMetadata.to_dict
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(IndexMetadata, "to_dict", lambda self: {**written(self), "layout_version": version})
        store = _open(location)
        store.create(fingerprint=FP)
        store.upsert(points_for(store))
        store.close()
    store = _open(location)
    earlier = (
        rf"was built by an earlier version of patent_rag \(index layout {version}; this version reads layout "
        rf"{LAYOUT_VERSION} only\); rebuild it: `patent-rag ingest FILES --index "
    )
    later = (
        rf"uses index layout {version}, made by a newer patent_rag; this one reads layout {LAYOUT_VERSION}\. "
        r"Upgrade patent_rag to read it\.$"
    )
    error, message = (IndexOutdatedError, earlier) if version < LAYOUT_VERSION else (StoreError, later)
    with pytest.raises(error, match=rf"^{re.escape(store.location)} {message}"):
        store.open(fingerprint=FP)
    assert not store.is_open
    store.close()


def test_fingerprint_mismatch_names_both_sides(filled: Backend) -> None:
    other = Fingerprint(**{**FP.as_dict(), "document_prompt": "passage: "})
    with pytest.raises(
        FingerprintMismatchError, match=r"document_prompt: encoder='passage: ' vs index='doc: '"
    ):
        filled.open(fingerprint=other)
    with pytest.raises(FingerprintMismatchError, match=r"dim: encoder=384 vs index=8"):
        filled.open(fingerprint=Fingerprint(**{**FP.as_dict(), "dim": 384}))


def test_upsert_is_idempotent(store: Backend) -> None:
    store.upsert(points_for(store))
    store.upsert(points_for(store))
    assert (store.describe().chunks, store.describe().patents) == (12, 6)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.full(8, np.nan, np.float32), "NaN or infinite"),
        (np.array([np.inf] + [0.1] * 7, np.float32), "NaN or infinite"),
        (np.zeros(8, np.float32), "only zeros"),
        (np.ones(7, np.float32), r"shape \(\d+, 7\); the index holds 8-dimensional vectors"),
    ],
)
def test_invalid_vectors_refused_before_writing(filled: Backend, bad: np.ndarray, message: str) -> None:
    good = points_for(filled, [_doc(9)])
    if bad.shape == (7,):
        batch = [StoredPoint(p.id, bad, p.sparse, p.payload) for p in good]
    else:
        batch = [good[0], StoredPoint(good[1].id, bad, good[1].sparse, good[1].payload)]
    with pytest.raises(InvalidVectorError, match=message):
        filled.upsert(batch)
    assert filled.describe().chunks == 12  # nothing of the batch was written


def test_search_refuses_wrong_dimension(filled: Backend) -> None:
    with pytest.raises(InvalidVectorError, match="the index holds 8-dimensional vectors"):
        filled.search(dense=np.ones(384, np.float32))


def test_search_argument_errors(filled: Backend) -> None:
    with pytest.raises(StoreError, match="mode 'hybrid' needs query text"):
        filled.search(dense=vector_for("0" * 8), mode="hybrid")
    with pytest.raises(StoreError, match="unknown search mode 'sparse'; choose dense, bm25 or hybrid"):
        filled.search(text="x", mode="sparse")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="unknown fusion 'max'; choose rrf or dbsf"):
        filled.search_groups(dense=vector_for("0" * 8), fusion="max")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="unknown grouping 'cpc'; choose publication_number or family"):
        filled.search_groups(dense=vector_for("0" * 8), group_by="cpc")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="group_size must be at least 1, got 0"):
        filled.search_groups(dense=vector_for("0" * 8), group_size=0)
    with pytest.raises(StoreError, match="limit must be at least 1, got 0"):
        filled.search_groups(dense=vector_for("0" * 8), limit=0)


def test_a_query_is_planned_once_for_every_backend() -> None:
    """The plan holds what every backend translates: the checked dense vector (float32 values), the
    BM25 terms (none for stop words only: nothing can match), the compiled filter, the group field."""
    bm25 = Bm25Encoder()
    query = vector_for("0" * 8)
    cutoff = SearchFilter(cpc=["H04W"], dates=[DateRange(before=date(2010, 1, 1))])
    plan = plan_query(
        dense=query.astype(np.float64),
        text="wireless charging",
        mode="hybrid",
        search_filter=cutoff,
        limit=5,
        group_by="family",
        candidates=40,
        dim=8,
        bm25=bm25,
    )
    assert plan.dense == tuple(query.tolist()) and plan.sparse == bm25.embed_query("wireless charging")
    assert [c.key for c in plan.filter.must] == ["earliest_date", "cpc_prefixes"]
    assert (plan.group_field, plan.group_size, plan.candidates, plan.fusion) == ("family_key", 3, 40, "rrf")
    assert not plan.matches_nothing
    stop_words = plan_query(text="the of and", mode="bm25", dim=8, bm25=bm25)
    assert stop_words.matches_nothing and stop_words.dense is None and not stop_words.filter
    assert plan_query(dense=query, text="x y", mode="dense", dim=8, bm25=bm25).sparse is None
    with pytest.raises(InvalidVectorError, match="the index holds 8-dimensional vectors"):
        plan_query(dense=np.ones(7), dim=8, bm25=bm25)


def test_closed_store_says_so(location: str) -> None:
    store = _open(location)
    store.create(fingerprint=FP)
    store.close()
    with pytest.raises(StoreError, match="is not open; call open"):
        store.search(dense=vector_for("1" * 8))
    if location.startswith("http"):
        _open(location).delete_index()


# -- search --------------------------------------------------------------------------------
EVERYTHING = {d.publication_number for d in CORPUS}


FILTER_CASES = [
    (SearchFilter(cpc=["H"]), {"US1000B2", "US1001B2", "EP2000000A1", "WO2010000001A1"}),
    (SearchFilter(cpc=["H04"]), {"US1000B2", "US1001B2", "WO2010000001A1"}),
    (SearchFilter(cpc=["H04W"]), {"US1000B2", "US1001B2", "WO2010000001A1"}),
    (SearchFilter(cpc=["H04W52"]), {"US1000B2", "US1001B2"}),
    (SearchFilter(cpc=["H04W 52/02"]), {"US1000B2"}),
    (SearchFilter(cpc=["H04W"], cpc_exclude=["H04B"]), {"US1000B2", "WO2010000001A1"}),
    (SearchFilter(cpc_exclude=["H"]), {"US1002B2", "US1004B2"}),
    (SearchFilter(ipc=["G06F"]), {"US1004B2"}),
    (SearchFilter(countries=["ep", "wo"]), {"EP2000000A1", "WO2010000001A1"}),
    (SearchFilter(kinds=["a1"]), {"EP2000000A1", "WO2010000001A1"}),
    (SearchFilter(assignees=["APPLE INC"]), {"US1000B2"}),
    (SearchFilter(exclude_publication_numbers=["US 1000 B2"]), EVERYTHING - {"US1000B2"}),
    (SearchFilter(exclude_family_ids=["F1"]), EVERYTHING - {"US1000B2", "US1001B2"}),
    (SearchFilter(publication_numbers=["US1002B2"]), {"US1002B2"}),
    # strictly before the cutoff; a missing priority date does not match unless asked
    (SearchFilter(dates=[DateRange(field="priority", before=date(2003, 1, 1))]), {"US1000B2"}),
    (
        SearchFilter(dates=[DateRange(field="priority", before=date(2003, 1, 2))]),
        {"US1000B2", "US1001B2"},
    ),
    (
        SearchFilter(dates=[DateRange(field="priority", since=date(2005, 6, 1), include_missing=True)]),
        {"US1002B2", "EP2000000A1", "US1004B2", "WO2010000001A1"},
    ),
    (
        SearchFilter(dates=[DateRange(field="earliest", since=date(2009, 1, 1), before=date(2010, 1, 1))]),
        {"US1004B2"},
    ),
    (SearchFilter(dates=[DateRange(field="filing", before=date(2020, 1, 1))]), {"US1004B2"}),
]


@pytest.mark.parametrize(("search_filter", "expected"), FILTER_CASES)
def test_filters(filled: Backend, search_filter: SearchFilter, expected: set[str]) -> None:
    hits = filled.search(dense=vector_for("a" * 8), search_filter=search_filter, limit=100)
    assert pubs(hits) == expected


def test_section_filter_and_fetch_order(filled: Backend) -> None:
    claims = filled.search(
        dense=vector_for("b" * 8), search_filter=SearchFilter(sections=["claim"]), limit=100
    )
    assert {h.payload["section"] for h in claims} == {"claim"} and len(claims) == 6
    assert "_node_content" not in claims[0].payload  # llama-index's copy of the text stays in the index
    fetched = filled.fetch(SearchFilter(publication_numbers=["US1001B2", "US1000B2"]))
    assert [(h.publication_number, h.payload["ordinal"]) for h in fetched] == [
        ("US1000B2", 0),
        ("US1000B2", 1),
        ("US1001B2", 0),
        ("US1001B2", 1),
    ]


def test_bm25_and_hybrid(filled: Backend) -> None:
    hits = filled.search(text="wireless charging battery", mode="bm25", limit=3)
    assert hits[0].publication_number == "EP2000000A1"
    assert filled.search(text="the of and", mode="bm25") == []  # only stop words
    query = next(p.dense for p in points_for(filled) if p.payload["publication_number"] == "US1002B2")
    fused = filled.search(dense=query, text="wireless charging battery", mode="hybrid", limit=4)
    assert {"US1002B2", "EP2000000A1"} <= pubs(fused)
    dbsf = filled.search(dense=query, text="wireless charging", mode="hybrid", fusion="dbsf", limit=2)
    assert len(dbsf) == 2


def test_groups_one_per_patent(filled: Backend) -> None:
    groups = filled.search_groups(dense=vector_for("c" * 8), limit=4, group_size=2)
    assert len(groups) == 4 and len({g.key for g in groups}) == 4
    assert all(len(g.hits) == 2 and {h.publication_number for h in g.hits} == {g.key} for g in groups)
    assert [g.score for g in groups] == sorted((g.score for g in groups), reverse=True)
    families = filled.search_groups(dense=vector_for("c" * 8), limit=10, group_by="family", group_size=4)
    keys = {g.key for g in families}
    assert "F1" in keys and len(keys) == 5  # F1 holds two patents; the rest are their own family


def test_warm_works_on_an_empty_index(store: Backend) -> None:
    store.warm()
    assert store.search(dense=vector_for("d" * 8), limit=3) == []


def test_warm_changes_no_result(filled: Backend) -> None:
    query = vector_for("d" * 8)
    before = filled.search_groups(dense=query, limit=3, group_size=2)
    filled.warm()
    assert filled.search_groups(dense=query, limit=3, group_size=2) == before


def test_groups_carry_full_payloads(filled: Backend) -> None:
    """Edge ranks groups on the group key alone and reads the kept chunks' payloads afterwards."""
    groups = filled.search_groups(dense=vector_for("c" * 8), limit=3, group_size=2)
    searched = {h.id: h for h in filled.search(dense=vector_for("c" * 8), limit=100)}
    for hit in (hit for group in groups for hit in group.hits):
        assert hit.payload == searched[hit.id].payload and hit.score == pytest.approx(searched[hit.id].score)
        assert hit.payload["text"] and "_node_content" not in hit.payload


def test_edge_groups_drop_chunks_deleted_before_their_payloads_are_read(tmp_path: Path) -> None:
    store = EdgeStore(path=tmp_path / "index")
    store.create(fingerprint=FP)
    store.upsert(points_for(store))
    groups = store.search_groups(dense=vector_for("c" * 8), limit=2, group_size=2)
    gone = groups[0].hits[0].id
    store.delete_points([gone])
    refilled = store._with_payloads(groups, key=payload_key("publication_number"), limit=2, group_size=2)
    assert gone not in {hit.id for group in refilled for hit in group.hits}
    assert all(group.hits for group in refilled)
    store.close()


def test_edge_shards_give_hnsw_links_to_the_cpc_prefixes_only(tmp_path: Path) -> None:
    """Links per value for every indexed field made every search slower; only CPC keeps them, and
    the thinner graph of float16 vectors is searched deeper."""
    from patent_rag.stores import _edge_convert

    store = EdgeStore(path=tmp_path / "index")
    store.create(fingerprint=FP)
    schema = store._engine.info().payload_schema
    assert {name for name, info in schema.items() if info.params.enable_hnsw is not False} == {
        "cpc_prefix_ids"
    }
    config = json.loads((tmp_path / "index" / "shard" / "edge_config.json").read_text())
    assert config["vectors"]["dense"]["datatype"] == "float16"
    store.close()
    store.open()
    for mode in ("dense", "hybrid"):
        plan = plan_query(
            dense=vector_for("c" * 8), text="wireless power", mode=mode, dim=8, bm25=store._bm25
        )
        request = _edge_convert.requests(plan)(10, False)
        params = request.params if mode == "dense" else request.prefetches[0].params
        assert params is not None and params.hnsw_ef == _edge_convert.HNSW_EF
    store.close()


def test_existing_hashes_and_deletes(store: Backend) -> None:
    filled = store
    filled.upsert(points_for(filled))
    hashes = filled.existing_hashes(["US1000B2", "US9999B2"])
    expected = {p.id: p.payload["content_hash"] for p in points_for(filled, [CORPUS[0]])}
    assert hashes == {"US1000B2": expected, "US9999B2": {}}
    filled.delete_points([point_id("US1000B2", "claim", 1)])
    filled.delete_points(list(filled.existing_hashes(["US1001B2"])["US1001B2"]))  # a whole patent
    assert (filled.describe().chunks, filled.describe().patents) == (9, 5)


def test_backends_agree(tmp_path: Path) -> None:
    """Congruence: Edge (client-side grouping) and local mode (Qdrant group-by) on the same data."""
    edge, local = _open(str(tmp_path / "edge")), _open("qdrant-local::memory:")
    for s in (edge, local):
        s.create(fingerprint=FP)
        s.upsert(points_for(s))
    for seed in ("d" * 8, "e" * 8, "f" * 8):
        query = vector_for(seed)
        assert [h.id for h in edge.search(dense=query, limit=8)] == [
            h.id for h in local.search(dense=query, limit=8)
        ]
        assert [g.key for g in edge.search_groups(dense=query, limit=3, group_size=1)] == [
            g.key for g in local.search_groups(dense=query, limit=3, group_size=1)
        ]
    for s in (edge, local):
        s.close()


def test_edge_filters_on_integer_twins(filled: Backend) -> None:
    if not isinstance(filled, EdgeStore):
        pytest.skip("integer twins are an Edge index detail")
    from patent_rag.stores import _edge_convert

    schema = set(filled._engine.info().payload_schema)
    # the twins are indexed, the fields they stand for are not (filters use the twins)
    assert set(_edge_convert.TWINS.values()) <= schema and not set(_edge_convert.TWINS) & schema
    flt = _edge_convert.edge_filter(
        plan_query(
            dense=vector_for("a" * 8), search_filter=FILTER_CASES[-1][0], dim=8, bm25=filled.bm25
        ).filter
    )
    assert "filing_day" in repr(flt) and "filing_date" not in repr(flt)
    hit = filled.search(dense=vector_for("a" * 8), search_filter=SearchFilter(cpc=["H04"]), limit=1)[0]
    assert not set(_edge_convert.TWINS.values()) & set(hit.payload)  # the twins stay in the index


def _clustered_points(store: Store, patents: int, chunks: int) -> list[StoredPoint]:
    """Patents whose chunks lie close together, so the top chunks of a search are a few patents'."""
    rng = np.random.default_rng(7)
    out = []
    for n in range(patents):
        doc = _doc(
            n,
            cpc=["H04W 52/02" if n % 2 else "G06F 3/01"],
            priority_date=date(2000 + n % 20, 1, 1),
            claims=[Claim(number=i, text=f"Claim {i} of device {n}.") for i in range(1, chunks)],
        )
        base = rng.normal(size=FP.dim)
        for chunk in chunks_of(doc):
            vector = (base + 0.15 * rng.normal(size=FP.dim)).astype(np.float32)
            pid = point_id(doc.publication_number, chunk.section, chunk.ordinal)
            sparse = store.bm25.embed_documents([chunk.text])[0]
            out.append(StoredPoint(pid, vector / np.linalg.norm(vector), sparse, build_payload(doc, chunk)))
    return out


def test_edge_grouping_widens_to_the_exact_top_patents(tmp_path: Path) -> None:
    """12 chunks a patent: the first fetch (6 chunks a patent) sees too few patents and widens;
    the groups are then local mode's (Qdrant's exact group-by): same patents in the same order."""
    edge, local = EdgeStore(path=tmp_path / "edge"), open_store("qdrant-local::memory:")
    for s in (edge, local):
        s.create(fingerprint=FP)
        s.upsert(_clustered_points(s, patents=60, chunks=12))
    assert edge._first_fetch(8) == 48  # 8 patents x 6 chunks (the cap)
    widened = False
    cutoff = SearchFilter(cpc=["H04W"], dates=[DateRange(before=date(2015, 1, 1))])
    for seed, search_filter in itertools.product(("a" * 8, "b" * 8, "c" * 8), (None, cutoff)):
        query = vector_for(seed)
        first = edge.search(dense=query, search_filter=search_filter, limit=48)
        widened |= len({h.publication_number for h in first}) < 8
        got, want = (
            s.search_groups(dense=query, search_filter=search_filter, limit=8, group_size=3)
            for s in (edge, local)
        )
        assert [g.key for g in got] == [g.key for g in want]
        # Edge stores float16 vectors: its scores are within 2e-4 of local mode's float32 ones.
        assert [g.score for g in got] == pytest.approx([g.score for g in want], abs=1e-3)
        # Evidence is the group's best chunks among those fetched: a prefix of the exact evidence.
        for mine, exact in zip(got, want, strict=True):
            assert [h.id for h in mine.hits] == [h.id for h in exact.hits][: len(mine.hits)]
    assert widened
    for s in (edge, local):
        s.close()


# -- concurrency ---------------------------------------------------------------------------
_SECOND = textwrap.dedent(
    """
    import sys, time
    from patent_rag.errors import IndexLockedError
    from patent_rag.stores import open_store
    started = time.monotonic()
    try:
        open_store(sys.argv[1]).open()
    except IndexLockedError as error:
        print("locked", round(time.monotonic() - started, 2), error)
    else:
        print("opened")
    """
)


@pytest.mark.parametrize("kind", ["edge", "local-path"])
def test_second_process_gets_a_clear_error_and_the_first_is_unharmed(tmp_path: Path, kind: str) -> None:
    location = str(tmp_path / "index") if kind == "edge" else f"qdrant-local:{tmp_path / 'local'}"
    first = _open(location)
    first.create(fingerprint=FP)
    first.upsert(points_for(first, CORPUS[:3]))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", _SECOND, location],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    assert result.stdout.startswith("locked"), result.stdout + result.stderr
    assert "is open in another process" in result.stdout and "Qdrant server" in result.stdout
    first.upsert(points_for(first, CORPUS[3:]))  # unharmed: still writes and reads
    assert first.describe().patents == 6
    assert first.search(dense=vector_for("a" * 8), limit=1)
    first.close()


def test_second_store_in_the_same_process_is_refused(tmp_path: Path) -> None:
    first = EdgeStore(path=tmp_path / "index")
    first.create(fingerprint=FP)
    with pytest.raises(IndexLockedError, match="already open in this process; share the open store"):
        EdgeStore(path=tmp_path / "index").open()
    first.close()
    second = EdgeStore(path=tmp_path / "index")  # the lock is gone with the first store
    assert second.open().chunks == 0
    second.close()


def test_crashed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    code = (
        "import os, signal, sys\nfrom patent_rag.stores import open_store\n"
        "from patent_rag.encoding.fingerprint import Fingerprint\n"
        f"s = open_store(sys.argv[1]); s.create(fingerprint=Fingerprint(**{FP.as_dict()!r}))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "index")], env=env, timeout=120)
    assert result.returncode == -9
    store = open_store(str(tmp_path / "index"))
    assert store.open(fingerprint=FP).chunks == 0
    store.close()


def test_a_foreign_directory_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(IndexExistsError, match="non-empty directory that is not a patent_rag index"):
        EdgeStore(path=tmp_path).create(fingerprint=FP)
    assert (tmp_path / "notes.txt").read_text() == "mine"


# -- locations, exports, layout ------------------------------------------------------------
def test_open_store_locations(tmp_path: Path) -> None:
    assert isinstance(open_store(str(tmp_path / "x")), EdgeStore)
    assert open_store("qdrant-local::memory:").location == "qdrant-local::memory:#patents"
    assert open_store(f"qdrant-local:{tmp_path}#mine").location == f"qdrant-local:{tmp_path}#mine"
    assert open_store("https://user:pw@q.example:6333#c").location == "https://q.example:6333#c"
    with pytest.raises(ConfigurationError, match=r"unsupported index location s3://\.\.\.; use a directory"):
        open_store("s3://bucket/index")
    with pytest.raises(ConfigurationError, match="apply to http"):
        open_store(str(tmp_path / "x"), api_key_env="QDRANT_API_KEY")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://[/x]", r"Qdrant URL 'http://\[/x\]' is not a valid URL \(Invalid IPv6 URL\); expected http"),
        ("https://exa[mple].com", r"Qdrant URL 'https://exa\[mple\]\.com' is not a valid URL \('mple' does"),
        ("http://", r"Qdrant URL 'http://' names no host; expected http\(s\)://HOST\[:PORT\]"),
        ("http://user:secret@[::1", r"^the Qdrant URL given is not a valid URL \(Invalid IPv6 URL\)"),
    ],
)
def test_a_malformed_server_url_is_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        open_store(url)
    assert "secret" not in str(caught.value)


def test_local_mode_warns_about_ignored_options() -> None:
    with pytest.warns(UserWarning, match=r"local mode ignores the cluster settings \(shards, replicas"):
        open_store("qdrant-local::memory:", cluster=ClusterSettings(quantization="int8"))


def test_exported_members() -> None:
    assert stores_pkg.__all__ == sorted(stores_pkg.__all__)
    for name in stores_pkg.__all__:
        assert getattr(stores_pkg, name) is not None


_codes = st.builds(
    lambda s, c, sub, g, sg: f"{s}{c:02d}{sub}{g}/{sg:02d}",
    st.sampled_from("ABCDEFGHY"),
    st.integers(1, 99),
    st.sampled_from("ABCDKLMNQW"),
    st.integers(1, 9999),
    st.integers(0, 999),
)


@given(_codes)
def test_classification_prefixes_nest(code: str) -> None:
    levels = classification_prefixes(code)
    assert levels[0] == code[0] and levels[-1] == code and len(levels) == 5
    assert all(b.startswith(a) for a, b in itertools.pairwise(levels))


@given(st.text(min_size=1, max_size=20), st.sampled_from(["abstract", "claim"]), st.integers(0, 10_000))
def test_point_ids_are_deterministic(number: str, section: str, ordinal: int) -> None:
    assert point_id(number, section, ordinal) == point_id(number, section, ordinal)
    assert point_id(number, section, ordinal) != point_id(number, section, ordinal + 1)
    assert uuid.UUID(point_id(number, section, ordinal)).version == 5


@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20), st.integers(0, 10_000))
def test_point_ids_name_their_patent(number: str, other: str, ordinal: int) -> None:
    key = patent_key(point_id(number, "abstract", 0))
    assert patent_key(point_id(number, "claim", ordinal)) == key
    assert (patent_key(point_id(other, "claim", ordinal)) == key) == (other == number)
    # the first 8 bytes are the uuid5 of the patent's, the last 8 the uuid5 of the chunk's
    assert key == str(uuid.uuid5(POINT_NAMESPACE, number))[:18]
    assert (
        point_id(number, "claim", ordinal)[19:]
        == str(uuid.uuid5(POINT_NAMESPACE, f"{number}|claim|{ordinal}"))[19:]
    )


def test_payload_layout() -> None:
    doc = CORPUS[0]
    payload = build_payload(doc, chunks_of(doc)[1])
    assert payload["priority_date"] == "2001-05-01T00:00:00Z" and "filing_date" not in payload
    assert payload["cpc_prefixes"] == ["H", "H04", "H04W", "H04W52", "H04W52/02"]
    assert (payload["section"], payload["claim_number"], payload["ordinal"]) == ("claim", 1, 1)
    assert payload["family_key"] == "F1" and build_payload(CORPUS[2], chunks_of(CORPUS[2])[0])[
        "family_key"
    ] == ("pn:US1002B2")
    assert payload["_node_type"] == "TextNode" and payload["doc_id"] == "US1000B2"


# -- error translation and API-key hygiene ---------------------------------------------------
SECRET = "sk-test-7f3a9c1e5b"


class _Qdrantish(BaseHTTPRequestHandler):
    """A localhost HTTP peer answering every request with one status, recording the API key sent."""

    status = 401
    seen_keys: ClassVar[list[str | None]] = []

    def _answer(self) -> None:
        type(self).seen_keys.append(self.headers.get("api-key"))
        body = json.dumps({"status": {"error": f"status {self.status}"}, "time": 0.0}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def peer() -> type[_Qdrantish]:
    handler = type("Peer", (_Qdrantish,), {"seen_keys": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_port}"  # type: ignore[attr-defined]
    yield handler
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (401, BackendUnavailableError, r"refused the request \(401\): check the key in \$PR_TEST_KEY"),
        (403, BackendUnavailableError, r"refused the request \(403\)"),
        (404, IndexNotFoundError, "no such collection at"),
        (503, BackendUnavailableError, r"is unavailable \(503\)"),
    ],
)
def test_server_failures_are_translated_and_the_key_never_shows(
    peer: type[_Qdrantish],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    status: int,
    error: type[Exception],
    message: str,
) -> None:
    monkeypatch.setenv("PR_TEST_KEY", SECRET)
    peer.status = status
    caplog.set_level(logging.DEBUG)
    store = open_store(f"{peer.url}#patents", api_key_env="PR_TEST_KEY")  # type: ignore[attr-defined]
    with pytest.raises(error, match=message) as raised:
        store.open()
    assert peer.seen_keys and peer.seen_keys[0] == SECRET  # the key was sent ...
    shown = [repr(store), str(raised.value), repr(raised.value), caplog.text, store.location]
    assert all(SECRET not in text for text in shown)  # ... and never shown
    assert "api_key=<set>" in repr(store)


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_unreachable_server(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store = open_store(f"http://127.0.0.1:{_free_port()}", api_key=SECRET, timeout=5)
    with pytest.raises(
        BackendUnavailableError, match=r"cannot reach Qdrant at http://127\.0\.0\.1:\d+#patents"
    ) as e:
        store.exists()
    assert SECRET not in str(e.value) and SECRET not in caplog.text and SECRET not in repr(store)


def test_missing_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PR_UNSET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="environment variable PR_UNSET_KEY is not set"):
        open_store("https://q.example:6333", api_key_env="PR_UNSET_KEY")


@pytest.mark.parametrize(
    "kind", ["local-memory", "local-path", pytest.param("server", marks=pytest.mark.server)]
)
def test_client_failures_underneath_are_translated(kind: str, tmp_path: Path) -> None:
    """The collection vanishes under an open store: local mode raises ValueError, a server 404."""
    store = _open(_location(kind, tmp_path))
    store.create(fingerprint=FP)
    store.client.delete_collection(store.location.rpartition("#")[2])  # type: ignore[union-attr]
    with pytest.raises(IndexNotFoundError, match="no such collection at"):
        store.search(dense=vector_for("a" * 8))
    with pytest.raises(IndexNotFoundError, match="no such collection at"):
        store.upsert(points_for(store, CORPUS[:1]))
    store.close()


def test_edge_failures_are_translated(tmp_path: Path) -> None:
    """Edge raises bare ``Exception``s; the same failures map to the same errors as qdrant-client's."""
    import qdrant_edge as qe

    from patent_rag.stores._edge_convert import edge_errors

    with pytest.raises(IndexNotFoundError, match="no Edge shard at"), edge_errors("x"):
        qe.EdgeShard.load(str(tmp_path / "missing"))
    config = qe.EdgeConfig(vectors={"dense": qe.EdgeVectorParams(size=8, distance=qe.Distance.Cosine)})
    shard = qe.EdgeShard.create(str(tmp_path / "raw"), config)
    with pytest.raises(InvalidVectorError, match="expected dim: 8, got 7"), edge_errors("x"):
        shard.update(qe.UpdateOperation.upsert_points([qe.Point(1, {"dense": [0.1] * 7}, {})]))
    with pytest.raises(IndexLockedError, match="open in another process"), edge_errors("x"):
        qe.EdgeShard.load(str(tmp_path / "raw"))  # Edge's own WAL lock, below ours
    shard.close()
    with pytest.raises(IndexExistsError, match="already holds an Edge shard"), edge_errors("x"):
        qe.EdgeShard.create(str(tmp_path / "raw"), config)


@pytest.mark.parametrize("kind", ["local-memory", pytest.param("server", marks=pytest.mark.server)])
def test_a_mistake_in_our_own_values_is_not_called_a_client_failure(kind: str, tmp_path: Path) -> None:
    """A pydantic ValidationError is a value we built wrong: it surfaces as itself, never translated."""
    from pydantic import ValidationError

    from patent_rag.stores._qdrant_convert import client_errors

    with pytest.raises(ValidationError), client_errors("x"):
        raise ValidationError.from_exception_data("Point", [])
    store = _open(_location(kind, tmp_path))
    store.create(fingerprint=FP)
    with pytest.raises(ValidationError):
        store.delete_points([None])  # type: ignore[list-item]
    assert store.describe().chunks == 0
    if kind == "server":
        store.delete_index()
    store.close()
