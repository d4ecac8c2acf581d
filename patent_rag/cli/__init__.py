"""The ``patent-rag`` command line.

The CLI owns the console: tables and progress go to stderr through rich (quiet when piped), data
(JSON, JSONL) goes to stdout. Library errors, and the operating system refusing a file (missing,
not permitted, read-only or full filesystem), become one red line and exit code 1; anything else
keeps its traceback.

Text that is not ours (file names, corpus titles and evidence, server and LLM answers, error
messages quoting any of them) is never read as rich markup, and :func:`terminal_safe` removes the
control and escape sequences it may carry before it reaches a terminal.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from patent_rag._text import terminal_safe
from patent_rag.errors import PatentRagError

__all__ = ["app", "main", "safe_text", "terminal_safe"]

app = typer.Typer(
    name="patent-rag",
    help="Patent retrieval for LlamaIndex and Qdrant: task-prompted embeddings, parsing, ingestion, search.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

F = TypeVar("F", bound=Callable[..., Any])

ModelOption = Annotated[
    str, typer.Option("--model", "-m", help="Model profile name, hub id or local directory.")
]
ModelPathOption = Annotated[
    Path | None, typer.Option("--model-path", help="Directory with the model's files (offline copy).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")]


# Escape sequences (CSI: colours and cursor moves; OSC/DCS/SOS/PM/APC strings up to their
# terminator; two-character escapes; 8-bit CSI), then single controls: C0 except tab and newline,
# DEL, C1, and the bidi embeddings, overrides and isolates that reorder what a terminal shows.
def safe_text(text: object, style: str = "") -> Text:
    """Foreign text for a rich console: never parsed as markup, made :func:`terminal_safe`."""
    return Text(terminal_safe(text), style=style)


# The operating system refusing a file is the user's to fix, whatever the path: one line suffices.
_REFUSED = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
# A path that is wrong: ours to report only when the error names it.
_BAD_PATH = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.EEXIST}


def _os_error_line(exc: OSError) -> str | None:
    """One line for an OSError about a file (``PATH: reason``), else None (a bug: keep the traceback)."""
    named = [os.fsdecode(name) for name in (exc.filename, exc.filename2) if name is not None]
    if exc.errno not in _REFUSED and not (exc.errno in _BAD_PATH and named):
        return None
    reason = exc.strerror or os.strerror(exc.errno or 0)
    return f"{' -> '.join(named)}: {reason}" if named else reason


def _fail(message: str) -> typer.Exit:
    err.print(Text.assemble(("error: ", "bold red"), terminal_safe(message)), highlight=False, soft_wrap=True)
    return typer.Exit(1)


def friendly_errors(func: F) -> F:
    """Turn a PatentRagError, or an OSError about a file, into one readable line and exit code 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PatentRagError as exc:
            raise _fail(str(exc)) from None
        except OSError as exc:
            line = _os_error_line(exc)
            if line is None:
                raise
            raise _fail(line) from None

    return wrapper  # type: ignore[return-value]


class _SafeRichHandler(RichHandler):
    """Log records rendered as plain text (never markup) without control or escape sequences:
    messages quote file names and corpus text."""

    def render_message(self, record: logging.LogRecord, message: str) -> Any:
        record.__dict__["markup"] = False  # also for a record logged with extra={"markup": True}
        return super().render_message(record, terminal_safe(message))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@app.callback()
def _setup(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    # Weight-loading progress bars from huggingface_hub/transformers are noise on a CLI console.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[_SafeRichHandler(console=err, show_path=False, show_time=False, markup=False)],
    )


@app.command()
@friendly_errors
def models(as_json: JsonOption = False) -> None:
    """List the model profiles patent_rag knows (name, dim, pooling, tasks)."""
    from patent_rag.encoding.models import list_profiles

    profiles = list_profiles()
    if as_json:
        print_json([p.summary() for p in profiles])
        return
    table = Table(title="Model profiles")
    for column in ("name", "dim", "pooling", "max len", "norm", "tasks (default first)", "hub id / source"):
        table.add_column(column)
    for p in profiles:
        tasks = [p.default_task, *sorted(t for t in p.tasks if t != p.default_task)]
        source = p.model_id + (f" (offline: {p.package})" if p.package else "")
        table.add_row(
            safe_text(p.name),
            str(p.dim),
            safe_text(p.pooling),
            str(p.max_seq_length),
            "yes" if p.normalize else "no",
            safe_text(", ".join(tasks) + ("" if not p.symmetric else " (no prompts)")),
            safe_text(source),
        )
    out.print(table)


@app.command()
@friendly_errors
def embed(
    text: Annotated[str, typer.Argument(help="Text to embed.")],
    model: ModelOption = "all-minilm-l6-v2",
    model_path: ModelPathOption = None,
    task: Annotated[
        str | None, typer.Option(help="Task whose prompt is used (default: the model's).")
    ] = None,
    document: Annotated[
        bool, typer.Option("--document", help="Embed as a document instead of a query.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Embed one text and print a summary of the vector and the prompt actually used."""
    import numpy as np

    from patent_rag.encoding.encoder import Encoder

    encoder = Encoder(model, model_path=model_path, document_task=task)
    if document:
        vector, prompt = encoder.encode_documents([text])[0], encoder.document_prompt
    else:
        vector, prompt = encoder.encode_query(text, task=task), encoder.prompts(task).query
    summary = {
        "model": encoder.profile.name,
        "side": "document" if document else "query",
        "task": task or encoder.profile.default_task,
        "prompt": prompt,
        "tokens": encoder.count_tokens(prompt + text),
        "truncated": encoder.truncated_inputs > 0,
        "dim": int(vector.shape[0]),
        "norm": round(float(np.linalg.norm(vector)), 6),
        "head": [round(float(v), 6) for v in vector[:8]],
        "precision": encoder.precision,
        "fingerprint": encoder.fingerprint.as_dict(),
    }
    if as_json:
        print_json(summary)
        return
    table = Table(show_header=False, title="Embedding")
    for key, value in summary.items():
        table.add_row(key, safe_text(repr(value) if key == "prompt" else value))
    out.print(table)


def _register_commands() -> None:
    # Each command family lives in its own module and registers itself on ``app``.
    from patent_rag.cli import chart, commands, mcp, serve  # noqa: F401


def main() -> None:
    """Entry point of the ``patent-rag`` script."""
    _register_commands()
    app()
