"""MetadataBoosts: the bibliographic rescoring of a patent query's candidates."""

from __future__ import annotations

import dataclasses
import math
from datetime import date

import pytest

from patent_rag.errors import ConfigurationError
from patent_rag.search.boosts import MetadataBoosts, apply_boosts
from patent_rag.search.hits import Evidence, PatentHit
from patent_rag.search.query import PatentQuery, QueryText

QUERY = PatentQuery(
    publication_number="US9000000B2",
    texts=(QueryText("abstract", "a query"),),
    priority_date=date(2010, 1, 1),
    cpc=("H03K3/0315", "H03B5/1228"),
    ipc=("H03K3/03",),
    uspc=("331/57", "331/177R"),
    assignees=("Acme Corp.",),
    inventors=("Lovelace, Ada",),
)
OFF = MetadataBoosts(
    classification=0.0, uspc=0.0, assignee=0.0, inventor=0.0, date_proximity=0.0, classified=0
)


def hit(number: str, score: float, **fields: object) -> PatentHit:
    evidence = [Evidence(chunk_id=number, section="abstract", text="text", score=score)]
    return PatentHit(rank=1, publication_number=number, score=score, evidence=evidence, **fields)  # type: ignore[arg-type]


def ranked(hits: list[PatentHit]) -> list[str]:
    return [h.publication_number for h in hits]


def test_each_signal_lifts_the_candidate_that_shares_it() -> None:
    # Equal retrieval scores: only the signal decides.
    plain = [hit(f"US{i}", 1.0) for i in range(4)]
    assert ranked(apply_boosts(QUERY, plain, MetadataBoosts())) == ["US0", "US1", "US2", "US3"]
    cases = {
        "classification": hit("US3", 1.0, cpc=["H03K3/0315"]),
        "uspc": hit("US3", 1.0, uspc=["331/57"]),
        "assignee": hit("US3", 1.0, assignees=["ACME CORP"]),  # case and punctuation ignored
        "inventor": hit("US3", 1.0, inventors=["LOVELACE, ADA"]),
        "date_proximity": hit("US3", 1.0, publication_date=date(2009, 6, 1)),
    }
    for signal, candidate in cases.items():
        only = dataclasses.replace(OFF, **{signal: 0.5})
        assert ranked(apply_boosts(QUERY, [*plain[:3], candidate], only))[0] == "US3", signal
        assert ranked(apply_boosts(QUERY, [*plain[:3], candidate], OFF)) == ["US0", "US1", "US2", "US3"]


def test_scores_by_hand() -> None:
    boosts = MetadataBoosts(
        classification=0.3, uspc=2.0, assignee=0.2, inventor=0.1, date_proximity=0.5, date_scale_years=6
    )
    a = hit(
        "US1", 3.0, cpc=["H03K3/0315", "G06F1/08"], assignees=["Acme Corp"], uspc=["331/57"]
    )  # Jaccard 1/3, 1/2
    b = hit("US2", 1.0, ipc=["H03K3/03"], publication_date=date(2016, 1, 1))  # no CPC: IPC Jaccard 1
    out = {h.publication_number: h.score for h in apply_boosts(QUERY, [a, b], boosts)}
    # Retrieval scores 3 and 1: mean 2, std 1, mapped by (s - (mean - 3 std)) / (6 std).
    assert out["US1"] == pytest.approx(4 / 6 + 0.3 / 3 + 2.0 / 2 + 0.2)
    years = (date(2016, 1, 1) - date(2010, 1, 1)).days / 365.25
    assert out["US2"] == pytest.approx(2 / 6 + 0.3 + 0.5 * math.exp(-years / 6))


def test_cpc_is_compared_when_both_sides_have_it_else_ipc() -> None:
    only_codes = MetadataBoosts(assignee=0.0, inventor=0.0, date_proximity=0.0)
    # Both have CPC but no CPC in common: the shared IPC does not count.
    cpc_miss = hit("US1", 1.0, cpc=["A01B1/00"], ipc=["H03K3/03"])
    ipc_only = hit("US2", 1.0, ipc=["H03K3/03"])
    assert ranked(apply_boosts(QUERY, [cpc_miss, ipc_only], only_codes)) == ["US2", "US1"]


def test_missing_fields_and_empty_input() -> None:
    undated = PatentQuery(publication_number="US1", texts=(QueryText("title", "t"),))
    hits = [hit("US2", 2.0), hit("US3", 1.0, publication_date=date(2000, 1, 1))]
    assert ranked(apply_boosts(undated, hits, MetadataBoosts())) == ["US2", "US3"]
    assert apply_boosts(QUERY, [], MetadataBoosts()) == []
    assert apply_boosts(QUERY, hits, OFF) == hits and not OFF.active


@pytest.mark.parametrize(
    "options",
    [
        {"classification": -0.1},
        {"uspc": -1.0},
        {"assignee": math.nan},
        {"date_scale_years": 0.0},
        {"depth": 0},
        {"classified": -1},
    ],
)
def test_bad_weights_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        MetadataBoosts(**options)  # type: ignore[arg-type]
