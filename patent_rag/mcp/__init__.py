"""An MCP server over a patent index (``patent-rag mcp``), for Claude Desktop, IDE agents, any MCP host.

:func:`build_server` makes the server from an open :class:`~patent_rag.search.service.PatentService`;
its tools search by text, find prior art for a patent, read a patent and describe the index. Needs the
``mcp`` extra (``pip install "patent-rag[mcp]"``); the SDK is imported on first use, so the CLI
starts without it.

Example:
    >>> from patent_rag.mcp import build_server
    >>> from patent_rag.search.service import PatentService
    >>> with PatentService.open("my-index") as service:  # doctest: +SKIP
    ...     build_server(service).run()  # stdio; or .run("streamable-http", host="localhost", port=8765)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patent_rag.mcp.server import INSTRUCTIONS, build_server

__all__ = ["INSTRUCTIONS", "build_server"]

_LAZY = {"INSTRUCTIONS": "patent_rag.mcp.server", "build_server": "patent_rag.mcp.server"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'patent_rag.mcp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
