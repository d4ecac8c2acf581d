"""Framework-neutral search: the searcher every front end shares (:mod:`.searcher`) and its options
(:mod:`.options`), patent-level hits with their evidence (:mod:`.hits`), query planning and the
prior-art cutoff (:mod:`.query`), the engine-independent ranking steps (:mod:`.ranking`: fusion of
several rankings, reranking, MMR), bibliographic rescoring (:mod:`.boosts`), answers with checked
citations (:mod:`.answers`) and evaluation against qrels (:mod:`.evaluation`).

A new rescoring signal computed from a patent's bibliography belongs in :mod:`.boosts`; a step that
reorders or merges rankings whatever they hold belongs in :mod:`.ranking`. Front ends (LlamaIndex,
the CLI) are adapters over this package and nothing here imports them.
"""

from __future__ import annotations

from patent_rag.search.hits import Evidence, PatentHit
from patent_rag.search.options import SearchOptions
from patent_rag.search.searcher import PatentSearcher

__all__ = ["Evidence", "PatentHit", "PatentSearcher", "SearchOptions"]
