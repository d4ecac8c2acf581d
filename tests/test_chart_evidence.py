"""Evidence search and chart assembly: cells point at real passages of the references, "found" means
the passage stands out, and coverage names anticipation candidates and combinations.

The index is the session's sample (``sample_index_template``: 75 grants, US8089324B2 with its first
24 description paragraphs, the others title, abstract and independent claims only), opened once
for the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from patent_rag.charts import (
    ChartOptions,
    assess_coverage,
    chart_claim,
    find_passages,
    rank_passages,
)
from patent_rag.charts._passages import reference_text
from patent_rag.charts.model import Cell, ClaimElement, Location
from patent_rag.charts.segment import segment_claim
from patent_rag.encoding.encoder import Encoder
from patent_rag.errors import ConfigurationError, PatentNotFoundError
from patent_rag.search.searcher import PatentSearcher
from patent_rag.stores.base import SearchHit
from tests.server_support import FULL_TEXT_PATENT, copy_index, sample_corpus

SHORT = "US7315219B2"  # in the sample index without description
PASTA = "boiling dried spaghetti in salted water for nine minutes before draining it in a colander"


def element(text: str, label: str = "1[a]") -> ClaimElement:
    return ClaimElement(label=label, role="element", text=text, start=0, end=len(text))


@pytest.fixture(scope="module")
def searcher(
    sample_index_template: Path, minilm_encoder: Encoder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PatentSearcher]:
    folder = copy_index(sample_index_template, tmp_path_factory.mktemp("chart-evidence"))
    with PatentSearcher(index=str(folder), encoder=minilm_encoder) as opened:
        yield opened


@pytest.fixture(scope="module")
def paragraphs() -> list[str]:
    doc = next(doc for doc in sample_corpus() if doc.publication_number == FULL_TEXT_PATENT)
    return [paragraph.text.strip() for paragraph in doc.description]


# -- passages and scores on the index --------------------------------------------------------------


def test_an_element_copied_from_a_paragraph_is_found_there_with_the_top_score(
    searcher: PatentSearcher, paragraphs: list[str]
) -> None:
    copied = paragraphs[13]  # ¶14: the temperature coefficient and the varactor diode
    ranked = rank_passages(searcher, [element(copied)], [FULL_TEXT_PATENT])
    passages = ranked[("1[a]", FULL_TEXT_PATENT)]
    best = passages[0]
    assert best.location == Location(section="description", paragraph=14)
    assert best.text == copied
    assert len(passages) == 3 and best.score > passages[1].score >= passages[2].score
    (cell,) = find_passages(searcher, [element(copied)], [FULL_TEXT_PATENT])
    assert (cell.location.label, cell.text, cell.found) == ("description ¶14", copied, True)
    assert cell.score == best.score and cell.score >= ChartOptions().threshold
    assert cell.dense is not None and cell.dense > 0.9 and cell.lexical is not None


def test_every_description_cell_is_the_paragraph_of_its_number(
    searcher: PatentSearcher, paragraphs: list[str]
) -> None:
    claim = segment_claim(
        "An oscillator comprising: an LC resonator whose resonant frequency drifts with humidity; "
        "a planar inductor on the chip; and a closed-loop amplitude control with self-compensation."
    )
    ranked = rank_passages(
        searcher, claim.elements, [FULL_TEXT_PATENT], options=ChartOptions(candidates=None, passages=5)
    )
    described = [p for passages in ranked.values() for p in passages if p.location.section == "description"]
    assert described, "the elements paraphrase the description: some passages must be paragraphs"
    for passage in described:
        assert passage.location.paragraph is not None
        assert passage.text == paragraphs[passage.location.paragraph - 1]


def test_an_unrelated_element_is_not_found_but_its_nearest_passage_is_shown(searcher: PatentSearcher) -> None:
    cells = find_passages(searcher, [element(PASTA)], [FULL_TEXT_PATENT, SHORT])
    assert [cell.reference for cell in cells] == [FULL_TEXT_PATENT, SHORT]
    for cell in cells:
        assert not cell.found and cell.score < ChartOptions().threshold
        assert cell.text  # the best passage is kept, so a reader sees why it is "not found"


def test_every_mode_finds_the_copied_paragraph(searcher: PatentSearcher, paragraphs: list[str]) -> None:
    copied = paragraphs[17]
    for mode in ("dense", "bm25"):
        (cell,) = find_passages(
            searcher, [element(copied)], [FULL_TEXT_PATENT], options=ChartOptions(mode=mode)
        )
        assert (cell.location.paragraph, cell.found) == (18, True), mode
        assert (cell.dense is None) == (mode == "bm25") and (cell.lexical is None) == (mode == "dense")


def test_bm25_charts_without_an_encoder_and_other_modes_say_they_need_one(
    searcher: PatentSearcher, paragraphs: list[str]
) -> None:
    lexical = PatentSearcher(index=searcher.store, options=searcher.options.replace(mode="bm25"))
    (cell,) = find_passages(
        lexical, [element(paragraphs[13])], [FULL_TEXT_PATENT], options=ChartOptions(mode="bm25")
    )
    assert cell.location.paragraph == 14
    with pytest.raises(ConfigurationError, match="needs the encoder"):
        find_passages(lexical, [element(paragraphs[13])], [FULL_TEXT_PATENT])


def test_unknown_references_are_all_named(searcher: PatentSearcher) -> None:
    with pytest.raises(PatentNotFoundError) as caught:
        find_passages(searcher, [element("a resonator")], [SHORT, "US1111111B1", "EP2222222A1"])
    assert "US1111111B1" in str(caught.value) and "EP2222222A1" in str(caught.value)
    assert SHORT not in str(caught.value)
    with pytest.raises(PatentNotFoundError, match="US1111111B1"):
        chart_claim(searcher, FULL_TEXT_PATENT, references=["US1111111B1"])


# -- charts ----------------------------------------------------------------------------------------


def test_a_chart_against_the_top_prior_art(searcher: PatentSearcher) -> None:
    chart = chart_claim(searcher, FULL_TEXT_PATENT, claim=1, top=2)
    labels = [piece.label for piece in chart.claim.elements]
    numbers = [ref.publication_number for ref in chart.references]
    expected = {hit.publication_number for hit in searcher.prior_art(FULL_TEXT_PATENT, top_k=2)}
    assert set(numbers) == expected and FULL_TEXT_PATENT not in numbers
    assert [(cell.element, cell.reference) for cell in chart.cells] == [
        (label, number) for label in labels for number in numbers
    ]
    assert chart.threshold == ChartOptions().threshold
    found = [len(ref.found) for ref in chart.references]
    assert found == sorted(found, reverse=True)
    for ref in chart.references:
        assert ref.found == [
            c.element for c in chart.cells if c.reference == ref.publication_number and c.found
        ]
        assert ref.full_text is False  # the sample's other patents have no description
        assert any(
            ref.publication_number in note and "title, abstract and claims" in note for note in chart.notes
        )


def test_a_chart_against_itself_and_a_reference_without_description(searcher: PatentSearcher) -> None:
    chart = chart_claim(searcher, FULL_TEXT_PATENT, references=[SHORT, FULL_TEXT_PATENT, SHORT])
    by_number = {ref.publication_number: ref for ref in chart.references}
    assert list(by_number) == [FULL_TEXT_PATENT, SHORT]  # deduplicated, ranked by coverage
    assert by_number[FULL_TEXT_PATENT].full_text and not by_number[SHORT].full_text
    assert by_number[FULL_TEXT_PATENT].found == [piece.label for piece in chart.claim.elements]
    assert chart.anticipation == [FULL_TEXT_PATENT] and chart.combinations == []
    assert any("self-support" in note for note in chart.notes)
    assert any(SHORT in note and "says less" in note for note in chart.notes)


def test_a_missing_claim_lists_the_claims_there_are(searcher: PatentSearcher) -> None:
    with pytest.raises(ConfigurationError, match="the claims are"):
        chart_claim(searcher, FULL_TEXT_PATENT, claim=99, references=[SHORT])


# -- coverage (hand-built cells) ---------------------------------------------------------------------


def cell(label: str, reference: str, found: bool, score: float | None = None) -> Cell:
    return Cell(
        element=label,
        reference=reference,
        text="passage",
        location=Location(section="abstract"),
        score=score if score is not None else (5.0 if found else 1.0),
        found=found,
    )


LABELS = ["1[pre]", "1[a]", "1[b]"]


def test_coverage_ranks_references_and_names_anticipation_and_pairs() -> None:
    found = {
        "A": {"1[pre]", "1[a]"},  # with C: all
        "B": {"1[pre]", "1[a]", "1[b]"},  # anticipation
        "C": {"1[b]"},
        "D": {"1[pre]"},  # with C: still not 1[a]
    }
    cells = [cell(label, ref, label in labels) for ref, labels in found.items() for label in LABELS]
    result = assess_coverage(LABELS, list(found), cells)
    assert result.ranking == ["B", "A", "C", "D"]  # C and D tie on count and score: the order given
    assert result.anticipation == ["B"]
    assert result.combinations == [["A", "C"]]  # pairs with B are not combinations: B alone suffices
    assert result.found["A"] == ["1[pre]", "1[a]"] and result.found["B"] == LABELS


def test_coverage_ties_break_on_score_then_order_and_ignores_strangers() -> None:
    cells = [
        cell("1[pre]", "X", True, 4.5),
        cell("1[pre]", "Y", True, 9.0),
        cell("1[a]", "Z", True),
        cell("9[z]", "X", True),  # an element not charted
        cell("1[a]", "W", True),  # a reference not charted
    ]
    result = assess_coverage(["1[pre]", "1[a]"], ["X", "Y", "Z"], cells)
    assert result.ranking == ["Y", "Z", "X"]  # one element each; summed scores 9.0, 5.0, 4.5
    assert result.found["X"] == ["1[pre]"]
    assert result.anticipation == [] and result.combinations == [["Y", "Z"], ["Z", "X"]]
    empty = assess_coverage([], ["X"], [])
    assert (empty.anticipation, empty.combinations, empty.found) == ([], [], {"X": []})


# -- reading passages from chunks and options ------------------------------------------------------------


def chunk(ordinal: int, section: str, text: str, **fields: object) -> SearchHit:
    payload = {
        "publication_number": "US1B2",
        "title": "Lamp",
        "section": section,
        "text": text,
        "ordinal": ordinal,
    }
    return SearchHit(id=f"c{ordinal}", score=0.0, payload={**payload, **fields})


def test_passages_are_rebuilt_from_chunks() -> None:
    text = reference_text(
        [
            chunk(0, "abstract", "Lamp. A lamp."),
            chunk(1, "claim", "Lamp. A lamp comprising a base", claim_number=1),
            chunk(2, "claim", "and a bulb.", claim_number=1),
            chunk(3, "description", "Lamp. First.\n\nSecond.", paragraph_start=0, paragraph_end=1),
            # A leading overlap (the previous chunk's tail) is not a paragraph of the range.
            chunk(4, "description", "Lamp. Second.\n\nThird starts.", paragraph_start=2, paragraph_end=2),
            chunk(5, "description", "Third ends.", paragraph_start=2, paragraph_end=2),
        ]
    )
    assert [(p.location.label, p.text) for p in text.passages] == [
        ("abstract", "A lamp."),
        ("claim 1", "A lamp comprising a base and a bulb."),
        ("description ¶1", "First."),
        ("description ¶2", "Second."),
        ("description ¶3", "Third starts. Third ends."),
    ]
    assert text.passages[4].pieces == ("Third starts.", "Third ends.")
    assert text.chunk_passages["c3"] == (2, 3) and text.chunk_passages["c5"] == (4,)
    assert text.full_text and not reference_text([chunk(0, "abstract", "A lamp.")]).full_text


def test_options_are_validated_and_replaced() -> None:
    with pytest.raises(ConfigurationError, match="dense, bm25, hybrid"):
        ChartOptions(mode="sparse")  # type: ignore[arg-type]
    for bad in ({"candidates": 0}, {"passages": 0}, {"background": 2}, {"lexical_weight": -1.0}):
        with pytest.raises(ConfigurationError):
            ChartOptions(**bad)
    assert ChartOptions().replace(mode="dense").mode == "dense"
    with pytest.raises(ConfigurationError, match="the options are"):
        ChartOptions().replace(depth=3)
