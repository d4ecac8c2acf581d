"""The search core's API: SearchOptions (one frozen, validated value), PatentSearcher and its
per-call variants, and the adapters over it (PriorArtRetriever, the QA engines, evaluate, the CLI's
one options builder) giving the same results as the core."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date
from typing import get_args

import pytest

from patent_rag.cli.search import CUTOFFS, search_options
from patent_rag.errors import ConfigurationError, UnknownTaskError
from patent_rag.llama_index.embedding import PatentEmbedding
from patent_rag.llama_index.nodes import to_node
from patent_rag.llama_index.qa import PatentQueryEngine
from patent_rag.llama_index.retriever import PriorArtRetriever
from patent_rag.search.boosts import MetadataBoosts
from patent_rag.search.evaluation import evaluate
from patent_rag.search.hits import Evidence, PatentHit
from patent_rag.search.options import (
    CutoffField,
    Fusion,
    GroupLevel,
    QuerySource,
    SearchMode,
    SearchOptions,
    SearchOptionValues,
)
from patent_rag.search.searcher import PatentSearcher, prefetch_depth
from patent_rag.stores import EdgeStore, SearchFilter
from patent_rag.stores.base import Store
from tests.test_qa import ScriptedLLM
from tests.test_retriever import QUERY_RECORD, build_points, dated_records

TEXT = "voltage controlled oscillator"


@pytest.fixture(scope="module")
def store(minilm_encoder, tmp_path_factory) -> Iterator[Store]:  # type: ignore[no-untyped-def]
    store = EdgeStore(path=tmp_path_factory.mktemp("searcher") / "index")
    store.create(fingerprint=minilm_encoder.fingerprint)
    store.upsert(build_points(dated_records(), minilm_encoder))
    yield store
    store.close()


def ranked(hits: list[PatentHit]) -> list[tuple[str, float, list[str]]]:
    return [(hit.publication_number, hit.score, [item.chunk_id for item in hit.evidence]) for hit in hits]


# -- SearchOptions ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mode": "sparse"}, "mode must be one of dense, bm25, hybrid, got 'sparse'"),
        ({"fusion": "sum"}, "fusion must be one of rrf, dbsf, got 'sum'"),
        ({"group_by": "assignee"}, "group_by must be one of patent, family, got 'assignee'"),
        ({"cutoff": "grant"}, "cutoff must be 'priority', 'filing', 'publication' or None, got 'grant'"),
        ({"top_k": 0}, "top_k and evidence must be at least 1, got 0 and 3"),
        ({"evidence": 0}, "top_k and evidence must be at least 1, got 10 and 0"),
        ({"rerank_depth": 0}, "rerank_depth must be at least 1, got 0"),
        ({"mmr_depth": 0}, "mmr_depth must be at least 1, got 0"),
        ({"candidates": 0}, "candidates must be at least 1, got 0"),
        ({"mmr": 1.5}, r"mmr must be between 0 and 1 \(diversity\), got 1.5"),
        (
            {"query_sources": ("claims", "title")},
            r"query sources must be a non-empty selection of 'claims' and 'abstract', "
            r"got \['claims', 'title'\]",
        ),
        ({"query_sources": ()}, "query sources must be a non-empty selection"),
    ],
)
def test_options_are_validated_once_naming_the_choices(changes, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError, match=message):
        SearchOptions(**changes)
    with pytest.raises(ConfigurationError, match=message):  # a variant is validated the same way
        SearchOptions().replace(**changes)


def test_messages_list_the_declared_choices() -> None:
    # The choices come from the Literals: the messages above follow them.
    assert get_args(SearchMode) == ("dense", "bm25", "hybrid")
    assert get_args(Fusion) == ("rrf", "dbsf")
    assert get_args(GroupLevel) == ("patent", "family")
    assert get_args(CutoffField) == ("priority", "filing", "publication")
    assert get_args(QuerySource) == ("claims", "abstract")
    assert (*get_args(CutoffField), "none") == CUTOFFS


def test_options_are_frozen_normalised_and_replaced_not_mutated() -> None:
    options = SearchOptions(query_sources=["abstract", "claims", "abstract"])
    assert options.query_sources == ("abstract", "claims")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.top_k = 5  # type: ignore[misc]
    quick = options.replace(top_k=5, mode="bm25")
    assert (quick.top_k, quick.mode, options.top_k, options.mode) == (5, "bm25", 10, "hybrid")
    assert dataclasses.replace(options, top_k=5) == options.replace(top_k=5)
    # Boosts that are all off are no boosts: equal options, and repr says so.
    off = MetadataBoosts(classification=0, uspc=0, assignee=0, inventor=0, date_proximity=0, classified=0)
    assert (
        SearchOptions(boosts=off) == SearchOptions(boosts=None) and SearchOptions(boosts=off).boosts is None
    )
    with pytest.raises(
        ConfigurationError, match=r"unknown search option\(s\) topk; the options are boosts, "
    ):
        options.replace(topk=5)


def test_keyword_values_name_every_option() -> None:
    assert set(SearchOptionValues.__annotations__) == {f.name for f in dataclasses.fields(SearchOptions)}


def test_hybrid_prefetch_depth() -> None:
    assert prefetch_depth("hybrid", 10) == 100 and prefetch_depth("hybrid", 50) == 150
    assert prefetch_depth("dense", 10) is None and prefetch_depth("bm25", 10, 70) == 70


# -- PatentSearcher ----------------------------------------------------------------------------------
def test_with_options_is_a_new_searcher_over_the_same_index(store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    searcher = PatentSearcher(index=store, encoder=minilm_encoder)
    bm25 = searcher.with_options(mode="bm25", top_k=3, boosts=None)
    assert bm25.store is searcher.store and bm25.encoder is searcher.encoder
    assert searcher.options == SearchOptions() and bm25.options == SearchOptions(
        mode="bm25", top_k=3, boosts=None
    )
    assert len(bm25.search(TEXT)) == 3 and len(searcher.search(TEXT)) == 7
    whole = searcher.with_options(SearchOptions(top_k=2), cutoff=None)
    assert whole.options == SearchOptions(top_k=2, cutoff=None)
    bm25.close()  # a variant never closes the index it shares
    assert searcher.search(TEXT, top_k=1)
    assert (
        repr(bm25)
        == f"PatentSearcher(index={store.location!r}, model='all-minilm-l6-v2', mode='bm25', top_k=3)"
    )


def test_options_the_encoder_cannot_serve_are_refused(store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    plain = PatentSearcher(index=store, options=SearchOptions(mode="bm25"))
    assert plain.search("oscillator")
    with pytest.raises(ConfigurationError, match="mode 'dense' needs the encoder the index was built with"):
        plain.with_options(mode="dense")
    with pytest.raises(ConfigurationError, match="mode 'bm25' with mmr needs the encoder"):
        plain.with_options(mmr=0.5)
    with pytest.raises(UnknownTaskError):
        PatentSearcher(index=store, encoder=minilm_encoder, options=SearchOptions(query_task="nope"))


def test_per_call_values_leave_the_searcher_unchanged(store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    searcher = PatentSearcher(index=store, encoder=minilm_encoder, options=SearchOptions(cutoff=None))
    everything = searcher.search(TEXT)
    assert len(searcher.search(TEXT, top_k=2)) == 2
    assert {h.publication_number for h in searcher.search(TEXT, filters=SearchFilter(cpc=("H03B",)))} == {
        "US1000003B2",
        "US1000004B2",
    }
    assert len(searcher.search(TEXT, before=date(2008, 12, 30))) == 3
    assert ranked(searcher.search(TEXT)) == ranked(everything)
    assert searcher.options == SearchOptions(cutoff=None)


# -- adapters give the core's results ----------------------------------------------------------------
@pytest.mark.parametrize(
    "values",
    [
        {},
        {"mode": "dense", "boosts": None},
        {"mode": "bm25", "cutoff": None},
        {"fusion": "rrf", "group_by": "family", "evidence": 1},
        {"cutoff": "filing", "include_undated": True, "top_k": 4},
    ],
)
def test_retriever_is_the_searcher(store, minilm_encoder, values) -> None:  # type: ignore[no-untyped-def]
    searcher = PatentSearcher(index=store, encoder=minilm_encoder, options=SearchOptions(**values))
    by_keywords = PriorArtRetriever(index=store, embedding=minilm_encoder, **values)
    by_options = PriorArtRetriever(index=store, embedding=minilm_encoder, options=SearchOptions(**values))
    wrapping = PriorArtRetriever(searcher=searcher)
    assert by_keywords.options == by_options.options == searcher.options and wrapping.searcher is searcher
    expected = ranked(searcher.prior_art(QUERY_RECORD))
    for retriever in (by_keywords, by_options, wrapping):
        assert ranked(retriever.searcher.prior_art(QUERY_RECORD)) == expected
        nodes = retriever.retrieve(TEXT)
        hits = searcher.search(TEXT)
        assert [(n.node.metadata["publication_number"], n.score) for n in nodes] == [
            (h.publication_number, h.score) for h in hits
        ]
    assert by_keywords.with_options(top_k=2).options == searcher.options.replace(top_k=2)


def test_retriever_takes_a_searcher_or_an_index(store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    searcher = PatentSearcher(index=store, encoder=minilm_encoder)
    with pytest.raises(ConfigurationError, match=r"pass either searcher=\.\.\. or index=\.\.\."):
        PriorArtRetriever(searcher=searcher, top_k=3)
    with pytest.raises(ConfigurationError, match=r"pass index=\.\.\. \(a location or a Store\) or searcher="):
        PriorArtRetriever()
    with pytest.raises(ConfigurationError, match="unknown search option"):
        PriorArtRetriever(index=store, embedding=minilm_encoder, topk=3)  # type: ignore[call-arg]


def test_patent_embedding_brings_its_query_task(store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    embedding = PatentEmbedding(encoder=minilm_encoder, query_task="retrieval")
    retriever = PriorArtRetriever(index=store, embedding=embedding)
    assert retriever.options.query_task == "retrieval" and retriever.encoder is minilm_encoder
    assert PriorArtRetriever(index=store, embedding=minilm_encoder).options.query_task is None
    with pytest.raises(UnknownTaskError):
        PriorArtRetriever(index=store, embedding=embedding, query_task="nope")


def test_evaluate_and_query_engine_take_the_searcher(store, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    searcher = PatentSearcher(index=store, encoder=minilm_encoder, options=SearchOptions(cutoff=None))
    qrels = {"US1000005B2": {"US1000001B2": 1, "US1000007B2": 1}}
    direct = evaluate(searcher, qrels, top_k=10)
    wrapped = evaluate(PriorArtRetriever(searcher=searcher), qrels, top_k=10)
    assert direct.query("US1000005B2").ranking == wrapped.query("US1000005B2").ranking
    assert direct.metrics == wrapped.metrics and direct.settings == wrapped.settings
    assert direct.settings["cutoff"] is None and direct.settings["boosts"] == repr(MetadataBoosts())
    answer = PatentQueryEngine(retriever=searcher, llm=ScriptedLLM(answer="See [US1000001B2].")).ask(TEXT)
    assert answer.citations == ["US1000001B2"] and len(answer.hits) == 7


def test_to_node_keeps_the_hit_as_llama_index_metadata() -> None:
    hit = PatentHit(
        rank=2,
        publication_number="US8613112B2",
        family_id="F1",
        title="Hinge",
        priority_date=date(2010, 1, 2),
        filing_date=date(2011, 3, 4),
        cpc=[f"E05D{i}" for i in range(10)],
        score=0.5,
        evidence=[
            Evidence(chunk_id="c1", section="claim", claim_number=1, text="A hinge.", score=0.5),
            Evidence(chunk_id="c2", section="abstract", text="Abstract.", score=0.4),
        ],
    )
    scored = to_node(hit)
    node = scored.node
    assert scored.score == 0.5 and node.node_id == "c1" and node.get_content() == "A hinge."
    assert node.ref_doc_id == "US8613112B2"
    assert node.metadata == {
        "publication_number": "US8613112B2",
        "title": "Hinge",
        "priority_date": "2010-01-02",
        "earliest_date": "2010-01-02",
        "filing_date": "2011-03-04",
        "publication_date": None,
        "cpc": [f"E05D{i}" for i in range(8)],
        "ipc": [],
        "uspc": [],
        "family_id": "F1",
        "section": "claim",
        "claim_number": 1,
        "chunk_id": "c1",
        "score": 0.5,
        "rank": 2,
        "evidence": [item.model_dump() for item in hit.evidence],
    }
    assert node.excluded_embed_metadata_keys == list(node.metadata)
    hidden = "evidence chunk_id score rank family_id ipc uspc priority_date filing_date publication_date"
    assert node.excluded_llm_metadata_keys == hidden.split()


# -- the CLI builds its options in one place -------------------------------------------------------
def test_cli_search_options() -> None:
    assert search_options() == SearchOptions()
    flt = SearchFilter(cpc=("H03",))
    assert search_options(
        mode="bm25", top_k=3, cutoff="none", boost=False, search_filter=flt
    ) == SearchOptions(mode="bm25", top_k=3, cutoff=None, boosts=None, filters=flt)
    assert search_options(cutoff="filing", include_undated=True).cutoff == "filing"
    with pytest.raises(ConfigurationError, match="--mode must be one of dense, bm25, hybrid, got 'sparse'"):
        search_options(mode="sparse")
    with pytest.raises(
        ConfigurationError, match="--cutoff must be one of priority, filing, publication, none"
    ):
        search_options(cutoff="grant")
    with pytest.raises(ConfigurationError, match="--top-k must be at least 1, got 0"):
        search_options(top_k=0)
