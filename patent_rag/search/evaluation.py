"""Patent-level evaluation: run a searcher over queries and score it against qrels.

Qrels use the BEIR TSV layout (``query-id  corpus-id  score``, header line optional, extra
columns ignored; TREC's ``qid 0 docid rel`` is read too). Queries are free text (a TSV of
``id<TAB>text`` or a JSONL of ``{"_id": ..., "text": ...}`` as BEIR writes them) or, when no
queries are given, the qrels' query ids themselves: publication numbers of patents in the index,
each searched as a prior-art query by patent (itself and its family excluded, the searcher's
prior-art cutoff applied).

Metrics come from ir-measures (trec_eval's definitions through pytrec_eval): ``ndcg@k``,
``recall@k``, ``map`` (or ``map@k``), ``mrr`` (or ``mrr@k``), ``precision@k``. Corpus ids are
compared as normalized publication numbers (``EP0123456B1`` and ``EP123456B1`` are the same
patent). The ranking is scored in the order the searcher returned it (trec_eval would reorder
tied scores by id). A judged query with no relevant document is skipped; a query the searcher
returned nothing for scores 0.

Kind codes: citation exports often write ``US5583744`` for ``US5583744A``. ``ignore_kind=None``
(the default) compares numbers without kind codes when more judged documents match the index (or,
for :func:`score_run`, the run) that way than with them, and says so in ``result.warnings`` and
``result.matching``; True or False decides it. Without kind codes the publications of one patent
(``US5583744A``, ``US5583744B1``) are one id: a ranking keeps its best-ranked one, the qrels its
highest judgment. :func:`evaluate` refuses qrels whose judged documents match nothing in the index.

Example:
    >>> qrels = {"q1": {"US1": 1, "US3": 1}}
    >>> result = score_run({"q1": ["US1", "US2", "US3"]}, qrels, measures=["ndcg@10", "mrr"])
    >>> round(result.metrics["ndcg@10"], 4), result.metrics["mrr"], result.queries
    (0.9197, 1.0, 1)
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import ir_measures

from patent_rag.documents.record import normalize_publication_number
from patent_rag.errors import ConfigurationError, ParseError, PatentNotFoundError
from patent_rag.search.searcher import HasSearcher, PatentSearcher

if TYPE_CHECKING:
    from patent_rag.stores.base import Store

__all__ = [
    "DEFAULT_MEASURES",
    "EvaluationResult",
    "IdMatch",
    "QueryResult",
    "evaluate",
    "load_qrels",
    "load_queries",
    "score_run",
]

logger = logging.getLogger(__name__)

DEFAULT_MEASURES = ("ndcg@10", "recall@100", "map", "mrr")
# Our names -> ir-measures names; "@k" optional except for recall and precision.
_MEASURES = {"ndcg": "nDCG", "recall": "R", "map": "AP", "mrr": "RR", "precision": "P"}
_ALIASES = {"r": "recall", "ap": "map", "rr": "mrr", "p": "precision"}
_MEASURE = re.compile(r"^([a-z]+)(?:@(\d+))?$")
_KIND = re.compile(r"(?<=\d)[A-Z]\d?$")
_BATCH = 64  # publication numbers per index lookup (each tried with every usual kind code)
_EXAMPLES = 3  # ids quoted in a warning or an error

Ranking = Sequence[str] | Sequence[tuple[str, float]]
"""Publication numbers best first, or ``(publication number, score)`` pairs best first."""


@dataclass(frozen=True)
class QueryResult:
    """One query's scores and ranking (publication numbers best first, with the searcher's scores)."""

    query_id: str
    metrics: Mapping[str, float]
    ranking: tuple[str, ...]
    scores: tuple[float, ...]
    relevant: int
    found: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            **dict(self.metrics),
            "relevant": self.relevant,
            "found": self.found,
            "ranking": list(self.ranking),
            "scores": list(self.scores),
        }


@dataclass(frozen=True)
class IdMatch:
    """How the qrels' ids meet the index and the run.

    Attributes:
        queries: judged queries (with a relevant document); queries_searched: those searched (a
            patent query found in the index, or a query with a text), of which
            queries_without_kind were found only by ignoring their kind code.
        documents: distinct judged documents as the qrels write them; documents_in_index: of
            them, held by the index under that number (None: no index was asked);
            documents_in_index_without_kind: held when kind codes are ignored;
            documents_retrieved: in at least one ranking, compared as the scoring compared them.
        ignore_kind: the scoring compared numbers without kind codes; ignore_kind_auto: it chose
            to because the ids matched only that way (not asked for).
    """

    queries: int
    queries_searched: int
    documents: int
    documents_retrieved: int
    ignore_kind: bool
    ignore_kind_auto: bool = False
    queries_without_kind: int = 0
    documents_in_index: int | None = None
    documents_in_index_without_kind: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class EvaluationResult:
    """Mean metrics over the scored queries, each query's result, the queries skipped and why,
    how the qrels' ids matched (``matching``) and what the reader should know (``warnings``)."""

    metrics: Mapping[str, float]
    per_query: tuple[QueryResult, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    matching: IdMatch | None = None
    warnings: tuple[str, ...] = ()

    @property
    def queries(self) -> int:
        """Number of queries scored."""
        return len(self.per_query)

    def query(self, query_id: str) -> QueryResult:
        for result in self.per_query:
            if result.query_id == query_id:
                return result
        raise KeyError(query_id)

    def as_dict(self, *, per_query: bool = False) -> dict[str, Any]:
        """``{"ndcg@10": ..., "recall@100": ..., "map": ..., "queries": n, "skipped": {...}, ...}``."""
        data: dict[str, Any] = {**dict(self.metrics), "queries": self.queries, "skipped": dict(self.skipped)}
        data["settings"] = dict(self.settings)
        data["matching"] = self.matching.as_dict() if self.matching else None
        data["warnings"] = list(self.warnings)
        if per_query:
            data["per_query"] = [result.as_dict() for result in self.per_query]
        return data

    def save(self, path: str | Path) -> Path:
        """Write per-query results: ``.json`` (everything, rankings included) or ``.tsv`` (metrics).

        The TSV has one row per query (``query-id``, each metric, ``relevant``, ``found``) and a
        last row ``all`` with the means, ready for ``pandas.read_csv(..., sep="\\t")`` comparisons.
        """
        target = Path(path)
        if target.suffix.lower() == ".json":
            target.write_text(json.dumps(self.as_dict(per_query=True), indent=2, default=str) + "\n")
            return target
        if target.suffix.lower() not in (".tsv", ".txt"):
            raise ConfigurationError(f"per-query results are saved as .json or .tsv, got {target.name!r}")
        names = list(self.metrics)
        with target.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream, delimiter="\t", lineterminator="\n")
            writer.writerow(["query-id", *names, "relevant", "found"])
            for result in self.per_query:
                row = [f"{result.metrics[name]:.6f}" for name in names]
                writer.writerow([result.query_id, *row, result.relevant, result.found])
            writer.writerow(["all", *(f"{self.metrics[name]:.6f}" for name in names), "", ""])
        return target


