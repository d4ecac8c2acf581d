"""The public API is what ``__all__`` says: every name resolves, every list is sorted."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import patent_rag


def isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions and the rest."""
    if name.isupper() or (name.upper() == name and "_" in name):
        return (0, name)
    return (1 if name[:1].isupper() else 2, name)


MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(patent_rag.__path__, prefix="patent_rag.")
    if not info.name.rsplit(".", 1)[-1].startswith("_")
)


def test_package_all_resolves_and_is_sorted() -> None:
    assert patent_rag.__all__ == sorted(patent_rag.__all__, key=isort_key)
    for name in patent_rag.__all__:
        assert getattr(patent_rag, name) is not None, name


def test_package_exports_every_public_error_class() -> None:
    from patent_rag import errors

    assert set(errors.__all__) >= {"PatentRagError", "ParseError", "StoreError"}
    assert all(issubclass(getattr(errors, name), errors.PatentRagError) for name in errors.__all__)


@pytest.mark.parametrize("module_name", MODULES)
def test_module_all_is_sorted_and_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module_name} has no __all__"
    assert list(names) == sorted(names, key=isort_key), f"{module_name}.__all__ is not sorted"
    for name in names:
        assert hasattr(module, name), f"{module_name}.__all__ names missing {name!r}"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        patent_rag.nope  # noqa: B018
