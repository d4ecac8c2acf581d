"""``patent-rag chart`` over the sample index (its US8089324B2 holds description paragraphs, the others
abstracts and independent claims): the table, JSON, Markdown and HTML outputs, the LLM judgement,
and one-line errors for everything a user can get wrong."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import patent_rag.cli.chart  # registers the command
import patent_rag.encoding.resolve
from patent_rag.charts import ClaimChart
from patent_rag.cli import app
from tests.server_support import FULL_TEXT_PATENT, LLMScript, StubLLM, copy_index

PATENT = "US7863991B1"  # charted against FULL_TEXT_PATENT, the one reference with its description
PARAGRAPH = re.compile(r"^description ¶\d+$")


@pytest.fixture(scope="module")
def index(sample_index_template: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(copy_index(sample_index_template, tmp_path_factory.mktemp("cli-chart")))


@pytest.fixture(autouse=True)
def loaded_model(minilm_encoder: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The index's own model, loaded once per session rather than once per command."""
    monkeypatch.setattr(patent_rag.encoding.resolve, "encoder_for_index", lambda *a, **k: minilm_encoder)
    yield


def chart(*arguments: str) -> Any:
    return CliRunner().invoke(app, ["chart", *arguments])


def one_line_error(result: Any, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


def test_json_is_the_chart_with_paragraph_locations_and_model_judgements(index: str) -> None:
    verdict = json.dumps({"verdict": "partly", "reason": "It mentions an oscillator."})
    script = LLMScript(reply=lambda message: [verdict])
    with StubLLM(script) as stub:
        result = chart(
            PATENT, "--index", index, "--refs", FULL_TEXT_PATENT, "--json",
            "--llm-url", stub.url, "--llm-model", "stub", "--max-judged", "2",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    parsed = ClaimChart.model_validate(data)
    assert data == parsed.model_dump(mode="json")
    assert parsed.publication_number == PATENT and parsed.claim.number == 1
    assert [ref.publication_number for ref in parsed.references] == [FULL_TEXT_PATENT]
    assert parsed.references[0].full_text is True
    labels = [element.label for element in parsed.claim.elements]
    assert labels[0] == "1[pre]" and len(parsed.cells) == len(labels)
    paragraphs = [cell for cell in parsed.cells if cell.location.section == "description"]
    assert paragraphs and all(PARAGRAPH.match(cell.location.label) for cell in paragraphs)
    assert all(cell.found == (cell.score >= parsed.threshold) for cell in parsed.cells)
    judged = [cell.judgement for cell in parsed.cells if cell.judgement is not None]
    assert len(script.requests) == len(judged) == 2
    assert all(j.verdict == "partly" and j.model == "stub" and j.kind == "model judgement" for j in judged)
    assert any("cells not judged (at most 2" in note for note in parsed.notes)


def test_table_of_the_top_prior_art_flags_references_without_description(index: str) -> None:
    result = chart(FULL_TEXT_PATENT, "--index", index, "--top", "2")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert f"Claim 1 of {FULL_TEXT_PATENT}" in text and "coverage" in text
    assert "abstract and claims only" in text and re.search(r"\d of \d+ elements found", text)
    assert "--llm-url" in text  # says how to get a model judgement


@pytest.mark.slow  # one more chart of the index (seconds); the page itself is tested in test_chart_render
def test_html_goes_to_stdout(index: str) -> None:
    result = chart(PATENT, "--index", index, "--ref", FULL_TEXT_PATENT, "--html")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!DOCTYPE html>") and result.stdout.rstrip().endswith("</html>")
    assert FULL_TEXT_PATENT in result.stdout and "description ¶" in result.stdout


BAD = [
    (["--claim", "0"], ["--claim: Input should be greater than or equal to 1"]),
    (["--claim", "99"], ["claim 99"]),
    (["--top", "11"], ["--top: Input should be less than or equal to 10"]),
    (["--refs", ",".join(f"US{7000000 + n}B1" for n in range(11))], ["--refs: List should have at most 10"]),
    (["--refs", FULL_TEXT_PATENT, "--top", "2"], ["--refs", "--top", "not both"]),
    (["--json", "--html"], ["choose one of --json, --markdown, --html"]),
    (["--llm-url", "http://localhost:9/v1"], ["--llm-url and --llm-model together"]),
    (["--refs", "US1234567B2"], ["US1234567B2", "not in the index"]),
    (["--mode", "fuzzy"], ["mode"]),
]


@pytest.mark.parametrize(("arguments", "fragments"), BAD)
def test_bad_values_are_one_line_errors(index: str, arguments: list[str], fragments: list[str]) -> None:
    one_line_error(chart(PATENT, "--index", index, *arguments), *fragments)


def test_an_unknown_patent_or_index_is_one_line(index: str, tmp_path: Path) -> None:
    one_line_error(chart("US1234567B2", "--index", index), "US1234567B2")
    one_line_error(chart(PATENT, "--index", str(tmp_path / "nothing")))


@pytest.mark.slow
def test_demo_keeps_a_full_text_index_that_chart_reads(tmp_path: Path) -> None:
    """The README's path: ``patent-rag demo --index DIR`` then ``patent-rag chart US8089324B2 --index DIR``
    (minutes: the sample's full text is embedded)."""
    import patent_rag.cli.commands  # noqa: F401  (registers demo)

    location = str(tmp_path / "demo")
    demo = CliRunner().invoke(app, ["demo", "--index", location])
    assert demo.exit_code == 0, demo.output
    assert "patent-rag chart US8089324B2 --index" in " ".join(demo.output.split())
    result = chart("US8089324B2", "--index", location, "--json")
    assert result.exit_code == 0, result.output
    parsed = ClaimChart.model_validate_json(result.stdout)
    assert len(parsed.references) == 3 and all(ref.full_text for ref in parsed.references)
    assert any(cell.location.section == "description" for cell in parsed.cells)
    assert any(cell.found for cell in parsed.cells) and any(not cell.found for cell in parsed.cells)
