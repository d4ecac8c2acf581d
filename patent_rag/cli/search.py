"""``patent-rag search``, ``prior-art``, ``ask`` and ``demo``: the work behind the commands.

The typer commands live in :mod:`patent_rag.cli.commands`; these functions do the work so they can
be called (and tested) without a command line. Tables go to the console they are given; ``as_json``
prints one JSON object on stdout instead.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any, cast, get_args

from rich.console import Console
from rich.table import Table
from rich.text import Text

from patent_rag.cli import print_json, safe_text, terminal_safe
from patent_rag.errors import ConfigurationError
from patent_rag.search import requests
from patent_rag.search.boosts import MetadataBoosts
from patent_rag.search.hits import PatentHit
from patent_rag.search.options import CutoffField, SearchMode, SearchOptions, choices
from patent_rag.search.query import merge_filters
from patent_rag.search.requests import parse_date
from patent_rag.search.searcher import PatentSearcher
from patent_rag.stores import open_store
from patent_rag.stores.base import Store
from patent_rag.stores.filters import DateRange, SearchFilter

__all__ = [
    "CUTOFFS",
    "DEMO_MODEL",
    "DEMO_PATENT",
    "build_filter",
    "hits_table",
    "open_searcher",
    "parse_date",
    "run_ask",
    "run_demo",
    "run_prior_art",
    "run_search",
    "search_options",
]

DEMO_MODEL = "all-minilm-l6-v2"
# A 2012 grant (filed 2008-12-31) on a varactor-free oscillator; the sample holds an earlier CMOS VCO
# (US7863991B1, filed 2008-10-06) that a prior-art search should rank first.
DEMO_PATENT = "US8089324B2"
# --cutoff values: the cutoff fields, and "none" for no automatic cutoff.
CUTOFFS: tuple[str, ...] = (*get_args(CutoffField), "none")
_DEFAULT = SearchOptions()
_ASK = SearchOptions(top_k=5)  # the patents an LLM reads, and the demo shows
_OPTION_LABELS = {
    "cpc": "--cpc",
    "cpc_exclude": "--not-cpc",
    "ipc": "--ipc",
    "ipc_exclude": "ipc_exclude",
    "countries": "--country",
}


def build_filter(**values: Any) -> SearchFilter:
    """:func:`patent_rag.search.requests.build_filter` with errors naming the command-line options."""
    return requests.build_filter(**values, labels=_OPTION_LABELS)


def hits_table(hits: Sequence[PatentHit], *, title: str | None = None) -> Table:
    """Rank, publication number, title, date, score and the best evidence snippet.

    Titles and evidence come from the corpus: shown as plain text, control sequences removed.
    """
    table = Table(
        title=safe_text(title) if title is not None else None,
        title_justify="left",
        show_lines=False,
        expand=False,
    )
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("publication", no_wrap=True, style="bold")
    table.add_column("title", max_width=36, overflow="fold")
    table.add_column("date", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("best evidence", max_width=70, overflow="fold")
    for hit in hits:
        day = hit.earliest_date.isoformat() if hit.earliest_date else "-"
        evidence = (
            Text.assemble(
                (f"{terminal_safe(hit.best.label)}:", "dim"), " ", terminal_safe(hit.best.snippet(160))
            )
            if hit.evidence
            else Text()
        )
        table.add_row(
            str(hit.rank),
            safe_text(hit.publication_number),
            safe_text(hit.title),
            day,
            f"{hit.score:.4f}",
            evidence,
        )
    return table


def search_options(
    *,
    mode: str = "hybrid",
    top_k: int = 10,
    cutoff: str = "priority",
    include_undated: bool = False,
    search_filter: SearchFilter | None = None,
    boost: bool = True,
) -> SearchOptions:
    """The :class:`SearchOptions` of command-line values: the one place every command builds them.

    ``cutoff`` is one of :data:`CUTOFFS` (``"none"``: no automatic cutoff); ``boost`` turns the
    default :class:`MetadataBoosts` on or off.

    Raises:
        ConfigurationError: a mode or cutoff outside its choices (listing them), a top-k below 1.
    """
    if mode not in get_args(SearchMode):
        raise ConfigurationError(f"--mode must be one of {choices(SearchMode)}, got {mode!r}")
    if cutoff not in CUTOFFS:
        raise ConfigurationError(f"--cutoff must be one of {', '.join(CUTOFFS)}, got {cutoff!r}")
    if top_k < 1:
        raise ConfigurationError(f"--top-k must be at least 1, got {top_k}")
    return SearchOptions(
        mode=cast(SearchMode, mode),
        top_k=top_k,
        cutoff=None if cutoff == "none" else cast(CutoffField, cutoff),
        include_undated=include_undated,
        filters=search_filter,
        boosts=MetadataBoosts() if boost else None,
    )


@contextlib.contextmanager
def open_searcher(
    index: str,
    *,
    options: SearchOptions,
    model: str | None = None,
    model_path: Path | None = None,
    index_api_key_env: str | None = None,
) -> Iterator[PatentSearcher]:
    """A searcher over ``index`` with the encoder it was built with (none for BM25); closed after."""
    from patent_rag.encoding.resolve import encoder_for_index

    store: Store = open_store(index, api_key_env=index_api_key_env)
    try:
        store.open()
        encoder = (
            encoder_for_index(store.metadata.fingerprint, model=model, model_path=model_path)
            if options.mode != "bm25"
            else None
        )
        yield PatentSearcher(index=store, encoder=encoder, options=options)
    finally:
        store.close()


def _payload(hits: Sequence[PatentHit], **header: Any) -> dict[str, Any]:
    return {**header, "hits": [hit.model_dump(mode="json") for hit in hits]}


def run_search(
    query: str,
    *,
    index: str,
    options: SearchOptions = _DEFAULT,
    before: date | str | None = None,
    model: str | None = None,
    model_path: Path | None = None,
    index_api_key_env: str | None = None,
    as_json: bool = False,
    console: Console,
) -> list[PatentHit]:
    """Search an index with free text; print a ranked table (or JSON).

    ``options`` come from :func:`search_options`; ``before`` keeps documents whose earliest
    priority date is strictly before it.

    Example:
        >>> run_search("low power CMOS VCO", index="my-index", console=Console())  # doctest: +SKIP
    """
    cutoff = parse_date(before)
    with open_searcher(
        index, options=options, model=model, model_path=model_path, index_api_key_env=index_api_key_env
    ) as searcher:
        hits = searcher.search(query, before=cutoff)
    if as_json:
        print_json(_payload(hits, query=query, index=index, mode=options.mode, before=cutoff))
    else:
        title = f"{len(hits)} patents for {query!r}" + (f", dated before {cutoff}" if cutoff else "")
        console.print(hits_table(hits, title=title))
    return hits


def run_prior_art(
    publication_number: str,
    *,
    index: str,
    options: SearchOptions = _DEFAULT,
    before: date | str | None = None,
    model: str | None = None,
    model_path: Path | None = None,
    index_api_key_env: str | None = None,
    as_json: bool = False,
    console: Console,
) -> list[PatentHit]:
    """Prior art for a patent in the index: its claims and abstract as queries, itself and its family
    excluded, candidates dated (the options' cutoff) strictly before its earliest priority date (or
    ``before``), rescored by the options' :class:`~patent_rag.search.boosts.MetadataBoosts`.

    Example:
        >>> run_prior_art("US8089324B2", index="my-index", console=Console())  # doctest: +SKIP
    """
    with open_searcher(
        index, options=options, model=model, model_path=model_path, index_api_key_env=index_api_key_env
    ) as searcher:
        target = searcher.patent_query(publication_number)
        day = parse_date(before) or target.earliest_date
        hits = searcher.prior_art(target.publication_number, before=day)
    _print_prior_art(hits, target.publication_number, target.title, day, options, index, as_json, console)
    return hits


def _print_prior_art(
    hits: Sequence[PatentHit],
    number: str,
    title: str,
    day: date | None,
    options: SearchOptions,
    index: str,
    as_json: bool,
    console: Console,
) -> None:
    cutoff, mode = options.cutoff or "none", options.mode
    applied = None if options.cutoff is None or day is None else day
    if as_json:
        print_json(
            _payload(hits, patent=number, title=title, index=index, mode=mode, cutoff=cutoff, before=applied)
        )
        return
    rule = f"{cutoff} date before {applied}" if applied else "no date cutoff"
    console.print(
        Text.assemble((f"Prior art for {terminal_safe(number)}", "bold"), " ", terminal_safe(title))
    )
    console.print(Text(f"{rule}; the patent itself and its family excluded; mode {mode}", style="dim"))
    console.print(hits_table(hits))


def run_ask(
    question: str,
    *,
    index: str,
    llm_url: str,
    llm_model: str,
    llm_api_key_env: str | None = None,
    options: SearchOptions = _ASK,
    before: date | str | None = None,
    model: str | None = None,
    model_path: Path | None = None,
    index_api_key_env: str | None = None,
    as_json: bool = False,
    console: Console,
) -> Any:
    """Answer a question from the index's patents with an OpenAI-compatible LLM, citing them.

    Returns the :class:`~patent_rag.llama_index.qa.PatentAnswer`; citations that do not resolve to a retrieved
    patent are removed from the answer and listed.

    Example:
        >>> run_ask("Which patents describe a CMOS VCO?", index="my-index", llm_url="http://localhost:11434/v1",
        ...         llm_model="llama3.1", console=Console())  # doctest: +SKIP
    """
    from patent_rag.llama_index.llm import OpenAICompatibleLLM
    from patent_rag.llama_index.qa import PatentQueryEngine

    if before is not None:
        # The engine searches free text only: the date limit goes into the options' filter.
        cutoff = SearchFilter(dates=(DateRange(field="earliest", before=parse_date(before)),))
        options = options.replace(filters=merge_filters(options.filters, cutoff))
    llm = OpenAICompatibleLLM(base_url=llm_url, model=llm_model, api_key_env=llm_api_key_env)
    try:
        with open_searcher(
            index, options=options, model=model, model_path=model_path, index_api_key_env=index_api_key_env
        ) as searcher:
            answer = PatentQueryEngine(retriever=searcher, llm=llm).ask(question)
    finally:
        llm.close()
    if as_json:
        print_json(answer.model_dump(mode="json"))
        return answer
    console.print(safe_text(answer.answer), highlight=False)
    if answer.unresolved_citations:
        removed = ", ".join(answer.unresolved_citations)
        console.print(safe_text(f"removed citations that match no retrieved patent: {removed}", "yellow"))
    console.print(hits_table(answer.cited_hits or answer.hits, title="Sources"))
    return answer


def run_demo(
    *, options: SearchOptions = _ASK, as_json: bool = False, console: Console, index: str | None = None
) -> list[PatentHit]:
    """Offline demo: index the packaged USPTO sample with MiniLM and show the prior art of
    :data:`DEMO_PATENT`.

    Without ``index`` the demo indexes titles, abstracts and independent claims (not descriptions)
    in a temporary Edge index, so it runs in seconds on a laptop CPU. With ``index`` (a directory)
    it indexes the full text, descriptions included, there and keeps it, for ``patent-rag chart``
    and the other commands; that takes minutes on a laptop CPU the first time, and a rerun skips
    the grants already indexed.

    Example:
        >>> run_demo(console=Console(), index="demo-index")  # doctest: +SKIP
    """
    from patent_rag.encoding.encoder import Encoder
    from patent_rag.sample import sample_files

    files = sample_files()
    with console.status("loading the MiniLM model"):
        encoder = Encoder(DEMO_MODEL)
    if index is not None:
        return _demo_full_text(index, encoder=encoder, options=options, as_json=as_json, console=console)
    from patent_rag.ingest import ingest_documents
    from patent_rag.sample import sample_documents

    documents = sample_documents()
    with tempfile.TemporaryDirectory(prefix="patent-rag-demo-") as folder:
        store = open_store(str(Path(folder) / "index"))
        try:
            with console.status(f"indexing {len(documents)} USPTO grants (abstracts and independent claims)"):
                summary = ingest_documents(documents, store=store, encoder=encoder)
            console.print(
                Text(
                    f"indexed {summary.documents} patents as {summary.chunks_written} chunks in "
                    f"{summary.seconds:.1f} s ({', '.join(f.name for f in files)}; USPTO, public domain)",
                    style="dim",
                )
            )
            searcher = PatentSearcher(index=store, encoder=encoder, options=options)
            target = searcher.patent_query(DEMO_PATENT)
            hits = searcher.prior_art(DEMO_PATENT)
        finally:
            store.close()
    _print_prior_art(hits, DEMO_PATENT, target.title, target.earliest_date, options, "demo", as_json, console)
    if not as_json:
        console.print(
            "[dim]Your own data: patent-rag ingest FILES --index DIR --model patembed-base, then "
            "patent-rag prior-art PUBNO --index DIR. Claim charts: patent-rag demo --index DIR keeps a "
            "full-text demo index, then patent-rag chart "
            f"{DEMO_PATENT} --index DIR[/]"
        )
    return hits


def _demo_full_text(
    index: str, *, encoder: Any, options: SearchOptions, as_json: bool, console: Console
) -> list[PatentHit]:
    """The demo over a kept index of the sample's full text (descriptions included)."""
    from patent_rag.cli.ingest import run_ingest
    from patent_rag.sample import sample_files

    console.print(
        Text(
            f"indexing the full text of the USPTO sample into {terminal_safe(index)} (descriptions "
            "included: a few minutes on a laptop CPU the first time; a rerun skips what is indexed)",
            style="dim",
        )
    )
    run_ingest(sample_files(), index=index, console=console, encoder=encoder)
    store = open_store(index)
    try:
        store.open()
        searcher = PatentSearcher(index=store, encoder=encoder, options=options)
        target = searcher.patent_query(DEMO_PATENT)
        hits = searcher.prior_art(DEMO_PATENT)
    finally:
        store.close()
    _print_prior_art(hits, DEMO_PATENT, target.title, target.earliest_date, options, index, as_json, console)
    if not as_json:
        console.print(
            Text.assemble(
                ("Chart its first claim against this prior art: ", "dim"),
                (f"patent-rag chart {DEMO_PATENT} --index {terminal_safe(index)}", "bold"),
            )
        )
    return hits
