"""The hand-labelled claim-support fixture still matches the packaged sample it points into."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from patent_rag.sample import sample_documents

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def chart_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chart_passages", ROOT / "benchmarks" / "chart_passages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def docs() -> dict:
    return {doc.publication_number: doc for doc in sample_documents(full=True)}


def test_fixture_matches_the_sample(chart_benchmark: ModuleType, docs: dict) -> None:
    labels = chart_benchmark.load_labels()
    assert len(labels) >= 100
    assert chart_benchmark.validate(labels, docs) == []


def test_a_shifted_paragraph_is_caught(chart_benchmark: ModuleType, docs: dict) -> None:
    label = chart_benchmark.load_labels()[0]
    shifted = dataclasses.replace(label, gold=tuple(g + 1 for g in label.gold))
    problems = chart_benchmark.validate([shifted], docs)
    assert problems and "no longer starts with" in problems[0]
