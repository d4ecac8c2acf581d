"""``patent-rag eval``: score an index's retrieval against qrels (the work behind the command).

The typer command lives in :mod:`patent_rag.cli.commands`; :func:`run_eval` does the work so it
can be called and tested without a command line.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from patent_rag.cli import print_json, safe_text
from patent_rag.cli.search import open_searcher
from patent_rag.search.evaluation import (
    DEFAULT_MEASURES,
    EvaluationResult,
    evaluate,
    load_qrels,
    load_queries,
)
from patent_rag.search.options import SearchOptions

__all__ = ["result_table", "run_eval"]

_DEFAULT = SearchOptions(top_k=100)  # patents per query: deep enough for recall@100


def result_table(result: EvaluationResult, *, title: str | None = None) -> Table:
    """One row per measure, the number of queries scored and skipped, then how the qrels' ids
    matched the index and the run."""
    table = Table(title=safe_text(title) if title is not None else None, title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in result.metrics.items():
        table.add_row(name, f"{value:.4f}")
    table.add_row("queries", str(result.queries))
    if result.skipped:
        table.add_row("skipped", str(len(result.skipped)))
    match = result.matching
    if match is not None:
        if match.documents_in_index is not None:
            held = match.documents_in_index
            if match.ignore_kind and match.documents_in_index_without_kind is not None:
                held = match.documents_in_index_without_kind
            table.add_row("judged documents in the index", f"{held} of {match.documents}")
        table.add_row("judged documents in any ranking", f"{match.documents_retrieved} of {match.documents}")
        if match.ignore_kind:
            table.add_row("kind codes", "ignored (automatically)" if match.ignore_kind_auto else "ignored")
    return table


def run_eval(
    *,
    index: str,
    qrels: Path,
    queries: Path | None = None,
    options: SearchOptions = _DEFAULT,
    measures: Sequence[str] = DEFAULT_MEASURES,
    ignore_kind: bool | None = None,
    per_query: Path | None = None,
    model: str | None = None,
    model_path: Path | None = None,
    index_api_key_env: str | None = None,
    as_json: bool = False,
    console: Console,
) -> EvaluationResult:
    """Evaluate retrieval from ``index`` against ``qrels``; print a table (or one JSON object).

    ``options`` come from :func:`~patent_rag.cli.search.search_options`; their ``top_k`` is the
    depth of each ranking. Without ``queries`` the qrels' query ids are publication numbers in the
    index, each searched as a prior-art query by patent (itself excluded, the options' cutoff
    applied).
    With ``queries`` (TSV ``id<TAB>text`` or BEIR JSONL) each is a free-text search. The JSON object
    holds every measure (``"ndcg@10"``, ``"recall@100"``, ``"map"``, ``"mrr"`` by default),
    ``"queries"`` (the number scored), ``"skipped"`` (id -> reason) and ``"settings"``.
    ``per_query`` saves each query's metrics and ranking (``.json``) or metrics (``.tsv``).
    ``ignore_kind`` compares publication numbers without kind codes (True), with them (False), or
    without them when the qrels match the index only that way (None); ``"matching"`` counts the
    judged ids found in the index and the run, ``"warnings"`` says what the figures leave out.

    Example:
        >>> run_eval(index="idx", qrels=Path("qrels.tsv"), as_json=True, console=Console())  # doctest: +SKIP
    """
    judged = load_qrels(qrels)  # kind codes as written: evaluate() compares with or without them
    texts = load_queries(queries) if queries is not None else None
    with open_searcher(
        index, options=options, model=model, model_path=model_path, index_api_key_env=index_api_key_env
    ) as searcher:
        # No spinner with --json: stdout carries exactly one JSON object.
        status = contextlib.nullcontext() if as_json else console.status(f"evaluating {len(judged)} queries")
        with status:
            result = evaluate(
                searcher,
                judged,
                queries=texts,
                top_k=options.top_k,
                measures=measures,
                ignore_kind=ignore_kind,
            )
    cutoff = options.cutoff or "none"
    boost = options.boosts is not None
    settings = {**result.settings, "index": index, "qrels": str(qrels), "cutoff": cutoff, "boost": boost}
    result = dataclasses.replace(result, settings=settings)
    if per_query is not None:
        result.save(per_query)
    if as_json:
        print_json(result.as_dict())
    else:
        what = f"free-text queries from {queries}" if queries else f"patents as queries, {cutoff} cutoff"
        console.print(result_table(result, title=f"{index}: {options.mode}, {what}"))
        for query, reason in list(result.skipped.items())[:5]:
            console.print(safe_text(f"skipped {query}: ", "yellow") + safe_text(reason), highlight=False)
    return result
