// The chat-over-patents page: ask (streamed answers with citations), search, prior art.
//
// Everything that comes from the index or the LLM (titles, claims, evidence, answers) is untrusted
// text: it only ever reaches the page through textContent / createTextNode, never innerHTML.
// URLs are relative to this script, so the app can be mounted under any prefix (/patents/...).

const BASE = new URL("../", import.meta.url);
const ASK_MAX_TOP_K = 10;

const state = {
  info: null,
  hits: new Map(), // publication number -> PatentHit, from every result shown so far
  records: new Map(), // publication number -> Promise of the api/patents record
  askController: null,
  shown: null, // publication number in the patent panel
};

// ---------------------------------------------------------------- small DOM helpers

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node) {
  node.replaceChildren();
  return node;
}

// ---------------------------------------------------------------- API

class ApiError extends Error {}

function apiUrl(path) {
  return new URL(path, BASE);
}

/** A readable message from an error body: {detail: "..."} or FastAPI's [{loc, msg}, ...]. */
function errorMessage(status, body) {
  const detail = body && body.detail;
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail) && detail.length) {
    return detail
      .map((item) => {
        const loc = (item.loc || []).filter((part) => part !== "body" && part !== "query" && part !== "path");
        const msg = String(item.msg || "invalid value").replace(/^Value error, /, "");
        return loc.length ? `${loc.join(".")}: ${msg}` : msg;
      })
      .join("; ");
  }
  if (status === 0) return "the server cannot be reached";
  return `the server answered ${status}`;
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = new ApiError(errorMessage(response.status, body));
  error.status = response.status;
  error.code = body && body.error;
  return error;
}

async function request(path, { method = "GET", body, signal } = {}) {
  let response;
  try {
    response = await fetch(apiUrl(path), {
      method,
      signal,
      headers: body === undefined ? { Accept: "application/json" } : {
        Accept: "application/json",
        "Content-Type": "application/json",
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("the server cannot be reached; is patent-rag serve still running?");
  }
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** Server-sent events from a fetch response: yields {event, data} (data parsed as JSON). */
async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let heldCR = false; // a chunk ending in \r may be the first half of \r\n
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let text = (heldCR ? "\r" : "") + value;
      heldCR = text.endsWith("\r");
      if (heldCR) text = text.slice(0, -1);
      buffer += text.replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const parsed = parseEvent(block);
        if (parsed) yield parsed;
      }
    }
    const last = parseEvent(buffer.replace(/\r\n?/g, "\n"));
    if (last) yield last;
  } finally {
    reader.releaseLock();
  }
}

function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  try {
    return { event, data: JSON.parse(data.join("\n")) };
  } catch {
    return { event, data: { text: data.join("\n") } };
  }
}

// ---------------------------------------------------------------- alerts and status

function showError(what, error) {
  if (error && error.name === "AbortError") return;
  const message = error instanceof Error ? error.message : String(error);
  $("alert-text").textContent = `${what}: ${message}`;
  $("alert").hidden = false;
}

function clearError() {
  $("alert").hidden = true;
  $("alert-text").textContent = "";
}

function setStatus(id, text) {
  $(id).textContent = text;
}

// ---------------------------------------------------------------- forms and filters

function splitList(value, separators) {
  return value
    .split(separators)
    .map((part) => part.trim())
    .filter(Boolean);
}

function installFilters() {
  const template = $("filters-template");
  for (const slot of document.querySelectorAll("[data-filters]")) {
    const prefix = slot.dataset.filters;
    const fragment = template.content.cloneNode(true);
    for (const label of fragment.querySelectorAll("label[data-for]")) {
      label.htmlFor = `${prefix}-${label.dataset.for}`;
    }
    for (const input of fragment.querySelectorAll("[data-name]")) {
      input.id = `${prefix}-${input.dataset.name}`;
      input.name = input.dataset.name;
    }
    if (slot.closest("details")) fragment.querySelector("legend").className = "visually-hidden";
    slot.replaceWith(fragment);
  }
}

/** The filter fields of a form as API values; empty fields are left out. */
function filterValues(form) {
  const values = {};
  const field = (name) => form.elements.namedItem(name);
  for (const name of ["since", "before", "mode"]) {
    const value = field(name).value.trim();
    if (value) values[name] = value;
  }
  // CPC/IPC symbols may contain a space (G06F 16/30): only commas and semicolons separate them.
  for (const name of ["cpc", "ipc", "uspc"]) {
    const list = splitList(field(name).value, /[,;]/);
    if (list.length) values[name] = list;
  }
  const countries = splitList(field("countries").value, /[,;\s]+/);
  if (countries.length) values.countries = countries.map((code) => code.toUpperCase());
  return values;
}

