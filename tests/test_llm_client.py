"""The framework-neutral OpenAI-compatible client: whole and streamed answers over real HTTP (a stub
server on localhost), servers that ignore ``stream``, malformed streams, and the LlamaIndex adapter's
streaming."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from patent_rag.errors import ConfigurationError, LLMError
from patent_rag.llama_index.llm import OpenAICompatibleLLM
from patent_rag.llm import ChatClient
from tests.server_support import LLMScript, StubLLM

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture()
def stub() -> Iterator[StubLLM]:
    with StubLLM(LLMScript(answer="Ring oscillators are old [US7315219B2].", pieces=3)) as server:
        yield server


def test_chat_and_stream_over_http(stub: StubLLM) -> None:
    with ChatClient(base_url=stub.url, model="stub", timeout=10) as client:
        assert client.chat(HI) == stub.script.answer
        pieces = list(client.stream([{"role": "system", "content": "be brief"}, *HI]))
    assert pieces == ["Ring oscillators ", "are old ", "[US7315219B2]."]
    plain, streamed = (request["body"] for request in stub.script.requests)
    assert plain["stream"] is False and streamed["stream"] is True
    assert streamed["messages"] == [{"role": "system", "content": "be brief"}, *HI]
    assert "max_tokens" not in streamed and streamed["temperature"] == 0.0


def test_unknown_roles_are_sent_as_user(stub: StubLLM) -> None:
    ChatClient(base_url=stub.url, model="stub").chat([{"role": "developer", "content": "x"}])
    assert stub.script.requests[-1]["body"]["messages"] == [{"role": "user", "content": "x"}]


def mock_client(handler: object) -> ChatClient:
    return ChatClient(
        base_url="http://llm.test/v1",
        model="m",
        api_key="sk-mock-secret",
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
    )


def sse_response(*events: str) -> httpx.Response:
    body = "".join(f"{event}\n\n" for event in events).encode()
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)


def delta(text: str) -> str:
    return "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]})


def test_a_server_ignoring_stream_answers_in_one_piece() -> None:
    answer = {"choices": [{"message": {"role": "assistant", "content": "whole"}}]}
    client = mock_client(lambda request: httpx.Response(200, json=answer))
    assert list(client.stream(HI)) == ["whole"]


def test_stream_reads_events_as_the_protocol_writes_them() -> None:
    events = (
        ": a comment line",
        "data: " + json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}),
        delta("one "),
        "data:" + json.dumps({"choices": [{"index": 0, "delta": {"content": "two"}}]}),  # no space
        "data: " + json.dumps({"choices": [], "usage": {"total_tokens": 3}}),
        "data: [DONE]",
        delta("after done"),
    )
    client = mock_client(lambda request: sse_response(*events))
    assert list(client.stream(HI)) == ["one ", "two"]
    assert client.has_api_key and "sk-mock" not in repr(client)


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (("data: {not json",), "streamed an event that is not JSON"),
        (("data: " + json.dumps({"object": "chunk"}),), "streamed a chunk without choices"),
        (
            ("data: " + json.dumps({"error": {"message": "bad sk-mock-secret"}}),),
            "failed while answering: bad ***",
        ),
    ],
)
def test_malformed_streams_are_llm_errors(events: tuple[str, ...], message: str) -> None:
    client = mock_client(lambda request: sse_response(*events))
    with pytest.raises(LLMError, match=message.replace("(", r"\(").replace("*", r"\*")) as caught:
        list(client.stream(HI))
    assert "sk-mock-secret" not in str(caught.value)


def test_refusals_and_non_json_answers() -> None:
    echo = mock_client(
        lambda request: httpx.Response(400, text=f"bad key {request.headers['authorization']}")
    )
    with pytest.raises(LLMError, match=r"answered 400: bad key Bearer \*\*\* \(is 'm' a model") as caught:
        echo.chat(HI)
    assert "sk-mock" not in str(caught.value)
    html = mock_client(lambda request: httpx.Response(200, text="<html>"))
    with pytest.raises(LLMError, match="did not answer JSON"):
        html.chat(HI)
    with pytest.raises(LLMError, match=r"without choices\[0\].message.content"):
        mock_client(lambda request: httpx.Response(200, json={"choices": []})).chat(HI)
    with pytest.raises(LLMError, match=r"refused the request \(403\): check the API key \(api_key_env\)"):
        list(mock_client(lambda request: httpx.Response(403)).stream(HI))


def test_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="LLM model name is empty"):
        ChatClient(base_url="http://h/v1", model=" ")
    with pytest.raises(ConfigurationError, match="not in the URL"):
        ChatClient(base_url="http://user:pw@h/v1", model="m")
    with pytest.raises(ConfigurationError, match="environment variable PATENT_RAG_UNSET_KEY is not set"):
        ChatClient(base_url="http://h/v1", model="m", api_key_env="PATENT_RAG_UNSET_KEY")


def test_a_closed_client_opens_new_connections(stub: StubLLM) -> None:
    client = ChatClient(base_url=stub.url, model="stub")
    assert client.chat(HI) == stub.script.answer
    client.close()
    assert client.chat(HI) == stub.script.answer
    client.close()


def test_the_llama_index_adapter_streams(stub: StubLLM) -> None:
    llm = OpenAICompatibleLLM(base_url=stub.url, model="stub")
    chat = list(llm.stream_chat([ChatMessage(role=MessageRole.USER, content="hi")]))
    assert [response.delta for response in chat] == stub.script.chunks()
    assert chat[-1].message.content == stub.script.answer and chat[-1].message.role == MessageRole.ASSISTANT
    completion = list(llm.stream_complete("hi"))
    assert [response.text for response in completion][-1] == stub.script.answer and len(completion) == 3
    assert all(request["body"]["stream"] for request in stub.script.requests)
    assert llm.client.endpoint == llm.endpoint == f"{stub.url}/chat/completions"
    llm.close()
