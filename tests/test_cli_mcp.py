"""``patent-rag mcp``'s HTTP rule: localhost freely, beyond it only with a bearer token from the
environment, refused (one line, before the index is opened) otherwise; the token never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import patent_rag.cli.mcp  # noqa: F401  (registers the command)
from patent_rag.cli import app
from patent_rag.errors import ConfigurationError
from patent_rag.mcp.auth import DEFAULT_TOKEN_ENV, MIN_TOKEN_CHARS, bearer_token, http_address, is_loopback

SECRET = "s3cr3t-Token-Value-0123456789"


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("8765", ("localhost", 8765)),
        (":8765", ("localhost", 8765)),
        ("localhost:8765", ("localhost", 8765)),
        ("127.0.0.1:8765", ("127.0.0.1", 8765)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("[::1]:8765", ("::1", 8765)),
        ("patents.example.org:443", ("patents.example.org", 443)),
    ],
)
def test_http_address(value: str, address: tuple[str, int]) -> None:
    assert http_address(value) == address


@pytest.mark.parametrize(
    "value", ["", "localhost", "localhost:", "host:0", "host:65536", "a:b:80", "host:http"]
)
def test_http_address_refuses_what_is_no_address(value: str) -> None:
    with pytest.raises(
        ConfigurationError, match=r"^--http takes HOST:PORT, :PORT or PORT \(e\.g\. localhost:8765"
    ):
        http_address(value)


def test_loopback_is_localhost_or_a_loopback_ip() -> None:
    assert all(map(is_loopback, ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1"]))
    assert not any(
        map(is_loopback, ["0.0.0.0", "::", "192.168.1.10", "patents.example.org", "localhost.evil"])
    )


def test_a_token_is_required_beyond_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_TOKEN", raising=False)
    assert bearer_token("127.0.0.1", env="MY_TOKEN") is None
    with pytest.raises(
        ConfigurationError, match=r"^refusing to listen on 0\.0\.0\.0 without a bearer token: set MY_TOKEN"
    ):
        bearer_token("0.0.0.0", env="MY_TOKEN")
    monkeypatch.setenv("MY_TOKEN", "")
    with pytest.raises(ConfigurationError, match="without a bearer token"):
        bearer_token("192.168.1.10", env="MY_TOKEN")
    monkeypatch.setenv("MY_TOKEN", SECRET)
    assert bearer_token("0.0.0.0", env="MY_TOKEN") == SECRET
    assert bearer_token("localhost", env="MY_TOKEN") == SECRET  # set: used on localhost too


@pytest.mark.parametrize("token", ["x" * (MIN_TOKEN_CHARS - 1), f" {SECRET}"])
def test_a_weak_token_is_refused_without_showing_it(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    monkeypatch.setenv("MY_TOKEN", token)
    with pytest.raises(
        ConfigurationError, match=f"^the bearer token in MY_TOKEN must be at least {MIN_TOKEN_CHARS}"
    ) as raised:
        bearer_token("0.0.0.0", env="MY_TOKEN")
    assert token.strip() not in str(raised.value)


def test_cli_refuses_to_listen_beyond_localhost_without_a_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(DEFAULT_TOKEN_ENV, raising=False)
    missing = str(tmp_path / "no-index")
    result = CliRunner().invoke(app, ["mcp", "--index", missing, "--http", "0.0.0.0:8765"])
    assert result.exit_code == 1
    # One line, about the token: the index is not even opened.
    assert result.output.startswith(
        f"error: refusing to listen on 0.0.0.0 without a bearer token: set {DEFAULT_TOKEN_ENV} (e.g. export "
    )
    assert result.output.count("\n") == 1 and "index" not in result.output

    monkeypatch.setenv("OTHER_TOKEN", "tiny-secret")
    result = CliRunner().invoke(
        app, ["mcp", "--index", missing, "--http", "[::]:8765", "--token-env", "OTHER_TOKEN"]
    )
    assert result.exit_code == 1 and "the bearer token in OTHER_TOKEN must be" in result.output
    assert "tiny-secret" not in result.output


def test_cli_reports_a_missing_index_in_one_line(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-index")
    result = CliRunner().invoke(app, ["mcp", "--index", missing])
    assert result.exit_code == 1 and result.output.startswith(f"error: no patent_rag index at {missing}")
    assert "Traceback" not in result.output
