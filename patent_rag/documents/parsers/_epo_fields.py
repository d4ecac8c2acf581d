"""What the EPO parsers share (publication XML in :mod:`.epo`, DOCDB in :mod:`.docdb`).

IPC/CPC symbols and cited patents are written the same way in both formats; keeping the readers
here lets both parser modules import them without importing each other. :data:`DOCDB_ROOTS` is
how detection tells DOCDB from publication XML, and how the EPO reader refuses a DOCDB file.
"""

from __future__ import annotations

import re

from lxml import etree

from patent_rag.documents.record import normalize_publication_number

__all__ = ["DOCDB_ROOTS", "ipc_symbols", "patent_citation"]

# The root elements of a DOCDB file: a container of records, or one record cut out of it.
DOCDB_ROOTS = frozenset({"exchange-documents", "exchange-document"})

_IPC_SYMBOL = re.compile(r"([A-HY])\s*(\d\d)\s*([A-Z])\s*(\d{1,4})\s*/\s*(\d{1,6})")


def ipc_symbols(texts: list[str | None]) -> list[str]:
    """The leading IPC/CPC symbol of each text (``"H01F  27/14  20060101AFI..."`` -> ``H01F27/14``)."""
    symbols = []
    for text in texts:
        match = _IPC_SYMBOL.search(text or "")
        if match:
            section, klass, subclass, group, subgroup = match.groups()
            symbols.append(f"{section}{klass}{subclass}{int(group)}/{subgroup}")
    return symbols


def patent_citation(patcit: etree._Element) -> str | None:
    """A ``patcit``'s document as a normalized publication number (``dnum`` or its document-id)."""
    dnum = (patcit.get("dnum") or "").strip()
    if not dnum:
        parts = [patcit.findtext(f"document-id/{name}") or "" for name in ("country", "doc-number", "kind")]
        dnum = "".join(part.strip() for part in parts)
    return normalize_publication_number(dnum) if dnum[:2].isalpha() and len(dnum) > 2 else None
