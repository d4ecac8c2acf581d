"""The claim chart's renderings: what the terminal table, the Markdown and the HTML page show, that they
show the same things, that they fit, and that no patent or LLM text is ever read as markup."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

from patent_rag.charts import Judgement, chart_html, chart_markdown, chart_table
from patent_rag.charts.render import excerpt
from tests.chart_support import FULL, HOSTILE, LABELS, PASSAGE, SHORT, make_chart, segmented

JUDGED = Judgement(verdict="partly", reason='It says "connected in a ring" only.', model="stub-llm")


def terminal(chart: object, width: int = 120) -> str:
    console = Console(width=width, record=True, color_system="truecolor", force_terminal=True)
    console.print(chart_table(chart))  # type: ignore[arg-type]
    return console.export_text(styles=False)


def styled_spans(chart: object, width: int = 120) -> str:
    """The ANSI output, to see which words got which style."""
    console = Console(width=width, record=True, color_system="standard", force_terminal=True)
    console.print(chart_table(chart))  # type: ignore[arg-type]
    return console.export_text(styles=True)


class _Cells(HTMLParser):
    """Rows of table cells (their text), and every tag and attribute seen."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.tags: list[str] = []
        self.attrs: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(name for name, _ in attrs)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_cells(page: str) -> _Cells:
    parser = _Cells()
    parser.feed(page)
    return parser


def markdown_cells(text: str) -> _Cells:
    """The Markdown rendered by a CommonMark + GFM tables parser, read back like the HTML page."""
    return html_cells(MarkdownIt("commonmark").enable("table").render(text))


# -- terminal table ------------------------------------------------------------------------------
def test_table_shows_locations_scores_not_found_and_coverage() -> None:
    text = terminal(make_chart())
    assert "Claim 1 of US8089324B2" in text and "Varactor-free oscillator" in text
    for label in LABELS:
        assert label in text
    assert "description ¶12  0.80" in text  # FULL's 1[pre]: found
    assert "not found" in text and "nearest: description ¶15" in text  # FULL's 1[c]: 0.1 + 0.15
    assert "3 of 4 elements found" in text and "1 of 4 elements found" in text
    assert "abstract and claims only" in text  # SHORT was indexed without its description
    assert f"{FULL} + {SHORT}" in text and "No reference alone" in text
    assert "at least 0.50" in text


def test_table_styles_not_found_apart_and_dims_the_nearest_passage() -> None:
    ansi = styled_spans(make_chart())
    found_line = next(line for line in ansi.splitlines() if "description ¶12" in line)
    missed = next(line for line in ansi.splitlines() if "not found" in line)
    nearest = next(line for line in ansi.splitlines() if "nearest:" in line)
    assert "\x1b[1;31mnot found" in missed  # bold red
    assert "\x1b[2mnearest:" in nearest  # dim
    assert "\x1b[1;32mdescription ¶12" in found_line  # bold green


def test_table_labels_model_judgements() -> None:
    chart = make_chart(judgements={("1[a]", FULL): JUDGED})
    text = terminal(chart)
    assert "model judgement: partly" in text and "connected in a ring" in text
    assert "Model judgement (stub-llm) of 1 cells: 1 partly" in text
    assert "model judgement" not in terminal(make_chart())


