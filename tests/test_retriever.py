"""PatentSearcher, and PriorArtRetriever over it, on real stores (Qdrant Edge and qdrant-client local
mode) with the real MiniLM.

Two corpora: real USPTO grants from the packaged demo sample (titles, abstracts, first independent
claims), and a handful of small records whose dates, CPC codes and families are chosen to pin the
prior-art semantics down exactly. Both are written as the same points into every backend.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.core.schema import NodeWithScore

from patent_rag.documents import Claim, PatentDocument
from patent_rag.documents.chunking import Chunker
from patent_rag.encoding.encoder import Encoder
from patent_rag.errors import ConfigurationError, FingerprintMismatchError
from patent_rag.llama_index.retriever import PriorArtRetriever
from patent_rag.sample import sample_documents as packaged_sample
from patent_rag.search.boosts import MetadataBoosts
from patent_rag.search.hits import PatentHit
from patent_rag.search.options import SearchOptions
from patent_rag.search.query import cutoff_filter, merge_filters
from patent_rag.search.ranking import fuse_rankings
from patent_rag.search.searcher import PatentSearcher
from patent_rag.stores import EdgeStore, SearchFilter, open_store
from patent_rag.stores._shared import group_hits, payload_key
from patent_rag.stores.base import HitGroup, SearchHit, Store, StoredPoint
from patent_rag.stores.layout import build_payload, point_id
from patent_rag.stores.sparse import Bm25Encoder

SAMPLE = (
    "US8089324B2",  # query: varactor-free oscillator, filed 2008-12-31
    "US7863991B1",  # CMOS VCO, filed 2008-10-06
    "US7315219B2",  # multiphase VCO, priority 2004-09-07
    "US8089078B2",
    "US8089085B2",
    "US7863599B2",
    "US7864145B2",
    "US8089596B2",
    "US7862411B1",
    "US8088480B2",
    "US7314120B2",
    "US7863867B2",
    "US8089342B2",
    "US7315289B2",
    "US8089993B2",
)


def sample_documents() -> list[PatentDocument]:
    """The SAMPLE grants of the packaged USPTO sample: title, abstract and first claim."""
    wanted = {doc.publication_number: doc for doc in packaged_sample() if doc.publication_number in SAMPLE}
    return [wanted[number].model_copy(update={"claims": wanted[number].claims[:1]}) for number in SAMPLE]


def record(
    number: str,
    text: str,
    *,
    priority: date | None = None,
    filing: date | None = None,
    publication: date | None = None,
    cpc: Sequence[str] = (),
    ipc: Sequence[str] = (),
    uspc: Sequence[str] = (),
    family: str | None = None,
) -> PatentDocument:
    return PatentDocument(
        publication_number=number,
        title=text.split(".")[0],
        abstract=text,
        claims=[Claim(number=1, text=f"A circuit wherein {text.lower()}")],
        priority_date=priority,
        filing_date=filing,
        publication_date=publication,
        cpc=list(cpc),
        ipc=list(ipc),
        uspc=list(uspc),
        family_id=family,
    )


OSC = "Voltage controlled oscillator with a ring of inverters tuned by a bias current"
CUTOFF = date(2008, 12, 31)


def dated_records() -> list[PatentDocument]:
    return [
        record(
            "US1000001B2",
            OSC + ", variant one.",
            priority=date(2008, 12, 30),
            filing=date(2009, 6, 1),
            publication=date(2010, 1, 5),
            cpc=["H03K3/0315"],
            ipc=["H03K3/03"],
            uspc=["331/57"],
        ),
        record(
            "US1000002B2",
            OSC + ", variant two.",
            priority=CUTOFF,
            filing=date(2009, 6, 1),
            publication=date(2010, 1, 5),
            cpc=["H03K3/0315"],
            ipc=["H03K3/03"],
            uspc=["257/99"],
        ),
        record(
            "US1000003B2",
            OSC + ", variant three.",
            filing=date(2008, 12, 30),
            publication=date(2010, 1, 5),
            cpc=["H03B5/1228"],
            ipc=["H03B5/12"],
        ),
        record("US1000004B2", OSC + ", variant four.", cpc=["H03B5/1228"], ipc=["H03B5/12"]),
        record(
            "US1000005B2",
            OSC + ", variant five.",
            priority=date(2008, 6, 1),
            filing=date(2009, 1, 2),
            publication=date(2009, 12, 1),
            cpc=["H03L7/099"],
            ipc=["H03L7/099"],
        ),
        record(
            "US1000006B2",
            OSC + ", variant six.",
            priority=date(2007, 1, 1),
            filing=date(2007, 6, 1),
            publication=date(2009, 5, 1),
            cpc=["G06F1/08"],
            ipc=["G06F1/08"],
            family="FAM-Q",
        ),
        record(
            "US1000007B2",
            "A light emitting diode package with a ceramic heat sink.",
            priority=date(2006, 1, 1),
            filing=date(2006, 6, 1),
            publication=date(2008, 1, 1),
            cpc=["H01L33/64"],
            ipc=["H01L33/64"],
            uspc=["257/99"],
        ),
    ]


QUERY_RECORD = record(
    "US2000000B2", OSC + ", the query.", priority=CUTOFF, filing=date(2009, 6, 30), family="FAM-Q"
)


def build_points(docs: Sequence[PatentDocument], encoder) -> list[StoredPoint]:  # type: ignore[no-untyped-def]
    chunker = Chunker.for_encoder(encoder)
    entries = [(doc, chunk) for doc in docs for chunk in chunker.chunk(doc)]
    texts = [chunk.text for _, chunk in entries]
    vectors = encoder.encode_documents(texts)
    sparse = Bm25Encoder().embed_documents(texts)
    return [
        StoredPoint(
            point_id(doc.publication_number, chunk.section, chunk.ordinal),
            vector,
            terms,
            build_payload(doc, chunk),
        )
        for (doc, chunk), vector, terms in zip(entries, vectors, sparse, strict=True)
    ]


def make_store(kind: str, folder: Path, points: list[StoredPoint], encoder) -> Store:  # type: ignore[no-untyped-def]
    store = EdgeStore(path=folder / "edge") if kind == "edge" else open_store("qdrant-local::memory:")
    store.create(fingerprint=encoder.fingerprint)
    store.upsert(points)
    return store


@pytest.fixture(scope="module")
def sample_points(minilm_encoder) -> list[StoredPoint]:  # type: ignore[no-untyped-def]
    return build_points(sample_documents(), minilm_encoder)


@pytest.fixture(scope="module")
def dated_points(minilm_encoder) -> list[StoredPoint]:  # type: ignore[no-untyped-def]
    return build_points(dated_records(), minilm_encoder)


@pytest.fixture(scope="module", params=["edge", "local"])
def sample_store(request, sample_points, minilm_encoder, tmp_path_factory) -> Iterator[Store]:  # type: ignore[no-untyped-def]
    store = make_store(request.param, tmp_path_factory.mktemp("sample"), sample_points, minilm_encoder)
    yield store
    store.close()


@pytest.fixture(scope="module", params=["edge", "local"])
def dated_store(request, dated_points, minilm_encoder, tmp_path_factory) -> Iterator[Store]:  # type: ignore[no-untyped-def]
    store = make_store(request.param, tmp_path_factory.mktemp("dated"), dated_points, minilm_encoder)
    yield store
    store.close()


def make_searcher(store: Store, encoder: Encoder | None, **options: Any) -> PatentSearcher:
    return PatentSearcher(index=store, encoder=encoder, options=SearchOptions(**options))


def numbers(hits: Sequence[PatentHit]) -> list[str]:
    return [hit.publication_number for hit in hits]


# -- prior art on real grants -------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_prior_art_of_an_indexed_grant_ranks_the_earlier_vcos_first(
    sample_store, minilm_encoder, mode
) -> None:  # type: ignore[no-untyped-def]
    searcher = make_searcher(sample_store, minilm_encoder, mode=mode, top_k=5)
    hits = searcher.prior_art("US8089324B2")
    assert "US8089324B2" not in numbers(hits)
    assert all(hit.earliest_date is not None and hit.earliest_date < CUTOFF for hit in hits)
    if mode != "bm25":
        assert set(numbers(hits)[:2]) == {"US7863991B1", "US7315219B2"}
    else:
        # BM25 alone ranks the CMOS VCO second; the boosts' publication-date term moves it to fourth,
        # behind the sample's 2008 grants (published within a year of the query's filing, it in 2011).
        text_only = searcher.with_options(boosts=None, top_k=10)
        assert "US7863991B1" in numbers(text_only.prior_art("US8089324B2"))[:3]
    assert [hit.rank for hit in hits] == list(range(1, len(hits) + 1))
    assert all(hit.evidence and hit.best.text for hit in hits)


def test_number_without_kind_code_and_unknown_number(sample_store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    searcher = make_searcher(sample_store, minilm_encoder, top_k=3)
    assert searcher.patent_query("US 8,089,324").publication_number == "US8089324B2"
    with pytest.raises(ConfigurationError, match=r"US9999999B2 is not in the index at .*; ingest it first"):
        searcher.prior_art("US9999999B2")


def test_free_text_returns_llama_index_nodes_with_metadata(sample_store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    retriever = PriorArtRetriever(index=sample_store, embedding=minilm_encoder, top_k=3)
    nodes = retriever.retrieve("ring oscillator VCO with low jitter")
    assert len(nodes) == 3 and all(isinstance(node, NodeWithScore) for node in nodes)
    top = nodes[0].node
    assert top.metadata["publication_number"] == "US7863991B1"
    assert {"title", "priority_date", "cpc", "section", "claim_number", "score"} <= set(top.metadata)
    assert top.get_content() and nodes[0].score == top.metadata["score"]
    assert top.ref_doc_id == "US7863991B1"


def assert_same_ranking(groups: Sequence[HitGroup], exact: Sequence[HitGroup], *, what: object) -> None:
    """Same scores in the same order, and the same patents at each score (ties may come in any order;
    a tie cut by the limit may keep different members)."""
    assert [g.score for g in groups] == pytest.approx([g.score for g in exact], abs=1e-5), what
    last = round(exact[-1].score, 5) if exact else None
    by_score: dict[float, set[str]] = {}
    for g in exact:
        by_score.setdefault(round(g.score, 5), set()).add(g.key)
    for g in groups:
        score = round(g.score, 5)
        assert score == last or g.key in by_score.get(score, set()), what


def test_grouping_is_exact_on_every_backend(sample_points, minilm_encoder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Edge groups client-side, local mode uses qdrant-client's group-by: each must return the top
    patents of a brute-force grouping of its own chunk scores, and the two must agree (Edge stores
    float16 vectors, so its dense scores differ from local mode's float32 ones by up to 2e-4)."""
    edge = make_store("edge", tmp_path, sample_points, minilm_encoder)
    local = make_store("local", tmp_path, sample_points, minilm_encoder)
    everything = len(sample_points)
    try:
        for text in ("voltage controlled oscillator", "light emitting diode heat sink", "electric door key"):
            vector = minilm_encoder.encode_query(text)
            for mode in ("dense", "bm25", "hybrid"):
                found = {}
                for store in (edge, local):
                    exact = group_hits(
                        store.search(
                            dense=vector, text=text, mode=mode, limit=everything, candidates=everything
                        ),
                        key=payload_key("publication_number"),
                        limit=6,
                        group_size=2,
                    )
                    found[store.backend] = store.search_groups(
                        dense=vector, text=text, mode=mode, limit=6, group_size=2, candidates=everything
                    )
                    assert_same_ranking(found[store.backend], exact, what=(store.backend, mode, text))
                mine, theirs = found["edge"], found["qdrant-local"]
                assert [g.key for g in mine] == [g.key for g in theirs], (mode, text)
                assert [g.score for g in mine] == pytest.approx([g.score for g in theirs], abs=1e-3)
    finally:
        edge.close()
        local.close()


