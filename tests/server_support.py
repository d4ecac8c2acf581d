"""Helpers for the HTTP API and page tests: the sample corpus (conftest's ``sample_index_template``
ingests it once per session), and a stub OpenAI-compatible LLM that speaks ``/v1/chat/completions``
(plain and ``"stream": true``) on localhost.

Not a conftest: test modules import what they need.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from patent_rag.documents.record import PatentDocument

# The prior-art query of the sample, with part of its description, so the patent endpoint has passages.
FULL_TEXT_PATENT = "US8089324B2"
FULL_TEXT_PARAGRAPHS = 24

HOSTILE = '<img src=x onerror="window.__xss = true"><script>window.__xss = true</script>'
INVENTED = "US1234567B2"  # cited by answer_pieces, never retrieved: the server must drop it
PIECES_BEFORE_GATE = 4  # in answer_pieces, the split citation is complete, the hostile markup not yet sent
_GATE_TIMEOUT = 30.0  # a test that never opens the gate must not hang the server for ever
_PATENT_ID = re.compile(r'<patent id="([^"]+)"')


def sample_corpus() -> list[PatentDocument]:
    """The 75 packaged sample grants (titles, abstracts, independent claims), :data:`FULL_TEXT_PATENT`
    with its first :data:`FULL_TEXT_PARAGRAPHS` description paragraphs: small enough to embed in
    seconds, varied enough to rank."""
    from patent_rag.sample import sample_documents

    full = next(doc for doc in sample_documents(full=True) if doc.publication_number == FULL_TEXT_PATENT)
    part = full.model_copy(update={"description": full.description[:FULL_TEXT_PARAGRAPHS]})
    return [part if doc.publication_number == FULL_TEXT_PATENT else doc for doc in sample_documents()]


def copy_index(template: Path, folder: Path) -> Path:
    """A private copy of an index under ``folder``: an Edge index is opened by one holder at a time."""
    return Path(shutil.copytree(template, folder / "index"))


def answer_pieces(user_message: str) -> list[str]:
    """An answer to a retrieval prompt, in the pieces it streams: it cites the first
    ``<patent id="...">`` block of ``user_message`` (a patent the retrieval returned), split across
    two pieces as real tokenizers do, carries :data:`HOSTILE` markup (answers are untrusted text, a
    page must show it as text) and cites :data:`INVENTED`, a patent that was not retrieved."""
    ids = _PATENT_ID.findall(user_message)
    if not ids:
        return ["None of the supplied documents answers this."]
    first = ids[0]
    cut = len(first) // 2
    return [
        "The closest document is ",
        f"[{first[:cut]}",
        f"{first[cut:]}]",
        ", which describes the invention in its first claim. ",
        f"Its text mentions {HOSTILE} as markup. ",
        f"An unrelated patent [{INVENTED}] is also often cited.",
    ]


def _open_gate() -> threading.Event:
    gate = threading.Event()
    gate.set()
    return gate


@dataclass
class LLMScript:
    """What the stub answers, and how it fails.

    The answer is ``reply(user message)`` when ``reply`` is given (e.g. :func:`answer_pieces`), else
    ``answer`` split into ``pieces`` streamed chunks. While ``gate`` is cleared, a streamed answer
    stops before its piece number ``pause_at`` (if given) until the gate is set: a test can look at a
    half-written answer without depending on timing.

    ``fail``: None, ``"status"`` (an HTTP ``status`` before any text), ``"event"`` (an error event
    after the first piece), ``"disconnect"`` (the connection drops after the first piece).
    """

    answer: str = "A ring VCO [US7863991B1]."
    pieces: int = 4
    reply: Callable[[str], list[str]] | None = None
    pause_at: int | None = None
    gate: threading.Event = field(default_factory=_open_gate)
    fail: str | None = None
    status: int = 500
    api_key: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def chunks(self, user_message: str = "") -> list[str]:
        """The pieces streamed in answer to ``user_message``; joined, they are the whole answer."""
        if self.reply is not None:
            return self.reply(user_message)
        words = self.answer.split(" ")
        size = max(1, -(-len(words) // self.pieces))
        groups = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
        return [group + (" " if i < len(groups) - 1 else "") for i, group in enumerate(groups)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        script = self.server.script  # type: ignore[attr-defined]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        auth = self.headers.get("Authorization")
        script.requests.append({"path": self.path, "auth": auth, "body": body})
        if self.path != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"no route {self.path}"}})
        elif script.api_key is not None and auth != f"Bearer {script.api_key}":
            self._json(401, {"error": {"message": "invalid api key"}})
        elif script.fail == "status":
            self._json(script.status, {"error": {"message": "the model crashed"}})
        else:
            user = next((m["content"] for m in reversed(body.get("messages", [])) if m["role"] == "user"), "")
            pieces = script.chunks(user)
            if body.get("stream"):
                self._stream(script, pieces)
            else:
                message = {"role": "assistant", "content": "".join(pieces)}
                self._json(200, {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})

    def _json(self, status: int, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _stream(self, script: LLMScript, pieces: list[str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for number, piece in enumerate(pieces):
            if number == script.pause_at:
                script.gate.wait(_GATE_TIMEOUT)
            delta = {"role": "assistant", "content": piece} if number == 0 else {"content": piece}
            self._chunk(f"data: {json.dumps({'choices': [{'index': 0, 'delta': delta}]})}\n\n")
            if number == 0 and script.fail == "event":
                self._chunk(f"data: {json.dumps({'error': {'message': 'out of memory'}})}\n\n")
                break
            if number == 0 and script.fail == "disconnect":
                self.close_connection = True
                return  # no terminating chunk: the client sees the body break off
        else:
            usage = {"choices": [], "usage": {"completion_tokens": len(pieces)}}
            self._chunk(f"data: {json.dumps(usage)}\n\n")
            self._chunk("data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients closing kept-alive connections are no news; failures show in the tests


class StubLLM:
    """An OpenAI-compatible server on 127.0.0.1 for one test or module; ``url`` is its ``/v1`` base.

    Example:
        >>> with StubLLM(LLMScript(answer="See [US7863991B1].")) as stub:  # doctest: +SKIP
        ...     ChatClient(base_url=stub.url, model="stub").chat([{"role": "user", "content": "hi"}])
    """

    def __init__(self, script: LLMScript | None = None) -> None:
        self.script = script or LLMScript()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.script = self.script  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._guard = threading.Timer(120, self._server.shutdown)  # never outlive a hung test

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> StubLLM:
        self._thread.start()
        self._guard.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._guard.cancel()
        self.script.gate.set()  # a paused answer finishes rather than holding its thread
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """``(event, data)`` of each event of a ``text/event-stream`` body, data parsed as JSON."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        events.append((name, json.loads("\n".join(data))))
    return events
