"""Passage finding for claim charts, measured against hand-labelled claim support (issue 15).

Ground truth: ``benchmarks/data/claim_support.jsonl`` (see ``benchmarks/data/README.md``): claim
elements of public-domain USPTO grants shipped in the package, each with the description
paragraphs of the same patent that disclose it, labelled by reading. The patent is its own
reference (self-support): for each element every method ranks the description paragraphs of that
element's patent, and a hit at k means one of the gold paragraphs is among the first k.

Two settings:

- ``all``: every paragraph is a candidate; a summary paragraph that restates the claim counts.
- ``no echo``: the paragraphs that restate claim language almost verbatim (marked ``echo`` in the
  fixture) are removed from the candidates and from the gold. A prior-art reference does not
  restate the claim being charted, so this setting is the closer proxy. Elements whose gold is
  all echoes drop out of it.

Methods, all in one run: the chart's :func:`patent_rag.charts.evidence.rank_passages` (what
``find_passages`` picks its cell from; with the default options, and with every passage rescored),
BM25 (bm25s, no stemming, per patent; and Qdrant's BM25 tokenizer with English stemming and IDF
over the labelled patents' paragraphs), dense MiniLM cosine (a paragraph scores the best of its
windows, so no text is truncated away), their reciprocal-rank fusion, and two trivial baselines
(document order; shared-word count). The chart runs on a temporary Qdrant Edge index: the
labelled patents in full text without their claims (a claim would match its own elements
verbatim), and the rest of the packaged sample as title, abstract and independent claims, as the
demo index holds them. Only description paragraphs count as answers for every method.

Calibration of the "found" threshold: positives are the score of an element's best gold paragraph
(echo paragraphs excluded) in its own patent; negatives are the best score the element reaches in
``--negatives`` other labelled patents that do not disclose it: of another IPC section, and
(separately) of the same section but no common subclass. Reported for the scores that are
comparable across patents: the chart's standardized ``Cell.score`` (as a chart computes it for a
reference, default options) and the dense cosine.

    python benchmarks/chart_passages.py [--negatives 3] [--seed 0] [--patents all|dev|test]
        [--skip-chart] [--json OUT.json]

Options tuned on this fixture should be tuned with ``--patents dev`` and reported with
``--patents test``: the fixture has no other held-out data.

Runs offline in a few minutes on 2 cores; the index is built in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from patent_rag.charts.evidence import ChartOptions, rank_passages  # noqa: E402
from patent_rag.charts.model import ClaimElement  # noqa: E402
from patent_rag.documents import PatentDocument  # noqa: E402
from patent_rag.encoding.encoder import Encoder  # noqa: E402
from patent_rag.ingest import ingest_documents  # noqa: E402
from patent_rag.sample import sample_documents  # noqa: E402
from patent_rag.search.options import SearchOptions  # noqa: E402
from patent_rag.search.searcher import PatentSearcher  # noqa: E402
from patent_rag.stores import open_store  # noqa: E402
from patent_rag.stores.base import Store  # noqa: E402
from patent_rag.stores.sparse import Bm25Encoder  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "claim_support.jsonl"
MODEL = "all-minilm-l6-v2"
KS = (1, 3)
SETTINGS = ("all", "no echo")


# --- the fixture ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """One labelled claim element: its text and the 1-based paragraphs of its patent that support it."""

    publication_number: str
    claim: int
    label: str
    element: str
    gold: tuple[int, ...]
    gold_prefixes: tuple[str, ...]
    echo: tuple[int, ...] = ()

    @property
    def key(self) -> str:
        """``"US7862231B2 1[a]"``: the element's identity in outputs."""
        return f"{self.publication_number} {self.label}"

    def targets(self, setting: str) -> frozenset[int]:
        """The gold paragraphs (0-based) in a setting."""
        drop = set(self.echo) if setting == "no echo" else set()
        return frozenset(g - 1 for g in self.gold if g not in drop)


def load_labels(path: Path = DATA) -> list[Label]:
    """Read the fixture (one JSON object per line)."""
    labels = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            labels.append(
                Label(
                    publication_number=row["publication_number"],
                    claim=int(row["claim"]),
                    label=row["label"],
                    element=row["element"],
                    gold=tuple(row["gold"]),
                    gold_prefixes=tuple(row["gold_prefixes"]),
                    echo=tuple(row.get("echo", ())),
                )
            )
    return labels