function topK(form, fallback) {
  const value = Number.parseInt(form.elements.namedItem("top_k").value, 10);
  return Number.isFinite(value) ? value : fallback;
}

// ---------------------------------------------------------------- patents

function evidenceLabel(item) {
  if (item.claim_number !== null && item.claim_number !== undefined) return `claim ${item.claim_number}`;
  const first = item.paragraph_start;
  if (first !== null && first !== undefined) {
    const last = item.paragraph_end !== null && item.paragraph_end > first ? item.paragraph_end : first;
    return `${item.section} ¶${first + 1}${last > first ? `-${last + 1}` : ""}`;
  }
  return item.section;
}

function joined(list) {
  return list && list.length ? list.join(", ") : "";
}

function remember(hits) {
  for (const hit of hits) state.hits.set(hit.publication_number, hit);
}

function patentButton(number, { cls = "link", label } = {}) {
  return el(
    "button",
    {
      type: "button",
      class: cls,
      dataset: { patent: number },
      "aria-label": label,
      onclick: (event) => showPatent(number, event.currentTarget),
    },
    number,
  );
}

function hitItem(hit) {
  const best = hit.evidence && hit.evidence[0];
  const dates = [
    hit.priority_date && `priority ${hit.priority_date}`,
    !hit.priority_date && hit.filing_date && `filed ${hit.filing_date}`,
    hit.publication_date && `published ${hit.publication_date}`,
  ].filter(Boolean);
  const classes = [
    hit.cpc.length && `CPC ${joined(hit.cpc.slice(0, 4))}`,
    hit.ipc.length && `IPC ${joined(hit.ipc.slice(0, 4))}`,
  ].filter(Boolean);
  return el(
    "li",
    { class: "hit", dataset: { patent: hit.publication_number } },
    el(
      "div",
      { class: "hit-head" },
      el("span", { class: "rank", "aria-label": `rank ${hit.rank}` }, String(hit.rank)),
      patentButton(hit.publication_number, { label: `${hit.publication_number}: show evidence and bibliography` }),
      el("span", { class: "hit-title" }, hit.title || "(no title)"),
      el("span", { class: "score", title: "relevance score" }, `score ${hit.score.toFixed(3)}`),
    ),
    el("p", { class: "meta" }, [...dates, ...classes, joined(hit.assignees)].filter(Boolean).join(" · ")),
    best &&
      el(
        "p",
        { class: "evidence-snippet" },
        el("span", { class: "evidence-label" }, evidenceLabel(best)),
        " ",
        best.text,
      ),
  );
}

function renderHits(list, hits) {
  remember(hits);
  clear(list).append(...hits.map(hitItem));
}

