"""Typer commands that delegate to one module each (parse, ingest, search, evaluate).

Options shared by several commands are declared once here; the work lives in ``run_*`` functions
that tests call directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from patent_rag.cli import JsonOption, ModelPathOption, app, err, friendly_errors, out
from patent_rag.cli.search import CUTOFFS, search_options
from patent_rag.documents.parsers import FORMATS as PARSED_FORMATS
from patent_rag.errors import ConfigurationError
from patent_rag.search.options import SearchMode, choices

if TYPE_CHECKING:
    from patent_rag.stores import SearchFilter

__all__: list[str] = []

FORMATS = ("auto", *PARSED_FORMATS)

IndexOption = Annotated[
    str,
    typer.Option(
        "--index", "-i", help="A directory (embedded Qdrant Edge), qdrant-local:PATH, or an http(s):// URL."
    ),
]
IndexModelOption = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Model profile; default: the one the index was built with."),
]
ApiKeyEnvOption = Annotated[
    str | None, typer.Option("--api-key-env", help="Environment variable holding the Qdrant server API key.")
]
TopKOption = Annotated[int, typer.Option("--top-k", "-k", min=1, help="Patents to return.")]
ModeOption = Annotated[
    str,
    typer.Option("--mode", help=f"One of {choices(SearchMode)} (hybrid: BM25 + dense, score-based fusion)."),
]
BeforeOption = Annotated[
    str | None, typer.Option("--before", help="Keep patents whose priority date is before YYYY-MM-DD.")
]
CpcOption = Annotated[list[str] | None, typer.Option("--cpc", help="CPC prefix to keep (repeatable).")]
CpcExcludeOption = Annotated[
    list[str] | None, typer.Option("--not-cpc", help="CPC prefix to exclude (repeatable).")
]
IpcOption = Annotated[list[str] | None, typer.Option("--ipc", help="IPC prefix to keep (repeatable).")]
UspcOption = Annotated[
    list[str] | None, typer.Option("--uspc", help="US class or class/subclass to keep (repeatable).")
]
BoostOption = Annotated[
    bool,
    typer.Option(
        "--boost/--no-boost",
        help="Patent queries: add a classified search (the query's own USPC/CPC symbols) and rescore "
        "by shared classification, assignee, inventor and date proximity.",
    ),
]
CountryOption = Annotated[
    list[str] | None, typer.Option("--country", help="Country code to keep (repeatable).")
]


def _console(as_json: bool) -> Console:
    # With --json, stdout carries exactly one JSON document; status lines go to stderr.
    return err if as_json else out


def _filter(
    *,
    cpc: list[str] | None,
    not_cpc: list[str] | None = None,
    ipc: list[str] | None = None,
    uspc: list[str] | None = None,
    country: list[str] | None = None,
) -> SearchFilter:
    from patent_rag.cli.search import build_filter

    return build_filter(
        cpc=cpc or (), cpc_exclude=not_cpc or (), ipc=ipc or (), uspc=uspc or (), countries=country or ()
    )


MaxDocumentMbOption = Annotated[
    int,
    typer.Option(
        "--max-document-mb",
        min=1,
        help="Refuse, unread, any one document (XML document, JSONL line, CSV row) larger than this "
        "many MiB; guards against decompression bombs.",
    ),
]


@app.command()
@friendly_errors
def parse(
    files: Annotated[list[Path], typer.Argument(help="USPTO/EPO XML (also .gz/.zip), JSONL or CSV files.")],
    format: Annotated[str, typer.Option("--format", "-f", help=f"One of {', '.join(FORMATS)}.")] = "auto",
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write JSONL records here (default: stdout).")
    ] = None,
    csv_mapping: Annotated[
        Path | None, typer.Option("--csv-mapping", help="JSON file mapping record fields to CSV columns.")
    ] = None,
    max_document_mb: MaxDocumentMbOption = 256,
) -> None:
    """Convert patent files into the JSONL record format and print a read/skipped/rejected summary."""
    from patent_rag.cli.parse import run_parse

    if format not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    run_parse(
        files,
        format=format,
        out=out_file,
        csv_mapping_file=csv_mapping,
        console=err,
        max_document_bytes=max_document_mb << 20,
    )


_SERVER = "Qdrant server collections (applied when the ingest creates one)"
_RAY = "Distributed ingestion on Ray"


@app.command()
@friendly_errors
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Patent files to index (any format `parse` reads).")],
    index: IndexOption,
    model: IndexModelOption = None,
    model_path: ModelPathOption = None,
    task: Annotated[
        str | None,
        typer.Option(help="Task whose document prompt the index is built with (default: the model's)."),
    ] = None,
    batch_tokens: Annotated[
        int | None,
        typer.Option(
            "--batch-tokens",
            min=1,
            help="Padded tokens per forward pass (default on CPU: 4096 at hidden size 1024, 8192 at 384; "
            "32768 on CUDA).",
        ),
    ] = None,
    max_document_mb: MaxDocumentMbOption = 256,
    api_key_env: ApiKeyEnvOption = None,
    shards: Annotated[
        int | None,
        typer.Option(
            "--shards",
            min=1,
            help="Shards (default: 2-4 per node, sized; else the server's).",
            rich_help_panel=_SERVER,
        ),
    ] = None,
    replicas: Annotated[
        int | None,
        typer.Option(
            "--replicas",
            min=1,
            help="Copies of each shard (default: 2 on 2+ nodes).",
            rich_help_panel=_SERVER,
        ),
    ] = None,
    write_consistency: Annotated[
        int | None,
        typer.Option(
            "--write-consistency",
            min=1,
            help="Replicas that acknowledge a write (default: 1).",
            rich_help_panel=_SERVER,
        ),
    ] = None,
    on_disk: Annotated[
        bool | None,
        typer.Option(
            "--on-disk/--in-ram",
            help="Dense vectors and BM25 index on disk (default: sized from --expected-patents).",
            rich_help_panel=_SERVER,
        ),
    ] = None,
    payload_on_disk: Annotated[
        bool | None,
        typer.Option(
            "--payload-on-disk/--payload-in-ram", help="Where the payload lives.", rich_help_panel=_SERVER
        ),
    ] = None,
    quantization: Annotated[
        str | None,
        typer.Option("--quantization", help="int8 (scalar, kept in RAM) or none.", rich_help_panel=_SERVER),
    ] = None,
    expected_patents: Annotated[
        int | None,
        typer.Option(
            "--expected-patents", min=1, help="Corpus to size the defaults for.", rich_help_panel=_SERVER
        ),
    ] = None,
    nodes: Annotated[
        int | None,
        typer.Option("--nodes", min=1, help="Qdrant nodes in the cluster.", rich_help_panel=_SERVER),
    ] = None,
    ram_gib: Annotated[
        float | None,
        typer.Option(
            "--ram-gib",
            min=1,
            help="RAM per node in GiB, for the sizing (default 64).",
            rich_help_panel=_SERVER,
        ),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Parse, chunk and embed on Ray workers: local (start a cluster here), auto (the cluster "
            "`ray start` runs here) or ray://HOST:10001.",
            rich_help_panel=_RAY,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=1, help="Ray workers (default: as the cluster allows).", rich_help_panel=_RAY
        ),
    ] = None,
    worker_cpus: Annotated[
        float, typer.Option("--worker-cpus", min=0.1, help="CPUs per Ray worker.", rich_help_panel=_RAY)
    ] = 1.0,
    worker_gpus: Annotated[
        float | None,
        typer.Option(
            "--worker-gpus",
            min=0,
            help="GPUs per Ray worker (default: 1 if the cluster has GPUs).",
            rich_help_panel=_RAY,
        ),
    ] = None,
) -> None:
    """Parse, chunk, embed and write patents into an index; re-running skips what is unchanged.

    The server options shape a new Qdrant server collection (an existing one keeps its own); they
    are refused for an embedded index. With --ray, workers on a Ray cluster parse, chunk and embed
    (each node reads the files and the model at the same paths); the index is the one a local run
    builds.
    """
    from patent_rag.cli.ingest import run_ingest
    from patent_rag.distributed.spec import RayOptions
    from patent_rag.stores.cluster import ClusterSettings

    if ray is None and (workers is not None or worker_gpus is not None or worker_cpus != 1.0):
        raise ConfigurationError("--workers, --worker-cpus and --worker-gpus apply with --ray ADDRESS only")

    run_ingest(
        files,
        index=index,
        console=err,
        model=model,
        model_path=model_path,
        task=task,
        batch_tokens=batch_tokens,
        max_document_bytes=max_document_mb << 20,
        api_key_env=api_key_env,
        cluster=ClusterSettings(
            shard_number=shards,
            replication_factor=replicas,
            write_consistency_factor=write_consistency,
            on_disk=on_disk,
            on_disk_payload=payload_on_disk,
            quantization=quantization,  # type: ignore[arg-type]  # checked by ClusterSettings
            expected_patents=expected_patents,
            nodes=nodes,
            ram_per_node_gib=ram_gib,
        ),
        ray=RayOptions(address=ray, workers=workers, cpus_per_worker=worker_cpus, gpus_per_worker=worker_gpus)
        if ray is not None
        else None,
    )


@app.command()
@friendly_errors
def info(index: IndexOption, api_key_env: ApiKeyEnvOption = None, as_json: JsonOption = False) -> None:
    """Show an index: backend, patents, chunks and the encoder fingerprint."""
    from patent_rag.cli.ingest import run_info

    run_info(index, console=_console(as_json), api_key_env=api_key_env, as_json=as_json)


@app.command()
@friendly_errors
def search(
    query: Annotated[str, typer.Argument(help="Free-text query.")],
    index: IndexOption,
    top_k: TopKOption = 10,
    mode: ModeOption = "hybrid",
    before: BeforeOption = None,
    cpc: CpcOption = None,
    not_cpc: CpcExcludeOption = None,
    ipc: IpcOption = None,
    uspc: UspcOption = None,
    country: CountryOption = None,
    model: IndexModelOption = None,
    model_path: ModelPathOption = None,
    api_key_env: ApiKeyEnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rank patents for a free-text query: one row per patent with its best evidence."""
    from patent_rag.cli.search import run_search

    search_filter = _filter(cpc=cpc, not_cpc=not_cpc, ipc=ipc, uspc=uspc, country=country)
    run_search(
        query,
        index=index,
        options=search_options(mode=mode, top_k=top_k, search_filter=search_filter),
        before=before,
        model=model,
        model_path=model_path,
        index_api_key_env=api_key_env,
        as_json=as_json,
        console=_console(as_json),
    )