def _doc_id(value: str, ignore_kind: bool) -> str:
    number = normalize_publication_number(value)
    return _KIND.sub("", number) if ignore_kind else number


def _measure(name: str) -> tuple[str, Any]:
    match = _MEASURE.match(name.strip().lower())
    base = _ALIASES.get(match.group(1), match.group(1)) if match else None
    if not match or base not in _MEASURES or (base in ("precision", "recall") and not match.group(2)):
        raise ConfigurationError(
            f"unknown measure {name!r}; use ndcg, ndcg@K, recall@K, map, map@K, mrr, mrr@K or "
            "precision@K (K a positive number)"
        )
    cutoff = int(match.group(2)) if match.group(2) else None
    if cutoff is not None and cutoff < 1:
        raise ConfigurationError(f"the cutoff of {name!r} must be at least 1")
    measure = ir_measures.parse_measure(_MEASURES[base] + (f"@{cutoff}" if cutoff else ""))
    return base + (f"@{cutoff}" if cutoff else ""), measure


def load_qrels(path: str | Path, *, ignore_kind: bool = False) -> dict[str, dict[str, int]]:
    """Read qrels: BEIR TSV (``query-id  corpus-id  score``; header optional) or TREC (``qid 0 docid rel``).

    Corpus ids become normalized publication numbers; a pair listed twice keeps its highest score.

    Raises:
        ConfigurationError: the file does not exist.
        ParseError: a line is not ``query-id<TAB>corpus-id<TAB>integer score`` (names file and line).
    """
    source = Path(path)
    if not source.is_file():
        raise ConfigurationError(
            f"qrels file {source} does not exist; give a BEIR TSV (query-id, corpus-id, score)"
        )
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) == 4 and fields[1] in ("0", "Q0") and fields[3].strip().lstrip("-").isdigit():
            fields = [fields[0], fields[2], fields[3]]  # TREC qrels
        if len(fields) < 3 or not fields[2].strip().lstrip("-").isdigit():
            if number == 1 and len(fields) >= 3:
                continue  # the header line
            raise ParseError(
                "expected query-id<TAB>corpus-id<TAB>score with an integer score",
                file=str(source),
                line=number,
            )
        query, doc, score = fields[0].strip(), _doc_id(fields[1].strip(), ignore_kind), int(fields[2])
        judged = qrels.setdefault(query, {})
        judged[doc] = max(score, judged.get(doc, score))
    return qrels