function bibliography(record) {
  const rows = [
    ["Publication", [record.publication_number, record.kind && `(${record.kind})`].filter(Boolean).join(" ")],
    ["Country", record.country],
    ["Priority date", record.priority_date],
    ["Filing date", record.filing_date],
    ["Publication date", record.publication_date],
    ["Family", record.family_id],
    ["CPC", joined(record.cpc)],
    ["IPC", joined(record.ipc)],
    ["US classes", joined(record.uspc)],
    ["Assignees", joined(record.assignees)],
    ["Inventors", joined(record.inventors)],
  ].filter(([, value]) => value);
  return el("dl", { class: "biblio" }, rows.map(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
}

function evidenceList(hit) {
  return el(
    "ol",
    { class: "evidence" },
    hit.evidence.map((item) =>
      el(
        "li",
        {},
        el(
          "p",
          { class: "evidence-head" },
          el("span", { class: "evidence-label" }, evidenceLabel(item)),
          el("span", { class: "score" }, `score ${item.score.toFixed(3)}`),
        ),
        el("blockquote", {}, item.text),
      ),
    ),
  );
}

function loadRecord(number) {
  if (!state.records.has(number)) {
    const pending = request(`api/patents/${encodeURIComponent(number)}`);
    pending.catch(() => state.records.delete(number));
    state.records.set(number, pending);
  }
  return state.records.get(number);
}

async function showPatent(number, opener) {
  state.shown = number;
  const hit = state.hits.get(number);
  const body = clear($("patent-body"));
  $("patent-placeholder").hidden = true;
  $("patent-heading").textContent = number;
  const title = el("p", { class: "patent-title" }, hit ? hit.title : "");
  const biblio = el("div", {}, hit ? bibliography(hit) : el("p", { class: "status" }, "Loading…"));
  const details = el("div", { class: "patent-text" }, el("p", { class: "status" }, "Loading abstract and claims…"));
  // The short bibliography first, so the evidence below it is all that may need scrolling to.
  body.append(title, el("h3", {}, "Bibliography"), biblio);
  if (hit && hit.evidence.length) {
    body.append(el("h3", {}, "Evidence"), evidenceList(hit));
  }
  body.append(details);
  for (const button of document.querySelectorAll("button[data-patent]")) {
    if (button.dataset.patent === number) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  if (opener) $("patent-heading").focus({ preventScroll: true });
  // Side by side the panel is in view already; stacked (narrow screens) it is below the results.
  const box = $("patent-panel").getBoundingClientRect();
  if (box.top > window.innerHeight * 0.6 || box.bottom < 0) {
    $("patent-panel").scrollIntoView({ block: "start" });
  }

  let record;
  try {
    record = await loadRecord(number);
  } catch (error) {
    if (state.shown === number) {
      clear(details);
      showError(`Reading ${number}`, error);
    }
    return;
  }
  if (state.shown !== number) return;
  title.textContent = record.title || hit?.title || "";
  biblio.replaceChildren(bibliography(record));
  clear(details);
  if (record.abstract) details.append(el("h3", {}, "Abstract"), el("p", { class: "abstract" }, record.abstract));
  if (record.claims.length) {
    details.append(
      el("h3", {}, "Claims"),
      el(
        "ol",
        { class: "claims" },
        record.claims.map((claim) =>
          el(
            "li",
            { value: claim.number },
            claim.parent ? el("span", { class: "note" }, `(depends on claim ${claim.parent}) `) : null,
            claim.text,
          ),
        ),
      ),
    );
  }
}

// ---------------------------------------------------------------- answers and citations

const BRACKET = /\[([^[\]\n]{2,60})\]/g;
const SPLIT = /;|,\s*(?=[A-Za-z]{2})/;

function normalNumber(text) {
  return text.toUpperCase().replace(/[\s\-/.,]/g, "");
}

/** The retrieved patent a cited number means (exact, or the one patent with that number and any kind). */
function resolveCitation(part, known) {
  const number = normalNumber(part);
  if (known.has(number)) return number;
  const stems = [...known.keys()].filter((key) => key.replace(/[A-Z]\d?$/, "") === number);
  return stems.length === 1 ? stems[0] : null;
}

/** Text and citation buttons for a piece of answer text (whole bracketed citations only). */
function answerNodes(text, known) {
  const nodes = [];
  let at = 0;
  for (const match of text.matchAll(BRACKET)) {
    const parts = match[1].split(SPLIT).map((part) => part.trim()).filter(Boolean);
    const numbers = parts.map((part) => resolveCitation(part, known));
    if (!parts.length || numbers.some((number) => number === null)) continue;
    nodes.push(document.createTextNode(text.slice(at, match.index)));
    for (const number of new Set(numbers)) {
      nodes.push(
        el(
          "button",
          {
            type: "button",
            class: "citation",
            dataset: { patent: number },
            title: "Show the evidence and bibliography",
            onclick: (event) => showPatent(number, event.currentTarget),
          },
          `[${number}]`,
        ),
      );
    }
    at = match.index + match[0].length;
  }
  nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}

/** Renders a streamed answer as it grows: text up to a possibly unfinished citation is final. */
class AnswerView {
  constructor(node) {
    this.node = clear(node);
    this.text = "";
    this.done = 0; // characters already rendered for good
    this.tail = document.createTextNode("");
    this.node.append(this.tail);
    this.known = new Map();
  }

  setHits(hits) {
    this.known = new Map(hits.map((hit) => [hit.publication_number, hit]));
  }

  append(piece) {
    this.text += piece;
    const open = this.text.lastIndexOf("[");
    const pending =
      open >= this.done &&
      !this.text.slice(open).includes("]") &&
      !this.text.slice(open).includes("\n") &&
      this.text.length - open <= 62;
    const safe = pending ? open : this.text.length;
    if (safe > this.done) {
      this.tail.before(...answerNodes(this.text.slice(this.done, safe), this.known));
      this.done = safe;
    }
    this.tail.textContent = this.text.slice(this.done);
  }

  finish(answer) {
    const focused = document.activeElement?.closest?.(".citation")?.dataset.patent;
    clear(this.node).append(...answerNodes(answer, this.known));
    if (focused) this.node.querySelector(`.citation[data-patent="${CSS.escape(focused)}"]`)?.focus();
  }
}

async function ask(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const question = form.elements.namedItem("question").value.trim();
  if (!question) {
    showError("Ask", "write a question first");
    form.elements.namedItem("question").focus();
    return;
  }
  state.askController?.abort();
  const controller = new AbortController();
  state.askController = controller;
  clearError();
  const answer = $("answer");
  $("answer-placeholder").hidden = true;
  const view = new AnswerView(answer);
  $("answer-unresolved").hidden = true;
  $("ask-sources").hidden = true;
  clear($("ask-hits"));
  answer.setAttribute("aria-busy", "true");
  $("ask-stop").hidden = false;
  setStatus("ask-status", "Searching the index…");
  const body = { question, top_k: topK(form, 5), ...filterValues(form) };
  let finished = false;
  try {
    let response;
    try {
      response = await fetch(apiUrl("api/ask"), {
        method: "POST",
        signal: controller.signal,
        headers: { Accept: "text/event-stream", "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError("the server cannot be reached; is patent-rag serve still running?");
    }
    if (!response.ok) {
      const error = await failure(response);
      if (response.status === 503 && error.code && /llm/i.test(error.code)) showAskUnavailable();
      throw error;
    }
    for await (const { event: kind, data } of readEvents(response)) {
      if (kind === "hits") {
        view.setHits(data.hits);
        renderHits($("ask-hits"), data.hits);
        $("ask-sources").hidden = false;
        setStatus(
          "ask-status",
          data.hits.length ? `Answering from ${data.hits.length} patents…` : "No patents matched; answering anyway…",
        );
      } else if (kind === "token") {
        view.append(data.text || "");
      } else if (kind === "done") {
        finished = true;
        view.finish(data.answer || "");
        markCited(data.citations || []);
        const unresolved = data.unresolved_citations || [];
        if (unresolved.length) {
          $("answer-unresolved").textContent =
            `Removed citations of patents the answer was not given: ${unresolved.join(", ")}.`;
          $("answer-unresolved").hidden = false;
        }
        const cited = (data.citations || []).length;
        setStatus("ask-status", `Answered, citing ${cited} patent${cited === 1 ? "" : "s"}.`);
      } else if (kind === "error") {
        finished = true;
        throw new ApiError(data.detail || "the answer failed");
      }
    }
    if (!finished) throw new ApiError("the answer stream ended early");
  } catch (error) {
    if (error.name === "AbortError") setStatus("ask-status", "Stopped.");
    else {
      setStatus("ask-status", "");
      showError("Ask", error);
    }
  } finally {
    if (state.askController === controller) {
      state.askController = null;
      answer.setAttribute("aria-busy", "false");
      $("ask-stop").hidden = true;
    }
  }
}

function markCited(citations) {
  const cited = new Set(citations);
  for (const item of $("ask-hits").children) {
    const isCited = cited.has(item.dataset.patent);
    item.classList.toggle("cited", isCited);
    if (isCited) item.querySelector(".hit-head").append(el("span", { class: "badge" }, "cited"));
  }
}

function showAskUnavailable() {
  $("ask-unavailable").hidden = false;
  document.querySelector("#view-ask .answer-box").hidden = true;
  for (const control of $("ask-form").elements) control.disabled = true;
}

// ---------------------------------------------------------------- search and prior art

async function search(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const query = form.elements.namedItem("query").value.trim();
  if (!query) {
    showError("Search", "write what the prior art should disclose");
    form.elements.namedItem("query").focus();
    return;
  }
  clearError();
  setStatus("search-status", "Searching…");
  try {
    const result = await request("api/search", {
      method: "POST",
      body: { query, top_k: topK(form, 10), ...filterValues(form) },
    });
    renderHits($("search-hits"), result.hits);
    const n = result.hits.length;
    setStatus(
      "search-status",
      n ? `${n} patent${n === 1 ? "" : "s"} (${result.mode}).` : "No patents match; try fewer filters.",
    );
  } catch (error) {
    setStatus("search-status", "");
    clear($("search-hits"));
    showError("Search", error);
  }
}

async function priorArt(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const number = form.elements.namedItem("publication_number").value.trim();
  if (!number) {
    showError("Prior art", "give the publication number of a patent in the index, e.g. US8089324B2");
    form.elements.namedItem("publication_number").focus();
    return;
  }
  clearError();
  setStatus("prior-art-status", "Searching…");
  const summary = $("prior-art-summary");
  try {
    const result = await request("api/prior-art", {
      method: "POST",
      body: { publication_number: number, top_k: topK(form, 10), ...filterValues(form) },
    });
    renderHits($("prior-art-hits"), result.hits);
    clear(summary).append(
      el(
        "p",
        {},
        "Prior art for ",
        patentButton(result.publication_number),
        result.title ? el("span", { class: "hit-title" }, ` ${result.title}`) : "",
      ),
      el(
        "p",
        { class: "cutoff" },
        result.before
          ? `Cutoff: documents with an earliest priority date before ${result.before}.`
          : "No date cutoff.",
      ),
    );
    summary.hidden = false;
    const n = result.hits.length;
    setStatus(
      "prior-art-status",
      n ? `${n} earlier patent${n === 1 ? "" : "s"} (${result.mode}).` : "No earlier patents match.",
    );
  } catch (error) {
    setStatus("prior-art-status", "");
    summary.hidden = true;
    clear($("prior-art-hits"));
    showError("Prior art", error);
  }
}

// ---------------------------------------------------------------- tabs

const TABS = ["ask", "search", "prior-art"];

function selectTab(name, { focus = false, push = true } = {}) {
  if (!TABS.includes(name)) name = "ask";
  for (const tab of TABS) {
    const selected = tab === name;
    const button = $(`tab-${tab}`);
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(`view-${tab}`).hidden = !selected;
  }
  if (focus) $(`tab-${name}`).focus();
  if (push && location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
}

function installTabs() {
  for (const name of TABS) {
    const button = $(`tab-${name}`);
    button.addEventListener("click", () => selectTab(name));
    button.addEventListener("keydown", (event) => {
      const at = TABS.indexOf(name);
      const moves = {
        ArrowRight: (at + 1) % TABS.length,
        ArrowLeft: (at + TABS.length - 1) % TABS.length,
        Home: 0,
        End: TABS.length - 1,
      };
      if (event.key in moves) {
        event.preventDefault();
        selectTab(TABS[moves[event.key]], { focus: true });
      }
    });
  }
  selectTab(location.hash.slice(1), { push: false });
  window.addEventListener("hashchange", () => selectTab(location.hash.slice(1), { push: false }));
}

// ---------------------------------------------------------------- start

async function loadInfo() {
  try {
    const info = await request("api/info");
    state.info = info;
    $("index-info").textContent =
      `${info.patents} patents · ${info.chunks} chunks · ${info.model} · ${info.mode} search`;
    for (const id of ["search-top-k", "prior-art-top-k"]) {
      $(id).max = String(info.max_top_k);
      $(id).value = String(Math.min(info.top_k, info.max_top_k));
    }
    $("ask-top-k").max = String(Math.min(ASK_MAX_TOP_K, info.max_top_k));
    for (const id of ["ask-question", "search-query"]) $(id).maxLength = info.max_query_chars;
    for (const select of document.querySelectorAll("select[name=mode]")) {
      select.options[0].textContent = `index default (${info.mode})`;
    }
    if (!info.ask) showAskUnavailable();
  } catch (error) {
    $("index-info").textContent = "Index unavailable.";
    showError("Reading the index", error);
  }
}

function start() {
  installFilters();
  installTabs();
  $("ask-form").addEventListener("submit", ask);
  $("ask-stop").addEventListener("click", () => state.askController?.abort());
  $("search-form").addEventListener("submit", search);
  $("prior-art-form").addEventListener("submit", priorArt);
  $("alert-close").addEventListener("click", clearError);
  // Enter asks or searches; Shift+Enter makes a new line.
  for (const id of ["ask-question", "search-query"]) {
    $(id).addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        event.currentTarget.form.requestSubmit();
      }
    });
  }
  document.body.dataset.ready = "true";
  loadInfo();
}

start();
