"""LlamaIndex adapters for question answering: a query engine and a chat engine that cite patents.

Both engines search with a :class:`~patent_rag.search.searcher.PatentSearcher` (or the
:class:`~patent_rag.llama_index.retriever.PriorArtRetriever` wrapping one), give the patents to any
LlamaIndex LLM as untrusted data blocks and check the answer's citations; the prompt text and the
check are :mod:`patent_rag.search.answers`.

Example:
    >>> from llama_index.core.llms import MockLLM
    >>> engine = PatentQueryEngine(retriever=retriever, llm=MockLLM())  # doctest: +SKIP
    >>> answer = engine.ask("Which patents describe a CMOS VCO?")  # doctest: +SKIP
    >>> answer.citations  # doctest: +SKIP
    ['US7863991B2']
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ChatResponseGen, MessageRole
from llama_index.core.base.response.schema import Response
from llama_index.core.callbacks import CallbackManager
from llama_index.core.chat_engine.types import AgentChatResponse, BaseChatEngine, StreamingAgentChatResponse
from llama_index.core.llms import LLM
from llama_index.core.prompts.mixin import PromptMixinType
from llama_index.core.schema import QueryBundle

from patent_rag.documents.record import PatentDocument
from patent_rag.llama_index.nodes import to_node
from patent_rag.llama_index.retriever import PriorArtRetriever
from patent_rag.search.answers import SYSTEM_PROMPT, PatentAnswer, check_citations, render_patent, user_prompt
from patent_rag.search.hits import PatentHit
from patent_rag.search.searcher import PatentSearcher

__all__ = [
    "SYSTEM_PROMPT",
    "PatentAnswer",
    "PatentChatEngine",
    "PatentQueryEngine",
    "build_messages",
    "check_citations",
    "render_patent",
]


def _searcher(retriever: PriorArtRetriever | PatentSearcher) -> PatentSearcher:
    return retriever.searcher if isinstance(retriever, PriorArtRetriever) else retriever


def build_messages(
    question: str,
    hits: Sequence[PatentHit],
    *,
    history: Sequence[ChatMessage] = (),
    system_prompt: str = SYSTEM_PROMPT,
) -> list[ChatMessage]:
    """The messages sent to the LLM: fixed system instructions, prior turns, then data and question."""
    return [
        ChatMessage(role=MessageRole.SYSTEM, content=system_prompt),
        *history,
        ChatMessage(role=MessageRole.USER, content=user_prompt(question, hits)),
    ]


def _answer(
    llm: LLM, question: str, hits: list[PatentHit], history: Sequence[ChatMessage], system_prompt: str
) -> tuple[PatentAnswer, ChatResponse]:
    response = llm.chat(build_messages(question, hits, history=history, system_prompt=system_prompt))
    text, cited, unresolved = check_citations(response.message.content or "", hits)
    return PatentAnswer(
        question=question, answer=text, citations=cited, unresolved_citations=unresolved, hits=hits
    ), response


class PatentQueryEngine(BaseQueryEngine):
    """Answer one question from retrieved patents, with checked citations.

    Args:
        retriever: the :class:`PriorArtRetriever` or :class:`PatentSearcher` that finds the patents.
        llm: any LlamaIndex LLM.
        top_k: patents given to the LLM (default: the searcher's).

    Example:
        >>> engine = PatentQueryEngine(retriever=retriever, llm=llm)  # doctest: +SKIP
        >>> response = engine.query("How do known VCOs widen their tuning range?")  # doctest: +SKIP
        >>> response.metadata["citations"], len(response.source_nodes)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        retriever: PriorArtRetriever | PatentSearcher,
        llm: LLM,
        top_k: int | None = None,
        system_prompt: str = SYSTEM_PROMPT,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager=callback_manager)
        self.searcher, self.llm, self.top_k = _searcher(retriever), llm, top_k
        self.system_prompt = system_prompt

    def _get_prompt_modules(self) -> PromptMixinType:
        return {}

    def ask(self, question: str, *, patent: str | PatentDocument | None = None) -> PatentAnswer:
        """Answer ``question`` from the patents it retrieves (or from the prior art of ``patent``)."""
        if patent is not None:
            hits = self.searcher.prior_art(patent, top_k=self.top_k)
        else:
            hits = self.searcher.search(question, top_k=self.top_k)
        answer, _ = _answer(self.llm, question, hits, (), self.system_prompt)
        return answer

    def _query(self, query_bundle: QueryBundle) -> Response:
        answer = self.ask(query_bundle.query_str)
        return Response(
            response=answer.answer,
            source_nodes=[to_node(hit) for hit in answer.hits],
            metadata={"citations": answer.citations, "unresolved_citations": answer.unresolved_citations},
        )

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        return await asyncio.to_thread(self._query, query_bundle)


