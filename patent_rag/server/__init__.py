"""The HTTP API and the chat-over-patents page (``patent-rag serve``; extra ``patent-rag[server]``).

:func:`create_app` builds a FastAPI app over an index: search, prior art, patents, index info,
health, and answers with citations streamed from an OpenAI-compatible LLM. Mount it in your own
service, or run it with ``patent-rag serve --index LOC``.

Example:
    >>> from patent_rag.server import create_app
    >>> app = create_app(index="my-index")  # doctest: +SKIP
"""

from __future__ import annotations

from patent_rag.server.app import create_app

__all__ = ["create_app"]
