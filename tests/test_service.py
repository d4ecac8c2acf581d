"""The server core: bounded requests, patents read back from the index, and PatentService."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from patent_rag.documents import Claim, PatentDocument
from patent_rag.documents.chunking import Chunker
from patent_rag.documents.record import Paragraph
from patent_rag.errors import ConfigurationError, PatentNotFoundError
from patent_rag.ingest import ingest_documents
from patent_rag.search.hits import chunk_label
from patent_rag.search.patents import MAX_PASSAGES, read_patent
from patent_rag.search.requests import MAX_TOP_K, PriorArtRequest, SearchRequest, build_filter
from patent_rag.search.service import PatentService
from patent_rag.stores import EdgeStore
from tests.server_support import FULL_TEXT_PATENT, sample_corpus

# -- requests ---------------------------------------------------------------------------------------


def test_request_bounds_are_enforced_and_in_the_schema() -> None:
    for bad in (0, MAX_TOP_K + 1):
        with pytest.raises(ValidationError, match="top_k"):
            SearchRequest(query="oscillator", top_k=bad)
    with pytest.raises(ValidationError, match="blank"):
        SearchRequest(query="   ")
    with pytest.raises(ValidationError, match="query"):
        SearchRequest(query="x" * 9000)
    with pytest.raises(ValidationError, match="cpc"):
        SearchRequest(query="x", cpc=["H03B"] * 21)
    with pytest.raises(ValidationError, match="Extra inputs"):
        SearchRequest(query="x", cpcs=["H03B"])  # type: ignore[call-arg]
    schema = SearchRequest.model_json_schema()["properties"]
    assert schema["top_k"]["maximum"] == MAX_TOP_K
    assert "priority date" in schema["before"]["description"]


def test_request_dates_are_parsed_and_bad_ones_name_the_format() -> None:
    # JSON brings dates as strings: the request parses them.
    request = PriorArtRequest(
        publication_number="US8089324B2",
        before="2008-01-01",  # type: ignore[arg-type]
        since="2001-01-01",  # type: ignore[arg-type]
    )
    assert request.before == date(2008, 1, 1)
    window = request.search_filter().dates[0]
    assert (window.since, window.before) == (date(2001, 1, 1), None)  # `before` is the cutoff's job
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        SearchRequest(query="x", before="31/01/2010")  # type: ignore[arg-type]


def test_request_filters_are_checked_as_the_cli_checks_them() -> None:
    assert SearchRequest(query="x", cpc=["h03b 5/12"], countries=["us"]).search_filter().cpc == ("H03B5/12",)
    with pytest.raises(ConfigurationError, match="cpc 'G6F' is not a CPC/IPC symbol or prefix"):
        SearchRequest(query="x", cpc=["G6F"]).search_filter()
    with pytest.raises(ConfigurationError, match="countries 'USA' is not a two-letter country code"):
        SearchRequest(query="x", countries=["USA"]).search_filter()
    with pytest.raises(ConfigurationError, match="--cpc 'G6F'"):
        build_filter(cpc=["G6F"], labels={"cpc": "--cpc"})


def test_chunk_labels_count_paragraphs_from_one() -> None:
    assert chunk_label("description", None, 3, 5) == "description ¶4-6"
    assert chunk_label("description", None, 3, 3) == "description ¶4"
    assert chunk_label("claim", 2) == "claim 2"
    assert chunk_label("abstract") == "abstract"


# -- patents read back -------------------------------------------------------------------------------


def _long_patent() -> PatentDocument:
    long_claim = "A varactor-free oscillator comprising " + " ".join(f"element{i}" for i in range(400)) + "."
    return PatentDocument(
        publication_number="US9000001B2",
        title="Oscillator",
        abstract="An oscillator without varactors.",
        priority_date=date(2010, 5, 1),
        cpc=["H03B5/12"],
        claims=[
            Claim(number=1, text=long_claim),
            Claim(
                number=2,
                text="The oscillator of claim 1, wherein it is CMOS.",
                independent=False,
                depends_on=[1],
            ),
        ],
        description=[
            Paragraph(
                text=f"Paragraph {i} describes part {i} of the circuit, " + "its wiring and layout " * 5
            )
            for i in range(12)
        ],
    )


def test_a_patent_is_joined_again_from_its_chunks(minilm_encoder: Any, tmp_path: Path) -> None:
    store = EdgeStore(path=tmp_path / "index")
    chunker = Chunker(count_tokens=minilm_encoder.count_tokens, max_tokens=64)
    ingest_documents([_long_patent()], store=store, encoder=minilm_encoder, chunker=chunker)
    try:
        record = read_patent(store, "US9000001")  # no kind code
        assert record.publication_number == "US9000001B2"
        assert record.priority_date == date(2010, 5, 1)
        assert record.abstract == "An oscillator without varactors."
        assert [(c.number, c.parent) for c in record.claims] == [(1, None), (2, 1)]
        # the long claim was stored in several chunks; read back it is one claim, the title context once
        assert record.claims[0].text.startswith("A varactor-free oscillator")
        assert "element0" in record.claims[0].text and "element399" in record.claims[0].text
        assert "Oscillator. " not in record.claims[0].text
        assert record.description == [] and record.description_total >= 4

        page = read_patent(store, "US9000001B2", passages=2, start=1)
        assert len(page.description) == 2 and page.description_start == 1
        first = page.description[0]
        assert first.paragraph_start is not None and first.label.startswith("description ¶")
        covered = range(first.paragraph_start, (first.paragraph_end or first.paragraph_start) + 1)
        assert all(f"Paragraph {i} describes" in first.text for i in covered)

        with pytest.raises(PatentNotFoundError, match="US9999999B2 is not in the index"):
            read_patent(store, "US9999999B2")
        with pytest.raises(ConfigurationError, match=f"between 0 and {MAX_PASSAGES}"):
            read_patent(store, "US9000001B2", passages=MAX_PASSAGES + 1)
    finally:
        store.close()


# -- the service -------------------------------------------------------------------------------------


@pytest.fixture
def service(sample_index: Path) -> Iterator[PatentService]:
    with PatentService.open(str(sample_index)) as opened:
        yield opened


def test_prior_art_is_cut_off_at_the_patents_priority_date(service: PatentService) -> None:
    result = service.prior_art(PriorArtRequest(publication_number="US8089324", top_k=5))
    assert result.publication_number == "US8089324B2"
    assert result.before == date(2008, 12, 31)
    assert 0 < len(result.hits) <= 5
    assert "US8089324B2" not in {hit.publication_number for hit in result.hits}
    assert all(hit.earliest_date and hit.earliest_date < result.before for hit in result.hits)
    later = service.prior_art(
        PriorArtRequest(publication_number="US8089324B2", before="2012-01-01")  # type: ignore[arg-type]
    )
    assert later.before == date(2012, 1, 1)
    with pytest.raises(PatentNotFoundError):
        service.prior_art(PriorArtRequest(publication_number="US1111111B2"))


def test_search_applies_filters_mode_and_evidence(service: PatentService) -> None:
    result = service.search(SearchRequest(query="oscillator circuit", top_k=3, ipc=["H03"], mode="bm25"))
    assert result.mode == "bm25" and result.query == "oscillator circuit"
    assert result.hits and all(any(code.startswith("H03") for code in hit.ipc) for hit in result.hits)
    assert all(hit.evidence and hit.best.label for hit in result.hits)
    assert service.searcher.options.mode == "hybrid"  # a request's mode does not change the service


def test_concurrent_requests_answer_as_serial_ones(service: PatentService) -> None:
    requests = [SearchRequest(query=q, top_k=5) for q in ("oscillator", "hinge", "battery", "display")] * 4

    def numbers(request: SearchRequest) -> list[str]:
        return [hit.publication_number for hit in service.search(request).hits]

    serial = [numbers(request) for request in requests]
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(numbers, requests)) == serial


def test_info_and_patent_and_close(sample_index: Path, minilm_encoder: Any) -> None:
    service = PatentService.open(str(sample_index))
    info = service.info()
    corpus = sample_corpus()
    chunker = Chunker.for_encoder(minilm_encoder)  # as ingest chunked the corpus
    assert info.patents == len(corpus) == 75 and info.backend == "edge"
    assert info.chunks == sum(len(chunker.chunk(doc)) for doc in corpus)
    assert info.model == "sentence-transformers/all-MiniLM-L6-v2" and info.max_top_k == MAX_TOP_K
    record = service.patent(FULL_TEXT_PATENT)
    assert record.title.startswith("Varactor-free") and record.claims and record.description_total > 0
    assert service.is_open
    service.close()
    assert not service.is_open
