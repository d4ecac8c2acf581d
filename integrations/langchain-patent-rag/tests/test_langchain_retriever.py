"""PatentRetriever on a real Qdrant Edge index with the real MiniLM: the hits of the searcher as
LangChain documents, k and the date cutoff per call, prior-art searches by publication number, and
who closes the index."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
from conftest import EARLIER_COPY, FAMILY_COPY, LATER_COPY, QUERY, QUERY_DATE
from langchain_core.documents import Document
from langchain_patent_rag import PatentEmbeddings, PatentRetriever, to_document
from pydantic import ValidationError

from patent_rag.documents.record import PatentDocument
from patent_rag.encoding.encoder import Encoder
from patent_rag.errors import ConfigurationError, IndexLockedError
from patent_rag.search.hits import Evidence, PatentHit
from patent_rag.search.searcher import PatentSearcher

OSCILLATOR = "oscillator whose frequency is tuned without a varactor"


def earliest(document: Document) -> date:
    value = document.metadata["priority_date"] or document.metadata["filing_date"]
    return date.fromisoformat(value)


def test_to_document_maps_every_field() -> None:
    hit = PatentHit(
        rank=2,
        publication_number="US8613112B2",
        family_id="F7",
        title="Hinge",
        country="US",
        kind="B2",
        priority_date=date(2010, 1, 2),
        filing_date=date(2011, 1, 3),
        publication_date=None,
        cpc=["H04M1/02"],
        ipc=["H04M1/02"],
        uspc=["361/679.27"],
        assignees=["Acme"],
        inventors=["Ada Lovelace"],
        score=0.75,
        evidence=[
            Evidence(
                chunk_id="c1", section="claim", claim_number=1, text="A hinge comprising a pin.", score=0.75
            ),
            Evidence(chunk_id="c2", section="abstract", text="A folding phone hinge.", score=0.5),
        ],
    )

    document = to_document(hit)

    assert document.id == "US8613112B2"
    assert document.page_content == "A hinge comprising a pin."
    assert document.metadata == {
        "publication_number": "US8613112B2",
        "title": "Hinge",
        "rank": 2,
        "score": 0.75,
        "country": "US",
        "kind": "B2",
        "family_id": "F7",
        "priority_date": "2010-01-02",
        "filing_date": "2011-01-03",
        "publication_date": None,
        "cpc": ["H04M1/02"],
        "ipc": ["H04M1/02"],
        "uspc": ["361/679.27"],
        "assignees": ["Acme"],
        "inventors": ["Ada Lovelace"],
        "evidence": [
            {
                "section": "claim",
                "claim_number": 1,
                "paragraph_start": None,
                "paragraph_end": None,
                "label": "claim 1",
                "text": "A hinge comprising a pin.",
                "score": 0.75,
                "chunk_id": "c1",
            },
            {
                "section": "abstract",
                "claim_number": None,
                "paragraph_start": None,
                "paragraph_end": None,
                "label": "abstract",
                "text": "A folding phone hinge.",
                "score": 0.5,
                "chunk_id": "c2",
            },
        ],
    }


def test_documents_are_the_searchers_hits_with_the_indexed_fields(
    searcher: PatentSearcher, documents: dict[str, PatentDocument]
) -> None:
    hits = searcher.search(OSCILLATOR, top_k=4)

    found = PatentRetriever(searcher=searcher, k=4).invoke(OSCILLATOR)

    assert [doc.id for doc in found] == [hit.publication_number for hit in hits]
    assert [doc.metadata["rank"] for doc in found] == [1, 2, 3, 4]
    assert [doc.page_content for doc in found] == [hit.best.text for hit in hits]
    for doc in found:
        record = documents[doc.metadata["publication_number"]]
        assert doc.metadata["title"] == record.title
        assert doc.metadata["filing_date"] == (record.filing_date and record.filing_date.isoformat())
        assert doc.metadata["priority_date"] == (record.priority_date and record.priority_date.isoformat())
        assert doc.metadata["uspc"] == record.uspc
        assert doc.metadata["cpc"] == record.cpc
        evidence = doc.metadata["evidence"]
        assert evidence[0]["text"] == doc.page_content
        assert [item["score"] for item in evidence] == sorted(
            (item["score"] for item in evidence), reverse=True
        )
        assert {item["section"] for item in evidence} <= {"abstract", "claim", "title"}


def test_k_per_call_overrides_the_field_which_overrides_the_options(searcher: PatentSearcher) -> None:
    retriever = PatentRetriever(searcher=searcher, k=2)

    assert len(retriever.invoke(OSCILLATOR)) == 2
    assert len(retriever.invoke(OSCILLATOR, k=4)) == 4
    assert len(PatentRetriever(searcher=searcher).invoke(OSCILLATOR)) == searcher.options.top_k == 10


def test_k_below_one_is_refused(searcher: PatentSearcher) -> None:
    with pytest.raises(ConfigurationError, match="k must be at least 1, got 0"):
        PatentRetriever(searcher=searcher).invoke(OSCILLATOR, k=0)
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        PatentRetriever(searcher=searcher, k=0)


def test_prior_art_excludes_the_patent_its_family_and_later_documents(searcher: PatentSearcher) -> None:
    retriever = PatentRetriever(searcher=searcher, search_type="prior_art", k=8)

    found = retriever.invoke(QUERY)

    numbers = [doc.id for doc in found]
    assert numbers[0] == EARLIER_COPY  # the same text, filed before the query
    assert not {QUERY, FAMILY_COPY, LATER_COPY} & set(numbers)
    assert all(earliest(doc) < QUERY_DATE for doc in found)


def test_text_search_of_the_same_text_finds_what_prior_art_search_excludes(searcher: PatentSearcher) -> None:
    text = searcher.patent_query(QUERY).texts[0].text

    numbers = {doc.id for doc in PatentRetriever(searcher=searcher, k=8).invoke(text)}

    assert {QUERY, FAMILY_COPY, LATER_COPY, EARLIER_COPY} <= numbers


def test_before_per_call_is_a_date_cutoff(searcher: PatentSearcher) -> None:
    retriever = PatentRetriever(searcher=searcher, k=10)
    cutoff = date(2006, 1, 1)

    unbounded = retriever.invoke(OSCILLATOR)
    bounded = retriever.invoke(OSCILLATOR, before=cutoff)

    assert any(earliest(doc) >= cutoff for doc in unbounded)
    assert bounded
    assert all(earliest(doc) < cutoff for doc in bounded)
    assert [doc.id for doc in retriever.invoke(OSCILLATOR, before="2006-01-01")] == [
        doc.id for doc in bounded
    ]
    with pytest.raises(ConfigurationError, match=r"before must be a date or an ISO date \(YYYY-MM-DD\)"):
        retriever.invoke(OSCILLATOR, before="last year")


def test_prior_art_cutoff_moves_with_before(searcher: PatentSearcher) -> None:
    retriever = PatentRetriever(searcher=searcher, search_type="prior_art", k=10)

    found = retriever.invoke(QUERY, before=date(2005, 1, 1))

    assert found
    assert EARLIER_COPY not in {doc.id for doc in found}  # filed 2007
    assert all(earliest(doc) < date(2005, 1, 1) for doc in found)


def test_ainvoke_and_batch_give_the_sync_results(searcher: PatentSearcher) -> None:
    retriever = PatentRetriever(searcher=searcher, k=3)
    expected = [doc.id for doc in retriever.invoke(OSCILLATOR)]

    assert [doc.id for doc in asyncio.run(retriever.ainvoke(OSCILLATOR))] == expected
    batched = retriever.batch([OSCILLATOR, "light emitting diode"])
    assert [doc.id for doc in batched[0]] == expected
    assert len(batched[1]) == 3


def test_built_from_an_index_it_owns_and_closes_it(spare_index: Path, minilm: Encoder) -> None:
    embeddings = PatentEmbeddings(encoder=minilm, query_task="retrieval")

    with PatentRetriever(index=str(spare_index), embeddings=embeddings, mode="dense", top_k=3) as retriever:
        assert retriever.searcher.options.mode == "dense"
        assert retriever.searcher.options.query_task == "retrieval"
        assert retriever.searcher.encoder is minilm
        assert len(retriever.invoke(OSCILLATOR)) == 3
        with pytest.raises(IndexLockedError):
            PatentSearcher(index=str(spare_index), encoder=minilm)

    # Closed: the index can be opened again.
    PatentSearcher(index=str(spare_index), encoder=minilm).close()


def test_an_index_opened_for_a_refused_retriever_is_closed(spare_index: Path, minilm: Encoder) -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        PatentRetriever(index=str(spare_index), embeddings=minilm, k=0)

    PatentSearcher(index=str(spare_index), encoder=minilm).close()


def test_a_given_searcher_stays_open(searcher: PatentSearcher) -> None:
    retriever = PatentRetriever(searcher=searcher, k=1)

    retriever.close()

    assert len(searcher.search(OSCILLATOR, top_k=1)) == 1


def test_with_options_derives_a_retriever(searcher: PatentSearcher) -> None:
    retriever = PatentRetriever(searcher=searcher, k=2, search_type="prior_art", tags=["patents"])

    bm25 = retriever.with_options(mode="bm25", boosts=None)

    assert bm25.searcher.options.mode == "bm25"
    assert (bm25.k, bm25.search_type, bm25.tags) == (2, "prior_art", ["patents"])
    assert retriever.searcher.options.mode == "hybrid"
    assert len(bm25.invoke(QUERY)) == 2


def test_conflicting_or_missing_arguments_are_refused(searcher: PatentSearcher, spare_index: Path) -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"pass either searcher=\.\.\. or index=\.\.\. with its embeddings and options, not both",
    ):
        PatentRetriever(searcher=searcher, mode="bm25")
    with pytest.raises(ConfigurationError, match=r"pass index=\.\.\. \(a location or a Store\) or searcher="):
        PatentRetriever()
    with pytest.raises(ConfigurationError, match="unknown search option"):
        PatentRetriever(index=str(spare_index), colour="blue")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="search_type"):
        PatentRetriever(searcher=searcher, search_type="semantic")  # type: ignore[arg-type]