def load_queries(path: str | Path) -> dict[str, str]:
    """Read free-text queries: TSV ``id<TAB>text`` (header optional) or JSONL ``{"_id"|"id", "text"}``.

    Raises:
        ConfigurationError: the file does not exist.
        ParseError: a line has no id or no text (names file and line).
    """
    source = Path(path)
    if not source.is_file():
        raise ConfigurationError(f"queries file {source} does not exist; give a TSV (id, text) or BEIR JSONL")
    queries: dict[str, str] = {}
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ParseError(f"invalid JSON: {error.msg}", file=str(source), line=number) from None
            key = next((k for k in ("_id", "id", "query_id", "query-id") if k in record), None)
            text = record.get("text") or record.get("query") or ""
            ident = str(record[key]).strip() if key else ""
        else:
            ident, _, text = (part.strip() for part in line.partition("\t"))
            if number == 1 and ident.lower() in ("id", "_id", "qid", "query-id", "query_id"):
                continue
        if not ident or not str(text).strip():
            raise ParseError(
                "a query needs an id and a text (TSV id<TAB>text, or JSONL _id/text)",
                file=str(source),
                line=number,
            )
        queries[ident] = " ".join(str(text).split())
    return queries


def _pairs(ranking: Ranking, ignore_kind: bool) -> list[tuple[str, float]]:
    seen: dict[str, float] = {}
    for i, item in enumerate(ranking):
        doc, score = (item, -float(i)) if isinstance(item, str) else (str(item[0]), float(item[1]))
        seen.setdefault(_doc_id(doc, ignore_kind), score)  # duplicates (e.g. kinds dropped): first wins
    return list(seen.items())


def _judged_documents(qrels: Mapping[str, Mapping[str, int]]) -> list[str]:
    """Distinct judged documents (normalized, kind codes as written), in qrels order."""
    return list(dict.fromkeys(_doc_id(doc, False) for docs in qrels.values() for doc in docs))


def _examples(ids: Iterable[str]) -> str:
    chosen = list(ids)
    return ", ".join(chosen[:_EXAMPLES]) + (", …" if len(chosen) > _EXAMPLES else "")


def _compare_without_kind(exact: int, without_kind: int, ignore_kind: bool | None) -> tuple[bool, bool]:
    """(compare without kind codes, chosen automatically): auto when ignoring kinds matches more."""
    if ignore_kind is not None:
        return ignore_kind, False
    return (True, True) if without_kind > exact else (False, False)


def _kind_warning(match: IdMatch, only_without: Sequence[str], against: str) -> str | None:
    """What the reader must know about kind codes: ``only_without`` judged documents (quoted as
    examples) match ``against`` only without them."""
    if not only_without:
        return None
    counted = f"{len(only_without)} of {match.documents} judged documents"
    if match.ignore_kind_auto:
        return (
            f"{counted} match {against} only without their kind codes (e.g. {_examples(only_without)}): "
            "publication numbers are compared without kind codes, so the publications of one patent "
            "(A, B1...) count as one. Pass ignore_kind=False (CLI: --no-ignore-kind) to compare "
            "them with kind codes"
        )
    if not match.ignore_kind:
        return (
            f"{counted} are in {against} only under another kind code (e.g. {_examples(only_without)}) "
            "and count as not found; pass ignore_kind=True (CLI: --ignore-kind) to compare "
            "publication numbers without kind codes"
        )
    return None


