"""PatentRetriever inside an LCEL chain: retrieved patents reach the prompt, the model's answer comes out."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import EARLIER_COPY, QUERY
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnablePassthrough
from langchain_patent_rag import PatentRetriever

from patent_rag.search.searcher import PatentSearcher

PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "Answer from these patents only, citing their numbers.\n\n{context}"),
        ("human", "{question}"),
    ]
)
QUESTION = "Which patents describe an oscillator tuned without a varactor?"


class PromptRecorder(BaseCallbackHandler):
    """Keeps the messages each chat model call received."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        self.prompts.extend("\n".join(str(m.content) for m in batch) for batch in messages)


def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(f"[{doc.id}] {doc.metadata['title']}\n{doc.page_content}" for doc in docs)


def rag_chain(retriever: PatentRetriever, answer: str) -> tuple[Runnable[str, str], PromptRecorder]:
    recorder = PromptRecorder()
    llm = FakeListChatModel(responses=[answer], callbacks=[recorder])
    chain = (
        {"context": retriever | format_docs, "question": RunnablePassthrough()}
        | PROMPT
        | llm
        | StrOutputParser()
    )
    return chain, recorder


def test_retrieved_patents_reach_the_prompt(searcher: PatentSearcher) -> None:
    retriever = PatentRetriever(searcher=searcher, k=3)
    expected = retriever.invoke(QUESTION)
    chain, recorder = rag_chain(retriever, "US9000001B2 and US8089324B2 describe one.")

    output = chain.invoke(QUESTION)

    assert output == "US9000001B2 and US8089324B2 describe one."
    (prompt,) = recorder.prompts
    assert QUESTION in prompt
    for doc in expected:
        assert f"[{doc.id}] {doc.metadata['title']}" in prompt
        assert doc.page_content in prompt
    assert QUERY in {doc.id for doc in expected}


def test_a_prior_art_chain_takes_a_publication_number(searcher: PatentSearcher) -> None:
    retriever = PatentRetriever(searcher=searcher, search_type="prior_art", k=2)
    recorder = PromptRecorder()
    llm = FakeListChatModel(responses=["The closest prior art is US9000001B2."], callbacks=[recorder])
    chain = (
        {"context": retriever | format_docs, "question": lambda number: f"What anticipates {number}?"}
        | PROMPT
        | llm
        | StrOutputParser()
    )

    output = asyncio.run(chain.ainvoke(QUERY))

    assert output == "The closest prior art is US9000001B2."
    (prompt,) = recorder.prompts
    assert f"What anticipates {QUERY}?" in prompt
    assert f"[{EARLIER_COPY}]" in prompt
    assert f"[{QUERY}]" not in prompt