def test_bm25_needs_no_encoder_and_dense_does(sample_store) -> None:  # type: ignore[no-untyped-def]
    hits = make_searcher(sample_store, None, mode="bm25", top_k=3).search("oscillator")
    assert hits and all("scillator" in " ".join(e.text for e in hit.evidence) for hit in hits)
    nodes = PriorArtRetriever(index=sample_store, mode="bm25", top_k=3).retrieve("oscillator")
    assert [node.node.metadata["publication_number"] for node in nodes] == numbers(hits)
    with pytest.raises(ConfigurationError, match="mode 'hybrid' needs the encoder the index was built with"):
        PriorArtRetriever(index=sample_store, mode="hybrid")
    with pytest.raises(ConfigurationError, match="mode 'hybrid' needs the encoder the index was built with"):
        make_searcher(sample_store, None)


def test_a_different_model_is_refused_naming_both(sample_store, tiny_patembed_dir) -> None:  # type: ignore[no-untyped-def]
    other = Encoder(str(tiny_patembed_dir), precision="fp32")
    with pytest.raises(
        FingerprintMismatchError,
        match=r"model_id: encoder=.*model' vs index='sentence-transformers/all-MiniLM-L6-v2'",
    ):
        PriorArtRetriever(index=sample_store, embedding=other)


