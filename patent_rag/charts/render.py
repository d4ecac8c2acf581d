"""A claim chart as a terminal table, as Markdown and as a standalone HTML page.

The three renderings say the same things: the claim's elements as rows, the references as
columns, and in each cell the location of the best passage, its score and an excerpt of it, or
"not found" with the location and score of the nearest passage; a coverage line per reference,
the anticipation candidates and the combinations, and any LLM opinion labelled "model judgement".
A reference indexed without its description is flagged: its "not found" says less.

All patent text (titles, claim elements, passages) and all LLM text (reasons) is untrusted: the
terminal table never reads it as rich markup and strips control sequences from it, Markdown
escapes what would change the table or open a link or tag, and HTML escapes every character that
matters. Excerpts are cut from the passage around the sentence sharing most words with the
element; the whole passage stays in the :class:`~patent_rag.charts.model.ClaimChart` (and its JSON).

Example:
    >>> from rich.console import Console
    >>> Console().print(chart_table(chart))  # doctest: +SKIP
    >>> Path("chart.html").write_text(chart_html(chart))  # doctest: +SKIP
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from rich.table import Table
from rich.text import Text

from patent_rag._text import terminal_safe
from patent_rag.charts.model import Cell, ClaimChart, ClaimElement, Reference

__all__ = ["EXCERPT_CHARS", "chart_html", "chart_markdown", "chart_table", "excerpt"]

EXCERPT_CHARS = 400  # Markdown and HTML: a few sentences of the passage, what a memo quotes
_TABLE_ELEMENT_CHARS = 160
_TABLE_TITLE_CHARS = 60
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.;:!?])\s+")
_ABBREVIATIONS = frozenset(
    ("fig.", "figs.", "e.g.", "i.e.", "etc.", "no.", "nos.", "u.s.", "pat.", "ref.", "col.", "eq.", "approx.")
)
# Words that say nothing about what a passage discloses.
_STOP_WORDS = (
    "the and for with said which that wherein whereby comprising comprises comprise having has have "
    "being are is was were from into onto each one more least plurality first second third such "
    "thereof therein configured adapted means claim claims element elements"
)
_STOP = frozenset(_STOP_WORDS.split())

Status = Literal["found", "not found", "missing"]


@dataclass(frozen=True)
class _CellView:
    status: Status
    location: str = ""
    score: float | None = None
    excerpt: str = ""
    verdict: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class _View:
    """What every rendering shows, as plain (still unescaped) text."""

    title: str
    subtitle: str
    references: list[Reference]
    elements: list[ClaimElement]
    rows: list[list[_CellView]]
    coverage: list[str]
    summary: list[str]
    notes: list[str]


def _one_line(text: str) -> str:
    return " ".join(terminal_safe(text).split())


def _cut(text: str, width: int) -> str:
    """``text`` on one line, cut at a word boundary to at most ``width`` characters (with ``…``)."""
    text = _one_line(text)
    if len(text) <= width:
        return text
    head = text[: width - 1]
    cut = head.rsplit(" ", 1)[0] if " " in head else head
    return cut.rstrip(" ,;:") + "…"


def _words(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if len(word) > 2 and word not in _STOP}


def _sentence_starts(text: str) -> list[int]:
    """Where the sentences of one-line ``text`` start: after ``.;:!?`` and a space, unless the
    stop ends an abbreviation patents use ("FIG. 3", "e.g. a", "No. 5", "U.S. Pat.")."""
    starts = [0]
    for match in _SENTENCE_END.finditer(text):
        word = text[: match.start()].rsplit(" ", 1)[-1].lower().lstrip("([{\"'")
        if text[match.start() - 1] == "." and (word in _ABBREVIATIONS or len(word) <= 2):
            continue
        starts.append(match.end())
    return starts


def excerpt(passage: str, element: str, width: int) -> str:
    """At most ``width`` characters of ``passage``, from the start of the sentence that shares most
    words with ``element`` (earlier if the passage ends first); ``…`` marks what was left out.

    Example:
        >>> excerpt("A lid. The ring has five inverters. A fan.", "a ring of inverters", 40)
        '…The ring has five inverters. A fan.'
    """
    text = _one_line(passage)
    if len(text) <= width:
        return text
    starts = _sentence_starts(text)
    wanted = _words(element)
    bounds = list(zip(starts, [*starts[1:], len(text)], strict=True))
    shared = [len(_words(text[start:end]) & wanted) for start, end in bounds]
    best = max(range(len(bounds)), key=lambda i: (shared[i], -i))
    first = best
    while first > 0 and len(text) - starts[first - 1] <= width - 1:  # the passage ends: show more before
        first -= 1
    begin = starts[first]
    lead = "…" if begin > 0 else ""
    body = text[begin:]
    if len(body) > width - len(lead):
        body = _cut(body, width - len(lead))
    return lead + body


def _cell_view(cell: Cell | None, element: ClaimElement, width: int) -> _CellView:
    if cell is None:
        return _CellView(status="missing")
    judgement = cell.judgement
    return _CellView(
        status="found" if cell.found else "not found",
        location=cell.location.label,
        score=cell.score,
        excerpt=excerpt(cell.text, element.text, width) if cell.found else "",
        verdict=judgement.verdict if judgement else None,
        reason=_one_line(judgement.reason) if judgement else None,
    )


def _score(score: float | None) -> str:
    return "" if score is None else f"{score:.2f}"


def _coverage(reference: Reference, total: int) -> str:
    line = f"{len(reference.found)} of {total} elements found"
    if not reference.full_text:
        line += " (title, abstract and claims only: no description indexed)"
    return line


def _summary(chart: ClaimChart) -> list[str]:
    lines = []
    if chart.anticipation:
        lines.append(
            "Anticipation candidate (retrieval: every element found in one reference): "
            + ", ".join(chart.anticipation)
        )
    else:
        lines.append("No reference alone has every element found.")
    if chart.combinations:
        pairs = "; ".join(" + ".join(pair) for pair in chart.combinations)
        lines.append(f"Combinations (every element found in the pair, in neither alone): {pairs}")
    elif not chart.anticipation:
        lines.append("No pair of references has every element found between them.")
    lines.append(
        f"Found: the passage scores at least {chart.threshold:.2f}; not found: the nearest passage "
        "scores less (its location and score are shown)."
    )
    judged = [cell.judgement for cell in chart.cells if cell.judgement is not None]
    if judged:
        counts = Counter(judgement.verdict for judgement in judged)
        verdicts = ", ".join(
            f"{counts[v]} {v}" for v in ("discloses", "partly", "does not disclose") if counts[v]
        )
        models = ", ".join(sorted({judgement.model for judgement in judged}))
        lines.append(
            f"Model judgement ({_one_line(models)}) of {len(judged)} cells: {verdicts}. An LLM's opinion of "
            "the passage shown, not retrieval; the passages are unchanged."
        )
    return lines


def _view(chart: ClaimChart, *, excerpt_chars: int) -> _View:
    claim = chart.claim
    elements = claim.elements
    cells = {(cell.element, cell.reference): cell for cell in chart.cells}
    rows = [
        [
            _cell_view(cells.get((element.label, ref.publication_number)), element, excerpt_chars)
            for ref in chart.references
        ]
        for element in elements
    ]
    title = f"Claim {claim.number} of {chart.publication_number}"
    subtitle = _one_line(chart.title)
    if claim.parent is not None:
        subtitle += f" (claim {claim.number} depends on claim {claim.parent}: its elements follow theirs)"
    return _View(
        title=title,
        subtitle=subtitle.strip(),
        references=list(chart.references),
        elements=elements,
        rows=rows,
        coverage=[_coverage(ref, len(elements)) for ref in chart.references],
        summary=_summary(chart),
        notes=[_one_line(note) for note in chart.notes],
    )


def _reference_head(reference: Reference) -> str:
    day = f" ({reference.earliest_date.isoformat()})" if reference.earliest_date else ""
    return f"{reference.publication_number}{day}"


# -- terminal ------------------------------------------------------------------------------------
def _table_cell(view: _CellView) -> Text:
    if view.status == "missing":
        return Text("—", style="dim")
    if view.status == "found":
        text = Text.assemble(
            (terminal_safe(view.location), "bold green"),
            (f"  {_score(view.score)}", "green"),
            "\n",
            terminal_safe(view.excerpt),
        )
    else:
        text = Text.assemble(
            ("not found", "bold red"),
            "\n",
            (f"nearest: {terminal_safe(view.location)}  {_score(view.score)}", "dim"),
        )
    if view.verdict is not None:
        style = {"discloses": "magenta", "partly": "yellow", "does not disclose": "red"}[view.verdict]
        text.append("\nmodel judgement: ", style="italic magenta")
        text.append(view.verdict, style=f"bold {style}")
        text.append(f" — {terminal_safe(view.reason or '')}", style="italic")
    return text


def chart_table(chart: ClaimChart) -> Table:
    """The chart as a rich table: elements as rows, references as columns, coverage as the footer,
    the anticipation/combination summary, the threshold and the notes as the caption.

    Excerpts get shorter as references are added, so that the table stays readable in a terminal.

    Example:
        >>> Console().print(chart_table(chart))  # doctest: +SKIP
    """
    view = _view(chart, excerpt_chars=max(60, min(160, 400 // max(len(chart.references), 1))))
    caption = Text(justify="left")
    for line in view.summary:
        caption.append(terminal_safe(line) + "\n", style="dim")
    for note in view.notes:
        caption.append("note: " + note + "\n", style="yellow")
    table = Table(
        title=Text.assemble((view.title, "bold"), "  ", terminal_safe(view.subtitle)),
        title_justify="left",
        caption=caption,
        caption_justify="left",
        show_lines=True,
        show_footer=True,
        expand=False,
    )
    table.add_column("element", footer=Text("coverage", style="bold"), max_width=44, overflow="fold")
    for reference, coverage in zip(view.references, view.coverage, strict=True):
        head = Text.assemble(
            (terminal_safe(_reference_head(reference)), "bold"),
            "\n",
            (_cut(reference.title, _TABLE_TITLE_CHARS), "dim"),
        )
        if not reference.full_text:
            head.append("\nabstract and claims only", style="yellow")
        footer = Text(coverage, style="bold" if reference.full_text else "yellow")
        table.add_column(head, footer=footer, min_width=16, overflow="fold")
    for element, row in zip(view.elements, view.rows, strict=True):
        label = Text.assemble(
            (terminal_safe(element.label), "bold"), " ", _cut(element.text, _TABLE_ELEMENT_CHARS)
        )
        table.add_row(label, *(_table_cell(cell) for cell in row))
    return table


# -- Markdown ------------------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def _md(text: str) -> str:
    """Plain text for a Markdown table cell: one line, no emphasis, link, code, tag or cell break."""
    escaped = _one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", escaped)


def _md_cell(view: _CellView) -> str:
    if view.status == "missing":
        return "—"
    if view.status == "found":
        text = f"**{_md(view.location)}** ({_score(view.score)})<br>{_md(view.excerpt)}"
    else:
        text = f"**not found** (nearest: {_md(view.location)}, {_score(view.score)})"
    if view.verdict is not None:
        text += f"<br>*model judgement: {view.verdict}* — {_md(view.reason or '')}"
    return text


def chart_markdown(chart: ClaimChart, *, excerpt_chars: int = EXCERPT_CHARS) -> str:
    """The chart as Markdown (a GitHub-flavoured table and a list): paste it into a memo.

    Example:
        >>> print(chart_markdown(chart))  # doctest: +SKIP
        ## Claim 1 of US8089324B2 ...
    """
    view = _view(chart, excerpt_chars=excerpt_chars)
    heads = [f"{_md(_reference_head(ref))}<br>{_md(ref.title)}" for ref in view.references]
    heads = [
        head + ("" if ref.full_text else "<br>*abstract and claims only*")
        for head, ref in zip(heads, view.references, strict=True)
    ]
    lines = [f"## {_md(view.title)}", ""]
    if view.subtitle:
        lines.extend([_md(view.subtitle), ""])
    lines.append("| " + " | ".join(["Element", *heads]) + " |")
    lines.append("|---|" + "---|" * len(heads))
    for element, row in zip(view.elements, view.rows, strict=True):
        cells = [f"**{_md(element.label)}** {_md(element.text)}", *(_md_cell(cell) for cell in row)]
        lines.append("| " + " | ".join(cells) + " |")
    if view.references:
        lines.append("| " + " | ".join(["**Coverage**", *(_md(line) for line in view.coverage)]) + " |")
    lines.append("")
    lines.extend(f"- {_md(line)}" for line in view.summary)
    lines.extend(f"- Note: {_md(note)}" for note in view.notes)
    return "\n".join(lines) + "\n"


# -- HTML ----------------------------------------------------------------------------------------
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 1.3em; margin-bottom: 0.2em; }
p.subtitle { margin-top: 0; color: #444; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #999; padding: 0.4em 0.6em; vertical-align: top; text-align: left; }
th { background: #eee; min-width: 12em; }
th .title { font-weight: normal; }
td.element { width: 22em; }
.label { font-weight: bold; }
.found .location { font-weight: bold; color: #075; }
.notfound .status { font-weight: bold; color: #a00; }
.nearest, .score { color: #777; }
.partial { color: #a60; }
.judgement { display: block; margin-top: 0.4em; font-style: italic; color: #517; }
tfoot td { font-weight: bold; }
""".strip()


