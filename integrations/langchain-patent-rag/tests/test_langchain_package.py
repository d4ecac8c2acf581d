"""The distribution: ``__all__`` is the public API, sorted; the version and ``py.typed`` ship."""

from __future__ import annotations

from importlib import metadata, resources

import langchain_patent_rag
from langchain_patent_rag import embeddings, retrievers


def test_all_resolves_and_is_sorted() -> None:
    public = langchain_patent_rag.__all__
    assert public == sorted(public, key=lambda name: (name[:1].islower() or name[:1] == "_", name))
    assert all(getattr(langchain_patent_rag, name) is not None for name in public)
    assert set(embeddings.__all__) | set(retrievers.__all__) <= set(public)


def test_version_and_type_marker_ship() -> None:
    assert langchain_patent_rag.__version__ == metadata.version("langchain-patent-rag")
    assert (resources.files("langchain_patent_rag") / "py.typed").is_file()
    assert "langchain-core>=1.0" in (metadata.requires("langchain-patent-rag") or [])
