"""LangChain adapter: :class:`PatentRetriever`, a ``BaseRetriever`` over a
:class:`~patent_rag.search.searcher.PatentSearcher`.

The searcher does the searching, filtering and ranking; this module translates: a query string in,
the searcher's :class:`~patent_rag.search.hits.PatentHit` s out as LangChain ``Document`` s
(:func:`to_document`), and a :class:`~langchain_patent_rag.embeddings.PatentEmbeddings` accepted
where the searcher takes an :class:`~patent_rag.encoding.encoder.Encoder`. The async methods are
LangChain's: the sync search runs in its executor.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field, PrivateAttr

from langchain_patent_rag.embeddings import PatentEmbeddings
from patent_rag.encoding.encoder import Encoder
from patent_rag.errors import ConfigurationError
from patent_rag.search.hits import PatentHit
from patent_rag.search.options import SearchOptions
from patent_rag.search.searcher import PatentSearcher
from patent_rag.stores.base import Store

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from patent_rag.search.options import SearchOptionValues

__all__ = ["PatentRetriever", "SearchType", "to_document"]

SearchType = Literal["text", "prior_art"]


def to_document(hit: PatentHit) -> Document:
    """``hit`` as a LangChain ``Document``: the best chunk's text, the patent's fields as metadata.

    The metadata holds plain values (ISO date strings, lists of strings), and ``evidence`` lists
    every matching chunk, best first, as a dict (``section``, ``claim_number``, ``paragraph_start``,
    ``paragraph_end``, ``label``, ``text``, ``score``, ``chunk_id``). The document's id is the
    publication number.

    Example:
        >>> from patent_rag.search.hits import Evidence, PatentHit
        >>> hit = PatentHit(rank=1, publication_number="US8613112B2", score=0.83,
        ...                 evidence=[Evidence(chunk_id="a", section="claim", claim_number=1,
        ...                                    text="A hinge ...", score=0.83)])
        >>> document = to_document(hit)
        >>> document.id, document.metadata["evidence"][0]["label"]
        ('US8613112B2', 'claim 1')
    """
    metadata: dict[str, Any] = {
        "publication_number": hit.publication_number,
        "title": hit.title,
        "rank": hit.rank,
        "score": hit.score,
        "country": hit.country,
        "kind": hit.kind,
        "family_id": hit.family_id,
        "priority_date": _iso(hit.priority_date),
        "filing_date": _iso(hit.filing_date),
        "publication_date": _iso(hit.publication_date),
        "cpc": list(hit.cpc),
        "ipc": list(hit.ipc),
        "uspc": list(hit.uspc),
        "assignees": list(hit.assignees),
        "inventors": list(hit.inventors),
        "evidence": [{**item.model_dump(), "label": item.label} for item in hit.evidence],
    }
    return Document(id=hit.publication_number, page_content=hit.best.text, metadata=metadata)


class PatentRetriever(BaseRetriever):
    """Ranked patents from a patent_rag index, for LangChain: one ``Document`` per patent.

    Either wraps a :class:`~patent_rag.search.searcher.PatentSearcher` (``searcher=``), or builds
    one from an ``index``, its ``embeddings`` and the search options, given whole
    (``options=SearchOptions(...)``) or as keyword arguments (``mode="bm25"``, ``filters=...``:
    the fields of :class:`~patent_rag.search.options.SearchOptions`, which documents them). A
    searcher built here is closed by :meth:`close`; a given one stays the caller's.

    With ``search_type="text"`` the query is free text; with ``"prior_art"`` it is the publication
    number of a patent in the index, searched by its claims and abstract, excluding itself and its
    family, with only documents dated before its priority date kept.

    ``invoke(query, k=3)`` returns 3 patents for that call; ``before=date(2010, 1, 1)`` (or
    ``"2010-01-01"``) moves the date cutoff for that call.

    Args:
        searcher: a searcher to wrap (then no index, embeddings or options).
        index: an index location (a directory for Qdrant Edge, ``qdrant-local:PATH``, an
            ``http(s)://`` URL) or a :class:`~patent_rag.stores.Store`.
        embeddings: the :class:`PatentEmbeddings` or ``Encoder`` the index was built with (a
            ``PatentEmbeddings``' query task is used unless the options name one). Only
            ``mode="bm25"`` works without one.
        options: the search options; keyword options replace single fields of them.
        k: patents returned (default: the options' ``top_k``).
        search_type: ``"text"`` or ``"prior_art"``.
        tags, metadata: LangChain's run tags and metadata.

    Raises:
        ConfigurationError: both a searcher and an index, neither, or an invalid option.
        FingerprintMismatchError: the index was built with another model or prompt.

    Example:
        >>> from langchain_patent_rag import PatentEmbeddings
        >>> embeddings = PatentEmbeddings(model="all-minilm-l6-v2")
        >>> retriever = PatentRetriever(index="my-index", embeddings=embeddings, k=5)  # doctest: +SKIP
        >>> docs = retriever.invoke("voltage controlled oscillator")  # doctest: +SKIP
        >>> docs[0].id, docs[0].metadata["title"], docs[0].page_content  # doctest: +SKIP
        >>> cited = PatentRetriever(searcher=retriever.searcher, search_type="prior_art")  # doctest: +SKIP
        >>> cited.invoke("US8089324B2", k=3)  # doctest: +SKIP
    """

    searcher: PatentSearcher = Field(description="The search engine this retriever translates for.")
    k: int | None = Field(default=None, ge=1, description="Patents returned (None: the options' top_k).")
    search_type: SearchType = Field(
        default="text",
        description='"text": the query is free text; "prior_art": the query is a publication number.',
    )
    _owns_searcher: bool = PrivateAttr(default=False)

    def __init__(
        self,
        *,
        searcher: PatentSearcher | None = None,
        index: str | Store | None = None,
        embeddings: PatentEmbeddings | Encoder | None = None,
        options: SearchOptions | None = None,
        k: int | None = None,
        search_type: SearchType = "text",
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **option_values: Unpack[SearchOptionValues],
    ) -> None:
        owns = searcher is None
        if searcher is not None:
            if index is not None or embeddings is not None or options is not None or option_values:
                raise ConfigurationError(
                    "pass either searcher=... or index=... with its embeddings and options, not both"
                )
        else:
            if index is None:
                raise ConfigurationError("pass index=... (a location or a Store) or searcher=...")
            chosen = (options or SearchOptions()).replace(**option_values)
            encoder = embeddings.encoder if isinstance(embeddings, PatentEmbeddings) else embeddings
            if isinstance(embeddings, PatentEmbeddings) and chosen.query_task is None:
                chosen = chosen.replace(query_task=embeddings.query_task)
            searcher = PatentSearcher(index=index, encoder=encoder, options=chosen)
        # A dict, because type checkers see only the base class's fields in its __init__.
        fields: dict[str, Any] = {
            "searcher": searcher,
            "k": k,
            "search_type": search_type,
            "tags": tags,
            "metadata": metadata,
        }
        try:
            super().__init__(**fields)
        except BaseException:
            if owns:
                searcher.close()
            raise
        self._owns_searcher = owns

    def with_options(
        self, options: SearchOptions | None = None, /, **changes: Unpack[SearchOptionValues]
    ) -> PatentRetriever:
        """A retriever over the same index and encoder with other options; this one is unchanged.

        Example:
            >>> quick = retriever.with_options(mode="bm25", boosts=None)  # doctest: +SKIP
        """
        return PatentRetriever(
            searcher=self.searcher.with_options(options, **changes),
            k=self.k,
            search_type=self.search_type,
            tags=self.tags,
            metadata=self.metadata,
        )

    def close(self) -> None:
        """Close the index if this retriever opened it (built from ``index=``, not given a searcher)."""
        if self._owns_searcher:
            self.searcher.close()

    def __enter__(self) -> PatentRetriever:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        before: date | str | None = None,
    ) -> list[Document]:
        if k is not None and k < 1:
            raise ConfigurationError(f"k must be at least 1, got {k}")
        top_k = k if k is not None else self.k
        cutoff = _date(before)
        if self.search_type == "prior_art":
            hits = self.searcher.prior_art(query.strip(), top_k=top_k, before=cutoff)
        else:
            hits = self.searcher.search(query, top_k=top_k, before=cutoff)
        return [to_document(hit) for hit in hits]


def _date(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(
            f"before must be a date or an ISO date (YYYY-MM-DD), not {value!r}"
        ) from None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