def validate(labels: Sequence[Label], docs: dict[str, PatentDocument]) -> list[str]:
    """Problems that would make a label point at the wrong text; empty when the fixture is sound.

    Every element must be a substring of its claim and every gold paragraph must still start with
    its recorded prefix, so a parser change that shifts paragraphs cannot silently move labels.
    """
    problems = []
    seen = set()
    for item in labels:
        where = f"{item.publication_number} {item.label}"
        if (item.publication_number, item.label) in seen:
            problems.append(f"{where}: duplicate label")
        seen.add((item.publication_number, item.label))
        doc = docs.get(item.publication_number)
        if doc is None:
            problems.append(f"{where}: patent not in the packaged sample")
            continue
        claim = next((c for c in doc.claims if c.number == item.claim), None)
        if claim is None or item.element not in claim.text:
            problems.append(f"{where}: element text is not in claim {item.claim}")
        if len(item.gold) != len(item.gold_prefixes):
            problems.append(
                f"{where}: {len(item.gold)} gold paragraphs but {len(item.gold_prefixes)} prefixes"
            )
        for number, prefix in zip(item.gold, item.gold_prefixes, strict=False):
            if not 1 <= number <= len(doc.description):
                problems.append(f"{where}: paragraph {number} out of range 1..{len(doc.description)}")
            elif not prefix or not doc.description[number - 1].text.startswith(prefix):
                problems.append(f"{where}: paragraph {number} no longer starts with {prefix!r}")
        if not set(item.echo) <= set(item.gold):
            problems.append(
                f"{where}: echo paragraphs {sorted(set(item.echo) - set(item.gold))} are not gold"
            )
    return problems


# --- scoring methods: each returns one score per paragraph of a patent, higher is better --------

_WORD = re.compile(r"[a-z0-9]+(?:[-'/][a-z0-9]+)*")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "said",
        "that",
        "the",
        "their",
        "then",
        "thereof",
        "therein",
        "to",
        "which",
        "with",
        "wherein",
        "each",
        "least",
        "one",
    ]
)
_SENTENCE = re.compile(r"(?<=[.;:!?])\s+")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def score_order(element: str, paragraphs: Sequence[str]) -> np.ndarray:
    """Document order: the first paragraph first (no reading at all)."""
    return -np.arange(len(paragraphs), dtype=np.float64)


def score_overlap(element: str, paragraphs: Sequence[str]) -> np.ndarray:
    """How many distinct non-stop words of the element a paragraph contains (ties: document order)."""
    query = _words(element)
    return np.array([len(query & _words(p)) for p in paragraphs], dtype=np.float64)


class Bm25sScorer:
    """bm25s over one patent's paragraphs (its default Lucene BM25, English stop words, no stemming)."""

    def __init__(self) -> None:
        self._cache: dict[int, Any] = {}

    def __call__(self, element: str, paragraphs: Sequence[str]) -> np.ndarray:
        key = id(paragraphs)
        if key not in self._cache:
            retriever = bm25s.BM25()
            retriever.index(
                bm25s.tokenize(list(paragraphs), stopwords="en", show_progress=False), show_progress=False
            )
            self._cache[key] = retriever
        retriever = self._cache[key]
        query = bm25s.tokenize([element], stopwords="en", return_ids=False, show_progress=False)[0]
        if not query:
            return np.zeros(len(paragraphs))
        return np.asarray(retriever.get_scores(query), dtype=np.float64)


class QdrantBm25Scorer:
    """Qdrant's BM25 as the index stores it: its English tokenizer and stemmer, IDF over a corpus."""

    def __init__(self, corpus: Sequence[Sequence[str]]) -> None:
        self._encoder = Bm25Encoder()
        self._terms: dict[int, list[dict[int, float]]] = {}
        df: dict[int, int] = {}
        total = 0
        for paragraphs in corpus:
            vectors = self._vectors(paragraphs)
            total += len(vectors)
            for vector in vectors:
                for term in vector:
                    df[term] = df.get(term, 0) + 1
        self._idf = {t: math.log(1.0 + (total - n + 0.5) / (n + 0.5)) for t, n in df.items()}

    def _vectors(self, paragraphs: Sequence[str]) -> list[dict[int, float]]:
        key = id(paragraphs)
        if key not in self._terms:
            embedded = self._encoder.embed_documents(list(paragraphs))
            self._terms[key] = [dict(zip(v.indices, v.values, strict=True)) for v in embedded]
        return self._terms[key]

    def __call__(self, element: str, paragraphs: Sequence[str]) -> np.ndarray:
        query = self._encoder.embed_query(element).indices
        return np.array(
            [sum(self._idf.get(t, 0.0) * v.get(t, 0.0) for t in query) for v in self._vectors(paragraphs)]
        )