class PatentChatEngine(BaseChatEngine):
    """Chat over patents: each turn retrieves patents for the message (with the previous user
    message as context, so follow-ups like "and its claims?" still find them) and answers with
    checked citations. Prior turns are sent as plain text; patent blocks only for this turn.

    Args:
        retriever: the :class:`PriorArtRetriever` or :class:`PatentSearcher` that finds the patents.
        llm: any LlamaIndex LLM.
        top_k: patents given to the LLM per turn (default: the searcher's).
        history_messages: prior messages sent with each turn.

    Example:
        >>> chat = PatentChatEngine(retriever=retriever, llm=llm)  # doctest: +SKIP
        >>> print(chat.chat("Which patents describe a CMOS VCO?"))  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        retriever: PriorArtRetriever | PatentSearcher,
        llm: LLM,
        top_k: int | None = None,
        system_prompt: str = SYSTEM_PROMPT,
        history_messages: int = 8,
    ) -> None:
        self.searcher, self.llm, self.top_k = _searcher(retriever), llm, top_k
        self.system_prompt = system_prompt
        self.history_messages = history_messages
        self._history: list[ChatMessage] = []
        self.last_answer: PatentAnswer | None = None

    @property
    def chat_history(self) -> list[ChatMessage]:
        return list(self._history)

    def reset(self) -> None:
        self._history = []
        self.last_answer = None

    def _turn(self, message: str, chat_history: list[ChatMessage] | None) -> PatentAnswer:
        if chat_history is not None:
            self._history = list(chat_history)
        previous = [m.content for m in self._history if m.role == MessageRole.USER and m.content]
        query = f"{previous[-1]}\n{message}" if previous else message
        hits = self.searcher.search(query, top_k=self.top_k)
        history = self._history[-self.history_messages :] if self.history_messages else []
        answer, _ = _answer(self.llm, message, hits, history, self.system_prompt)
        self._history += [
            ChatMessage(role=MessageRole.USER, content=message),
            ChatMessage(role=MessageRole.ASSISTANT, content=answer.answer),
        ]
        self.last_answer = answer
        return answer

    def _response(self, answer: PatentAnswer) -> AgentChatResponse:
        return AgentChatResponse(
            response=answer.answer,
            source_nodes=[to_node(hit) for hit in answer.hits],
            metadata={"citations": answer.citations, "unresolved_citations": answer.unresolved_citations},
        )

    def chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        return self._response(self._turn(message, chat_history))

    def stream_chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> StreamingAgentChatResponse:
        # Citations are checked on the whole answer, so the "stream" is the checked answer at once.
        answer = self._turn(message, chat_history)
        final = ChatResponse(
            message=ChatMessage(role=MessageRole.ASSISTANT, content=answer.answer), delta=answer.answer
        )

        def gen() -> ChatResponseGen:
            yield final

        return StreamingAgentChatResponse(
            chat_stream=gen(),
            source_nodes=[to_node(hit) for hit in answer.hits],
            is_writing_to_memory=False,
        )

    async def achat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        return await asyncio.to_thread(self.chat, message, chat_history)

    async def astream_chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> StreamingAgentChatResponse:
        return await asyncio.to_thread(self.stream_chat, message, chat_history)
