"""Who may call the MCP server over HTTP: localhost freely, anyone else with the bearer token.

Over stdio the host that started the server is its only client. Over streamable HTTP, a server that
listens on a loopback address serves the local machine; one that listens beyond it must require a
bearer token, read from an environment variable (never from the command line, where ``ps`` shows
it). :func:`bearer_token` applies that rule; :class:`StaticTokenVerifier` checks the token for the
SDK's bearer middleware, which answers 401 to a request without it. The token is never logged,
shown in a repr, or quoted in a message: only the variable's name is.

Example:
    >>> http_address("0.0.0.0:8765")
    ('0.0.0.0', 8765)
    >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0")
    (True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from typing import TYPE_CHECKING

from patent_rag._network import is_loopback
from patent_rag.errors import ConfigurationError

if TYPE_CHECKING:
    from mcp.server.auth.provider import AccessToken

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_TOKEN_ENV",
    "MIN_TOKEN_CHARS",
    "StaticTokenVerifier",
    "bearer_token",
    "http_address",
    "is_loopback",
]

DEFAULT_HOST = "localhost"
DEFAULT_TOKEN_ENV = "PATENT_RAG_MCP_TOKEN"
MIN_TOKEN_CHARS = 16
_MAKE_TOKEN = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def http_address(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` or ``PORT`` (host: localhost), ``[::1]:PORT`` for IPv6, as (host, port).

    Raises:
        ConfigurationError: not an address with a port from 1 to 65535.
    """
    host, colon, port = value.strip().rpartition(":")
    if not colon:
        host, port = "", value.strip()
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port.isdigit() or not 0 < int(port) < 65536 or (":" in host and not _is_ip(host)):
        raise ConfigurationError(
            f"--http takes HOST:PORT, :PORT or PORT (e.g. localhost:8765, 0.0.0.0:8765, [::1]:8765); "
            f"got {value!r}"
        )
    return host or DEFAULT_HOST, int(port)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def bearer_token(host: str, *, env: str = DEFAULT_TOKEN_ENV) -> str | None:
    """The bearer token clients must send to a server listening on ``host``; None: no token needed.

    The token is read from the environment variable ``env``. It is required when ``host`` is not a
    loopback address; on localhost it is used when set.

    Raises:
        ConfigurationError: beyond localhost without a token, or a token that is too short to guess
            safely. Messages name the variable, never its value.
    """
    token = os.environ.get(env) or None
    if token is None:
        if is_loopback(host):
            return None
        raise ConfigurationError(
            f"refusing to listen on {host} without a bearer token: set {env} "
            f"(e.g. export {env}=$({_MAKE_TOKEN})) or listen on localhost"
        )
    if len(token) < MIN_TOKEN_CHARS or token != token.strip():
        raise ConfigurationError(
            f"the bearer token in {env} must be at least {MIN_TOKEN_CHARS} characters without surrounding "
            f"spaces; make one with {_MAKE_TOKEN}"
        )
    return token


class StaticTokenVerifier:
    """The SDK's ``TokenVerifier`` for one shared secret, compared in constant time.

    Only a digest of the token is kept, so no repr, log or traceback of this object can show it.
    """

    def __init__(self, *, token: str) -> None:
        self._digest = hashlib.sha256(token.encode()).digest()

    def __repr__(self) -> str:
        return "StaticTokenVerifier(token=***)"

    async def verify_token(self, token: str) -> AccessToken | None:
        """Access for the presented ``token`` when it is the configured one, else None (401)."""
        from mcp.server.auth.provider import AccessToken  # the SDK only where a server runs

        if not hmac.compare_digest(hashlib.sha256(token.encode()).digest(), self._digest):
            return None
        # The SDK's record of the grant; the presented secret itself is not kept in it.
        return AccessToken(token="***", client_id="patent-rag-mcp", scopes=[])