@app.command("prior-art")
@friendly_errors
def prior_art(
    publication_number: Annotated[str, typer.Argument(help="A patent in the index, e.g. US8089324B2.")],
    index: IndexOption,
    top_k: TopKOption = 10,
    mode: ModeOption = "hybrid",
    cutoff: Annotated[
        str,
        typer.Option("--cutoff", help=f"Date compared with the query's priority: {'|'.join(CUTOFFS)}."),
    ] = "priority",
    before: BeforeOption = None,
    cpc: CpcOption = None,
    not_cpc: CpcExcludeOption = None,
    ipc: IpcOption = None,
    uspc: UspcOption = None,
    country: CountryOption = None,
    boost: BoostOption = True,
    model: IndexModelOption = None,
    model_path: ModelPathOption = None,
    api_key_env: ApiKeyEnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Prior art for an indexed patent: itself and its family excluded, cut off at its priority date."""
    from patent_rag.cli.search import run_prior_art

    search_filter = _filter(cpc=cpc, not_cpc=not_cpc, ipc=ipc, uspc=uspc, country=country)
    run_prior_art(
        publication_number,
        index=index,
        options=search_options(
            mode=mode, top_k=top_k, cutoff=cutoff, search_filter=search_filter, boost=boost
        ),
        before=before,
        model=model,
        model_path=model_path,
        index_api_key_env=api_key_env,
        as_json=as_json,
        console=_console(as_json),
    )


@app.command()
@friendly_errors
def ask(
    question: Annotated[str, typer.Argument(help="A question about the indexed patents.")],
    index: IndexOption,
    llm_url: Annotated[
        str, typer.Option("--llm-url", help="OpenAI-compatible base URL, e.g. http://localhost:11434/v1")
    ],
    llm_model: Annotated[str, typer.Option("--llm-model", help="Model name the endpoint serves.")],
    llm_api_key_env: Annotated[
        str | None, typer.Option("--llm-api-key-env", help="Environment variable holding the LLM API key.")
    ] = None,
    top_k: TopKOption = 5,
    mode: ModeOption = "hybrid",
    before: BeforeOption = None,
    cpc: CpcOption = None,
    model: IndexModelOption = None,
    model_path: ModelPathOption = None,
    api_key_env: ApiKeyEnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a question from retrieved patents, citing publication numbers like [US8613112B2]."""
    from patent_rag.cli.search import run_ask

    run_ask(
        question,
        index=index,
        llm_url=llm_url,
        llm_model=llm_model,
        llm_api_key_env=llm_api_key_env,
        options=search_options(mode=mode, top_k=top_k, search_filter=_filter(cpc=cpc)),
        before=before,
        model=model,
        model_path=model_path,
        index_api_key_env=api_key_env,
        as_json=as_json,
        console=_console(as_json),
    )


@app.command()
@friendly_errors
def demo(
    top_k: TopKOption = 5,
    mode: ModeOption = "hybrid",
    index: Annotated[
        str | None,
        typer.Option(
            "--index",
            "-i",
            help="Keep the demo index in this directory, with the full text (descriptions included: "
            "minutes on a laptop CPU), for patent-rag chart and the other commands.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Offline demo: index the packaged USPTO sample with MiniLM and run a prior-art search."""
    from patent_rag.cli.search import run_demo

    run_demo(
        options=search_options(mode=mode, top_k=top_k),
        as_json=as_json,
        console=_console(as_json),
        index=index,
    )


@app.command("eval")
@friendly_errors
def evaluate(
    index: IndexOption,
    qrels: Annotated[Path, typer.Option("--qrels", help="BEIR TSV: query-id, corpus-id, score.")],
    queries: Annotated[
        Path | None,
        typer.Option(
            "--queries", help="Free-text queries (TSV id<TAB>text or JSONL); default: qrels ids as patents."
        ),
    ] = None,
    mode: ModeOption = "hybrid",
    cutoff: Annotated[
        str,
        typer.Option("--cutoff", help=f"Prior-art cutoff for patent queries: {'|'.join(CUTOFFS)}."),
    ] = "priority",
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="Patents retrieved per query.")] = 100,
    per_query: Annotated[
        Path | None, typer.Option("--per-query", help="Save per-query measures here (JSON) for comparisons.")
    ] = None,
    ignore_kind: Annotated[
        bool | None,
        typer.Option(
            "--ignore-kind/--no-ignore-kind",
            help="Compare publication numbers without kind codes (US5583744 = US5583744A); default: "
            "only when the qrels match the index that way.",
            show_default=False,
        ),
    ] = None,
    boost: BoostOption = True,
    model: IndexModelOption = None,
    model_path: ModelPathOption = None,
    api_key_env: ApiKeyEnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score retrieval against qrels: nDCG@10, recall@100, MAP, MRR over patents."""
    from patent_rag.cli.evaluate import run_eval

    run_eval(
        index=index,
        qrels=qrels,
        queries=queries,
        options=search_options(mode=mode, top_k=top_k, cutoff=cutoff, boost=boost),
        per_query=per_query,
        ignore_kind=ignore_kind,
        model=model,
        model_path=model_path,
        index_api_key_env=api_key_env,
        as_json=as_json,
        console=_console(as_json),
    )