def test_a_different_model_is_refused_when_opening_a_location(
    sample_points, minilm_encoder, tiny_patembed_dir, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    make_store("edge", tmp_path, sample_points, minilm_encoder).close()
    other = Encoder(str(tiny_patembed_dir), precision="fp32")
    with pytest.raises(FingerprintMismatchError, match="dim: encoder=16 vs index=384"):
        PriorArtRetriever(index=str(tmp_path / "edge"), embedding=other)
    with PriorArtRetriever(
        index=str(tmp_path / "edge"), embedding=minilm_encoder
    ) as retriever:  # lock released
        assert retriever.retrieve("oscillator")


# -- prior-art date semantics --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cutoff", "include_undated", "expected"),
    [
        # priority: earliest priority date, else filing date; same day excluded, day before kept
        ("priority", False, {"US1000001B2", "US1000003B2", "US1000005B2", "US1000007B2"}),
        ("priority", True, {"US1000001B2", "US1000003B2", "US1000004B2", "US1000005B2", "US1000007B2"}),
        ("filing", False, {"US1000003B2", "US1000007B2"}),
        ("publication", False, {"US1000007B2"}),
        (
            None,
            False,
            {"US1000001B2", "US1000002B2", "US1000003B2", "US1000004B2", "US1000005B2", "US1000007B2"},
        ),
    ],
)
def test_cutoff_semantics(dated_store, minilm_encoder, cutoff, include_undated, expected) -> None:  # type: ignore[no-untyped-def]
    searcher = make_searcher(
        dated_store, minilm_encoder, cutoff=cutoff, include_undated=include_undated, top_k=10
    )
    # US1000006B2 shares the query's family: excluded whatever the dates.
    assert set(numbers(searcher.prior_art(QUERY_RECORD))) == expected


