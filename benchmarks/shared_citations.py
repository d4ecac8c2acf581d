"""The PatSnap CS3245 export (../shared/data/patsnap_cs3245) as patent_rag records, qrels and queries.

The export has no stated license: it is read in place, in memory, and nothing derived from it is
written into the repository. Every function raises :class:`DataMissing` (benchmarks turn it into
a clear skip message) when the folder is absent.

Conversion of one ``<doc>`` of ``<str name="...">`` fields into a :class:`PatentDocument`:

- ``Patent Number`` / ``Kind Code`` / ``Application Number``; title; abstract (a few abstracts carry
  a machine translation after `` | ``: only the Latin-script segments are kept);
- ``Priority Date`` lists every priority (``1991-05-24 | 1990-09-03``): the earliest is the
  priority date; ``Application Date`` is the filing date, ``Publication Date`` the publication date;
- ``All IPC``, ``Assignee(s)``, ``Inventor(s)``, ``Cites`` split on ``|``;
- no family id: the export has none (``Family Members`` lists some members for half the records),
  so no family is excluded from any search.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "patsnap_cs3245"

__all__ = ["DATA", "DataMissing", "TopicalQuery", "citation_qrels", "load_records", "topical_queries"]


class DataMissing(RuntimeError):
    """The PatSnap folder (or one of its files) is not there."""


@dataclass(frozen=True)
class TopicalQuery:
    """q1/q2: a topic (title + description) with positive and negative judgments."""

    query_id: str
    title: str
    description: str
    positives: tuple[str, ...]
    negatives: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"{self.title}. {self.description}"


def _file(data: Path, name: str) -> Path:
    path = data / name
    if not path.is_file():
        raise DataMissing(
            f"{path.resolve()} is missing: the PatSnap benchmark needs ../shared/data/patsnap_cs3245 "
            "next to the repository (or --data DIR)"
        )
    return path


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split("|") if part.strip()]


def _day(value: str) -> date | None:
    days = sorted(date.fromisoformat(part) for part in _split(value))
    return days[0] if days else None


def _latin(text: str) -> str:
    # Keep the segments written mostly in ASCII (the original), drop the machine translations.
    parts = [part for part in _split(text) if sum(ch.isascii() for ch in part) >= 0.8 * len(part)]
    return " ".join(parts)


def _record(fields: dict[str, str], member: str) -> dict[str, object]:
    return {
        "publication_number": fields["Patent Number"],
        "kind": fields.get("Kind Code") or None,
        "application_number": fields.get("Application Number") or None,
        "title": " ".join(fields.get("Title", "").split()) or None,
        "abstract": _latin(fields.get("Abstract", "")) or None,
        "priority_date": _day(fields.get("Priority Date", "")),
        "filing_date": _day(fields.get("Application Date", "")),
        "publication_date": _day(fields.get("Publication Date", "")),
        "ipc": _split(fields.get("All IPC", "")),
        "uspc": _split(fields.get("All UPC", "")),
        "assignees": _split(fields.get("Assignee(s)", "")),
        "inventors": _split(fields.get("Inventor(s)", "")),
        "cited_patents": _split(fields.get("Cites", "")),
        "source": {"file": member},
    }


def load_records(data: Path = DATA) -> Iterator[dict[str, object]]:
    """The 2,244 patents as dicts of :class:`PatentDocument` fields (read from the tarball in memory)."""
    archive = _file(data, "patsnap-corpus.tar.gz")
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if not member.isfile() or not member.name.endswith(".xml"):
                continue
            stream = tar.extractfile(member)
            if stream is None:
                continue
            root = etree.fromstring(stream.read(), _parser())
            fields = {str(item.get("name")): (item.text or "").strip() for item in root}
            yield _record(fields, member.name)


def citation_qrels(data: Path = DATA) -> Path:
    """The BEIR-style dev qrels (query patent -> cited patent), a path for ``load_qrels``."""
    return _file(data, "qrels_citations_dev.tsv")


def _lines(path: Path) -> tuple[str, ...]:
    return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def topical_queries(data: Path = DATA) -> list[TopicalQuery]:
    """q1 and q2 with their positive (``+ve``) and negative (``-ve``) judgments."""
    queries = []
    for name in ("q1", "q2"):
        root = etree.fromstring(_file(data, f"{name}.xml").read_bytes(), _parser())
        queries.append(
            TopicalQuery(
                query_id=name,
                title=" ".join(root.findtext("title", "").split()),
                description=" ".join(root.findtext("description", "").split()),
                positives=_lines(_file(data, f"{name}-qrels+ve.txt")),
                negatives=_lines(_file(data, f"{name}-qrels-ve.txt")),
            )
        )
    return queries
