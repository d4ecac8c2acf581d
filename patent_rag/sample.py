"""The small public-domain USPTO sample shipped with the package (demo, examples, tests).

Three weekly slices of USPTO grant full text (``patent_rag/data/*.xml.gz``, 75 grants of 2008, 2011
and 2012; US government works, public domain). :func:`sample_documents` reads them; by default
without descriptions and dependent claims, which keeps an index of them small and quick to build.

Example:
    >>> docs = sample_documents()
    >>> len(docs), docs[0].publication_number
    (75, 'USD558629S1')
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from patent_rag.documents.record import PatentDocument
from patent_rag.errors import ConfigurationError

__all__ = ["sample_documents", "sample_files"]


def sample_files() -> list[Path]:
    """Paths of the packaged USPTO slices."""
    folder = resources.files("patent_rag") / "data"
    files = sorted(Path(str(item)) for item in folder.iterdir() if item.name.endswith(".xml.gz"))
    if not files:
        raise ConfigurationError(
            "the packaged sample (patent_rag/data/*.xml.gz) is missing; reinstall patent-rag"
        )
    return files


def sample_documents(*, full: bool = False) -> list[PatentDocument]:
    """The sample's grants; unless ``full``, only titles, abstracts and independent claims."""
    from patent_rag.documents.parsers import parse_files

    documents = list(parse_files(sample_files()))
    if full:
        return documents
    return [doc.model_copy(update={"description": [], "claims": doc.independent_claims}) for doc in documents]
