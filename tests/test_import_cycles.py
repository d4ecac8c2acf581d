"""No import cycles among patent_rag's modules at import time.

Only imports that run when a module is imported count: module-level statements (in ``if``/``try``
/``with`` blocks and class bodies too), but not function bodies and not ``if TYPE_CHECKING:``
blocks. ``from package import name`` counts as importing the submodule ``package.name`` when there
is one, else ``package`` itself; importing a submodule is not counted as importing its parent
package (that is how Python packages import their own submodules).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import patent_rag

PACKAGE = Path(patent_rag.__file__).parent


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        yield node
        if isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _import_time_statements(node.body)
            yield from _import_time_statements(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _import_time_statements(block)
        elif isinstance(node, (ast.With, ast.ClassDef)):
            yield from _import_time_statements(node.body)


def _imports(name: str, source: str, modules: dict[str, Path], *, is_package: bool) -> set[str]:
    """The package's modules that module ``name`` (of this ``source``) imports at import time."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in _import_time_statements(ast.parse(source).body):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                found.add(submodule if submodule in modules else module)
    return {module for module in found if module in modules and module != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return components


def test_the_checker_sees_a_cycle_and_only_import_time_imports() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import x.y\n"
        "def f():\n    import x.z\n"
        "try:\n    from . import w\nexcept ImportError:\n    pass\n"
        "from .y import thing\n"
    )
    modules = dict.fromkeys(["x", "x.v", "x.w", "x.y", "x.z"], PACKAGE)
    assert _imports("x.v", source, modules, is_package=False) == {"x.w", "x.y"}


def test_no_import_cycles_in_the_package() -> None:
    modules = _modules()
    graph = {
        name: _imports(name, path.read_text(encoding="utf-8"), modules, is_package=path.name == "__init__.py")
        for name, path in modules.items()
    }
    assert (
        "patent_rag.documents.parsers._xml" in graph["patent_rag.documents.parsers.epo"]
    )  # imports are seen
    assert _cycles(graph) == []
