"""``patent-rag chart``: one claim of a patent in the index, element by element, against references.

The chart is what :meth:`~patent_rag.search.service.PatentService.chart` returns (the servers
call the same method); with ``--llm-url`` and ``--llm-model`` an LLM then judges each cell
(:func:`~patent_rag.charts.judge_chart`), labelled as model judgement. The table goes to the
console; ``--json``, ``--markdown`` and ``--html`` write the chart on stdout instead, for a file
or a memo.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal, cast

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from patent_rag.charts import ClaimChart, chart_html, chart_markdown, chart_table, judge_chart
from patent_rag.charts.judge import DEFAULT_MAX_CELLS
from patent_rag.cli import JsonOption, ModelPathOption, app, err, friendly_errors, out, print_json
from patent_rag.cli.commands import ApiKeyEnvOption, IndexModelOption, IndexOption, ModeOption
from patent_rag.errors import ConfigurationError
from patent_rag.search.options import SearchOptions
from patent_rag.search.requests import MAX_CHART_REFERENCES, MAX_CHART_TOP, ChartRequest
from patent_rag.stores.base import SearchMode

__all__ = ["Output", "run_chart"]

Output = Literal["table", "json", "markdown", "html"]


def _request(
    publication_number: str, *, claim: int, references: list[str] | None, top: int | None, mode: str | None
) -> ChartRequest:
    """The bounded request the servers take too; refused values name the option to fix."""
    options = {
        "publication_number": "PUBNO",
        "claim": "--claim",
        "references": "--refs",
        "top": "--top",
        "mode": "--mode",
    }
    numbers = [part.strip() for value in references or () for part in value.split(",") if part.strip()]
    if numbers and top is not None:
        raise ConfigurationError(
            "give --refs (the references to chart against) or --top (prior art), not both"
        )
    try:
        return ChartRequest(
            publication_number=publication_number,
            claim=claim,
            references=numbers or None,
            mode=cast(SearchMode | None, mode),
            **({} if top is None else {"top": top}),
        )
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False, include_input=False):
            field = str(item["loc"][0]) if item["loc"] else ""
            problems.append(f"{options.get(field, field)}: {item['msg'].removeprefix('Value error, ')}")
        raise ConfigurationError("; ".join(problems)) from None


def run_chart(
    publication_number: str,
    *,
    index: str,
    claim: int = 1,
    references: list[str] | None = None,
    top: int | None = None,
    mode: str | None = None,
    output: Output = "table",
    llm_url: str | None = None,
    llm_model: str | None = None,
    llm_api_key_env: str | None = None,
    max_judged: int = DEFAULT_MAX_CELLS,
    model: str | None = None,
    model_path: Path | None = None,
    index_api_key_env: str | None = None,
    console: Console,
) -> ClaimChart:
    """Chart claim ``claim`` of a patent in ``index`` and print it (``output``: a table on ``console``,
    or JSON, Markdown or HTML on stdout).

    ``references`` are publication numbers (a value may hold several, comma-separated); without
    them the patent's ``top`` (default 3) prior art is charted. With ``llm_url`` and ``llm_model``
    an LLM judges up to ``max_judged`` cells.

    Raises:
        ConfigurationError: bad values (naming the option), an LLM URL without a model or the other
            way round, a claim the patent does not have.
        PatentNotFoundError: the patent or a reference is not in the index.
        LLMError: the LLM cannot be reached or refuses.

    Example:
        >>> run_chart("US8089324B2", index="demo-index", console=Console())  # doctest: +SKIP
    """
    from patent_rag.cli.search import open_searcher
    from patent_rag.llm import ChatClient
    from patent_rag.search.service import PatentService

    request = _request(publication_number, claim=claim, references=references, top=top, mode=mode)
    if (llm_url is None) != (llm_model is None):
        raise ConfigurationError("give --llm-url and --llm-model together to have an LLM judge the cells")
    llm = (
        ChatClient(base_url=llm_url, model=llm_model, api_key_env=llm_api_key_env)
        if llm_url is not None and llm_model is not None
        else None
    )
    status = err if output != "table" else console
    what = f"charting claim {request.claim} of {request.publication_number}"
    try:
        with (
            open_searcher(
                index,
                options=SearchOptions(mode=request.mode or "hybrid"),
                model=model,
                model_path=model_path,
                index_api_key_env=index_api_key_env,
            ) as searcher,
            status.status(Text(what)),
        ):
            chart = PatentService(searcher=searcher).chart(request)
        if llm is not None:
            with status.status(Text(f"asking {llm.model} about up to {max_judged} cells")):
                chart = judge_chart(chart, llm, max_cells=max_judged)
    finally:
        if llm is not None:
            llm.close()
    if output == "json":
        print_json(chart.model_dump(mode="json"))
    elif output == "markdown":
        sys.stdout.write(chart_markdown(chart))
    elif output == "html":
        sys.stdout.write(chart_html(chart))
    else:
        console.print(chart_table(chart))
        if llm is None:
            console.print(
                Text(
                    "Add --llm-url and --llm-model to have an LLM judge each cell; --markdown or --html "
                    "for a memo.",
                    style="dim",
                )
            )
    return chart


def _output(as_json: bool, markdown: bool, as_html: bool) -> Output:
    chosen = [name for name, on in (("json", as_json), ("markdown", markdown), ("html", as_html)) if on]
    if len(chosen) > 1:
        raise ConfigurationError(f"choose one of --json, --markdown, --html (got --{' and --'.join(chosen)})")
    return chosen[0] if chosen else "table"  # type: ignore[return-value]


@app.command()
@friendly_errors
def chart(
    publication_number: Annotated[str, typer.Argument(help="A patent in the index, e.g. US8089324B2.")],
    index: IndexOption,
    claim: Annotated[int, typer.Option("--claim", "-c", help="The claim to chart.")] = 1,
    refs: Annotated[
        list[str] | None,
        typer.Option(
            "--refs",
            "--ref",
            help=f"A reference in the index to chart against (repeatable or comma-separated, at most "
            f"{MAX_CHART_REFERENCES}); default: the patent's top prior art.",
        ),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(
            "--top", help=f"Prior-art references to chart against, 1 to {MAX_CHART_TOP} (default 3)."
        ),
    ] = None,
    mode: ModeOption = "hybrid",
    as_json: JsonOption = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the chart as Markdown.")] = False,
    as_html: Annotated[
        bool, typer.Option("--html", help="Print the chart as a standalone HTML page.")
    ] = False,
    llm_url: Annotated[
        str | None,
        typer.Option("--llm-url", help="OpenAI-compatible base URL: an LLM then judges each cell."),
    ] = None,
    llm_model: Annotated[
        str | None, typer.Option("--llm-model", help="Model name the endpoint serves.")
    ] = None,
    llm_api_key_env: Annotated[
        str | None, typer.Option("--llm-api-key-env", help="Environment variable holding the LLM API key.")
    ] = None,
    max_judged: Annotated[
        int,
        typer.Option(
            "--max-judged",
            min=0,
            help="Most cells the LLM judges: found ones first, then the nearest misses.",
        ),
    ] = DEFAULT_MAX_CELLS,
    model: IndexModelOption = None,
    model_path: ModelPathOption = None,
    api_key_env: ApiKeyEnvOption = None,
) -> None:
    """Chart a claim: each element's best passage in each reference, with its location, or not found."""
    output = _output(as_json, markdown, as_html)
    run_chart(
        publication_number,
        index=index,
        claim=claim,
        references=refs,
        top=top,
        mode=mode,
        output=output,
        llm_url=llm_url,
        llm_model=llm_model,
        llm_api_key_env=llm_api_key_env,
        max_judged=max_judged,
        model=model,
        model_path=model_path,
        index_api_key_env=api_key_env,
        console=err if output != "table" else out,
    )