class DenseScorer:
    """MiniLM cosine; a paragraph longer than the model's window scores its best window."""

    def __init__(self, encoder: Encoder) -> None:
        self._encoder = encoder
        self._budget = encoder.document_token_budget
        self._windows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._queries: dict[str, np.ndarray] = {}

    def prepare(self, corpus: Sequence[Sequence[str]], elements: Sequence[str]) -> None:
        """Encode every window of every patent, and every element, in two calls."""
        texts: list[str] = []
        owners: list[tuple[int, int]] = []
        for paragraphs in corpus:
            for i, paragraph in enumerate(paragraphs):
                for window in self._split(paragraph):
                    texts.append(window)
                    owners.append((id(paragraphs), i))
        vectors = self._encoder.encode_documents(texts)
        by_patent: dict[int, tuple[list[int], list[np.ndarray]]] = {}
        for (key, i), vector in zip(owners, vectors, strict=True):
            slot = by_patent.setdefault(key, ([], []))
            slot[0].append(i)
            slot[1].append(vector)
        for key, (index, rows) in by_patent.items():
            self._windows[key] = (np.array(index), np.vstack(rows))
        unique = sorted(set(elements))
        for text, vector in zip(unique, self._encoder.encode_queries(unique), strict=True):
            self._queries[text] = vector

    def _split(self, paragraph: str) -> list[str]:
        if self._encoder.count_tokens(paragraph) <= self._budget:
            return [paragraph]
        windows: list[str] = []
        current = ""
        for sentence in _SENTENCE.split(paragraph):
            joined = f"{current} {sentence}".strip()
            if current and self._encoder.count_tokens(joined) > self._budget:
                windows.append(current)
                current = sentence
            else:
                current = joined
        if current:
            windows.append(current)
        return windows

    def __call__(self, element: str, paragraphs: Sequence[str]) -> np.ndarray:
        index, rows = self._windows[id(paragraphs)]
        query = self._queries.get(element)
        if query is None:
            query = self._encoder.encode_query(element)
        cosine = rows @ query
        scores = np.full(len(paragraphs), -np.inf)
        np.maximum.at(scores, index, cosine)
        return scores


def rrf(
    *scorers: Callable[[str, Sequence[str]], np.ndarray], k: int = 60
) -> Callable[[str, Sequence[str]], np.ndarray]:
    """Reciprocal-rank fusion of scorers (the formula the store uses, ranks from 0)."""

    def fused(element: str, paragraphs: Sequence[str]) -> np.ndarray:
        total = np.zeros(len(paragraphs))
        for scorer in scorers:
            order = _ranking(scorer(element, paragraphs), range(len(paragraphs)))
            for rank, i in enumerate(order):
                total[i] += 1.0 / (k + rank)
        return total

    return fused


def _ranking(scores: np.ndarray, candidates: Sequence[int] | range) -> list[int]:
    """Candidates best first; ties keep document order."""
    return sorted(candidates, key=lambda i: (-scores[i], i))


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Tally:
    """Hits at each k and reciprocal ranks over the elements of one method and setting."""

    hits: dict[int, int] = field(default_factory=lambda: dict.fromkeys(KS, 0))
    reciprocal: float = 0.0
    n: int = 0
    ranks: list[int | None] = field(default_factory=list)

    def add(self, ranked: Sequence[int], gold: frozenset[int]) -> None:
        self.n += 1
        first = next((r for r, i in enumerate(ranked) if i in gold), None)
        self.ranks.append(first + 1 if first is not None else None)
        if first is not None:
            self.reciprocal += 1.0 / (first + 1)
            for k in KS:
                self.hits[k] += first < k

    def as_dict(self) -> dict[str, float]:
        out: dict[str, float] = {f"acc@{k}": self.hits[k] / self.n if self.n else 0.0 for k in KS}
        out["mrr"] = self.reciprocal / self.n if self.n else 0.0
        out["elements"] = self.n
        return out


def random_floor(labels: Sequence[Label], docs: dict[str, PatentDocument], setting: str) -> dict[str, float]:
    """Expected accuracy of a uniformly random ranking (exact, no sampling)."""
    totals = dict.fromkeys(KS, 0.0)
    n = 0
    for item in labels:
        gold = item.targets(setting)
        if not gold:
            continue
        pool = len(docs[item.publication_number].description) - len(_excluded(item, labels, setting))
        n += 1
        for k in KS:
            miss = math.comb(pool - len(gold), k) / math.comb(pool, k) if pool >= k else 0.0
            totals[k] += 1.0 - miss
    out = {f"acc@{k}": totals[k] / n for k in KS}
    out["elements"] = n
    return out