def score_run(
    run: Mapping[str, Ranking],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    measures: Iterable[str] = DEFAULT_MEASURES,
    ignore_kind: bool | None = None,
    skipped: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> EvaluationResult:
    """Score rankings against qrels. Every judged query with a relevant document is scored (an
    absent ranking scores 0) unless ``skipped`` gives a reason not to.

    ``ignore_kind``: compare publication numbers without kind codes (True), with them (False), or
    without them when more judged documents appear in the run that way (None; said in
    ``warnings``). Without kind codes a ranking keeps the best-ranked publication of a patent and
    the qrels its highest judgment.

    Example:
        >>> score_run({"q1": ["US2", "US1"]}, {"q1": {"US1": 1}}, measures=["mrr"]).metrics
        {'mrr': 0.5}
    """
    result, only_without = _score(run, qrels, measures, ignore_kind, skipped, settings)
    warning = _kind_warning(result.matching, only_without, "the run")  # type: ignore[arg-type]
    if warning is None:
        return result
    logger.warning("%s", warning)
    return dataclasses.replace(result, warnings=(warning,))


def _score(
    run: Mapping[str, Ranking],
    qrels: Mapping[str, Mapping[str, int]],
    measures: Iterable[str],
    ignore_kind: bool | None,
    skipped: Mapping[str, str] | None,
    settings: Mapping[str, Any] | None,
) -> tuple[EvaluationResult, list[str]]:
    """The scores (``matching`` set, no warnings), and the judged documents found in the run only
    without their kind codes."""
    chosen = dict(_measure(name) for name in measures)
    if not chosen:
        raise ConfigurationError("no measures given; e.g. ndcg@10, recall@100, map, mrr")
    left_out = dict(skipped or {})
    wanted: dict[str, Mapping[str, int]] = {}
    for query, docs in qrels.items():
        if query in left_out:
            continue
        if not any(score > 0 for score in docs.values()):
            left_out[query] = "no relevant document in the qrels"
            continue
        wanted[query] = docs
    documents = _judged_documents(wanted)
    retrieved = {_doc_id(doc, False) for query in wanted for doc, _ in _pairs(run.get(query, ()), False)}
    bases = {_doc_id(doc, True) for doc in retrieved}
    exact = [doc for doc in documents if doc in retrieved]
    without = [doc for doc in documents if _doc_id(doc, True) in bases]
    strip, auto = _compare_without_kind(len(exact), len(without), ignore_kind)
    judged: dict[str, dict[str, int]] = {}
    for query, docs in wanted.items():
        merged = judged[query] = {}
        for doc, score in docs.items():  # publications merged by ignoring kinds keep the highest
            key = _doc_id(doc, strip)
            merged[key] = max(int(score), merged.get(key, int(score)))
    rankings = {query: _pairs(run.get(query, ()), strip) for query in judged}
    # Rank-derived scores: ir-measures sorts by score, and must not reorder ties by document id.
    ranked = {q: {doc: float(len(p) - i) for i, (doc, _) in enumerate(p)} for q, p in rankings.items()}
    values: dict[str, dict[str, float]] = {query: dict.fromkeys(chosen, 0.0) for query in judged}
    names = {measure: name for name, measure in chosen.items()}
    if judged:
        for metric in ir_measures.iter_calc(list(chosen.values()), judged, ranked):
            if metric.query_id in values:
                values[metric.query_id][names[metric.measure]] = float(metric.value)
    per_query = tuple(
        QueryResult(
            query_id=query,
            metrics=values[query],
            ranking=tuple(doc for doc, _ in rankings[query]),
            scores=tuple(score for _, score in rankings[query]),
            relevant=sum(score > 0 for score in judged[query].values()),
            found=sum(judged[query].get(doc, 0) > 0 for doc, _ in rankings[query]),
        )
        for query in judged
    )
    means = {
        name: sum(r.metrics[name] for r in per_query) / len(per_query) if per_query else 0.0
        for name in chosen
    }
    match = IdMatch(
        queries=len(wanted),
        queries_searched=sum(1 for query in wanted if query in run),
        documents=len(documents),
        documents_retrieved=len(without if strip else exact),
        ignore_kind=strip,
        ignore_kind_auto=auto,
    )
    found = set(exact)
    result = EvaluationResult(
        metrics=means, per_query=per_query, skipped=left_out, settings=dict(settings or {}), matching=match
    )
    return result, [doc for doc in without if doc not in found]


def _held(store: Store, numbers: Sequence[str]) -> set[str]:
    """The publication numbers the index holds, asked in batches."""
    held: set[str] = set()
    for start in range(0, len(numbers), _BATCH * 16):
        found = store.existing_hashes(numbers[start : start + _BATCH * 16])
        held.update(number for number, points in found.items() if points)
    return held


def _held_without_kind(store: Store, numbers: Sequence[str]) -> dict[str, str]:
    """``{number: the index's number}`` for numbers held only under another (or no) kind code."""
    from patent_rag.search.query import _KINDS  # the kind codes a number without one is tried with

    found: dict[str, str] = {}
    for start in range(0, len(numbers), _BATCH):
        bases = {number: _doc_id(number, True) for number in numbers[start : start + _BATCH]}
        candidates = sorted({base + kind for base in bases.values() for kind in ("", *_KINDS)})
        held: dict[str, str] = {}
        for number in sorted(_held(store, candidates)):
            held.setdefault(_doc_id(number, True), number)
        found.update({number: held[base] for number, base in bases.items() if base in held})
    return found


def _index_match(
    store: Store, qrels: Mapping[str, Mapping[str, int]], ignore_kind: bool | None
) -> tuple[int, dict[str, str], bool, bool]:
    """How the judged documents meet the index: (held as written, held only without kind code ->
    the index's number, compare without kind codes, chosen automatically). Refuses qrels that
    match nothing there."""
    documents = _judged_documents(qrels)
    if not documents:
        raise ConfigurationError("the qrels judge no documents; give query-id, corpus-id, score lines")
    held = _held(store, documents)
    others = _held_without_kind(store, [doc for doc in documents if doc not in held])
    strip, auto = _compare_without_kind(len(held), len(held) + len(others), ignore_kind)
    where = store.location
    if not held and not others:
        raise ConfigurationError(
            f"none of the {len(documents)} judged documents of the qrels is in the index at {where}, "
            f"not even without kind codes (qrels: {_examples(documents)}); the qrels and the index "
            "must name the same patents (publication numbers with or without kind codes)"
        )
    if not held and not strip:
        raise ConfigurationError(
            f"none of the {len(documents)} judged documents of the qrels is in the index at {where} "
            f"with its kind code, but {len(others)} are without it (e.g. "
            f"{_examples(f'{doc} ~ {number}' for doc, number in others.items())}); pass "
            "ignore_kind=True (CLI: --ignore-kind), or leave it unset to decide from the ids"
        )
    return len(held), others, strip, auto


def _patent_query(searcher: PatentSearcher, query: str, strip: bool) -> str:
    """The index's publication number for a query id (without its kind code when ``strip``)."""
    try:
        return searcher.patent_query(query).publication_number
    except PatentNotFoundError:
        base = _doc_id(query, True)
        if not strip or base == normalize_publication_number(query):
            raise
        return searcher.patent_query(base).publication_number


def evaluate(
    searcher: PatentSearcher | HasSearcher,
    qrels: Mapping[str, Mapping[str, int]],
    *,
    queries: Mapping[str, str] | None = None,
    top_k: int = 100,
    measures: Iterable[str] = DEFAULT_MEASURES,
    ignore_kind: bool | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvaluationResult:
    """Search every judged query with ``searcher`` and score the rankings.

    The judged documents are looked up in the index first: ``result.matching`` counts how many
    are there (with their kind codes as written, and without), ``result.warnings`` says what the
    figures leave out, and qrels whose judged documents match nothing there are refused.

    Args:
        searcher: the :class:`~patent_rag.search.searcher.PatentSearcher`, or a front end wrapping
            one (LlamaIndex's ``PriorArtRetriever``), whose options the queries are searched with.
        qrels: from :func:`load_qrels`.
        queries: query id -> free text (from :func:`load_queries`). None: the qrels' query ids are
            publication numbers in the index, searched as prior-art queries by patent.
        top_k: patents retrieved per query (at least the largest ``@k`` of the measures).
        ignore_kind: compare publication numbers without kind codes (True), with them (False), or
            without them when more judged documents are in the index that way (None).
        progress: called with (queries done, total) after each query.

    Raises:
        ConfigurationError: no judged document is in the index (or only under other kind codes
            with ``ignore_kind=False``), or no query could be searched.

    Example:
        >>> searcher = PatentSearcher(index="my-index", encoder=Encoder("all-minilm-l6-v2"))  # doctest: +SKIP
        >>> result = evaluate(searcher, load_qrels("qrels.tsv"))  # doctest: +SKIP
        >>> result.metrics["ndcg@10"], result.queries, result.matching  # doctest: +SKIP
    """
    if not isinstance(searcher, PatentSearcher):
        searcher = searcher.searcher
    chosen = dict(_measure(name) for name in measures)
    deepest = max((int(n.split("@")[1]) for n in chosen if "@" in n), default=top_k)
    if top_k < deepest:
        logger.warning(
            "top_k=%d is below the deepest cutoff @%d: those measures see %d results", top_k, deepest, top_k
        )
    held, others, strip, auto = _index_match(searcher.store, qrels, ignore_kind)
    skipped: dict[str, str] = {}
    run: dict[str, list[tuple[str, float]]] = {}
    renamed: dict[str, str] = {}  # query id -> the index's number, found only without the kind code
    todo = list(qrels)
    for done, query in enumerate(todo, start=1):
        if queries is not None:
            text = queries.get(query)
            if text is None:
                skipped[query] = "no text for this query id in the queries file"
            else:
                run[query] = [(h.publication_number, h.score) for h in searcher.search(text, top_k=top_k)]
        else:
            try:  # not in the index, or nothing to search with: skip it
                number = _patent_query(searcher, query, strip)
            except ConfigurationError as error:
                skipped[query] = str(error)
            else:
                if number != normalize_publication_number(query):
                    renamed[query] = number
                hits = searcher.search(patent=number, top_k=top_k)
                run[query] = [(hit.publication_number, hit.score) for hit in hits]
        if progress is not None:
            progress(done, len(todo))
    for query, reason in skipped.items():
        logger.warning("query %s skipped: %s", query, reason)
    if qrels and not run:
        what = "has a text in the queries file" if queries is not None else "could be searched"
        first, reason = next(iter(skipped.items()))
        raise ConfigurationError(
            f"none of the {len(qrels)} queries of the qrels {what} (qrels queries: {_examples(qrels)}"
            + (f"; queries file: {_examples(queries)})" if queries is not None else f"; {first}: {reason})")
        )
    settings = {
        "queries": "text" if queries is not None else "patent",
        "top_k": top_k,
        "mode": searcher.options.mode,
        "cutoff": searcher.options.cutoff if queries is None else None,
        "boosts": repr(searcher.options.boosts) if queries is None else None,
    }
    result, _ = _score(run, qrels, list(chosen), strip, skipped, settings)
    match = dataclasses.replace(
        cast(IdMatch, result.matching),  # score_run always sets it
        ignore_kind_auto=auto,
        queries_without_kind=len(renamed),
        documents_in_index=held,
        documents_in_index_without_kind=held + len(others),
    )
    warning = _kind_warning(match, [f"{doc} ~ {number}" for doc, number in others.items()], "the index")
    warnings = [warning] if warning else []
    if renamed:
        warnings.append(
            f"{len(renamed)} query ids name a patent of the index without its kind code, or with "
            f"another one, and were searched as it (e.g. "
            f"{_examples(f'{query} ~ {number}' for query, number in renamed.items())})"
        )
    missing = match.documents - held - len(others)
    if missing:
        warnings.append(
            f"{missing} of {match.documents} judged documents are not in the index and count as not found"
        )
    for warning in warnings:
        logger.warning("%s", warning)
    return dataclasses.replace(result, matching=match, warnings=tuple(warnings))
