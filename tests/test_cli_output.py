"""What the CLI prints that is not its own: file names, error messages, corpus titles and evidence,
log records. None of it is read as rich markup, and no control or escape sequence reaches the terminal;
the operating system refusing a file is one line, a bug keeps its traceback."""

from __future__ import annotations

import errno
import io
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

import patent_rag.cli
import patent_rag.cli.commands
from patent_rag.cli import _SafeRichHandler, app, friendly_errors, terminal_safe
from patent_rag.documents import Claim, PatentDocument
from patent_rag.errors import ParseError
from patent_rag.ingest import ingest_documents
from patent_rag.stores import open_store

HOSTILE_TITLE = "Evil \x1b[31mred\x1b[0m [/x] [bold]title\x07"
SHOWN_TITLE = "Evil red [/x] [bold]title"


@pytest.fixture(autouse=True)
def plain_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Consoles without colour, whatever the terminal running the tests: any ESC in the output
    then comes from the data."""
    err = Console(stderr=True, color_system=None, width=200)
    out = Console(color_system=None, width=200)
    for module in (patent_rag.cli, patent_rag.cli.commands):
        monkeypatch.setattr(module, "err", err)
        monkeypatch.setattr(module, "out", out)


def test_terminal_safe_removes_escape_sequences_and_controls() -> None:
    assert terminal_safe(HOSTILE_TITLE) == SHOWN_TITLE
    assert terminal_safe("a\x1b]0;window title\x07b\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\c") == "ablinkc"
    assert terminal_safe("over\rwrite\x00 \x9b2J\x7f\x85tab\tnew\nline") == "overwrite tab\tnew\nline"
    assert terminal_safe("\u202etxt.exe\u2066 é 中 [b]") == "txt.exe é 中 [b]"  # bidi override gone
    assert terminal_safe("lone escape\x1b") == "lone escape"


def test_markup_in_a_file_name_is_shown_as_written(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("a[/x]b.xml", "[red]name.xml"):  # "a[/x]b.xml" is the file x]b.xml in folder a[
        missing = tmp_path / name
        result = runner.invoke(app, ["parse", str(missing)])
        assert result.exit_code == 1, result.output
        # One line naming the file exactly (the parsers' wording of the reason aside).
        assert result.output.startswith("error: ") and result.output.count("\n") == 1
        assert f" {missing}: " in result.output


def test_file_names_in_the_parse_summary_are_shown_without_escape_sequences(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"publication_number": "US1000001B2", "title": "Hinge"}\n')
    hostile = [tmp_path / "clr\x1b[2Jx.jsonl", tmp_path / "red\x1b[31mX\x07[b].bin"]
    for path in hostile:
        path.write_bytes(b"\x00garbage")
    result = CliRunner().invoke(
        app, ["parse", str(good), *map(str, hostile), "--out", str(tmp_path / "o.jsonl")]
    )
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output, repr(result.output)
    assert "clrx.jsonl" in result.output and "redX[b].bin" in result.output


def test_markup_in_an_error_message_is_shown_as_written() -> None:
    result = CliRunner().invoke(
        app, ["ask", "q", "--index", "x", "--llm-url", "ftp://llm", "--llm-model", "m"]
    )
    assert result.exit_code == 1, result.output
    assert (
        "error: LLM URL must be http(s)://HOST[:PORT][/v1], e.g. http://localhost:11434/v1, "
        "got 'ftp://llm'" in result.output
    )


@pytest.fixture(scope="module")
def hostile_index(minilm_encoder: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    location = str(tmp_path_factory.mktemp("hostile") / "index")
    docs = [
        PatentDocument(
            publication_number="US9100001B2",
            title=HOSTILE_TITLE,
            abstract="A washing machine \x1b[2J\x1b[Hthat rings \x07 the bell and [/x] breaks markup.",
            claims=[Claim(number=1, text="A washing machine comprising a drum \x1b]0;pwned\x07.")],
            priority_date=date(2001, 1, 1),
        ),
        PatentDocument(
            publication_number="US9100002B2",
            title="Ordinary washing machine",
            abstract="A washing machine with a drum.",
            priority_date=date(1999, 1, 1),
        ),
    ]
    store = open_store(location)
    ingest_documents(docs, store=store, encoder=minilm_encoder)
    store.close()
    yield location


def test_corpus_text_is_shown_without_escape_sequences(hostile_index: str) -> None:
    runner = CliRunner()
    for args in (
        ["search", "washing machine bell", "--index", hostile_index, "--mode", "bm25"],
        ["prior-art", "US9100001B2", "--index", hostile_index, "--mode", "bm25", "--cutoff", "none"],
        ["info", "--index", hostile_index],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output, repr(result.output)
    search = runner.invoke(
        app, ["search", "washing machine bell", "--index", hostile_index, "--mode", "bm25"]
    )
    cells = " ".join(search.output.replace("│", " ").split())  # table cells wrap over lines
    assert SHOWN_TITLE in search.output and "[/x] breaks markup" in cells
    prior = runner.invoke(app, ["prior-art", "US9100002B2", "--index", hostile_index, "--mode", "bm25"])
    assert prior.exit_code == 0, prior.output
    header = runner.invoke(
        app, ["prior-art", "US9100001B2", "--index", hostile_index, "--mode", "bm25", "--cutoff", "none"]
    )
    assert f"Prior art for US9100001B2 {SHOWN_TITLE}" in header.output
    # JSON keeps the corpus text as it is (escaped by JSON itself).
    raw = runner.invoke(app, ["search", "bell", "--index", hostile_index, "--mode", "bm25", "--json"])
    assert "\\u001b[31m" in raw.stdout and "\x1b" not in raw.stdout


def test_log_records_are_plain_text_without_escape_sequences() -> None:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    logger = logging.getLogger("patent_rag.test_cli_output")
    handler = _SafeRichHandler(console=console, show_path=False, show_time=False)
    logger.addHandler(handler)
    try:
        logger.warning("rejected %s: bad [/x] \x1b[31mred\x07", "a[/x]b.xml", extra={"markup": True})
    finally:
        logger.removeHandler(handler)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "rejected a[/x]b.xml: bad [/x] red" in text and "\x1b" not in text and "\x07" not in text


def _raising(error: BaseException) -> Any:
    @friendly_errors
    def command() -> None:
        raise error

    return command


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            OSError(errno.EROFS, "Read-only file system", "/mnt/ro/index"),
            "/mnt/ro/index: Read-only file system",
        ),
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
        (
            PermissionError(errno.EACCES, "Permission denied", "out[/x].jsonl"),
            "out[/x].jsonl: Permission denied",
        ),
        (
            FileNotFoundError(errno.ENOENT, "No such file or directory", "q.tsv"),
            "q.tsv: No such file or directory",
        ),
        (ParseError("no such file", file="a[/x]b.xml"), str(ParseError("no such file", file="a[/x]b.xml"))),
    ],
)
def test_file_errors_are_one_line(
    error: BaseException, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit) as exit_info:
        _raising(error)()
    assert exit_info.value.exit_code == 1
    assert capsys.readouterr().err == f"error: {line}\n"


@pytest.mark.parametrize(
    "error",
    [
        FileNotFoundError(errno.ENOENT, "No such file or directory"),  # no path named: not the user's
        OSError(errno.EBADF, "Bad file descriptor", "x"),
        ValueError("a bug"),
        KeyError("a bug"),
    ],
)
def test_other_errors_keep_their_traceback(error: BaseException) -> None:
    with pytest.raises(type(error)):
        _raising(error)()