def _excluded(item: Label, labels: Sequence[Label], setting: str) -> set[int]:
    """0-based paragraphs removed from a patent's candidates in a setting (its echo paragraphs)."""
    if setting != "no echo":
        return set()
    return {
        g - 1 for other in labels if other.publication_number == item.publication_number for g in other.echo
    }


def evaluate(
    scorer: Callable[[str, Sequence[str]], np.ndarray],
    labels: Sequence[Label],
    texts: dict[str, list[str]],
    setting: str,
    fixture: Sequence[Label] | None = None,
) -> Tally:
    """Rank each element's own patent's paragraphs with ``scorer`` and tally the gold's rank
    (``fixture``: every label, whose echoes are removed in the ``no echo`` setting)."""
    tally = Tally()
    for item in labels:
        gold = item.targets(setting)
        if not gold:
            continue
        paragraphs = texts[item.publication_number]
        drop = _excluded(item, fixture or labels, setting)
        scores = scorer(item.element, paragraphs)
        tally.add(_ranking(scores, [i for i in range(len(paragraphs)) if i not in drop]), gold)
    return tally


# --- threshold calibration ------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    """One calibration example: an element's score against one reference, and whether it discloses it."""

    patent: str
    score: float
    positive: bool


def unrelated(doc: PatentDocument, pool: Sequence[PatentDocument]) -> list[PatentDocument]:
    """Patents of ``pool`` with no IPC section in common with ``doc``."""
    sections = {code[0] for code in doc.ipc}
    return [other for other in pool if other.ipc and not sections & {code[0] for code in other.ipc}]


def dense_calibration_set(
    scorer: Callable[[str, Sequence[str]], np.ndarray],
    labels: Sequence[Label],
    texts: dict[str, list[str]],
    negatives: dict[str, list[str]],
) -> list[Scored]:
    """Positives: the best gold paragraph's score (no echo); negatives: the best score in each
    unrelated patent."""
    examples = []
    for item in labels:
        gold = item.targets("no echo")
        if not gold:
            continue
        own = scorer(item.element, texts[item.publication_number])
        examples.append(Scored(item.publication_number, float(max(own[i] for i in gold)), True))
        for reference in negatives[item.key]:
            examples.append(
                Scored(item.publication_number, float(np.max(scorer(item.element, texts[reference]))), False)
            )
    return examples


def _counts(examples: Sequence[Scored], threshold: float) -> tuple[int, int, int]:
    tp = sum(e.positive and e.score >= threshold for e in examples)
    fp = sum((not e.positive) and e.score >= threshold for e in examples)
    fn = sum(e.positive and e.score < threshold for e in examples)
    return tp, fp, fn


def prf(examples: Sequence[Scored], threshold: float) -> dict[str, float]:
    """Precision, recall and F1 of ``score >= threshold`` as the found decision."""
    tp, fp, fn = _counts(examples, threshold)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": threshold, "precision": precision, "recall": recall, "f1": f1}


def best_f1(examples: Sequence[Scored]) -> dict[str, float]:
    """The threshold (one of the observed scores) with the highest F1; the lowest one on ties."""
    candidates = sorted({e.score for e in examples})
    return max((prf(examples, t) for t in candidates), key=lambda r: (r["f1"], -r["threshold"]))


def at_precision(examples: Sequence[Scored], target: float = 0.9) -> dict[str, float]:
    """The lowest threshold whose precision reaches ``target`` (the most recall at that precision)."""
    for t in sorted({e.score for e in examples}):
        row = prf(examples, t)
        if row["precision"] >= target and row["recall"] > 0:
            return row
    return prf(examples, math.inf)