def test_explicit_before_on_free_text_and_patent(dated_store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    searcher = make_searcher(dated_store, minilm_encoder, top_k=10)
    text_hits = searcher.search("voltage controlled oscillator", before=date(2008, 12, 30))
    assert set(numbers(text_hits)) == {"US1000005B2", "US1000006B2", "US1000007B2"}  # 2008-12-30 excluded
    assert set(numbers(searcher.search("voltage controlled oscillator"))) >= {"US1000002B2", "US1000004B2"}
    patent_hits = searcher.prior_art(QUERY_RECORD, before=date(2008, 7, 1))
    assert set(numbers(patent_hits)) == {"US1000005B2", "US1000007B2"}


def test_family_exclusion_and_family_grouping(dated_store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    searcher = make_searcher(dated_store, minilm_encoder, cutoff=None, top_k=10)
    assert "US1000006B2" in numbers(searcher.search("voltage controlled oscillator"))
    assert "US1000006B2" not in numbers(searcher.prior_art(QUERY_RECORD))
    by_family = make_searcher(dated_store, minilm_encoder, group_by="family", top_k=10)
    hits = by_family.search("voltage controlled oscillator")
    assert len(hits) == len({hit.family_id or hit.publication_number for hit in hits}) == 7


def test_boosts_rescore_patent_queries_only(dated_store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    query = QUERY_RECORD.model_copy(update={"cpc": ["H03L7/099"], "family_id": None})
    assert searcher_query_codes(dated_store, minilm_encoder, query) == ("H03L7/099",)
    plain = make_searcher(dated_store, minilm_encoder, cutoff=None, boosts=None, top_k=10)
    strong = MetadataBoosts(
        classification=5.0, uspc=0.0, assignee=0.0, inventor=0.0, date_proximity=0.0, classified=0
    )
    boosted = make_searcher(dated_store, minilm_encoder, cutoff=None, boosts=strong, top_k=10)
    # The one candidate sharing the query's CPC symbol comes first; the rest keep their order.
    unboosted = numbers(plain.prior_art(query))
    assert unboosted[0] != "US1000005B2"  # else the test could not tell boosting from not
    assert numbers(boosted.prior_art(query)) == ["US1000005B2"] + [n for n in unboosted if n != "US1000005B2"]
    # Free text has no bibliography to compare: identical results either way.
    text = "voltage controlled oscillator"
    assert [(h.publication_number, h.score) for h in boosted.search(text)] == [
        (h.publication_number, h.score) for h in plain.search(text)
    ]


def test_classified_search_adds_candidates_text_search_ranks_too_deep(dated_store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    # The LED package has nothing of an oscillator but the query's USPC symbol; US1000002B2 shares
    # it too, but is not prior art (priority on the cutoff date).
    query = QUERY_RECORD.model_copy(update={"uspc": ["257/99"], "family_id": None})
    uspc_only = MetadataBoosts(
        classification=0.0, uspc=1.0, assignee=0.0, inventor=0.0, date_proximity=0.0, depth=3, classified=0
    )

    def found(boosts: MetadataBoosts | None) -> list[str]:
        searcher = make_searcher(dated_store, minilm_encoder, boosts=boosts, top_k=3)
        return numbers(searcher.prior_art(query))

    plain = found(None)
    assert "US1000007B2" not in plain
    assert found(uspc_only) == plain  # rescoring alone never sees the LED package
    with_classified = found(dataclasses.replace(uspc_only, classified=3))
    assert with_classified[0] == "US1000007B2" and "US1000002B2" not in with_classified
    assert with_classified[1:] == [n for n in plain if n != "US1000007B2"][:2]


def searcher_query_codes(store: Store, encoder, record: PatentDocument) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    return make_searcher(store, encoder).patent_query(record).cpc


@pytest.mark.parametrize(
    ("search_filter", "expected"),
    [
        (
            SearchFilter(cpc=["H"]),
            {"US1000001B2", "US1000002B2", "US1000003B2", "US1000004B2", "US1000005B2", "US1000007B2"},
        ),
        (
            SearchFilter(cpc=["H03"]),
            {"US1000001B2", "US1000002B2", "US1000003B2", "US1000004B2", "US1000005B2"},
        ),
        (SearchFilter(cpc=["H03B"]), {"US1000003B2", "US1000004B2"}),
        (SearchFilter(cpc=["H03B5"]), {"US1000003B2", "US1000004B2"}),
        (SearchFilter(cpc=["h03k 3/0315"]), {"US1000001B2", "US1000002B2"}),
        (SearchFilter(cpc=["H03K", "G06F"]), {"US1000001B2", "US1000002B2", "US1000006B2"}),
        (SearchFilter(cpc_exclude=["H03"]), {"US1000006B2", "US1000007B2"}),
        (SearchFilter(cpc=["H03"], cpc_exclude=["H03K3"]), {"US1000003B2", "US1000004B2", "US1000005B2"}),
        (SearchFilter(ipc=["H03L"]), {"US1000005B2"}),
        (SearchFilter(ipc_exclude=["H"]), {"US1000006B2"}),
        (SearchFilter(uspc=["257"]), {"US1000002B2", "US1000007B2"}),
        (SearchFilter(uspc=["331/57", "D14"]), {"US1000001B2"}),
    ],
)
def test_classification_prefix_filters(dated_store, minilm_encoder, search_filter, expected) -> None:  # type: ignore[no-untyped-def]
    searcher = make_searcher(dated_store, minilm_encoder, filters=search_filter, top_k=10)
    assert set(numbers(searcher.search("oscillator circuit"))) == expected
    per_call = make_searcher(dated_store, minilm_encoder, top_k=10)
    assert set(numbers(per_call.search("oscillator circuit", filters=search_filter))) == expected


# -- fusion, reranking, MMR ----------------------------------------------------------------------
def test_equal_scores_group_the_same_whatever_order_the_engine_returns() -> None:
    def hit(chunk: str, number: str, score: float) -> SearchHit:
        return SearchHit(chunk, score, {"publication_number": number})

    hits = [hit("c1", "US2", 0.9), hit("c2", "US1", 0.9), hit("c3", "US3", 0.5), hit("c4", "US2", 0.5)]
    expected = group_hits(hits, key=payload_key("publication_number"), limit=3, group_size=2)
    assert [group.key for group in expected] == ["US1", "US2", "US3"]
    for shuffled in (hits[::-1], [hits[1], hits[0], hits[3], hits[2]]):
        assert group_hits(shuffled, key=payload_key("publication_number"), limit=3, group_size=2) == expected


def test_reciprocal_rank_fusion_by_hand() -> None:
    def ranking(*keys: str) -> list[HitGroup]:
        return [HitGroup(key, (SearchHit(f"{key}-{i}", 1.0 - i / 10, {}),)) for i, key in enumerate(keys)]

    fused = fuse_rankings([ranking("A", "B", "C"), ranking("C", "A")])
    assert [key for key, _, _ in fused] == ["A", "C", "B"]
    assert fused[0][1] == pytest.approx(1 / 60 + 1 / 61)
    assert fused[1][1] == pytest.approx(1 / 62 + 1 / 60)
    assert [key for key, _, _ in fuse_rankings([ranking("B", "A")])] == ["B", "A"]


def test_hybrid_finds_what_either_side_finds(sample_store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    def top(mode: str, fusion: str = "rrf") -> list[str]:
        searcher = make_searcher(sample_store, minilm_encoder, mode=mode, fusion=fusion, top_k=4)
        return numbers(searcher.search("PSS power supply sensitivity of a ring VCO"))

    dense, bm25, hybrid = top("dense"), top("bm25"), top("hybrid")
    assert hybrid[0] == "US7863991B1"
    assert set(hybrid) & set(dense) and set(hybrid) & set(bm25)
    assert top("hybrid", "dbsf")[0] == "US7863991B1"


class LengthCrossEncoder:
    """A stand-in with CrossEncoder's predict(pairs) signature: prefers short evidence."""

    def predict(self, sentences, show_progress_bar: bool = False):  # type: ignore[no-untyped-def]
        return np.array([-len(text) for _, text in sentences], dtype=np.float32)


def test_reranker_hook_callable_and_cross_encoder(sample_store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    def prefer_leds(query: str, texts: Sequence[str]) -> list[float]:
        return [1.0 if "light emitting" in text.lower() else 0.0 for text in texts]

    searcher = make_searcher(sample_store, minilm_encoder, reranker=prefer_leds, top_k=3)
    hits = searcher.search("oscillator")
    assert all("light emitting" in (hit.title + hit.best.text).lower() for hit in hits)
    assert [hit.score for hit in hits] == [1.0, 1.0, 1.0]
    crossed = make_searcher(sample_store, minilm_encoder, reranker=LengthCrossEncoder(), top_k=5)
    lengths = [len(f"{hit.title}. {hit.best.text}") for hit in crossed.search("oscillator")]
    assert lengths == sorted(lengths)


def test_mmr_trades_relevance_for_diversity(dated_store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    plain = make_searcher(dated_store, minilm_encoder, cutoff=None, top_k=3)
    same = make_searcher(dated_store, minilm_encoder, cutoff=None, top_k=3, mmr=0.0)
    diverse = make_searcher(dated_store, minilm_encoder, cutoff=None, top_k=2, mmr=0.9)
    query = "oscillator with a ring of inverters"
    assert numbers(same.search(query)) == numbers(plain.search(query))
    picked = numbers(diverse.search(query))
    assert picked[0] == numbers(plain.search(query))[0]
    assert picked[1] == "US1000007B2"  # the only record that is not a near-copy of the first


def test_filters_merge_and_cutoff_filter() -> None:
    merged = merge_filters(
        SearchFilter(cpc=["H03"]),
        None,
        cutoff_filter("filing", CUTOFF),
        SearchFilter(exclude_publication_numbers=["US 1,000,001 B2"]),
    )
    assert merged.cpc == ("H03",) and merged.exclude_publication_numbers == ("US1000001B2",)
    assert merged.dates[0].field == "filing" and merged.dates[0].before == CUTOFF
    assert cutoff_filter(None, CUTOFF) == SearchFilter() == cutoff_filter("priority", None)


def test_bad_options_say_what_works(sample_store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError, match="mode must be one of dense, bm25, hybrid, got 'sparse'"):
        PriorArtRetriever(index=sample_store, embedding=minilm_encoder, mode="sparse")  # type: ignore[arg-type]
    with pytest.raises(
        ConfigurationError, match="cutoff must be 'priority', 'filing', 'publication' or None"
    ):
        PriorArtRetriever(index=sample_store, embedding=minilm_encoder, cutoff="grant")  # type: ignore[arg-type]
    searcher = PriorArtRetriever(index=sample_store, embedding=minilm_encoder).searcher
    with pytest.raises(ConfigurationError, match="pass exactly one of a query text or patent="):
        searcher.search("x", patent="US8089324B2")
    with pytest.raises(ConfigurationError, match="the query text is empty"):
        searcher.search("  ")
