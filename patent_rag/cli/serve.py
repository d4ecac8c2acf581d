"""`patent-rag serve`: the HTTP API and the chat page over an index, with uvicorn.

The index is opened (and warmed) before the server starts, so a locked index or a wrong model is
one line on the console rather than a failed start-up; the server listens on loopback unless told
otherwise.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from patent_rag._network import is_loopback
from patent_rag.cli import ModelPathOption, app, friendly_errors
from patent_rag.cli.commands import ApiKeyEnvOption, IndexModelOption, IndexOption
from patent_rag.errors import ConfigurationError

__all__ = ["run_serve"]

logger = logging.getLogger(__name__)


def run_serve(
    *,
    index: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    model: str | None = None,
    model_path: Path | None = None,
    index_api_key_env: str | None = None,
    llm_url: str | None = None,
    llm_model: str | None = None,
    llm_api_key_env: str | None = None,
) -> None:
    """Serve the API over ``index`` until interrupted.

    Raises:
        ConfigurationError: the server extra is missing; only one of ``llm_url`` and ``llm_model``.
        StoreError, FingerprintMismatchError, ModelUnavailableError: the index cannot be opened.

    Example:
        >>> run_serve(index="my-index", llm_url="http://localhost:11434/v1",  # doctest: +SKIP
        ...           llm_model="llama3.1")
    """
    try:
        import uvicorn

        from patent_rag.server import create_app
    except ImportError as error:
        raise ConfigurationError(
            f"the HTTP server needs {error.name}: pip install 'patent-rag[server]'"
        ) from None
    from patent_rag.llm import ChatClient
    from patent_rag.search.service import PatentService

    if (llm_url is None) != (llm_model is None):
        raise ConfigurationError("--llm-url and --llm-model go together (ask needs both)")
    llm = (
        ChatClient(base_url=llm_url, model=llm_model, api_key_env=llm_api_key_env)
        if llm_url is not None and llm_model is not None
        else None
    )
    try:
        with PatentService.open(
            index, model=model, model_path=model_path, index_api_key_env=index_api_key_env
        ) as service:
            if not is_loopback(host):
                logger.warning(
                    "listening on %s: the API has no authentication; put it behind a proxy that has", host
                )
            uvicorn.run(create_app(service=service, llm=llm), host=host, port=port)
    finally:
        if llm is not None:
            llm.close()


@app.command("serve")
@friendly_errors
def serve(
    index: IndexOption,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback by default; the API has no auth).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 8000,
    model: IndexModelOption = None,
    model_path: ModelPathOption = None,
    api_key_env: ApiKeyEnvOption = None,
    llm_url: Annotated[
        str | None,
        typer.Option("--llm-url", help="OpenAI-compatible base URL for ask, e.g. http://localhost:11434/v1"),
    ] = None,
    llm_model: Annotated[str | None, typer.Option("--llm-model", help="Model name the LLM serves.")] = None,
    llm_api_key_env: Annotated[
        str | None, typer.Option("--llm-api-key-env", help="Environment variable holding the LLM API key.")
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json) and the chat-over-patents page at /."""
    run_serve(
        index=index,
        host=host,
        port=port,
        model=model,
        model_path=model_path,
        index_api_key_env=api_key_env,
        llm_url=llm_url,
        llm_model=llm_model,
        llm_api_key_env=llm_api_key_env,
    )
