"""A chat client for any OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp server ...), framework-neutral.

:class:`ChatClient` speaks ``/v1/chat/completions`` over httpx: :meth:`~ChatClient.chat` returns the
whole answer, :meth:`~ChatClient.stream` yields it piece by piece from the server's ``"stream": true``
server-sent events. It is configured by a URL, a model name and the name of the environment variable
holding the API key. The key is read once, kept private, sent only in the ``Authorization`` header,
and never appears in a repr, a log line or an error message. Every failure is an
:class:`~patent_rag.errors.LLMError` that says what to check. The LlamaIndex adapter
(:class:`patent_rag.llama_index.llm.OpenAICompatibleLLM`) and the HTTP API's ask use it.

Example:
    >>> client = ChatClient(base_url="http://localhost:11434/v1", model="llama3.1")
    >>> client.endpoint
    'http://localhost:11434/v1/chat/completions'
    >>> client.chat([{"role": "user", "content": "Hi"}])  # doctest: +SKIP
    'Hello! How can I help?'
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx

from patent_rag.errors import ConfigurationError, LLMError

__all__ = ["ChatClient", "chat_completions_url"]

logger = logging.getLogger(__name__)

_ROLES = ("system", "user", "assistant", "tool")


def chat_completions_url(base_url: str) -> str:
    """``http://host:port`` / ``.../v1`` / ``.../v1/chat/completions`` -> the chat completions URL.

    Example:
        >>> chat_completions_url("http://localhost:8080")
        'http://localhost:8080/v1/chat/completions'
    """
    url = base_url.strip().rstrip("/")
    shown = "a URL with credentials" if "@" in url else repr(base_url)
    expected = f"LLM URL must be http(s)://HOST[:PORT][/v1], e.g. http://localhost:11434/v1, got {shown}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (parses the host and port)
    except ValueError as error:
        raise ConfigurationError(f"{expected} ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(expected)
    if parts.username or parts.password:
        raise ConfigurationError(
            "put the LLM API key in an environment variable (api_key_env), not in the URL"
        )
    if url.endswith("/chat/completions"):
        return url
    return url + ("/chat/completions" if url.endswith("/v1") else "/v1/chat/completions")


class ChatClient:
    """Chat completions from an OpenAI-compatible server; safe to share between threads.

    Args:
        base_url: the server, e.g. ``http://localhost:11434/v1`` (Ollama), ``http://localhost:8000/v1``
            (vLLM), ``http://localhost:8080`` (llama.cpp).
        model: the model name the server knows.
        api_key_env: name of the environment variable holding the API key (None: no key sent).
        api_key: the key itself, for programs that hold it already (kept secret the same way).
        temperature: sampling temperature sent with each request.
        max_tokens: most tokens generated (None: the server's default).
        timeout: seconds to wait for the server (connecting, and between two pieces of an answer).
        transport: an httpx transport to use instead of the network (tests, custom routing).

    Raises:
        ConfigurationError: a URL that is not http(s), an empty model name, an unset key variable.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key_env: str | None = None,
        api_key: str | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        timeout: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._endpoint = chat_completions_url(base_url)
        if not model.strip():
            raise ConfigurationError(
                "LLM model name is empty; pass the name the server serves (e.g. llama3.1)"
            )
        if api_key is None and api_key_env:
            api_key = os.environ.get(api_key_env)
            if not api_key:
                raise ConfigurationError(
                    f"environment variable {api_key_env} is not set; export it with the LLM API key"
                )
        self.model = model
        self.api_key_env = api_key_env
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.__key = api_key or None
        self._transport = transport
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        key = ", api_key=<set>" if self.has_api_key else ""
        return f"ChatClient(endpoint={self._endpoint!r}, model={self.model!r}{key})"

    __str__ = __repr__

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def endpoint(self) -> str:
        """The chat completions URL requests go to."""
        return self._endpoint

    @property
    def has_api_key(self) -> bool:
        """Whether requests carry an API key (the key itself is never shown)."""
        return self.__key is not None

    def close(self) -> None:
        """Close the connections (a later request opens new ones)."""
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def chat(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The assistant's answer to ``messages`` (``{"role": ..., "content": ...}`` dicts).

        Raises:
            LLMError: the server is unreachable, refuses the request or answers no chat completion.
        """
        with self._response(messages, stream=False) as response:
            content = self._message(self._json(response))
        logger.debug("LLM %s answered %d characters", self.model, len(content))
        return content

    def stream(self, messages: Sequence[Mapping[str, str]]) -> Iterator[str]:
        """The assistant's answer to ``messages`` in pieces, as the server writes it.

        A server that ignores ``"stream": true`` and sends one JSON answer yields it as one piece.

        Raises:
            LLMError: as :meth:`chat`; also while iterating, when the stream breaks off.
        """
        with self._response(messages, stream=True) as response:
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                yield self._message(self._json(response))
                return
            size = 0
            for data in self._events(response):
                if data == "[DONE]":
                    break
                piece = self._delta(data)
                if piece:
                    size += len(piece)
                    yield piece
        logger.debug("LLM %s streamed %d characters", self.model, size)

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(timeout=self.timeout, transport=self._transport)
            return self._http

    def _hide(self, text: str) -> str:
        return text.replace(self.__key, "***") if self.__key else text

    def _body(self, messages: Sequence[Mapping[str, str]], *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {
                    "role": role if (role := str(m.get("role", "user"))) in _ROLES else "user",
                    "content": str(m.get("content") or ""),
                }
                for m in messages
            ],
            "temperature": self.temperature,
            "stream": stream,
        }
        if self.max_tokens:
            body["max_tokens"] = self.max_tokens
        return body

    @contextmanager
    def _response(self, messages: Sequence[Mapping[str, str]], *, stream: bool) -> Iterator[httpx.Response]:
        headers = {"Content-Type": "application/json"}
        if self.__key:
            headers["Authorization"] = f"Bearer {self.__key}"
        body = self._body(messages, stream=stream)
        answering = False
        try:
            with self._client().stream("POST", self._endpoint, json=body, headers=headers) as response:
                if response.status_code >= 400:
                    response.read()
                    self._refused(response)
                answering = True
                yield response
        except httpx.HTTPError as error:
            reason = f"{type(error).__name__}: {self._hide(str(error))}"
            if answering:
                raise LLMError(f"the LLM at {self._endpoint} stopped answering midway ({reason})") from None
            raise LLMError(
                f"cannot reach the LLM at {self._endpoint} ({reason}); "
                "check --llm-url and that the server is running"
            ) from None

    def _refused(self, response: httpx.Response) -> None:
        status = response.status_code
        if status in (401, 403):
            source = f"the key in ${self.api_key_env}" if self.api_key_env else "the API key (api_key_env)"
            raise LLMError(f"the LLM at {self._endpoint} refused the request ({status}): check {source}")
        raise LLMError(
            f"the LLM at {self._endpoint} answered {status}: {self._hide(response.text[:300])} "
            f"(is {self.model!r} a model this server serves?)"
        )

    def _json(self, response: httpx.Response) -> Any:
        try:
            return json.loads(response.read())
        except ValueError:
            raise LLMError(
                f"the LLM at {self._endpoint} did not answer JSON; is it an OpenAI-compatible server?"
            ) from None

    def _message(self, data: Any) -> str:
        try:
            return str(data["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError):
            raise LLMError(
                f"the LLM at {self._endpoint} answered without choices[0].message.content; "
                "is it an OpenAI-compatible chat completions endpoint?"
            ) from None

    def _events(self, response: httpx.Response) -> Iterator[str]:
        """The ``data`` of each server-sent event (multi-line data joined by newlines)."""
        lines: list[str] = []
        for line in response.iter_lines():
            if not line:
                if lines:
                    yield "\n".join(lines)
                    lines = []
            elif line.startswith("data:"):
                lines.append(line[5:].removeprefix(" "))
        if lines:
            yield "\n".join(lines)

    def _delta(self, data: str) -> str:
        try:
            chunk = json.loads(data)
        except ValueError:
            raise LLMError(
                f"the LLM at {self._endpoint} streamed an event that is not JSON; "
                "is it an OpenAI-compatible server?"
            ) from None
        if isinstance(chunk, dict) and chunk.get("error"):
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise LLMError(
                f"the LLM at {self._endpoint} failed while answering: {self._hide(str(message)[:300])}"
            )
        try:
            choices = chunk["choices"]
            if not choices:  # e.g. the final usage chunk
                return ""
            return str(choices[0].get("delta", {}).get("content") or "")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise LLMError(
                f"the LLM at {self._endpoint} streamed a chunk without choices[0].delta; "
                "is it an OpenAI-compatible chat completions endpoint?"
            ) from None
