"""The chat-over-patents page in a real browser: headless Chromium (Debian's package) driven by
Playwright against a real uvicorn server over the packaged sample index, with a stub
OpenAI-compatible LLM on localhost (tests/server_support.py) that answers with ``answer_pieces``.

The server hosts the app twice over one open service: at ``/`` with the LLM, and mounted under
``/patents/`` without one (the page must work under a prefix and say when ask is unavailable).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from patent_rag.llm import ChatClient
from patent_rag.search.service import PatentService
from tests.server_support import (
    HOSTILE,
    INVENTED,
    PIECES_BEFORE_GATE,
    LLMScript,
    StubLLM,
    answer_pieces,
    copy_index,
    sample_corpus,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
QUERY_PATENT = "US8089324B2"  # filed 2008-12-31, no priority claim: the cutoff is its filing date
QUERY_CUTOFF = "2008-12-31"
WAIT_MS = 20_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
)


@dataclass(frozen=True)
class Site:
    url: str  # the app with an LLM, at the root
    bare_url: str  # the app without an LLM, mounted under /patents/
    stub: StubLLM


@pytest.fixture(scope="module")
def site(sample_index_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from patent_rag.server import create_app

    index = copy_index(sample_index_template, tmp_path_factory.mktemp("page"))
    script = LLMScript(reply=answer_pieces, pause_at=PIECES_BEFORE_GATE)
    with StubLLM(script) as stub, PatentService.open(str(index)) as service:
        llm = ChatClient(base_url=stub.url, model="stub", timeout=30.0)
        parent = Starlette(
            routes=[
                Mount("/patents", app=create_app(service=service)),
                Mount("", app=create_app(service=service, llm=llm)),
            ]
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(parent, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            while thread.is_alive() and not server.started:
                time.sleep(0.05)
            assert server.started, "uvicorn did not start"
            base = f"http://127.0.0.1:{port}/"
            yield Site(url=base, bare_url=base + "patents/", stub=stub)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            sock.close()
            llm.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    expect.set_options(timeout=WAIT_MS)  # a loaded CI runner is slow to encode and answer
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site.url)
    page.wait_for_selector("body[data-ready]")
    yield page
    context.close()
    assert errors == [], f"script errors on the page: {errors}"


def api(site: Site, path: str, **body: object) -> dict[str, Any]:
    """The same app's JSON answer, read directly: what the page should be showing."""
    with httpx.Client(base_url=site.url, timeout=30) as client:
        response = client.post(path, json=body) if body else client.get(path)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def shown_numbers(page: Page, selector: str) -> list[str]:
    numbers: list[str] = page.locator(f"{selector} li").evaluate_all(
        "(items) => items.map((li) => li.dataset.patent)"
    )
    return numbers