def _h(text: str) -> str:
    return html.escape(_one_line(text), quote=True)


def _html_cell(view: _CellView) -> str:
    if view.status == "missing":
        return '<td class="missing">—</td>'
    if view.status == "found":
        body = (
            f'<span class="location">{_h(view.location)}</span> '
            f'<span class="score">({_score(view.score)})</span><br>'
            f'<span class="passage">{_h(view.excerpt)}</span>'
        )
        kind = "found"
    else:
        body = (
            '<span class="status">not found</span> <span class="nearest">(nearest: '
            f"{_h(view.location)}, {_score(view.score)})</span>"
        )
        kind = "notfound"
    if view.verdict is not None:
        body += (
            f'<span class="judgement">model judgement: <b>{_h(view.verdict)}</b> — {_h(view.reason or "")}'
            "</span>"
        )
    return f'<td class="{kind}">{body}</td>'


def chart_html(chart: ClaimChart, *, excerpt_chars: int = EXCERPT_CHARS) -> str:
    """The chart as a standalone HTML page (no scripts, no external resources): open it in a browser,
    or copy its table into a memo.

    Example:
        >>> Path("chart.html").write_text(chart_html(chart), encoding="utf-8")  # doctest: +SKIP
    """
    view = _view(chart, excerpt_chars=excerpt_chars)
    heads = []
    for ref in view.references:
        flag = '<br><span class="partial">abstract and claims only</span>' if not ref.full_text else ""
        heads.append(
            f'<th>{_h(_reference_head(ref))}<br><span class="title">{_h(ref.title)}</span>{flag}</th>'
        )
    rows = []
    for element, row in zip(view.elements, view.rows, strict=True):
        head = f'<td class="element"><span class="label">{_h(element.label)}</span> {_h(element.text)}</td>'
        rows.append("<tr>" + head + "".join(_html_cell(cell) for cell in row) + "</tr>")
    coverage = "".join(
        f'<td class="{"" if ref.full_text else "partial"}">{_h(line)}</td>'
        for ref, line in zip(view.references, view.coverage, strict=True)
    )
    items = [f"<li>{_h(line)}</li>" for line in view.summary]
    items.extend(f"<li>Note: {_h(note)}</li>" for note in view.notes)
    subtitle = f'<p class="subtitle">{_h(view.subtitle)}</p>' if view.subtitle else ""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            # No scripts, no fetches: the page is text, even if an escape were ever missed.
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'\">",
            f"<title>{_h(view.title)}</title>",
            f"<style>\n{_STYLE}\n</style>",
            "</head>",
            "<body>",
            f"<h1>{_h(view.title)}</h1>",
            subtitle,
            "<table>",
            "<thead><tr><th>Element</th>" + "".join(heads) + "</tr></thead>",
            "<tbody>",
            *rows,
            "</tbody>",
            f"<tfoot><tr><td>Coverage</td>{coverage}</tr></tfoot>" if view.references else "",
            "</table>",
            "<ul>",
            *items,
            "</ul>",
            "</body>",
            "</html>",
            "",
        ]
    )