@pytest.mark.parametrize("references", [1, 3, 10])
@pytest.mark.parametrize("width", [80, 120])
def test_table_fits_the_terminal(references: int, width: int) -> None:
    numbers = [FULL, SHORT, *(f"US70000{n:02d}B1" for n in range(references - 2))][:references]
    long = " ".join([PASSAGE] * 6)
    text = terminal(make_chart(references=numbers, passage=long), width=width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert sum("not found" in line for line in lines) >= 1
    if references <= 3:  # wide enough for an excerpt: shorter than the passage, cut with …
        assert "…" in text and long[:200] not in " ".join(text.split())


def test_table_reads_no_markup_and_no_control_sequences() -> None:
    chart = make_chart(
        title=HOSTILE,
        ref_title=HOSTILE,
        passage=HOSTILE,
        judgements={("1[a]", FULL): Judgement(verdict="discloses", reason=HOSTILE, model=HOSTILE)},
        notes=[HOSTILE],
    )
    raw = styled_spans(chart, width=400)
    text = terminal(chart, width=400)
    assert "[bold red]RICH[/]" in text  # shown, not applied
    assert "\x1b[2J" not in raw and "\x1b]8" not in raw and "\u202e" not in raw and "\x07" not in raw


def test_table_of_a_dependent_claim_and_a_missing_cell() -> None:
    own = segmented(
        "The oscillator of claim 1, wherein the ring has five stages.",
        (
            ("preamble", "2[pre]", "The oscillator of claim 1"),
            ("element", "2[a]", "the ring has five stages"),
        ),
        number=2,
        parent=1,
    )
    claim = own.model_copy(update={"inherited": segmented().elements})
    chart = make_chart(claim=claim, found={FULL: ["2[a]"]}, skip=[("2[a]", SHORT)])
    text = terminal(chart)
    assert "Claim 2 of US8089324B2" in text and "depends on claim 1" in text
    rows = [m.group(1) for line in text.splitlines() if (m := re.match(r"│ (\d\[\w+\]|coverage) ", line))]
    assert rows == [*LABELS, "2[a]", "coverage"]  # inherited elements first; the own preamble not charted
    last = next(line for line in text.splitlines() if line.startswith("│ 2[a]"))
    assert last.split("│")[3].strip() == "—"  # the missing cell


# -- Markdown and HTML ---------------------------------------------------------------------------
def test_markdown_is_one_table_row_per_element_with_coverage() -> None:
    cells = markdown_cells(chart_markdown(make_chart(judgements={("1[b]", FULL): JUDGED})))
    assert len(cells.rows) == 1 + len(LABELS) + 1
    assert all(len(row) == 3 for row in cells.rows)
    assert (
        cells.rows[0][1].startswith(f"{FULL} (2008-10-06)") and "abstract and claims only" in cells.rows[0][2]
    )
    by_label = {row[0].split()[0]: row for row in cells.rows[1:]}
    assert by_label["1[pre]"][1].startswith("description ¶12 (0.80)")
    assert "inverter stages connected in a ring" in by_label["1[pre]"][1]
    assert by_label["1[c]"][1] == "not found (nearest: description ¶15, 0.25)"
    assert "model judgement: partly — It says" in by_label["1[b]"][1]
    assert cells.rows[-1] == [
        "Coverage",
        "3 of 4 elements found",
        "1 of 4 elements found (title, abstract and claims only: no description indexed)",
    ]


def test_html_is_a_standalone_page_with_the_same_cells_as_the_markdown() -> None:
    chart = make_chart(judgements={("1[b]", FULL): JUDGED}, notes=["a note"])
    page = chart_html(chart)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "Content-Security-Policy" in page and "http" not in page.replace("http-equiv", "")
    from_html = html_cells(page)
    from_markdown = markdown_cells(chart_markdown(chart))
    assert from_html.rows == from_markdown.rows
    for line in ("No reference alone", f"{FULL} + {SHORT}", "Note: a note", "Model judgement (stub-llm)"):
        assert line in page and line in chart_markdown(chart)


@pytest.mark.parametrize("render", [chart_markdown, chart_html])
def test_exports_escape_every_patent_and_llm_text(render: object) -> None:
    chart = make_chart(
        title=HOSTILE,
        ref_title=HOSTILE,
        passage=HOSTILE + "\nsecond | line",
        judgements={("1[a]", FULL): Judgement(verdict="discloses", reason=HOSTILE, model="m")},
        notes=[HOSTILE],
    )
    benign = make_chart(
        judgements={("1[a]", FULL): Judgement(verdict="discloses", reason="Fine.", model="m")},
        notes=["Fine."],
    )

    def parsed(text: str) -> _Cells:
        return html_cells(
            text if render is chart_html else MarkdownIt("commonmark").enable("table").render(text)
        )

    text = render(chart)  # type: ignore[operator]
    cells = parsed(text)
    assert cells.tags == parsed(render(benign)).tags  # type: ignore[operator]  # the text added no tag
    assert cells.attrs == parsed(render(benign)).attrs  # type: ignore[operator]
    assert not {"script", "img", "a", "code"} & set(cells.tags)
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    body = cells.rows[1:-1]
    assert all(len(row) == 3 for row in body)  # no pipe or newline broke a row
    shown = " ".join(" ".join(row) for row in cells.rows)
    assert '<script>alert(1)</script> <img src=x onerror="x()"> | pipe *em* _u_' in shown
    assert "[link](javascript:alert(1)) `code`" in shown


def test_export_excerpt_length_is_a_parameter() -> None:
    chart = make_chart(passage=" ".join([PASSAGE] * 5))
    short = markdown_cells(chart_markdown(chart, excerpt_chars=120)).rows[1][1]
    long = markdown_cells(chart_markdown(chart, excerpt_chars=1000)).rows[1][1]
    assert len(short) < 160 < len(long) <= 1000 + 40


# -- excerpts ------------------------------------------------------------------------------------
def test_excerpt_centres_on_the_sentence_sharing_most_words_with_the_element() -> None:
    passage = " ".join(
        [
            "The housing is made of aluminium.",
            "A fan cools the board.",
            "An output buffer is coupled to the ring oscillator and drives the load.",
            "The lid snaps shut.",
            "Screws hold the base.",
        ]
    )
    cut = excerpt(passage, "an output buffer coupled to the ring", 90)
    assert "output buffer is coupled to the ring" in cut
    assert cut.startswith("…") and len(cut) <= 90
    assert excerpt("Short passage.", "anything", 90) == "Short passage."


def test_excerpt_of_one_long_sentence_is_cut_at_a_word() -> None:
    passage = "word " * 100
    cut = excerpt(passage, "word", 50)
    assert len(cut) <= 50 and cut.endswith("…") and re.fullmatch(r"(word )*word…", cut)


def test_excerpt_does_not_end_sentences_at_abbreviations() -> None:
    passage = (
        "The lid is shown in FIG. 2 of the drawings. The position reference (FIG. 4) is computed by the "
        "control section, e.g. from the floor data. It is then sent to the drive as a speed command."
    )
    cut = excerpt(passage, "position reference computed by the control section", 110)
    assert cut.startswith("…The position reference (FIG. 4) is computed by the control section, e.g. from")
    assert len(cut) <= 110


def test_a_chart_without_references_renders_its_elements_and_notes() -> None:
    chart = make_chart(references=[], found={}, notes=["The prior-art search found no references."])
    text = terminal(chart)
    assert all(label in text for label in LABELS) and "no references" in text
    for page in (markdown_cells(chart_markdown(chart)), html_cells(chart_html(chart))):
        assert [row[0].split()[0] for row in page.rows] == ["Element", *LABELS]
        assert all(len(row) == 1 for row in page.rows)
