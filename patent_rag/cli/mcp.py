"""`patent-rag mcp`."""

from __future__ import annotations

__all__: list[str] = []