def test_every_control_has_a_label_and_the_views_work_from_the_keyboard(page: Page, site: Site) -> None:
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
             .filter((c) => !c.labels.length || !c.labels[0].textContent.trim())
             .map((c) => c.id || c.outerHTML)"""
    )
    assert unlabelled == []
    for label in ("Question", "Patents to read"):
        expect(page.locator("#view-ask").get_by_label(label, exact=True)).to_have_count(1)
    filters = ("Since", "Before", "CPC prefixes", "IPC prefixes", "US classes", "Countries", "Search mode")
    for view in ("#view-ask", "#view-search", "#view-prior-art"):
        for label in filters:
            expect(page.locator(view).get_by_label(label, exact=True)).to_have_count(1)
    expect(page.locator("#view-search").get_by_label("Query", exact=True)).to_have_count(1)
    expect(page.locator("#view-prior-art").get_by_label("Publication number", exact=True)).to_have_count(1)
    expect(page.locator("#answer")).to_have_attribute("aria-live", "polite")
    expect(page.locator("#alert")).to_have_attribute("role", "alert")
    info = api(site, "api/info")
    assert info["patents"] == len(sample_corpus()) and info["chunks"] > info["patents"]
    expect(page.locator("#index-info")).to_contain_text(
        f"{info['patents']} patents · {info['chunks']} chunks"
    )

    # Tabs follow the ARIA pattern: arrow keys move between views; the focused control is outlined.
    page.get_by_role("tab", name="Ask").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Search")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#view-search")).to_be_visible()
    expect(page.locator("#view-ask")).to_be_hidden()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Prior art")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Publication number", exact=True)).to_be_focused()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") not in ("none", "")


def test_ask_streams_an_answer_whose_citations_open_evidence_and_bibliography(page: Page, site: Site) -> None:
    question_text = "An oscillator without a varactor"
    question = page.get_by_label("Question", exact=True)
    question.fill(question_text)
    answer = page.locator("#answer")
    first = page.locator("#ask-hits li").first
    site.stub.script.gate.clear()  # the stub LLM stops mid-answer until the gate opens
    try:
        question.press("Enter")
        # Half-way: the answer so far is shown, its citation (sent in two pieces) already a button.
        first.wait_for()
        cited = first.get_attribute("data-patent")
        assert cited
        citation = answer.get_by_role("button", name=f"[{cited}]", exact=True)
        expect(citation).to_be_visible()
        expect(answer).to_have_attribute("aria-busy", "true")
        expect(answer).not_to_contain_text("often cited")
    finally:
        site.stub.script.gate.set()
    expect(answer).to_have_attribute("aria-busy", "false")
    expect(page.locator("#ask-status")).to_have_text("Answered, citing 1 patent.")
    expect(answer).to_contain_text("often cited")
    # The invented citation is dropped by the server and reported, not linked.
    expect(answer.get_by_role("button")).to_have_count(1)
    expect(answer).not_to_contain_text(INVENTED)
    expect(page.locator("#answer-unresolved")).to_contain_text(INVENTED)
    expect(first.locator(".badge")).to_have_text("cited")

    # Answers are untrusted: the markup the LLM wrote is shown as text, and none of it ran.
    expect(answer).to_contain_text(HOSTILE)
    expect(answer.locator("img, script")).to_have_count(0)
    assert page.evaluate("window.__xss") is None

    # The citation is a button the keyboard can use; it opens the patent's evidence and bibliography.
    citation.focus()
    page.keyboard.press("Enter")
    panel = page.locator("#patent-panel")
    expect(panel.locator("#patent-heading")).to_have_text(cited)
    expect(panel.locator("#patent-heading")).to_be_focused()
    hits = api(site, "api/search", query=question_text, top_k=5)["hits"]
    hit = next(hit for hit in hits if hit["publication_number"] == cited)
    best = hit["evidence"][0]
    label = f"claim {best['claim_number']}" if best["claim_number"] is not None else best["section"]
    expect(panel.locator(".evidence .evidence-label").first).to_have_text(label)
    expect(panel.locator(".evidence blockquote").first).to_have_text(best["text"].strip())
    expect(panel.locator(".evidence li")).to_have_count(len(hit["evidence"]))
    expect(panel.locator(".patent-title")).to_have_text(hit["title"])
    biblio = panel.locator(".biblio")
    for value in filter(None, (hit["publication_date"], hit["filing_date"], *hit["ipc"], *hit["assignees"])):
        expect(biblio).to_contain_text(value)
    # The full record is fetched for the abstract and claims.
    record = api(site, f"api/patents/{cited}")
    expect(panel.locator(".claims li")).to_have_count(len(record["claims"]))
    expect(panel.locator(".abstract")).to_have_text(record["abstract"].strip())


def test_search_with_a_classification_filter_shows_only_matching_patents(page: Page, site: Site) -> None:
    query = "semiconductor device"
    # The sample grants carry IPC symbols (no CPC): without the filter other classes rank too.
    unfiltered = api(site, "api/search", query=query, top_k=10)["hits"]
    assert any(not any(code.startswith("H01L") for code in hit["ipc"]) for hit in unfiltered)

    page.get_by_role("tab", name="Search").click()
    view = page.locator("#view-search")
    view.get_by_label("Query", exact=True).fill(query)
    view.get_by_label("IPC prefixes", exact=True).fill("H01L")
    view.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#search-status")).to_have_text(re.compile(r"\d+ patents? \(hybrid\)\."))
    shown = shown_numbers(page, "#search-hits")
    assert shown
    expect(page.locator("#search-status")).to_contain_text(f"{len(shown)} patent")
    for number in shown:
        assert any(code.startswith("H01L") for code in api(site, f"api/patents/{number}")["ipc"]), number

    # A CPC filter nothing in the sample matches: the empty result says so.
    view.get_by_label("IPC prefixes", exact=True).fill("")
    view.get_by_label("CPC prefixes", exact=True).fill("H01L")
    view.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#search-status")).to_have_text("No patents match; try fewer filters.")
    expect(page.locator("#search-hits li")).to_have_count(0)


def test_prior_art_lists_earlier_patents_under_the_cutoff(page: Page) -> None:
    page.get_by_role("tab", name="Prior art").click()
    page.get_by_label("Publication number", exact=True).fill(QUERY_PATENT)
    page.get_by_role("button", name="Find prior art").click()
    summary = page.locator("#prior-art-summary")
    expect(summary).to_contain_text(f"Prior art for {QUERY_PATENT}")
    expect(summary).to_contain_text(
        f"Cutoff: documents with an earliest priority date before {QUERY_CUTOFF}."
    )
    items = page.locator("#prior-art-hits li")
    expect(items).to_have_count(10)
    assert QUERY_PATENT not in shown_numbers(page, "#prior-art-hits")
    for meta in items.locator(".meta").all_inner_texts():
        found = re.search(r"(?:priority|filed) (\d{4}-\d\d-\d\d)", meta)
        assert found and found.group(1) < QUERY_CUTOFF, meta


def test_api_errors_are_shown_readably_in_the_alert(page: Page) -> None:
    alert = page.get_by_role("alert")
    message = page.locator("#alert-text")
    page.get_by_role("tab", name="Search").click()
    view = page.locator("#view-search")
    view.get_by_label("Query", exact=True).fill("oscillator")
    view.get_by_label("CPC prefixes", exact=True).fill("not a code")
    view.get_by_role("button", name="Search", exact=True).click()
    expect(message).to_have_text(
        "Search: cpc 'not a code' is not a CPC/IPC symbol or prefix; give a section, class, subclass, "
        "main group or full symbol, e.g. G, G06, G06F, G06F16 or G06F16/30"
    )
    # A validation error (FastAPI's list of field errors) reads as "field: message".
    view.get_by_label("CPC prefixes", exact=True).fill("")
    view.get_by_label("Results", exact=True).fill("500")
    view.get_by_role("button", name="Search", exact=True).click()
    expect(message).to_have_text(re.compile(r"^Search: top_k: [^\[\]{}]*\b50\b[^\[\]{}]*$"))
    alert.get_by_role("button", name="Dismiss").click()
    expect(alert).to_be_hidden()

    page.get_by_role("tab", name="Prior art").click()
    page.get_by_label("Publication number", exact=True).fill("US9999999B2")
    page.get_by_role("button", name="Find prior art").click()
    expect(message).to_have_text(re.compile(r"^Prior art: .*US9999999B2"))
    expect(message).not_to_contain_text("[object")


def test_under_a_prefix_without_an_llm_ask_says_how_to_enable_it(page: Page, site: Site) -> None:
    page.goto(site.bare_url)
    page.wait_for_selector("body[data-ready]")
    notice = page.locator("#ask-unavailable")
    expect(notice).to_contain_text("no LLM configured")
    expect(notice).to_contain_text("--llm-url")
    expect(notice).to_contain_text("--llm-model")
    expect(page.get_by_label("Question", exact=True)).to_be_disabled()
    # Everything else works from the mount point: the page's URLs are relative.
    page.get_by_role("tab", name="Search").click()
    view = page.locator("#view-search")
    view.get_by_label("Query", exact=True).fill("voltage controlled oscillator")
    view.get_by_role("button", name="Search", exact=True).click()
    page.locator("#search-hits li").first.get_by_role("button").click()
    expect(page.locator("#patent-panel .claims li").first).to_be_visible()
    expect(page.get_by_role("alert")).to_be_hidden()