def leave_one_patent_out(examples: Sequence[Scored]) -> dict[str, Any]:
    """Fit the F1 threshold without each patent, apply it to that patent; pool the held-out decisions."""
    patents = sorted({e.patent for e in examples})
    held: list[Scored] = []
    thresholds = []
    tp = fp = fn = 0
    for patent in patents:
        fitted = best_f1([e for e in examples if e.patent != patent])["threshold"]
        thresholds.append(fitted)
        test = [e for e in examples if e.patent == patent]
        held.extend(test)
        a, b, c = _counts(test, fitted)
        tp, fp, fn = tp + a, fp + b, fn + c
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "thresholds_min": min(thresholds),
        "thresholds_max": max(thresholds),
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def split_halves(examples: Sequence[Scored], *, repeats: int, seed: int) -> dict[str, float]:
    """Fit on a random half of the patents, test on the other half, ``repeats`` times."""
    rng = random.Random(seed)
    patents = sorted({e.patent for e in examples})
    thresholds, f1s, precisions, recalls = [], [], [], []
    for _ in range(repeats):
        fit = set(rng.sample(patents, len(patents) // 2))
        fitted = best_f1([e for e in examples if e.patent in fit])["threshold"]
        test = prf([e for e in examples if e.patent not in fit], fitted)
        thresholds.append(fitted)
        f1s.append(test["f1"])
        precisions.append(test["precision"])
        recalls.append(test["recall"])
    return {
        "threshold_mean": float(np.mean(thresholds)),
        "threshold_sd": float(np.std(thresholds)),
        "test_f1_mean": float(np.mean(f1s)),
        "test_f1_sd": float(np.std(f1s)),
        "test_precision_mean": float(np.mean(precisions)),
        "test_recall_mean": float(np.mean(recalls)),
    }


Z_SWEEP = (2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)
COSINE_SWEEP = (0.35, 0.4, 0.45, 0.5, 0.55)


def calibrate(examples: Sequence[Scored], *, seed: int, sweep: Sequence[float] = ()) -> dict[str, Any]:
    """Every calibration figure for one method's scores, and precision/recall at ``sweep`` thresholds."""
    positives = [e.score for e in examples if e.positive]
    negatives = [e.score for e in examples if not e.positive]
    return {
        "positives": len(positives),
        "negatives": len(negatives),
        "positive_median": float(np.median(positives)),
        "negative_median": float(np.median(negatives)),
        "best_f1": best_f1(examples),
        "precision_0.9": at_precision(examples, 0.9),
        "leave_one_patent_out": leave_one_patent_out(examples),
        "halves": split_halves(examples, repeats=50, seed=seed),
        "sweep": [prf(examples, t) for t in sweep],
    }


# --- the chart's own method ----------------------------------------------------------------


@dataclass
class ChartRuns:
    """The chart's passage ranking per element, in both settings, with default and exhaustive options."""

    ranked: dict[str, dict[str, dict[tuple[str, str], list[tuple[int, float]]]]] = field(default_factory=dict)
    negatives: dict[tuple[str, str], float] = field(default_factory=dict)
    abstract_first: dict[str, int] = field(default_factory=dict)


def memoize_documents(encoder: Encoder) -> None:
    """Make ``encoder`` encode each distinct document text once for the rest of the run.

    The chart rescoring encodes its passages per call, and this benchmark calls it many times over
    the same patents (two settings, two option sets, the unrelated references); the baseline and
    the index share many texts too. Memoizing keeps the run to minutes; a vector depends only on
    its text (up to float noise from batch padding), so no score changes.
    """
    original = encoder.encode_documents
    cache: dict[str, np.ndarray] = {}

    def encode_documents(texts: Sequence[str]) -> np.ndarray:
        new = [text for text in dict.fromkeys(texts) if text not in cache]
        if new:
            cache.update(zip(new, original(new), strict=True))
        if not texts:
            return original(texts)
        return np.vstack([cache[text] for text in texts])

    setattr(encoder, "encode_documents", encode_documents)  # noqa: B010 - an instance attribute, on purpose


def _index(
    folder: Path, labelled: list[PatentDocument], distractors: list[PatentDocument], encoder: Encoder
) -> Store:
    store = open_store(str(folder))
    ingest_documents([*labelled, *distractors], store=store, encoder=encoder)
    return store


def _blank(doc: PatentDocument, paragraphs: set[int]) -> PatentDocument:
    """``doc`` with the given 1-based paragraphs emptied (the chunker skips them; numbering stays)."""
    description = [
        p.model_copy(update={"text": ""}) if i + 1 in paragraphs else p for i, p in enumerate(doc.description)
    ]
    return doc.model_copy(update={"description": description})


def run_chart(
    labels: Sequence[Label],
    docs: dict[str, PatentDocument],
    encoder: Encoder,
    negatives: dict[str, list[str]],
) -> ChartRuns:
    """Rank every element's own patent with the chart's scoring, in an index of the labelled patents.

    The labelled patents are indexed in full text without their claims (a claim would match its own
    elements verbatim); the rest of the sample is indexed as title, abstract and independent claims
    (as the demo index holds them), so that the background the chart standardizes against is not
    only the labelled patents. The ``no echo`` setting gets its own index, with the echo paragraphs
    emptied, so that the chart's first stage cannot spend its candidates on them.
    """
    numbers = sorted({item.publication_number for item in labels})
    echo = {n: {g for item in labels if item.publication_number == n for g in item.echo} for n in numbers}
    stripped = {n: docs[n].model_copy(update={"claims": []}) for n in numbers}
    distractors = [
        doc.model_copy(update={"description": [], "claims": doc.independent_claims})
        for number, doc in docs.items()
        if number not in stripped
    ]
    runs = ChartRuns()
    variants = {
        "default": ChartOptions(passages=1000),
        "every passage": ChartOptions(candidates=None, passages=1000),
    }
    by_patent: dict[str, list[Label]] = {}
    for item in labels:
        by_patent.setdefault(item.publication_number, []).append(item)
    with tempfile.TemporaryDirectory(prefix="chart-passages-") as tmp:
        for setting in SETTINGS:
            indexed = [_blank(stripped[n], echo[n]) if setting == "no echo" else stripped[n] for n in numbers]
            store = _index(Path(tmp) / setting.replace(" ", "-"), indexed, distractors, encoder)
            with PatentSearcher(index=store, encoder=encoder, options=SearchOptions()) as searcher:
                runs.ranked[setting] = {}
                for variant, options in variants.items():
                    ranked: dict[tuple[str, str], list[tuple[int, float]]] = {}
                    for number, items in by_patent.items():
                        elements = [_element(item) for item in items]
                        out = rank_passages(searcher, elements, [number], options=options)
                        for item in items:
                            passages = out[(item.label, number)]
                            if (
                                variant == "default"
                                and passages
                                and passages[0].location.section != "description"
                            ):
                                runs.abstract_first[setting] = runs.abstract_first.get(setting, 0) + 1
                            ranked[(number, item.label)] = [
                                (p.location.paragraph - 1, p.score)
                                for p in passages
                                if p.location.section == "description" and p.location.paragraph is not None
                            ]
                    runs.ranked[setting][variant] = ranked
                if setting == "all":
                    # The cells a chart would show for unrelated references, with the default options.
                    for items in by_patent.values():
                        references = sorted({r for item in items for r in negatives[item.key]})
                        if not references:
                            continue
                        elements = [_element(item) for item in items]
                        out = rank_passages(searcher, elements, references, options=ChartOptions(passages=1))
                        for item in items:
                            for reference in negatives[item.key]:
                                runs.negatives[(item.key, reference)] = out[(item.label, reference)][0].score
            store.close()
    return runs


def _element(item: Label) -> ClaimElement:
    return ClaimElement(label=item.label, role="element", text=item.element, start=0, end=len(item.element))


def evaluate_ranked(
    ranked: dict[tuple[str, str], list[tuple[int, float]]], labels: Sequence[Label], setting: str
) -> Tally:
    """Tally the chart's rankings (description paragraphs only, best first)."""
    tally = Tally()
    for item in labels:
        gold = item.targets(setting)
        if gold:
            tally.add([i for i, _ in ranked[(item.publication_number, item.label)]], gold)
    return tally


def chart_calibration_set(
    runs: ChartRuns, labels: Sequence[Label], negatives: dict[str, list[str]]
) -> list[Scored]:
    """The chart's standardized scores in the full index: the best non-echo gold paragraph's (every
    passage scored) and the cells of unrelated references (default options)."""
    every = runs.ranked["all"]["every passage"]
    examples = []
    for item in labels:
        gold = item.targets("no echo")
        if not gold:
            continue
        scores = dict(every[(item.publication_number, item.label)])
        examples.append(Scored(item.publication_number, max(scores[i] for i in gold if i in scores), True))
        for reference in negatives[item.key]:
            examples.append(Scored(item.publication_number, runs.negatives[(item.key, reference)], False))
    return examples


# --- the run --------------------------------------------------------------------------------


def _markdown(
    rows: list[tuple[str, dict[str, dict[str, float]]]], floors: dict[str, dict[str, float]]
) -> str:
    header = "| method | " + " | ".join(f"{s}: acc@1 | {s}: acc@3 | {s}: MRR" for s in SETTINGS) + " |"
    lines = [header, "|---|" + "---|" * (3 * len(SETTINGS))]
    for name, by_setting in rows:
        cells = []
        for setting in SETTINGS:
            m = by_setting[setting]
            cells += [f"{m['acc@1']:.3f}", f"{m['acc@3']:.3f}", f"{m['mrr']:.3f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cells = []
    for setting in SETTINGS:
        cells += [f"{floors[setting]['acc@1']:.3f}", f"{floors[setting]['acc@3']:.3f}", "-"]
    lines.append("| random (expected) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _calibration_markdown(calibrations: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| score | positives / negatives | median pos / neg | best-F1 threshold (P / R / F1) | "
        "P>=0.9 threshold (P / R) | leave-one-patent-out P / R / F1 (thresholds) | "
        "halves: threshold, test F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, c in calibrations.items():
        f, p, lo, h = c["best_f1"], c["precision_0.9"], c["leave_one_patent_out"], c["halves"]
        lines.append(
            f"| {name} | {c['positives']} / {c['negatives']} | {c['positive_median']:.3f} / "
            f"{c['negative_median']:.3f} | {f['threshold']:.3f} ({f['precision']:.2f} / {f['recall']:.2f} / "
            f"{f['f1']:.2f}) | {p['threshold']:.3f} ({p['precision']:.2f} / {p['recall']:.2f}) | "
            f"{lo['precision']:.2f} / {lo['recall']:.2f} / {lo['f1']:.2f} ({lo['thresholds_min']:.3f}-"
            f"{lo['thresholds_max']:.3f}) | {h['threshold_mean']:.3f} ± {h['threshold_sd']:.3f}, "
            f"{h['test_f1_mean']:.2f} ± {h['test_f1_sd']:.2f} |"
        )
    return "\n".join(lines)


NEGATIVE_KINDS = ("other section", "same section")


def _per_element(tallies: dict[str, dict[str, Tally]], labels: Sequence[Label]) -> dict[str, Any]:
    """Per setting, method and element: the rank of the first gold paragraph (None: not ranked)."""
    out: dict[str, Any] = {}
    for setting in SETTINGS:
        keys = [f"{item.publication_number} {item.label}" for item in labels if item.targets(setting)]
        out[setting] = {
            name: dict(zip(keys, by_setting[setting].ranks, strict=True))
            for name, by_setting in tallies.items()
        }
    return out


def head_to_head(
    tallies: dict[str, dict[str, Tally]], reference: str, setting: str
) -> dict[str, dict[str, float]]:
    """Per method, against ``reference`` at rank 1: elements only it gets right, elements only the
    reference gets right, and the two-sided exact sign test of that split."""
    mine = [r == 1 for r in tallies[reference][setting].ranks]
    out = {}
    for name, by_setting in tallies.items():
        if name == reference:
            continue
        theirs = [r == 1 for r in by_setting[setting].ranks]
        wins = sum(a and not b for a, b in zip(mine, theirs, strict=True))
        losses = sum(b and not a for a, b in zip(mine, theirs, strict=True))
        n = wins + losses
        tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1)) / 2**n if n else 1.0
        out[name] = {"reference_only": wins, "method_only": losses, "sign_test_p": min(1.0, 2 * tail)}
    return out


def _sweep_markdown(calibrations: dict[str, dict[str, Any]]) -> str:
    lines = ["| score | threshold: precision / recall ... |", "|---|---|"]
    for name, c in calibrations.items():
        cells = [f"{r['threshold']:g}: {r['precision']:.2f} / {r['recall']:.2f}" for r in c["sweep"]]
        lines.append(f"| {name} | {'; '.join(cells)} |")
    return "\n".join(lines)


def pick_negatives(
    labels: Sequence[Label], docs: dict[str, PatentDocument], count: int, seed: int
) -> dict[str, dict[str, list[str]]]:
    """For each kind and element (by key), up to ``count`` labelled patents that do not
    disclose it, seeded: of another IPC section (easy), or of the same section but no common
    subclass (harder: a neighbouring field)."""
    rng = random.Random(seed)
    pool = [docs[n] for n in sorted({item.publication_number for item in labels})]
    out: dict[str, dict[str, list[str]]] = {kind: {} for kind in NEGATIVE_KINDS}
    for item in labels:
        doc = docs[item.publication_number]
        far = {d.publication_number for d in unrelated(doc, pool)}
        subclasses = {code[:4] for code in doc.ipc}
        near = [
            d.publication_number
            for d in pool
            if d.publication_number != doc.publication_number
            and d.publication_number not in far
            and not subclasses & {code[:4] for code in d.ipc}
        ]
        out["other section"][item.key] = rng.sample(sorted(far), min(count, len(far)))
        out["same section"][item.key] = rng.sample(near, min(count, len(near)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--negatives", type=int, default=3, help="unrelated patents per element (calibration)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--patents",
        choices=("all", "dev", "test"),
        default="all",
        help="score every labelled patent, or one half: dev (the 1st, 3rd, ... by number) or test; "
        "tune options on dev, report test",
    )
    parser.add_argument("--skip-chart", action="store_true", help="baselines only (no index is built)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--data", type=Path, default=DATA, help="the labelled fixture")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG

    docs = {doc.publication_number: doc for doc in sample_documents(full=True)}
    labels = load_labels(args.data)
    problems = validate(labels, docs)
    if problems:
        raise SystemExit("the fixture no longer matches the packaged sample:\n  " + "\n  ".join(problems))
    labelled = sorted({item.publication_number for item in labels})
    halves = {"dev": set(labelled[0::2]), "test": set(labelled[1::2]), "all": set(labelled)}
    scored = [item for item in labels if item.publication_number in halves[args.patents]]
    texts = {number: [p.text for p in docs[number].description] for number in labelled}
    negatives = pick_negatives(labels, docs, args.negatives, args.seed)
    wanted = {item.key: sorted({r for kind in negatives.values() for r in kind[item.key]}) for item in labels}
    print(
        f"{len(scored)} labelled elements of {len(halves[args.patents])} patents ({args.patents}; "
        f"{sum(1 for item in scored if not item.gold)} without support, "
        f"{sum(1 for item in scored if not item.targets('no echo'))} supported by echoes only)"
    )

    encoder = Encoder(MODEL)
    memoize_documents(encoder)
    dense = DenseScorer(encoder)
    dense.prepare(list(texts.values()), [item.element for item in labels])
    qdrant_bm25 = QdrantBm25Scorer(list(texts.values()))
    methods: list[tuple[str, Callable[[str, Sequence[str]], np.ndarray]]] = [
        ("BM25 alone (bm25s, per patent)", Bm25sScorer()),
        ("BM25 alone (Qdrant tokenizer, stemmed)", qdrant_bm25),
        ("dense alone (MiniLM cosine)", dense),
        ("BM25 + dense, RRF", rrf(qdrant_bm25, dense)),
        ("shared words (trivial)", score_overlap),
        ("document order (trivial)", score_order),
    ]
    tallies: dict[str, dict[str, Tally]] = {}
    runs = None if args.skip_chart else run_chart(labels, docs, encoder, wanted)
    if runs is not None:
        for variant, name in (
            ("default", "chart (find_passages, default options)"),
            ("every passage", "chart, every passage rescored (candidates=None)"),
        ):
            tallies[name] = {s: evaluate_ranked(runs.ranked[s][variant], scored, s) for s in SETTINGS}
    for name, scorer in methods:
        tallies[name] = {s: evaluate(scorer, scored, texts, s, labels) for s in SETTINGS}
    rows = [
        (name, {s: tally.as_dict() for s, tally in by_setting.items()})
        for name, by_setting in tallies.items()
    ]
    floors = {s: random_floor(scored, docs, s) for s in SETTINGS}

    calibrations: dict[str, dict[str, Any]] = {}
    for kind in NEGATIVE_KINDS:
        if runs is not None:
            calibrations[f"chart Cell.score (z), {kind} negatives"] = calibrate(
                chart_calibration_set(runs, scored, negatives[kind]), seed=args.seed, sweep=Z_SWEEP
            )
        calibrations[f"dense cosine, {kind} negatives"] = calibrate(
            dense_calibration_set(dense, scored, texts, negatives[kind]), seed=args.seed, sweep=COSINE_SWEEP
        )

    print()
    print(_markdown(rows, floors))
    print()
    print(
        "Threshold calibration (positives: the best gold paragraph, no echo; negatives: the best "
        "passage of a patent of another IPC section, or of the same section and another subclass):"
    )
    print()
    print(_calibration_markdown(calibrations))
    print()
    print(_sweep_markdown(calibrations))
    versus: dict[str, Any] = {}
    if runs is not None:
        chart = "chart (find_passages, default options)"
        versus = {s: head_to_head(tallies, chart, s) for s in SETTINGS}
        print()
        print(
            "Cells whose best passage was the abstract (skipped above, where only paragraphs count): "
            + ", ".join(f"{s}: {runs.abstract_first.get(s, 0)}" for s in SETTINGS)
        )
        print(
            f"At rank 1, {chart} against each method "
            "(elements only the chart gets / only the method gets, sign-test p):"
        )
        for setting in SETTINGS:
            parts = [
                f"{name}: {v['reference_only']}/{v['method_only']} (p {v['sign_test_p']:.2f})"
                for name, v in versus[setting].items()
                if "trivial" not in name
            ]
            print(f"- {setting}: " + "; ".join(parts))
    if args.json:
        result = {
            "elements": len(labels),
            "patents": len(labelled),
            "accuracy": dict(rows),
            "first_gold_rank": _per_element(tallies, scored),
            "patents_scored": args.patents,
            "chart_versus": versus,
            "chart_cell_not_a_paragraph": runs.abstract_first if runs is not None else {},
            "random": floors,
            "calibration": calibrations,
            "negatives_per_element": args.negatives,
            "seed": args.seed,
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
