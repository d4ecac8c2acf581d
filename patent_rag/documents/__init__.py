"""Patent documents: the record every parser yields (:mod:`.record`), the streaming parsers of the
formats users have (:mod:`.parsers`) and the section-aware chunking that cuts a record into the
passages an index stores (:mod:`.chunking`)."""

from __future__ import annotations

from patent_rag.documents.record import (
    Claim,
    Paragraph,
    PatentDocument,
    SourceLocation,
    Translation,
    normalize_classification,
    normalize_publication_number,
    normalize_uspc,
)

__all__ = [
    "Claim",
    "Paragraph",
    "PatentDocument",
    "SourceLocation",
    "Translation",
    "normalize_classification",
    "normalize_publication_number",
    "normalize_uspc",
]
