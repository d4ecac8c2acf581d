"""Framework-neutral search: patent-level hits with their evidence (:mod:`.hits`), query planning
and the prior-art cutoff (:mod:`.query`), fusion, reranking and MMR (:mod:`.ranking`), bibliographic
boosts (:mod:`.boosts`) and evaluation against qrels (:mod:`.evaluation`). Front ends (LlamaIndex,
the CLI) are adapters over this package."""

from __future__ import annotations

__all__: list[str] = []
