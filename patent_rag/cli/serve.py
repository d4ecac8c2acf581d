"""`patent-rag serve`."""

from __future__ import annotations

__all__: list[str] = []
