"""Claim segmentation on real claims (the packaged sample, the USPTO and EPO fixtures) and on
generated text: the pieces always give the claim back, and real claims split where they should."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patent_rag.charts import segment
from patent_rag.charts.model import SegmentedClaim
from patent_rag.charts.segment import segment_claim, segment_patent_claim
from patent_rag.documents import PatentDocument
from patent_rag.documents.parsers import ParseReport, parse_files
from patent_rag.errors import ConfigurationError
from patent_rag.sample import sample_documents
from patent_rag.search.patents import ClaimText

FIXTURES = Path(__file__).parent / "fixtures"
_LABEL = re.compile(r"(\d+)\[([a-z]+|pre)\](?:\[([ivxlcdm]+)\])?")


@pytest.fixture(scope="module")
def sample() -> list[PatentDocument]:
    return sample_documents(full=True)


@pytest.fixture(scope="module")
def fixture_documents() -> list[PatentDocument]:
    files = sorted(
        path
        for folder in ("uspto", "epo", "epo/docdb")
        for path in (FIXTURES / folder).iterdir()
        if path.name.lower().endswith((".xml", ".xml.gz"))
    )
    return list(parse_files(files, report=ParseReport()))


def _roman(number: int) -> str:
    out = ""
    for value, letters in ((40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while number >= value:
            out, number = out + letters, number - value
    return out


def _letters(index: int) -> str:
    return chr(ord("a") + index) if index < 26 else _letters(index // 26 - 1) + chr(ord("a") + index % 26)


def assert_partition(claim: SegmentedClaim) -> None:
    """The pieces cover the text in order, without gap or overlap, and are labelled in order."""
    position = 0
    for piece in claim.pieces:
        assert piece.start == position < piece.end, piece
        assert claim.text[piece.start : piece.end] == piece.text
        position = piece.end
    assert position == len(claim.text)
    assert "".join(piece.text for piece in claim.pieces) == claim.text
    roles = [piece.role for piece in claim.pieces]
    if "transition" in roles:
        assert "preamble" in roles and roles.index("preamble") < roles.index("transition")
    expected_top, expected_sub = 0, 0
    for piece in claim.pieces:
        if piece.role in ("separator", "transition"):
            assert piece.label == ""
            continue
        assert piece.text == piece.text.strip() and piece.text
        match = _LABEL.fullmatch(piece.label)
        assert match and int(match[1]) == claim.number, piece.label
        if piece.role == "preamble":
            assert match[2] == "pre" and piece.depth == 0
        elif piece.depth == 0:
            assert match[2] == _letters(expected_top) and match[3] is None, piece.label
            expected_top, expected_sub = expected_top + 1, 0
        else:
            assert match[2] == _letters(expected_top - 1) and match[3] == _roman(expected_sub + 1), (
                piece.label
            )
            expected_sub += 1
    labels = [piece.label for piece in claim.pieces if piece.label]
    assert len(labels) == len(set(labels))


def top_elements(claim: SegmentedClaim) -> int:
    return sum(piece.role == "element" and piece.depth == 0 for piece in claim.pieces)


def find_claim(documents: list[PatentDocument], publication: str, number: int) -> str:
    document = next(doc for doc in documents if doc.publication_number == publication)
    return next(claim.text for claim in document.claims if claim.number == number)


# --- every real claim ---------------------------------------------------------------------------


def test_every_sample_claim_segments_without_losing_text(sample: list[PatentDocument]) -> None:
    claims = [claim for doc in sample for claim in doc.claims]
    assert len(claims) == 922
    for claim in claims:
        assert_partition(segment_claim(claim.text, number=claim.number))


def test_every_fixture_claim_segments_without_losing_text(fixture_documents: list[PatentDocument]) -> None:
    claims = [claim for doc in fixture_documents for claim in doc.claims]
    assert len(claims) > 1000
    assert any(doc.publication_number.startswith("EP") for doc in fixture_documents)
    for claim in claims:
        assert_partition(segment_claim(claim.text, number=claim.number))


def test_most_independent_comprising_claims_have_several_elements(
    sample: list[PatentDocument], fixture_documents: list[PatentDocument]
) -> None:
    claims = [
        claim
        for doc in [*sample, *fixture_documents]
        for claim in doc.claims
        if not claim.depends_on and "comprising" in claim.text.lower()
    ]
    assert len(claims) > 250
    segmented = [segment_claim(claim.text, number=claim.number) for claim in claims]
    # Measured: 92% have two elements or more, 89% two top-level ones; the rest are mostly one-step
    # methods ("comprising administering ...") and compositions ("comprising a carrier and ...").
    elements = [sum(piece.role == "element" for piece in claim.pieces) for claim in segmented]
    assert sum(count >= 2 for count in elements) / len(claims) > 0.88
    assert sum(top_elements(claim) >= 2 for claim in segmented) / len(claims) > 0.85


def test_every_sample_dependent_claim_inherits_its_chain(sample: list[PatentDocument]) -> None:
    dependent = 0
    for doc in sample:
        parents = {claim.number: claim.depends_on[0] if claim.depends_on else None for claim in doc.claims}
        texts = {claim.number: claim.text for claim in doc.claims}
        for claim in doc.claims:
            charted = segment_patent_claim(doc.claims, claim.number)
            assert_partition(charted)
            labels = [element.label for element in charted.elements]
            assert len(labels) == len(set(labels))
            if parents[claim.number] is None:
                assert charted.inherited == []
                continue
            dependent += 1
            root, seen = claim.number, set()
            while parents.get(root) is not None and root not in seen:
                seen.add(root)
                root = parents[root]  # type: ignore[assignment]
            assert charted.parent == parents[claim.number]
            assert charted.inherited[0] == segment_claim(texts[root], number=root).elements[0]
            assert {label.split("[")[0] for label in labels} <= {str(n) for n in seen | {root}}
    assert dependent > 500


# --- hand-picked real claims ----------------------------------------------------------------------

# (source, publication, claim, transition, pieces): a labelled piece as "<label> <its first words>",
# the transition and separators exactly; as the pieces partition the claim, this fixes every boundary.
CASES = [
    pytest.param(
        "sample", "US7315680B1", 12, " comprising: ",
        ["12[pre] A trumpet member of a cable trough system, the trumpet member", " comprising: ",
         "12[a] a bottom wall", "; and ", "12[b] an end portion", "; ", "12[c] wherein the space is", "."],
        id="apparatus-semicolons",
    ),
    pytest.param(
        "sample", "US8088241B2", 10, ", comprising the steps of: ",
        ["10[pre] An on-demand automated process", ", comprising the steps of: ", "(a) ", "10[a] receiving a",
         "; (b) ", "10[b] formatting", "; (c) ", "10[c] directing", "; (d) ", "10[d] attaching", "; (e) ",
         "10[e] cutting a portion", "; (f) ", "10[f] cutting a border", "; (g) ", "10[g] cutting the second",
         "; (h) ", "10[h] removing", "; and (i) ", "10[i] adhering the appliqué to a cloth substrate", "."],
        id="method-lettered-steps",
    ),
    pytest.param(
        "sample", "US7315383B1", 1, " comprising: ",
        ["1[pre] A 3 dimensional scanning and measurement method", " comprising: ", "A) ", "1[a] angularly",
         ", B) ", "1[b] causing", ", C) ", "1[c] receiving", ", D) ", "1[d] reading", ", E) ",
         "1[e] computing", "."],
        id="method-steps-between-commas",
    ),
    pytest.param(
        "fixture", "US6983169B2", 11, ", comprising: ",
        ["11[pre] A method for configuring settings of a wireless device", ", comprising: ",
         "11[a] detecting,", "; and ",
         "11[b] enabling or disabling, by a processor in the wireless device, at least one of", ": ",
         "11[b][i] a display function", "; ", "11[b][ii] an alert function", "; and ",
         "11[b][iii] a keypad function of the wireless device", "."],
        id="nested-sub-elements",
    ),
    pytest.param(
        "fixture", "US6982378B2", 1, " comprising: ",
        ["1[pre] An apparatus", " comprising: ", "1[a] a conductor", "; and ", "1[b] a lossy coating", ": ",
         "1[b][i] a binder", "; and ", "1[b][ii] a lossy material", "."],
        id="nested-last-element",
    ),
    pytest.param(
        "fixture", "EP3404678B1", 1, " comprising: ",
        ["1[pre] A high voltage assembly (2)", " comprising: ", "- ", "1[a] a sealed compartment", "; - ",
         "1[b] a free breathing", "; - ", "1[c] a Buchholz relay", "; and ", "1[d] a pipe arrangement (16)",
         ": - ", "1[d][i] a first pipe section", "; and - ", "1[d][ii] a second pipe section",
         ", characterized in that ", "1[e] the pipe arrangement (16) further comprises", ": - ",
         "1[e][i] a third pipe section", "."],
        id="ep-bullets-and-characterising-part",
    ),
    pytest.param(
        "fixture", "EP2743087B2", 8, " which comprises ",
        ["8[pre] Direct printing method", " which comprises ", "8[a] a cladding (101)",
         ", characterized in that ", "8[b] a controlled atmosphere", "."],
        id="ep-characterised-in-that",
    ),
    pytest.param(
        "fixture", "US20130014306A1", 8, ", wherein the improvement comprising: ",
        ["8[pre] An improved glove", ", wherein the improvement comprising: ", "8[a] a lateral pad", "."],
        id="jepson",
    ),
    pytest.param(
        "fixture", "US6981945B1", 1, " comprising: ",
        ["1[pre] A handgrip for a colonoscope shaft", " comprising: ", "1[a] an internal sleeve", ", ",
         "1[b] an external sleeve slidingly positioned about the internal sleeve", ", and ",
         "1[c] an engaging means", "."],
        id="elements-between-commas",
    ),
    pytest.param(
        "sample", "US7864699B2", 13, None,
        ["13[pre] A source Mobility Management Network Element (MMNE) configured to", ": ",
         "13[a] determine a version", "; ", "13[b] transmit user", "; and ", "13[c] transmit a Forward", "."],
        id="colon-without-transition-word",
    ),
    pytest.param(
        "sample", "USD651486S1", 1, None,
        ["1[a] The ornamental design for a garden stake, as shown and described", "."],
        id="no-transition",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("source", "publication", "number", "transition", "expected"), CASES)
def test_real_claims_split_where_they_should(
    request: pytest.FixtureRequest,
    source: str,
    publication: str,
    number: int,
    transition: str | None,
    expected: list[str],
) -> None:
    documents = request.getfixturevalue("sample" if source == "sample" else "fixture_documents")
    claim = segment_claim(find_claim(documents, publication, number), number=number)
    assert_partition(claim)
    shown = [
        f"{piece.label} {piece.text}"[: len(want)] if piece.label else piece.text
        for piece, want in zip(claim.pieces, expected, strict=False)
    ]
    assert shown == expected
    assert len(claim.pieces) == len(expected)
    assert [piece.text for piece in claim.pieces if piece.role == "transition"] == (
        [transition] if transition else []
    )


def test_a_dependent_claim_is_resolved_against_its_parent_chain(sample: list[PatentDocument]) -> None:
    document = next(doc for doc in sample if doc.publication_number == "US8088241B2")
    claim = segment_patent_claim(document.claims, 18)  # 18 -> 14 -> 10
    assert claim.parent == 14
    assert [piece.label for piece in claim.inherited] == [
        "10[pre]",
        *(f"10[{letter}]" for letter in "abcdefghi"),
        "14[a]",
    ]
    assert claim.inherited[-1].text == "the first layer of material is heat activated puff material"
    assert claim.preamble is not None and claim.preamble.text == "The method of claim 14"
    assert [
        (piece.label, piece.text) for piece in claim.elements[-2:]
    ] == [  # its preamble only names claim 14
        ("14[a]", "the first layer of material is heat activated puff material"),
        ("18[a]", "heating the appliqué to cause the puff material to expand"),
    ]
    assert [piece.text for piece in claim.pieces if piece.role == "transition"] == [
        ", further comprising the step of: "
    ]
    # The index's ClaimText (``parent``) resolves the same chain as the parser's Claim (``depends_on``).
    texts = [
        ClaimText(number=c.number, parent=c.depends_on[0] if c.depends_on else None, text=c.text)
        for c in document.claims
    ]
    assert segment_patent_claim(texts, 18) == claim


# --- transitions, chains and edge cases ------------------------------------------------------------

# (claim, preamble, transition, elements)
TRANSITIONS = [
    ("A lamp comprising a base; and a bulb.", "A lamp", " comprising ", ["a base", "a bulb"]),
    ("A lamp consisting of a base; and a bulb.", "A lamp", " consisting of ", ["a base", "a bulb"]),
    (
        "An alloy consisting essentially of: iron; and carbon.",
        "An alloy",
        " consisting essentially of: ",
        ["iron", "carbon"],
    ),
    ("A lamp including a base; a bulb.", "A lamp", " including ", ["a base", "a bulb"]),
    (
        "A valve having a seat, comprising: a ball; a spring.",
        "A valve having a seat",
        ", comprising: ",
        ["a ball", "a spring"],
    ),
    (
        "A process which comprises heating; and cooling.",
        "A process",
        " which comprises ",
        ["heating", "cooling"],
    ),
    (
        "Lamp (1) with a base, characterised in that the bulb (2) is red.",
        "Lamp (1) with a base",
        ", characterised in that ",
        ["the bulb (2) is red"],
    ),
    (
        "Lampe nach Anspruch 1, dadurch gekennzeichnet, dass die Birne rot ist.",
        "Lampe nach Anspruch 1",
        ", dadurch gekennzeichnet, dass ",
        ["die Birne rot ist"],
    ),
    (
        "The lamp of claim 1, wherein the bulb is red; and the base is round.",
        "The lamp of claim 1",
        ", wherein ",
        ["the bulb is red", "the base is round"],
    ),
    (
        "The lamp of any one of claims 1 to 3 further comprising a switch.",
        "The lamp of any one of claims 1 to 3",
        " further comprising ",
        ["a switch"],
    ),
    (
        "In a lamp having a base, the improvement comprising: a dimmer.",
        "In a lamp having a base",
        ", the improvement comprising: ",
        ["a dimmer"],
    ),
]


@pytest.mark.parametrize(("text", "preamble", "transition", "elements"), TRANSITIONS)
def test_each_transition(text: str, preamble: str, transition: str, elements: list[str]) -> None:
    claim = segment_claim(text, number=4)
    assert_partition(claim)
    assert claim.preamble is not None and claim.preamble.text == preamble
    assert [piece.text for piece in claim.pieces if piece.role == "transition"] == [transition]
    assert [piece.text for piece in claim.pieces if piece.role == "element"] == elements


def test_the_parent_is_read_from_the_preamble_unless_given() -> None:
    text = "The lamp of claim 1, wherein the bulb is red."
    assert segment_claim(text, number=2).parent == 1
    assert segment_claim(text, number=2, parent=3).parent == 3
    assert segment_claim(text, number=1).parent is None  # a claim never depends on itself
    assert segment_claim("A lamp comprising a bulb as in claim 1.", number=2).parent is None


def test_a_missing_parent_leaves_the_claim_alone() -> None:
    claims = [ClaimText(number=2, parent=1, text="The lamp of claim 1, wherein the bulb is red.")]
    claim = segment_patent_claim(claims, 2)
    assert claim.parent == 1 and claim.inherited == []
    assert [piece.label for piece in claim.elements] == ["2[a]"]


def test_a_cycle_of_parents_ends() -> None:
    claims = [
        ClaimText(number=1, parent=2, text="The lamp of claim 2, wherein the base is round."),
        ClaimText(number=2, parent=1, text="The lamp of claim 1, wherein the bulb is red."),
    ]
    claim = segment_patent_claim(claims, 2)
    assert [piece.label for piece in claim.elements] == ["1[a]", "2[a]"]


def test_an_unknown_claim_number_lists_the_claims() -> None:
    claims = [ClaimText(number=1, text="A lamp."), ClaimText(number=2, parent=1, text="The lamp of claim 1.")]
    with pytest.raises(ConfigurationError, match="no claim 7; the claims are: 1, 2"):
        segment_patent_claim(claims, 7)


@pytest.mark.parametrize("text", ["", "   ", ".", "comprising: a; b.", ";;;", "(a) (b)", "\n a \n"])
def test_degenerate_claims_keep_their_text(text: str) -> None:
    assert_partition(segment_claim(text))


def test_docstring_examples() -> None:
    assert doctest.testmod(segment, raise_on_error=True).attempted >= 2


# --- generated text -------------------------------------------------------------------------------

WORDS = st.sampled_from(
    [
        "a",
        "the",
        "lamp",
        "bulb",
        "comprising",
        "comprising:",
        "consisting of",
        "including",
        "having",
        "which comprises",
        "wherein",
        "characterized in that",
        "the improvement comprising",
        "the steps of",
        "claim 1",
        "claims 1 to 3",
        "(a)",
        "(b)",
        "b)",
        "i.",
        "ii.",
        "1.",
        "A)",
        "-",
        "•",
        "and",
        "or",
        "(",
        ")",
        "[",
        "]",
        "é",
        "2.7:1",
    ]
)
SEPARATORS = st.sampled_from(["", " ", "  ", "\n", ", ", "; ", "; and ", ": ", ". ", "\t"])
CLAIMS = st.lists(st.tuples(WORDS, SEPARATORS), max_size=40).map(
    lambda parts: "".join(a + b for a, b in parts)
)


@settings(max_examples=300, deadline=None)
@given(CLAIMS, st.integers(min_value=1, max_value=60))
def test_generated_claims_keep_their_text(text: str, number: int) -> None:
    assert_partition(segment_claim(text, number=number))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_keeps_its_text(text: str) -> None:
    assert_partition(segment_claim(text))
