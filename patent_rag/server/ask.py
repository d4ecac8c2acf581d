"""``POST /api/ask``: retrieve patents, then stream an answer that cites them, as server-sent events.

The question is searched with the service like any text query; the hits go to the LLM as
untrusted ``<patent>`` blocks (:mod:`patent_rag.search.answers`), and the answer streams back. The
events, in order::

    event: hits    data: {"hits": [PatentHit, ...]}
    event: token   data: {"text": "..."}                      (zero or more)
    event: done    data: {"answer": "...", "citations": [...], "unresolved_citations": [...]}

``done`` carries the whole answer with its citations checked against the hits: a citation of a
patent that was not retrieved is removed and listed as unresolved (the tokens are the raw text).
If the LLM fails midway, ``event: error`` with ``{"detail": ..., "status": 502}`` ends the stream.

Example:
    >>> print(sse("token", {"text": "Ring"}), end="")
    event: token
    data: {"text": "Ring"}
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import Field, field_validator

from patent_rag.errors import LLMError
from patent_rag.llm import ChatClient
from patent_rag.search.answers import SYSTEM_PROMPT, check_citations, user_prompt
from patent_rag.search.hits import PatentHit
from patent_rag.search.requests import FilterFields, SearchRequest
from patent_rag.search.service import PatentService
from patent_rag.server.errors import error_body, error_status

__all__ = ["MAX_ASK_TOP_K", "MAX_QUESTION_CHARS", "AskRequest", "answer_events", "retrieve", "sse"]

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 4_000
MAX_ASK_TOP_K = 10  # each hit's evidence goes into the prompt: keep it within a small model's context


class AskRequest(FilterFields):
    """A question about the indexed patents, and the filters for the patents it is answered from."""

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="What to ask.")
    top_k: int = Field(default=5, ge=1, le=MAX_ASK_TOP_K, description="Patents the answer draws on.")

    @field_validator("question")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is blank; write what you want to know")
        return value


def retrieve(service: PatentService, request: AskRequest) -> list[PatentHit]:
    """The patents a question is answered from: a text search with the request's filters.

    Raises:
        ConfigurationError: a bad filter value.
    """
    filters = request.model_dump(exclude={"question", "top_k"})
    search = SearchRequest(query=request.question, top_k=request.top_k, **filters)
    return service.search(search).hits


def sse(event: str, data: Any) -> str:
    """One server-sent event: its name and its data as one line of JSON."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def answer_events(llm: ChatClient, question: str, hits: Sequence[PatentHit]) -> Iterator[str]:
    """The event stream of one answer: ``hits``, ``token``\\*, then ``done`` or ``error``."""
    yield sse("hits", {"hits": [hit.model_dump(mode="json") for hit in hits]})
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_prompt(question, hits)},
    ]
    pieces: list[str] = []
    try:
        for piece in llm.stream(messages):
            pieces.append(piece)
            yield sse("token", {"text": piece})
    except LLMError as error:
        logger.warning("ask failed: %s", error)
        yield sse("error", {**error_body(error), "status": error_status(error)})
        return
    except Exception:  # the stream has started: the status line is sent, so report in-band
        logger.exception("ask failed")
        yield sse("error", {"detail": "internal error", "error": "InternalError", "status": 500})
        return
    answer, cited, unresolved = check_citations("".join(pieces), hits)
    yield sse("done", {"answer": answer, "citations": cited, "unresolved_citations": unresolved})
