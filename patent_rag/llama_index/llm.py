"""A LlamaIndex LLM for any OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp server ...).

:class:`OpenAICompatibleLLM` adapts :class:`patent_rag.llm.ChatClient` (the framework-neutral client
of the ``/v1/chat/completions`` protocol) to LlamaIndex's LLM interface: configured by a URL, a model
name and the name of the environment variable holding the API key. The key is read once, kept as a
secret, sent only in the ``Authorization`` header, and never appears in a repr, a log line, an error
message or a serialised model. ``stream_chat`` and ``stream_complete`` stream what the server writes.

Example:
    >>> llm = OpenAICompatibleLLM(base_url="http://localhost:11434/v1", model="llama3.1")
    >>> llm.endpoint
    'http://localhost:11434/v1/chat/completions'
    >>> llm.chat([ChatMessage(role="user", content="Hi")]).message.content  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM

from patent_rag.llm import ChatClient, chat_completions_url

__all__ = ["OpenAICompatibleLLM", "chat_completions_url"]


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
    _client: ChatClient = PrivateAttr()

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
        client = ChatClient(
            base_url=base_url,
            model=model,
            api_key_env=api_key_env,
            api_key=api_key,
            temperature=temperature,
            max_tokens=max_tokens,
            timeout=timeout,
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
        self._client = client

    @classmethod
    def class_name(cls) -> str:
        return "OpenAICompatibleLLM"

    def __repr__(self) -> str:
        key = ", api_key=<set>" if self._client.has_api_key else ""
        return f"OpenAICompatibleLLM(base_url={self.base_url!r}, model={self.model!r}{key})"

    __str__ = __repr__

    @property
    def endpoint(self) -> str:
        return self._client.endpoint

    @property
    def client(self) -> ChatClient:
        """The framework-neutral client this LLM sends through."""
        return self._client

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens or -1,
            is_chat_model=True,
            model_name=self.model,
        )

    def close(self) -> None:
        self._client.close()

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        content = self._client.chat(_messages(messages))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=content))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        pieces = self._client.stream(_messages(messages))

        def gen() -> ChatResponseGen:
            text = ""
            for piece in pieces:
                text += piece
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece)

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        response = self.chat([ChatMessage(role=MessageRole.USER, content=prompt)])
        return CompletionResponse(text=response.message.content or "")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        pieces = self._client.stream(_messages([ChatMessage(role=MessageRole.USER, content=prompt)]))

        def gen() -> CompletionResponseGen:
            text = ""
            for piece in pieces:
                text += piece
                yield CompletionResponse(text=text, delta=piece)

        return gen()


def _messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": _role(m.role), "content": m.content or ""} for m in messages]


def _role(role: MessageRole | str) -> str:
    value = role.value if isinstance(role, MessageRole) else str(role)
    return value if value in ("system", "user", "assistant", "tool") else "user"
