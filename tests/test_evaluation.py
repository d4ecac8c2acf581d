"""Evaluation harness: metric plumbing against hand-checked values, query-by-patent semantics on a
real Edge index with the real MiniLM, and the ``patent-rag eval`` JSON output."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console

from patent_rag.cli.evaluate import run_eval
from patent_rag.cli.search import search_options
from patent_rag.documents import PatentDocument
from patent_rag.errors import ConfigurationError, ParseError
from patent_rag.ingest import ingest_documents
from patent_rag.llama_index.retriever import PriorArtRetriever
from patent_rag.search.boosts import MetadataBoosts
from patent_rag.search.evaluation import evaluate, load_qrels, load_queries, score_run
from patent_rag.stores import open_store

# Hand-checked run. trec_eval's nDCG uses gain = relevance and discount log2(rank + 1):
# q1: relevant d1, d3 (1 each); ranking d1, d2, d3.
#     DCG = 1/log2(2) + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3) = 1.6309298; nDCG@10 = 0.9197208.
#     nDCG@2 = 1 / 1.6309298 = 0.6131472; recall@2 = 1/2; AP = (1/1 + 2/3) / 2 = 0.8333333; RR = 1.
# q2: d2 relevance 2, d4 relevance 1; ranking d4, d1, d2.
#     DCG = 1/log2(2) + 2/log2(4) = 2; ideal = 2/log2(2) + 1/log2(3) = 2.6309298; nDCG@10 = 0.7601875.
#     AP = (1/1 + 2/3) / 2 = 0.8333333 (both relevant levels count); RR = 1; recall@2 = 1/2.
# q3: relevant d9, nothing retrieved: every measure 0.
# q4: only a non-relevant judgment: not scored.
QRELS = {
    "q1": {"D1": 1, "D3": 1, "D2": 0},
    "q2": {"D2": 2, "D4": 1},
    "q3": {"D9": 1},
    "q4": {"D1": 0},
}
RUN = {"q1": ["D1", "D2", "D3"], "q2": ["D4", "D1", "D2"], "q4": ["D1"]}
NDCG10 = {"q1": 1.5 / (1 + 1 / math.log2(3)), "q2": 2 / (2 + 1 / math.log2(3)), "q3": 0.0}


def test_hand_checked_metrics() -> None:
    result = score_run(RUN, QRELS, measures=["ndcg@10", "ndcg@2", "recall@2", "map", "mrr"])
    assert result.queries == 3
    assert dict(result.skipped) == {"q4": "no relevant document in the qrels"}
    q1, q2, q3 = (result.query(q) for q in ("q1", "q2", "q3"))
    assert q1.metrics["ndcg@10"] == pytest.approx(0.9197208, abs=1e-6) == pytest.approx(NDCG10["q1"])
    assert q1.metrics["ndcg@2"] == pytest.approx(0.6131472, abs=1e-6)
    assert q2.metrics["ndcg@10"] == pytest.approx(0.7601875, abs=1e-6) == pytest.approx(NDCG10["q2"])
    assert q1.metrics["recall@2"] == q2.metrics["recall@2"] == 0.5
    assert q1.metrics["map"] == pytest.approx(5 / 6) and q2.metrics["map"] == pytest.approx(5 / 6)
    assert q1.metrics["mrr"] == q2.metrics["mrr"] == 1.0
    assert all(value == 0.0 for value in q3.metrics.values()) and q3.ranking == ()
    assert (q1.relevant, q1.found, q2.relevant, q2.found) == (2, 2, 2, 2)
    assert result.metrics["ndcg@10"] == pytest.approx(sum(NDCG10.values()) / 3)
    assert result.metrics["mrr"] == pytest.approx(2 / 3)


def test_ranking_order_is_scored_not_the_scores() -> None:
    # Tied scores: the order given wins (trec_eval would reorder ties by document id).
    tied = {"q1": [("D2", 0.5), ("D1", 0.5)]}
    assert score_run(tied, {"q1": {"D1": 1}}, measures=["mrr"]).metrics["mrr"] == 0.5
    # Publication numbers are compared normalized; a repeated patent counts once, at its first rank.
    result = score_run({"q": ["EP0123456B1", "US 4,000,001", "EP123456B1"]}, {"q": {"US4000001": 1}})
    assert result.query("q").ranking == ("EP123456B1", "US4000001")
    assert result.metrics["mrr"] == 0.5


def test_unknown_measure_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown measure 'bleu'; use ndcg, ndcg@K, recall@K, map"):
        score_run(RUN, QRELS, measures=["bleu"])
    for name in ("precision", "recall", "ndcg@0"):
        with pytest.raises(ConfigurationError, match=rf"(unknown measure|the cutoff of) '{name}'"):
            score_run(RUN, QRELS, measures=[name])
    assert set(score_run(RUN, QRELS, measures=["nDCG@5", "R@3", "AP", "RR@10", "P@1"]).metrics) == {
        "ndcg@5",
        "recall@3",
        "map",
        "mrr@10",
        "precision@1",
    }


def test_load_qrels_beir_trec_and_extra_columns(tmp_path: Path) -> None:
    beir = tmp_path / "qrels.tsv"
    beir.write_text(
        "query-id\tcorpus-id\tscore\tsource\n"
        "EP1000001A1\tUS5000001\t1\tcites\n"
        "EP1000001A1\tEP0123456B1\t1\tcites\n"
        "EP1000001A1\tUS5000001\t2\tcited_by\n"
        "q2\tUS 6,000,001\t0\tcites\n"
    )
    assert load_qrels(beir) == {
        "EP1000001A1": {"US5000001": 2, "EP123456B1": 1},
        "q2": {"US6000001": 0},
    }
    trec = tmp_path / "qrels.trec"
    trec.write_text("q1 0 US8613112B2 1\nq1 0 US7000000B1 0\n")
    assert load_qrels(trec) == {"q1": {"US8613112B2": 1, "US7000000B1": 0}}
    assert load_qrels(trec, ignore_kind=True) == {"q1": {"US8613112": 1, "US7000000": 0}}
    bad = tmp_path / "bad.tsv"
    bad.write_text("q1\tUS1\t1\nq1\tUS2\n")
    with pytest.raises(ParseError, match=r"bad.tsv, line 2: expected query-id<TAB>corpus-id<TAB>score"):
        load_qrels(bad)
    with pytest.raises(ConfigurationError, match=r"qrels file .*missing.tsv does not exist"):
        load_qrels(tmp_path / "missing.tsv")


def test_load_queries_tsv_and_beir_jsonl(tmp_path: Path) -> None:
    tsv = tmp_path / "queries.tsv"
    tsv.write_text("query-id\ttext\nq1\tWashers that clean\tlaundry\n\nq2\t  bubble   generator \n")
    assert load_queries(tsv) == {"q1": "Washers that clean laundry", "q2": "bubble generator"}
    jsonl = tmp_path / "queries.jsonl"
    jsonl.write_text(
        '{"_id": "q1", "text": "membrane bioreactor", "metadata": {}}\n{"id": 7, "query": "x"}\n'
    )
    assert load_queries(jsonl) == {"q1": "membrane bioreactor", "7": "x"}
    jsonl.write_text('{"_id": "q1"}\n')
    with pytest.raises(ParseError, match=r"queries.jsonl, line 1: a query needs an id and a text"):
        load_queries(jsonl)


def test_save_per_query_json_and_tsv(tmp_path: Path) -> None:
    result = score_run(RUN, QRELS, measures=["ndcg@10", "mrr"], settings={"mode": "dense"})
    data = json.loads(result.save(tmp_path / "per_query.json").read_text())
    assert data["queries"] == 3 and data["settings"] == {"mode": "dense"}
    assert data["per_query"][0] == {
        "query_id": "q1",
        "ndcg@10": pytest.approx(NDCG10["q1"]),
        "mrr": 1.0,
        "relevant": 2,
        "found": 2,
        "ranking": ["D1", "D2", "D3"],
        "scores": [0.0, -1.0, -2.0],
    }
    rows = (result.save(tmp_path / "per_query.tsv")).read_text().splitlines()
    assert rows[0] == "query-id\tndcg@10\tmrr\trelevant\tfound"
    assert rows[1] == f"q1\t{NDCG10['q1']:.6f}\t1.000000\t2\t2"
    assert rows[-1].startswith("all\t") and len(rows) == 5
    with pytest.raises(ConfigurationError, match=r"saved as .json or .tsv, got 'x.csv'"):
        result.save(tmp_path / "x.csv")


# A small corpus of our own (not the PatSnap data): the query patent, earlier and later art.
def _doc(number: str, priority: date, text: str) -> PatentDocument:
    return PatentDocument(
        publication_number=number,
        title=text.split(".")[0],
        abstract=text,
        priority_date=priority,
        filing_date=priority,
        publication_date=date(priority.year + 2, 1, 5),
    )


CORPUS = [
    _doc(
        "US9000001B2",
        date(2010, 3, 1),
        "Washing machine with a bubble generator. Air bubbles are "
        "injected into the wash water by a pump to remove dirt from laundry.",
    ),
    _doc(
        "US8000002B2",
        date(2005, 6, 1),
        "Laundry washer using micro bubbles. A bubble generator feeds "
        "fine air bubbles into the drum to clean clothes.",
    ),
    _doc(
        "US9500003B2",
        date(2012, 1, 1),
        "Bubble washing machine. A generator produces air bubbles in "
        "the washing water so the laundry is cleaned better.",
    ),
    _doc(
        "US9000004B2",
        date(2010, 3, 1),
        "Washing machine foam generator. Foam and bubbles clean laundry in the tub.",
    ),
    _doc(
        "US7000005B2",
        date(2001, 2, 1),
        "Rotary engine. A piston rotates in an oval housing to drive a crankshaft.",
    ),
]
LATER, SAME_DAY = "US9500003B2", "US9000004B2"


@pytest.fixture(scope="module")
def index(minilm_encoder, tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    location = str(tmp_path_factory.mktemp("evaluation") / "index")
    store = open_store(location)
    ingest_documents(CORPUS, store=store, encoder=minilm_encoder)
    store.close()
    yield location


@pytest.fixture()
def qrels_file(tmp_path: Path) -> Path:
    path = tmp_path / "qrels.tsv"
    path.write_text(
        "query-id\tcorpus-id\tscore\n"
        "US9000001B2\tUS8000002B2\t1\n"
        f"US9000001B2\t{LATER}\t1\n"
        "US1234567B2\tUS8000002B2\t1\n"  # not in the index: skipped, not scored
    )
    return path


def test_query_by_patent_excludes_itself_and_respects_the_cutoff(index, minilm_encoder, qrels_file) -> None:  # type: ignore[no-untyped-def]
    qrels = load_qrels(qrels_file)
    store = open_store(index)
    try:
        store.open()
        results = {}
        for cutoff in ("priority", None):
            retriever = PriorArtRetriever(index=store, embedding=minilm_encoder, mode="dense", cutoff=cutoff)
            results[cutoff] = evaluate(retriever, qrels, top_k=10)
    finally:
        store.close()
    dated = results["priority"].query("US9000001B2")
    assert dated.ranking == ("US8000002B2", "US7000005B2")  # strictly before 2010-03-01, itself excluded
    assert (dated.found, dated.metrics["recall@100"]) == (1, 0.5)
    undated = results[None].query("US9000001B2")
    assert "US9000001B2" not in undated.ranking
    assert set(undated.ranking) == {"US8000002B2", LATER, SAME_DAY, "US7000005B2"}
    assert undated.ranking[-1] == "US7000005B2" and undated.metrics["recall@100"] == 1.0
    for result in results.values():
        assert result.queries == 1
        assert "US1234567B2" in result.skipped and "not in the index" in result.skipped["US1234567B2"]
    assert results["priority"].settings == {
        "queries": "patent",
        "top_k": 10,
        "mode": "dense",
        "cutoff": "priority",
        "boosts": repr(MetadataBoosts()),
    }


def test_free_text_queries(index, minilm_encoder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    queries = tmp_path / "queries.tsv"
    queries.write_text("t1\tengine with a piston rotating in a housing\n")
    qrels = {"t1": {"US7000005B2": 1}, "t2": {"US8000002B2": 1}}
    with PriorArtRetriever(index=index, embedding=minilm_encoder, mode="hybrid") as retriever:
        result = evaluate(
            retriever, qrels, queries=load_queries(queries), top_k=5, measures=["mrr", "ndcg@3"]
        )
    assert result.metrics == {"mrr": 1.0, "ndcg@3": 1.0}
    assert result.query("t1").ranking[0] == "US7000005B2" and len(result.query("t1").ranking) == 5
    assert result.skipped == {"t2": "no text for this query id in the queries file"}


def test_run_eval_json_schema(index, qrels_file, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    buffer = io.StringIO()
    screen = Console(file=buffer, width=200, color_system=None, force_terminal=False)
    result = run_eval(
        index=index,
        qrels=qrels_file,
        options=search_options(mode="bm25", cutoff="none", top_k=20),
        per_query=tmp_path / "per_query.json",
        as_json=True,
        console=screen,
    )
    data = json.loads(capsys.readouterr().out)
    assert {"ndcg@10", "recall@100", "map", "mrr", "queries", "skipped", "settings"} <= set(data)
    assert data["queries"] == result.queries == 1 and data["recall@100"] == 1.0
    assert all(isinstance(data[name], float) for name in ("ndcg@10", "recall@100", "map", "mrr"))
    assert list(data["skipped"]) == ["US1234567B2"]
    assert data["settings"]["mode"] == "bm25" and data["settings"]["cutoff"] == "none"
    assert data["settings"]["top_k"] == 20 and data["settings"]["index"] == index
    assert data["settings"]["boost"] is True and data["settings"]["boosts"].startswith("MetadataBoosts(")
    saved = json.loads((tmp_path / "per_query.json").read_text())
    assert saved["per_query"][0]["query_id"] == "US9000001B2"
    run_eval(index=index, qrels=qrels_file, options=search_options(mode="bm25", top_k=100), console=screen)
    table = buffer.getvalue()
    assert "ndcg@10" in table and "queries" in table and "skipped US1234567B2" in table
    with pytest.raises(
        ConfigurationError, match=r"--cutoff must be one of priority, filing, publication, none"
    ):
        run_eval(index=index, qrels=qrels_file, options=search_options(cutoff="grant"), console=screen)


# -- kind codes ----------------------------------------------------------------------------------
# Citation exports write "US5000001" for "US5000001A". Invented numbers throughout.


def test_without_kind_codes_publications_merge_best_rank_and_highest_judgment() -> None:
    qrels = {"q": {"US5000001B1": 2, "US5000001A": 1, "US5000002": 1}}
    run = {"q": ["US5000003B1", "US5000001B1", "US5000001A", "US5000002A"]}
    merged = score_run(run, qrels, measures=["ndcg@10", "mrr"], ignore_kind=True)
    q = merged.query("q")
    # One id per patent: the ranking keeps its best-ranked publication, the qrels the highest judgment.
    assert q.ranking == ("US5000003", "US5000001", "US5000002") and (q.relevant, q.found) == (2, 2)
    ideal = 2 + 1 / math.log2(3)
    assert q.metrics["ndcg@10"] == pytest.approx((2 / math.log2(3) + 1 / math.log2(4)) / ideal)
    assert q.metrics["mrr"] == 0.5
    assert merged.matching is not None
    assert merged.matching.ignore_kind and not merged.matching.ignore_kind_auto
    assert merged.warnings == ()
    # With kind codes: A and B1 are two judged publications, US5000002 matches nothing.
    exact = score_run(run, qrels, measures=["mrr"], ignore_kind=False)
    assert exact.query("q").ranking == tuple(run["q"]) and exact.query("q").found == 2
    assert exact.matching is not None and exact.matching.documents_retrieved == 2
    assert exact.warnings == (
        "1 of 3 judged documents are in the run only under another kind code (e.g. US5000002) and count "
        "as not found; pass ignore_kind=True (CLI: --ignore-kind) to compare publication numbers without "
        "kind codes",
    )


def test_score_run_ignores_kind_codes_when_only_that_matches_the_run(caplog) -> None:  # type: ignore[no-untyped-def]
    qrels = {"q1": {"US5000002": 1}, "q2": {"US5000004": 1}}
    run = {"q1": ["US5000001B1", "US5000002A"], "q2": ["US5000004B2"]}
    with caplog.at_level("WARNING", logger="patent_rag.search.evaluation"):
        result = score_run(run, qrels, measures=["mrr"])
    assert result.metrics["mrr"] == 0.75
    assert result.matching is not None
    assert (result.matching.documents, result.matching.documents_retrieved) == (2, 2)
    assert result.matching.ignore_kind and result.matching.ignore_kind_auto
    assert result.warnings == (
        "2 of 2 judged documents match the run only without their kind codes (e.g. US5000002, "
        "US5000004): publication numbers are compared without kind codes, so the publications of one "
        "patent (A, B1...) count as one. Pass ignore_kind=False (CLI: --no-ignore-kind) to compare "
        "them with kind codes",
    )
    assert result.warnings[0] in caplog.text
    assert score_run(run, qrels, measures=["mrr"], ignore_kind=False).metrics["mrr"] == 0.0


@pytest.fixture()
def kindless_qrels(tmp_path: Path) -> Path:
    path = tmp_path / "citations.tsv"
    path.write_text(f"US9000001\tUS8000002\t1\nUS9000001\t{LATER[:-2]}\t1\n")
    return path


def test_eval_with_qrels_without_kind_codes_compares_without_them_and_says_so(  # type: ignore[no-untyped-def]
    index, kindless_qrels, capsys, caplog
) -> None:
    screen = Console(file=io.StringIO(), width=200, color_system=None)
    options = search_options(mode="bm25", cutoff="none", top_k=20)
    common = {"index": index, "qrels": kindless_qrels, "options": options}
    with caplog.at_level("WARNING", logger="patent_rag.search.evaluation"):
        result = run_eval(**common, as_json=True, console=screen)  # type: ignore[arg-type]
    data = json.loads(capsys.readouterr().out)
    assert data["recall@100"] == 1.0 and data["queries"] == 1
    assert data["matching"] == {
        "queries": 1,
        "queries_searched": 1,
        "queries_without_kind": 1,
        "documents": 2,
        "documents_in_index": 0,
        "documents_in_index_without_kind": 2,
        "documents_retrieved": 2,
        "ignore_kind": True,
        "ignore_kind_auto": True,
    }
    assert data["warnings"][0].startswith(
        "2 of 2 judged documents match the index only without their kind codes (e.g. "
        f"US8000002 ~ US8000002B2, {LATER[:-2]} ~ {LATER}): publication numbers are compared without"
    )
    assert data["warnings"][1] == (
        "1 query ids name a patent of the index without its kind code, or with another one, and were "
        "searched as it (e.g. US9000001 ~ US9000001B2)"
    )
    assert all(warning in caplog.text for warning in result.warnings)
    given = run_eval(**common, ignore_kind=True, console=screen)  # type: ignore[arg-type]
    assert given.metrics == result.metrics and given.matching is not None
    assert given.matching.ignore_kind and not given.matching.ignore_kind_auto
    assert not any("kind codes (e.g." in warning for warning in given.warnings)
    rows = [" ".join(line.strip("│ ").split()) for line in screen.file.getvalue().splitlines()]  # type: ignore[attr-defined]
    assert "judged documents in the index │ 2 of 2" in rows and "kind codes │ ignored" in rows
    with pytest.raises(
        ConfigurationError,
        match=r"none of the 2 judged documents of the qrels is in the index at .* with its kind code, but "
        r"2 are without it \(e\.g\. US8000002 ~ US8000002B2, .*\); pass ignore_kind=True "
        r"\(CLI: --ignore-kind\)",
    ):
        run_eval(**common, ignore_kind=False, console=screen)  # type: ignore[arg-type]


def test_eval_reports_judged_documents_under_other_kinds_and_missing_ones(index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text(
        "US9000001B2\tUS8000002A1\t1\n"  # the index holds the B2
        f"US9000001B2\t{LATER}\t1\n"
        "US9000001B2\tUS1111111B2\t1\n"  # not in the index at all
    )
    judged = load_qrels(qrels)
    with PriorArtRetriever(index=index, embedding=None, mode="bm25", cutoff=None) as retriever:
        exact = evaluate(retriever, judged, top_k=20, measures=["recall@100"], ignore_kind=False)
        auto = evaluate(retriever, judged, top_k=20, measures=["recall@100"])
    assert exact.metrics["recall@100"] == pytest.approx(1 / 3)
    assert auto.metrics["recall@100"] == pytest.approx(2 / 3)
    assert exact.matching is not None and auto.matching is not None
    assert (exact.matching.documents_in_index, exact.matching.documents_in_index_without_kind) == (1, 2)
    assert not exact.matching.ignore_kind and auto.matching.ignore_kind_auto
    assert exact.warnings == (
        "1 of 3 judged documents are in the index only under another kind code (e.g. US8000002A1 ~ "
        "US8000002B2) and count as not found; pass ignore_kind=True (CLI: --ignore-kind) to compare "
        "publication numbers without kind codes",
        "1 of 3 judged documents are not in the index and count as not found",
    )
    assert auto.warnings[0].startswith("1 of 3 judged documents match the index only without their kind")
    assert auto.warnings[-1] == "1 of 3 judged documents are not in the index and count as not found"


def test_eval_refuses_qrels_that_match_nothing(index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    screen = Console(file=io.StringIO(), width=200, color_system=None)
    foreign = tmp_path / "foreign.tsv"
    foreign.write_text("US9000001B2\tUS1111111B2\t1\nUS9000001B2\tEP2222222A1\t1\n")
    with pytest.raises(
        ConfigurationError,
        match=r"none of the 2 judged documents of the qrels is in the index at .*, not even without kind "
        r"codes \(qrels: US1111111B2, EP2222222A1\); the qrels and the index must name the same patents",
    ):
        run_eval(index=index, qrels=foreign, options=search_options(mode="bm25", top_k=100), console=screen)
    unknown_queries = tmp_path / "queries.tsv"
    unknown_queries.write_text("US1234567B2\tUS8000002B2\t1\nUS7654321B2\tUS8000002B2\t1\n")
    with pytest.raises(
        ConfigurationError,
        match=r"none of the 2 queries of the qrels could be searched \(qrels queries: US1234567B2, "
        r"US7654321B2; US1234567B2: US1234567B2 is not in the index",
    ):
        run_eval(
            index=index, qrels=unknown_queries, options=search_options(mode="bm25", top_k=100), console=screen
        )
    texts = tmp_path / "texts.tsv"
    texts.write_text("t1\tbubble washing machine\n")
    with pytest.raises(
        ConfigurationError,
        match=r"none of the 2 queries of the qrels has a text in the queries file \(qrels queries: "
        r"US1234567B2, US7654321B2; queries file: t1\)",
    ):
        run_eval(
            index=index,
            qrels=unknown_queries,
            queries=texts,
            options=search_options(mode="bm25", top_k=100),
            console=screen,
        )
    empty = tmp_path / "empty.tsv"
    empty.write_text("query-id\tcorpus-id\tscore\n")
    with pytest.raises(ConfigurationError, match=r"the qrels judge no documents"):
        run_eval(index=index, qrels=empty, options=search_options(mode="bm25", top_k=100), console=screen)


def test_eval_command_ignore_kind_flags(index, kindless_qrels) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    import patent_rag.cli.commands  # noqa: F401  (registers the commands)
    from patent_rag.cli import app

    runner = CliRunner()
    common = ["eval", "--index", index, "--qrels", str(kindless_qrels), "--mode", "bm25", "--cutoff", "none"]
    result = runner.invoke(app, [*common, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["matching"]["ignore_kind_auto"] is True
    result = runner.invoke(app, common)
    assert result.exit_code == 0, result.output
    assert "ignored (automatically)" in result.output and "2 of 2" in result.output
    result = runner.invoke(app, [*common, "--ignore-kind", "--json"])
    assert result.exit_code == 0, result.output
    matching = json.loads(result.stdout)["matching"]
    assert matching["ignore_kind"] is True and matching["ignore_kind_auto"] is False
    # The operating system refusing the --per-query file: one line naming it, no traceback.
    blocker = kindless_qrels.with_name("blocker")
    blocker.write_text("")
    result = runner.invoke(app, [*common, "--per-query", str(blocker / "per_query.json")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output == f"error: {blocker / 'per_query.json'}: Not a directory\n"
    result = runner.invoke(app, [*common, "--no-ignore-kind"])
    assert result.exit_code == 1
    assert "error: none of the 2 judged documents of the qrels is in the index" in result.output
    assert "pass ignore_kind=True (CLI: --ignore-kind)" in result.output
