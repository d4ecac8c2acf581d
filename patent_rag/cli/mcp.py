"""`patent-rag mcp`: serve an index to MCP hosts, over stdio (default) or streamable HTTP.

Over stdio, stdout is the protocol channel: nothing but the SDK writes to it; status lines and logs
go to stderr. Over HTTP, a server listening beyond localhost requires a bearer token from an
environment variable (:func:`patent_rag.mcp.auth.bearer_token`); the token is checked before the
index is opened, and never printed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from patent_rag.cli import ModelPathOption, app, err, friendly_errors
from patent_rag.cli.commands import ApiKeyEnvOption, IndexModelOption, IndexOption
from patent_rag.mcp.auth import DEFAULT_TOKEN_ENV, bearer_token, http_address

__all__: list[str] = []


@app.command("mcp")
@friendly_errors
def mcp(
    index: IndexOption,
    model: IndexModelOption = None,
    model_path: ModelPathOption = None,
    api_key_env: ApiKeyEnvOption = None,
    http: Annotated[
        str | None,
        typer.Option(
            "--http",
            metavar="HOST:PORT",
            help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (HOST defaults to "
            "localhost; beyond localhost a bearer token is required).",
        ),
    ] = None,
    token_env: Annotated[
        str,
        typer.Option(
            "--token-env",
            help="Environment variable holding the bearer token HTTP clients must send (required "
            "beyond localhost, used on localhost when set).",
        ),
    ] = DEFAULT_TOKEN_ENV,
) -> None:
    """Run an MCP server over an index: search, prior art, read a patent, index info."""
    from patent_rag.mcp.server import build_server
    from patent_rag.search.service import PatentService

    address = http_address(http) if http is not None else None
    token = bearer_token(address[0], env=token_env) if address is not None else None
    service = PatentService.open(index, model=model, model_path=model_path, index_api_key_env=api_key_env)
    try:
        server = build_server(service, token=token)
        if address is None:
            err.print(
                f"patent-rag MCP server on stdio: {service.info().patents} patents",
                highlight=False,
                soft_wrap=True,
            )
            server.run()
            return
        import uvicorn

        host, port = address
        where = f"[{host}]" if ":" in host else host
        guard = f"bearer token from ${token_env}" if token else "no token (localhost only)"
        err.print(
            f"patent-rag MCP server at http://{where}:{port}/mcp, {guard}", highlight=False, soft_wrap=True
        )
        # log_config=None: uvicorn's records go through the CLI's stderr handler like every other.
        uvicorn.run(server.streamable_http_app(host=host), host=host, port=port, log_config=None)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        service.close()
