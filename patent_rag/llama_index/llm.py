"""A LlamaIndex LLM for any OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp server ...).

:class:`OpenAICompatibleLLM` speaks the ``/v1/chat/completions`` protocol over httpx, configured by
a URL, a model name and the name of the environment variable holding the API key. The key is read
once, kept as a secret, sent only in the ``Authorization`` header, and never appears in a repr, a
log line, an error message or a serialised model.

Example:
    >>> llm = OpenAICompatibleLLM(base_url="http://localhost:11434/v1", model="llama3.1")
    >>> llm.endpoint
    'http://localhost:11434/v1/chat/completions'
    >>> llm.chat([ChatMessage(role="user", content="Hi")]).message.content  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM

from patent_rag.errors import ConfigurationError, LLMError

__all__ = ["OpenAICompatibleLLM", "chat_completions_url"]

logger = logging.getLogger(__name__)


def chat_completions_url(base_url: str) -> str:
    """``http://host:port`` / ``.../v1`` / ``.../v1/chat/completions`` -> the chat completions URL."""
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


class OpenAICompatibleLLM(CustomLLM):
    """Chat completions from an OpenAI-compatible server.

    Args:
        base_url: the server, e.g. ``http://localhost:11434/v1`` (Ollama), ``http://localhost:8000/v1``
            (vLLM), ``http://localhost:8080`` (llama.cpp).
        model: the model name the server knows.
        api_key_env: name of the environment variable holding the API key (None: no key sent).
        api_key: the key itself, for programs that hold it already (kept secret the same way).
    """

    base_url: str = Field(description="The OpenAI-compatible server URL.")
    model: str = Field(description="Model name sent with each request.")
    api_key_env: str | None = Field(default=None, description="Environment variable holding the API key.")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int | None = Field(
        default=None, gt=0, description="Most tokens generated (server default: None)."
    )
    timeout: float = Field(default=120.0, gt=0.0, description="Seconds to wait for an answer.")
    context_window: int = Field(default=8192, gt=0)
    _api_key: SecretStr | None = PrivateAttr(default=None)
    _http: httpx.Client | None = PrivateAttr(default=None)

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
        context_window: int = 8192,
    ) -> None:
        chat_completions_url(base_url)  # validate early
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
        super().__init__(
            base_url=base_url,
            model=model,
            api_key_env=api_key_env,
            temperature=temperature,
            max_tokens=max_tokens,
            timeout=timeout,
            context_window=context_window,
        )
        self._api_key = SecretStr(api_key) if api_key else None

    @classmethod
    def class_name(cls) -> str:
        return "OpenAICompatibleLLM"

    def __repr__(self) -> str:
        key = ", api_key=<set>" if self._api_key else ""
        return f"OpenAICompatibleLLM(base_url={self.base_url!r}, model={self.model!r}{key})"

    __str__ = __repr__

    @property
    def endpoint(self) -> str:
        return chat_completions_url(self.base_url)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens or -1,
            is_chat_model=True,
            model_name=self.model,
        )

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout)
        return self._http

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        secret = self._api_key.get_secret_value() if self._api_key else None
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        try:
            response = self._client().post(self.endpoint, json=body, headers=headers)
        except httpx.HTTPError as error:
            detail = str(error).replace(secret, "***") if secret else str(error)
            raise LLMError(
                f"cannot reach the LLM at {self.endpoint} ({type(error).__name__}: {detail}); "
                "check --llm-url and that the server is running"
            ) from None
        if response.status_code in (401, 403):
            source = f"the key in ${self.api_key_env}" if self.api_key_env else "the API key (api_key_env)"
            raise LLMError(
                f"the LLM at {self.endpoint} refused the request ({response.status_code}): check {source}"
            )
        if response.status_code >= 400:
            text = response.text[:300].replace(secret, "***") if secret else response.text[:300]
            raise LLMError(
                f"the LLM at {self.endpoint} answered {response.status_code}: {text} "
                f"(is {self.model!r} a model this server serves?)"
            )
        try:
            return dict(response.json())
        except ValueError:
            raise LLMError(
                f"the LLM at {self.endpoint} did not answer JSON; is it an OpenAI-compatible server?"
            ) from None

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": _role(m.role), "content": m.content or ""} for m in messages],
            "temperature": self.temperature,
            "stream": False,
        }
        if self.max_tokens:
            body["max_tokens"] = self.max_tokens
        data = self._post(body)
        try:
            content = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise LLMError(
                f"the LLM at {self.endpoint} answered without choices[0].message.content; "
                "is it an OpenAI-compatible chat completions endpoint?"
            ) from None
        logger.debug("LLM %s answered %d characters", self.model, len(content))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=content), raw=data)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        response = self.chat([ChatMessage(role=MessageRole.USER, content=prompt)])
        return CompletionResponse(text=response.message.content or "", raw=response.raw)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        # One chunk: answers are short, and the QA chains check citations on the whole text anyway.
        response = self.complete(prompt, formatted=formatted)

        def gen() -> CompletionResponseGen:
            yield CompletionResponse(text=response.text, delta=response.text, raw=response.raw)

        return gen()


def _role(role: MessageRole | str) -> str:
    value = role.value if isinstance(role, MessageRole) else str(role)
    return value if value in ("system", "user", "assistant", "tool") else "user"
