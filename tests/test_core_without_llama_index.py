"""The layering: llama-index is imported only by ``patent_rag.llama_index``.

A subprocess that cannot import llama-index imports every other module of the package, ingests a
few patents and searches them through the core (Python API, evaluation, CLI work functions); a
static check reads the imports of every module.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import patent_rag

PACKAGE = Path(patent_rag.__file__).parent
ADAPTERS = PACKAGE / "llama_index"

SCRIPT = r"""
import importlib
import importlib.abc
import io
import json
import pkgutil
import sys
import tempfile
from pathlib import Path


class BlockLlamaIndex(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "llama_index" or name.startswith("llama_index."):
            raise ImportError(f"llama-index is blocked in this test: {name}")
        return None


sys.meta_path.insert(0, BlockLlamaIndex())

import patent_rag

imported = []
for info in pkgutil.walk_packages(patent_rag.__path__, prefix="patent_rag."):
    if info.name == "patent_rag.llama_index" or info.name.startswith("patent_rag.llama_index."):
        continue
    importlib.import_module(info.name)
    imported.append(info.name)
for name in ("PatentSearcher", "SearchOptions", "PatentHit", "MetadataBoosts", "PatentAnswer", "open_store"):
    getattr(patent_rag, name)

from rich.console import Console

from patent_rag import Encoder, PatentSearcher, SearchOptions, open_store
from patent_rag.cli.evaluate import run_eval
from patent_rag.cli.search import run_prior_art, run_search, search_options
from patent_rag.ingest import ingest_documents
from patent_rag.sample import sample_documents
from patent_rag.search.answers import check_citations
from patent_rag.search.evaluation import evaluate

# Two VCOs filed before the query (a varactor-free oscillator filed 2008-12-31), two LED patents.
NUMBERS = ("US8089324B2", "US7863991B1", "US7315219B2", "US7863599B2", "US8089085B2")
docs = [doc for doc in sample_documents() if doc.publication_number in NUMBERS]
console = Console(file=io.StringIO())
with tempfile.TemporaryDirectory() as folder:
    location = str(Path(folder) / "index")
    encoder = Encoder("all-minilm-l6-v2")
    store = open_store(location)
    ingest_documents(docs, store=store, encoder=encoder)
    with PatentSearcher(index=store, encoder=encoder) as searcher:
        hybrid = [hit.publication_number for hit in searcher.search("low power CMOS VCO")]
        prior = [hit.publication_number for hit in searcher.prior_art("US8089324B2")]
        bm25 = searcher.with_options(mode="bm25", boosts=None, top_k=2).search("heat sink for LEDs")
        scored = evaluate(searcher, {"US8089324B2": {"US7863991B1": 1, "US7315219B2": 1}}, top_k=3)
    store.close()
    plain = PatentSearcher(index=location, options=SearchOptions(mode="bm25"))
    text_only = [hit.publication_number for hit in plain.search("multiphase")]
    plain.close()
    bm25_options = search_options(mode="bm25")
    cli = run_search("oscillator", index=location, options=bm25_options, console=console)
    cli_prior = run_prior_art("US8089324B2", index=location, options=bm25_options, console=console)
    qrels = Path(folder) / "qrels.tsv"
    qrels.write_text("US8089324B2\tUS7863991B1\t1\n")
    cli_eval = run_eval(index=location, qrels=qrels, options=bm25_options.replace(top_k=100), console=console)
print(json.dumps({
    "imported": imported,
    "llama": sorted(name for name in sys.modules if name.split(".")[0] == "llama_index"),
    "hybrid": hybrid,
    "prior": prior,
    "bm25": [hit.publication_number for hit in bm25],
    "text_only": text_only,
    "recall": scored.metrics["recall@100"],
    "cli": [hit.publication_number for hit in cli],
    "cli_prior": [hit.publication_number for hit in cli_prior],
    "cli_eval": cli_eval.metrics["recall@100"],
    "citations": check_citations("See [US 7,863,991 B1] and [US1234567B2].", cli)[1:],
}))
"""


def test_the_core_searches_with_llama_index_blocked() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["llama"] == []
    imported = set(result["imported"])
    for name in (
        "patent_rag.search.searcher",
        "patent_rag.search.options",
        "patent_rag.search.hits",
        "patent_rag.search.answers",
        "patent_rag.search.evaluation",
        "patent_rag.stores.edge",
        "patent_rag.encoding.encoder",
        "patent_rag.documents.record",
        "patent_rag.ingest",
        "patent_rag.cli.search",
        "patent_rag.cli.commands",
        "patent_rag.llm",
        "patent_rag.search.service",
        "patent_rag.server.app",
        "patent_rag.server.ask",
        "patent_rag.mcp.server",
    ):
        assert name in imported, name
    assert result["hybrid"][0] == "US7863991B1"
    # Itself excluded, later patents cut off: the two earlier VCOs first.
    assert set(result["prior"][:2]) == {"US7863991B1", "US7315219B2"} and "US8089324B2" not in result["prior"]
    assert result["bm25"][0] == "US8089085B2" and result["text_only"] == ["US7315219B2"]
    assert result["recall"] == 1.0 and result["cli_eval"] == 1.0
    assert "US7863991B1" in result["cli"] and "US8089324B2" not in result["cli_prior"]
    assert result["citations"] == [["US7863991B1"], ["US1234567B2"]]


def _imports(tree: ast.Module) -> list[tuple[str, bool]]:
    """(module imported, whether at module level, TYPE_CHECKING blocks included) for every import."""
    found: list[tuple[str, bool]] = []
    top: set[int] = set()
    for statement in tree.body:
        if isinstance(statement, ast.If):  # `if TYPE_CHECKING:` blocks count as module level
            top.update(id(child) for child in ast.walk(statement))
        top.add(id(statement))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top))
    return found


def test_no_module_outside_the_adapters_imports_llama_index() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ADAPTERS in path.parents:
            continue
        where = path.relative_to(PACKAGE.parent)
        for module, top_level in _imports(ast.parse(path.read_text(), filename=str(path))):
            root = module.split(".")[0]
            if root == "llama_index":
                offenders.append(f"{where}: {module}")
            # The adapters themselves are reached lazily only (the `ask` command, the package's
            # lazy exports).
            lazy_exports = path == PACKAGE / "__init__.py"
            if top_level and module.startswith("patent_rag.llama_index") and not lazy_exports:
                offenders.append(f"{where}: {module} at module level")
    assert offenders == []
