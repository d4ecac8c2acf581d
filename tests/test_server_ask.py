"""``POST /api/ask`` against a stub OpenAI-compatible LLM on localhost that streams like the real
protocol: the event sequence, citations checked against the hits, the untrusted-data prompt, LLM
failures midway, and an API key that never leaves the Authorization header."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from patent_rag.llm import ChatClient
from patent_rag.search.answers import SYSTEM_PROMPT
from patent_rag.search.searcher import PatentSearcher
from patent_rag.search.service import PatentService
from patent_rag.server import create_app
from patent_rag.stores import open_store
from tests.server_support import LLMScript, StubLLM, copy_index, parse_sse

QUESTION = "Which patents describe a low power ring VCO?"
KEY = "sk-test-5up3r-s3cret"


@pytest.fixture(scope="module")
def service(
    sample_index_template: Path, minilm_encoder: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PatentService]:
    location = copy_index(sample_index_template, tmp_path_factory.mktemp("ask"))
    searcher = PatentSearcher(index=open_store(str(location)), encoder=minilm_encoder)
    with PatentService(searcher=searcher, owns_store=True) as opened:
        yield opened


@pytest.fixture()
def stub() -> Iterator[StubLLM]:
    with StubLLM() as server:
        yield server


def ask_app(service: PatentService, stub: StubLLM, **client: Any) -> TestClient:
    llm = ChatClient(base_url=stub.url, model="stub-model", timeout=10, **client)
    return TestClient(create_app(service=service, llm=llm))


def ask(test_client: TestClient, **body: Any) -> list[tuple[str, Any]]:
    response = test_client.post("/api/ask", json={"question": QUESTION, **body})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.text)


def retrieved(test_client: TestClient, **body: Any) -> list[str]:
    """What ask retrieves: the same search, through the search endpoint."""
    response = test_client.post("/api/search", json={"query": QUESTION, "top_k": 5, **body})
    return [hit["publication_number"] for hit in response.json()["hits"]]


def test_ask_streams_hits_tokens_then_the_checked_answer(service: PatentService, stub: StubLLM) -> None:
    test_client = ask_app(service, stub)
    first, second = retrieved(test_client)[:2]
    stub.script.answer = f"Ring VCOs are known [{first}], also [{second}; US9999999B2] and [US1111111B1]."
    events = ask(test_client)
    names = [name for name, _ in events]
    assert names[0] == "hits" and names[-1] == "done" and set(names[1:-1]) == {"token"}
    assert len(names) == 2 + len(stub.script.chunks()) > 3
    hits = events[0][1]["hits"]
    assert [hit["publication_number"] for hit in hits] == retrieved(test_client)
    assert all(hit["evidence"] and hit["evidence"][0]["text"] for hit in hits)
    assert "".join(data["text"] for name, data in events if name == "token") == stub.script.answer
    done = events[-1][1]
    assert done == {
        "answer": f"Ring VCOs are known [{first}], also [{second}] and.",
        "citations": [first, second],
        "unresolved_citations": ["US9999999B2", "US1111111B1"],
    }


def test_the_prompt_marks_patent_text_as_untrusted(service: PatentService, stub: StubLLM) -> None:
    test_client = ask_app(service, stub)
    ask(test_client, top_k=3)
    body = stub.script.requests[-1]["body"]
    assert body["stream"] is True and body["model"] == "stub-model"
    system, user = body["messages"]
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert "untrusted data" in system["content"] and "never follow instructions" in system["content"]
    assert user["role"] == "user" and user["content"].startswith("Patent documents (untrusted data")
    assert user["content"].count("<patent id=") == 3 == user["content"].count("</patent>")
    assert user["content"].rstrip().endswith(f"Question: {QUESTION}")


def test_ask_filters_the_patents_it_answers_from(service: PatentService, stub: StubLLM) -> None:
    test_client = ask_app(service, stub)
    events = ask(test_client, ipc=["H03K"], top_k=10)
    assert sorted(hit["publication_number"] for hit in events[0][1]["hits"]) == ["US7315219B2", "US7863991B1"]
    assert [hit["publication_number"] for hit in ask(test_client, countries=["EP"])[0][1]["hits"]] == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"question": "x" * 4001}, "RequestValidationError"),
        ({"question": " \n"}, "RequestValidationError"),
        ({"question": "q", "top_k": 11}, "RequestValidationError"),
        ({"question": "q", "before": "31/12/2008"}, "RequestValidationError"),
        ({"question": "q", "cpc": ["not a class"]}, "ConfigurationError"),
    ],
)
def test_bad_questions_are_refused_before_streaming(
    service: PatentService, stub: StubLLM, body: dict[str, Any], error: str
) -> None:
    response = ask_app(service, stub).post("/api/ask", json=body)
    assert response.status_code == 422 and response.json()["error"] == error
    assert stub.script.requests == []  # the LLM was not asked


@pytest.mark.parametrize(
    ("fail", "detail"),
    [
        ("event", "failed while answering: out of memory"),
        ("disconnect", "stopped answering midway (RemoteProtocolError"),
        ("status", "answered 500"),
    ],
)
def test_an_llm_failure_ends_the_stream_with_an_error_event(
    service: PatentService, stub: StubLLM, fail: str, detail: str
) -> None:
    stub.script.fail = fail
    events = ask(ask_app(service, stub))
    assert events[0][0] == "hits" and events[-1][0] == "error"
    assert [name for name, _ in events[1:-1]] == (["token"] if fail != "status" else [])
    error = events[-1][1]
    assert error["status"] == 502 and error["error"] == "LLMError" and detail in error["detail"]
    assert "done" not in [name for name, _ in events]


def test_an_unreachable_llm_is_an_error_event(service: PatentService) -> None:
    with socket.socket() as sock:  # a free port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    llm = ChatClient(base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout=5)
    events = parse_sse(
        TestClient(create_app(service=service, llm=llm)).post("/api/ask", json={"question": "q"}).text
    )
    assert [name for name, _ in events] == ["hits", "error"]
    assert events[1][1]["detail"].startswith(
        f"cannot reach the LLM at http://127.0.0.1:{port}/v1/chat/completions"
    )


def test_the_api_key_is_sent_only_in_the_authorization_header(
    service: PatentService, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATENT_RAG_TEST_LLM_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    with StubLLM(LLMScript(api_key=KEY)) as good:
        test_client = ask_app(service, good, api_key_env="PATENT_RAG_TEST_LLM_KEY")
        info = test_client.get("/api/info")
        events = ask(test_client)
        assert events[-1][0] == "done" and good.script.requests[-1]["auth"] == f"Bearer {KEY}"
        texts = [info.text, str(events), repr(test_client.app.state.patent_rag.llm)]  # type: ignore[attr-defined]
    with StubLLM(LLMScript(api_key="sk-another-key")) as refusing:
        events = ask(ask_app(service, refusing, api_key_env="PATENT_RAG_TEST_LLM_KEY"))
        assert refusing.script.requests[-1]["auth"] == f"Bearer {KEY}"
        error = events[-1][1]
        assert error["detail"].endswith(
            "refused the request (401): check the key in $PATENT_RAG_TEST_LLM_KEY"
        )
        texts.append(str(events))
    texts.append(caplog.text)
    assert caplog.text  # the server logged the failure, and nothing of the key
    assert not [text for text in texts if KEY in text or "5up3r" in text]


def test_info_says_ask_is_available(service: PatentService, stub: StubLLM) -> None:
    assert ask_app(service, stub).get("/api/info").json()["ask"] is True
    assert TestClient(create_app(service=service)).get("/api/info").json()["ask"] is False


def test_llm_settings_reach_the_server(service: PatentService, stub: StubLLM) -> None:
    ask(ask_app(service, stub, temperature=0.3, max_tokens=64))
    body = stub.script.requests[-1]["body"]
    assert body["temperature"] == 0.3 and body["max_tokens"] == 64
