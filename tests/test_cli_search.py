"""The search CLI: ``run_search``, ``run_prior_art``, ``run_ask``, ``run_demo`` (table and JSON output),
and the typer commands once they are registered."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console

from patent_rag.cli.search import (
    DEMO_PATENT,
    build_filter,
    parse_date,
    run_ask,
    run_demo,
    run_prior_art,
    run_search,
    search_options,
)
from patent_rag.errors import ConfigurationError, IndexNotFoundError
from patent_rag.ingest import ingest_documents
from patent_rag.stores import open_store
from tests.test_qa import llm_server  # noqa: F401  (fixture)
from tests.test_retriever import dated_records, sample_documents


@pytest.fixture(scope="module")
def index(minilm_encoder, tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """An Edge index made by the real ingestion pipeline, closed so the CLI can open it."""
    location = str(tmp_path_factory.mktemp("cli") / "index")
    store = open_store(location)
    ingest_documents(sample_documents()[:8] + dated_records(), store=store, encoder=minilm_encoder)
    store.close()
    yield location


def console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=220, color_system=None, force_terminal=False), buffer


def test_search_table(index) -> None:  # type: ignore[no-untyped-def]
    screen, buffer = console()
    hits = run_search("low jitter ring VCO", index=index, options=search_options(top_k=3), console=screen)
    text = buffer.getvalue()
    for column in ("#", "publication", "title", "date", "score", "best evidence"):
        assert column in text
    assert hits[0].publication_number == "US7863991B1"
    first_row = next(line for line in text.splitlines() if "US7863991B1" in line)
    assert first_row.split("│")[1].strip() == "1" and "2008-10-06" in first_row
    assert "3 patents for 'low jitter ring VCO'" in text


def test_search_json_with_filters(index, capsys) -> None:  # type: ignore[no-untyped-def]
    screen, buffer = console()
    flt = build_filter(cpc=["H03"], cpc_exclude=["H03K3"])
    run_search(
        "oscillator",
        index=index,
        options=search_options(mode="dense", search_filter=flt),
        before="2009-01-01",
        as_json=True,
        console=screen,
    )
    data = json.loads(capsys.readouterr().out)
    assert buffer.getvalue() == ""
    assert data["query"] == "oscillator" and data["mode"] == "dense" and data["before"] == "2009-01-01"
    assert {hit["publication_number"] for hit in data["hits"]} == {"US1000003B2", "US1000005B2"}
    top = data["hits"][0]
    assert top["rank"] == 1 and top["evidence"][0]["section"] in ("abstract", "claim", "title")
    assert set(top) >= {
        "publication_number",
        "title",
        "priority_date",
        "filing_date",
        "score",
        "cpc",
        "evidence",
    }


def test_prior_art_table_and_json(index, capsys) -> None:  # type: ignore[no-untyped-def]
    screen, buffer = console()
    hits = run_prior_art("US8089324B2", index=index, options=search_options(top_k=4), console=screen)
    text = buffer.getvalue()
    assert "Prior art for US8089324B2" in text and "priority date before 2008-12-31" in text
    # The two real VCOs filed before the query; the boosts may put a synthetic oscillator published
    # months after the query's filing between them.
    assert {"US7863991B1", "US7315219B2"} <= {hit.publication_number for hit in hits[:3]}
    run_prior_art("US8089324", index=index, options=search_options(top_k=4), as_json=True, console=screen)
    data = json.loads(capsys.readouterr().out)
    assert data["patent"] == "US8089324B2" and data["before"] == "2008-12-31" and data["cutoff"] == "priority"
    assert all(hit["publication_number"] != "US8089324B2" for hit in data["hits"])
    assert all(
        date.fromisoformat(hit["priority_date"] or hit["filing_date"]) < date(2008, 12, 31)
        for hit in data["hits"]
    )


def test_prior_art_without_cutoff_and_with_bm25(index, capsys) -> None:  # type: ignore[no-untyped-def]
    screen, _ = console()
    run_prior_art(
        "US1000002B2",
        index=index,
        options=search_options(top_k=10, cutoff="none", mode="bm25"),
        as_json=True,
        console=screen,
    )
    data = json.loads(capsys.readouterr().out)
    assert data["before"] is None
    later = [hit for hit in data["hits"] if hit["publication_number"] == "US1000003B2"]
    assert later  # filed 2008-12-30, kept: no cutoff
    with pytest.raises(
        ConfigurationError, match="--cutoff must be one of priority, filing, publication, none"
    ):
        run_prior_art("US1000002B2", index=index, options=search_options(cutoff="grant"), console=screen)


def test_ask_answers_with_checked_citations(index, llm_server, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test-123")
    screen, buffer = console()
    answer = run_ask(
        "Which patents describe a low jitter VCO?",
        index=index,
        llm_url=llm_server,
        llm_model="tiny-llm",
        llm_api_key_env="TEST_LLM_KEY",
        options=search_options(top_k=5),
        console=screen,
    )
    text = buffer.getvalue()
    assert answer.citations == ["US7863991B1"]
    assert "Known: [US7863991B1]." in text
    assert "removed citations that match no retrieved patent: US4242424B2" in text
    assert "Sources" in text and "sk-test" not in text
    run_ask(
        "low jitter VCO",
        index=index,
        llm_url=llm_server,
        llm_model="tiny-llm",
        llm_api_key_env="TEST_LLM_KEY",
        before=date(2008, 1, 1),
        as_json=True,
        console=screen,
    )
    data = json.loads(capsys.readouterr().out)
    assert data["unresolved_citations"] == ["US7863991B1", "US4242424B2"]  # filed 2008: not retrieved
    assert all(hit["publication_number"] != "US7863991B1" for hit in data["hits"])


def test_errors_say_what_works(tmp_path: Path) -> None:
    screen, _ = console()
    with pytest.raises(
        IndexNotFoundError, match=r"no patent_rag index at .*; create one with `patent-rag ingest"
    ):
        run_search("x", index=str(tmp_path / "missing"), console=screen)
    with pytest.raises(
        ConfigurationError, match=r"dates are written YYYY-MM-DD, e\.g\. 2010-01-31; got '31/01/2010'"
    ):
        parse_date("31/01/2010")
    assert parse_date("2010-01-31") == date(2010, 1, 31)


def test_typer_commands_when_registered(index) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    import patent_rag.cli.commands  # noqa: F401  (registers the commands)
    from patent_rag.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["search", "low jitter ring VCO", "--index", index, "--top-k", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["hits"][0]["publication_number"] == "US7863991B1"
    result = runner.invoke(app, ["prior-art", "US8089324B2", "--index", index, "--top-k", "3"])
    assert result.exit_code == 0, result.output
    assert "Prior art for US8089324B2" in result.output and "US7863991B1" in result.output
    scores = {}
    for flag in ("--boost", "--no-boost"):
        result = runner.invoke(app, ["prior-art", "US8089324B2", "--index", index, flag, "--json"])
        assert result.exit_code == 0, result.output
        scores[flag] = [hit["score"] for hit in json.loads(result.stdout)["hits"]]
    # Boosted scores are rescaled retrieval scores plus the bibliographic terms: never the raw ones.
    assert scores["--boost"] != scores["--no-boost"]
    result = runner.invoke(app, ["search", "oscillator", "--index", index, "--uspc", "257", "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["hits"]
    assert {"US1000002B2", "US1000007B2"} <= {hit["publication_number"] for hit in hits}
    assert all(any(code.startswith("257/") for code in hit["uspc"]) for hit in hits)
    result = runner.invoke(app, ["search", "oscillator", "--index", index, "--uspc", "25.7"])
    assert result.exit_code != 0 and "not a USPC class" in result.output


@pytest.mark.slow
def test_demo_runs_offline_and_finds_the_vcos(capsys) -> None:  # type: ignore[no-untyped-def]
    screen, buffer = console()
    hits = run_demo(console=screen)
    text = buffer.getvalue()
    assert f"Prior art for {DEMO_PATENT}" in text and "indexed 75 patents" in text
    # The two real VCOs filed before the query; the boosts may put a synthetic oscillator published
    # months after the query's filing between them.
    assert {"US7863991B1", "US7315219B2"} <= {hit.publication_number for hit in hits[:3]}


def test_classification_and_country_filters_are_checked(index) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    import patent_rag.cli.commands  # noqa: F401  (registers the commands)
    from patent_rag.cli import app

    flt = build_filter(
        cpc=["g06f"], cpc_exclude=["G06F 16/30"], ipc=["H04W0052/02", "H", "H04"], countries=["us"]
    )
    assert (flt.cpc, flt.cpc_exclude, flt.ipc, flt.countries) == (
        ("G06F",),
        ("G06F16/30",),
        ("H04W52/02", "H", "H04"),
        ("US",),
    )
    shape = (
        "give a section, class, subclass, main group or full symbol, e.g. G, G06, G06F, G06F16 or G06F16/30"
    )
    for bad in ("G6F", "G06F16/", "G06F/30", "software", "G06F16/30x"):
        with pytest.raises(
            ConfigurationError, match=rf"--cpc '{re.escape(bad)}' is not a CPC/IPC symbol or prefix; {shape}"
        ):
            build_filter(cpc=[bad])
    with pytest.raises(ConfigurationError, match=r"--ipc 'H4W' is not a CPC/IPC symbol or prefix"):
        build_filter(ipc=["H4W"])
    for bad in ("USA", "U", "1X"):
        with pytest.raises(
            ConfigurationError,
            match=rf"--country '{bad}' is not a two-letter country code; e\.g\. US, EP, WO, JP",
        ):
            build_filter(countries=[bad])
    runner = CliRunner()
    for option, value, message in (
        ("--cpc", "G06", None),
        ("--not-cpc", "G6F", "error: --not-cpc 'G6F' is not a CPC/IPC symbol or prefix"),
        ("--country", "USA", "error: --country 'USA' is not a two-letter country code"),
    ):
        result = runner.invoke(
            app, ["search", "oscillator", "--index", index, "--mode", "bm25", option, value]
        )
        if message is None:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code == 1 and message in result.output, result.output
