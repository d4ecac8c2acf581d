"""LlamaIndex adapter: :class:`PriorArtRetriever`, a ``BaseRetriever`` over a
:class:`~patent_rag.search.searcher.PatentSearcher`.

The searcher does the searching; this class translates: a ``QueryBundle`` in, the searcher's
:class:`~patent_rag.search.hits.PatentHit` s out as ``NodeWithScore`` (:func:`~.nodes.to_node`), and a
:class:`~patent_rag.llama_index.embedding.PatentEmbedding` accepted where the searcher takes an
:class:`~patent_rag.encoding.encoder.Encoder`. Typed hits, searches by patent and the query plan
are the searcher's (``retriever.searcher.prior_art(...)``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle

from patent_rag.encoding.encoder import Encoder
from patent_rag.errors import ConfigurationError
from patent_rag.llama_index.embedding import PatentEmbedding
from patent_rag.llama_index.nodes import to_node
from patent_rag.search.options import SearchOptions
from patent_rag.search.searcher import PatentSearcher
from patent_rag.stores.base import Store

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from patent_rag.search.options import SearchOptionValues

__all__ = ["PriorArtRetriever"]


class PriorArtRetriever(BaseRetriever):
    """Ranked prior art from a patent_rag index, for LlamaIndex.

    Either wraps a :class:`PatentSearcher` (``searcher=``), or builds one from an ``index``, an
    ``embedding`` and the search options, given whole (``options=SearchOptions(...)``) or as
    keyword arguments (``top_k=5, mode="bm25"``...: the fields of
    :class:`~patent_rag.search.options.SearchOptions`, which documents them).

    Args:
        index: an index location (a directory for Qdrant Edge, ``qdrant-local:PATH``, an
            ``http(s)://`` URL) or a :class:`~patent_rag.stores.Store` (open or not).
        embedding: the :class:`Encoder` or :class:`PatentEmbedding` the index was built with (a
            ``PatentEmbedding``'s query task is used unless the options name one). Only
            ``mode="bm25"`` works without one.
        searcher: a searcher to wrap instead (then no index, embedding or options).
        options: the search options; keyword options replace single fields of them.

    Example:
        >>> encoder = Encoder("all-minilm-l6-v2")  # doctest: +SKIP
        >>> retriever = PriorArtRetriever(index="my-index", embedding=encoder)  # doctest: +SKIP
        >>> nodes = retriever.retrieve("voltage controlled oscillator")  # doctest: +SKIP
        >>> nodes[0].node.metadata["publication_number"]  # doctest: +SKIP
        >>> hits = retriever.searcher.prior_art("US8089324B2")  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        index: str | Store | None = None,
        embedding: Encoder | PatentEmbedding | None = None,
        searcher: PatentSearcher | None = None,
        options: SearchOptions | None = None,
        callback_manager: CallbackManager | None = None,
        **option_values: Unpack[SearchOptionValues],
    ) -> None:
        super().__init__(callback_manager=callback_manager)
        if searcher is not None:
            if index is not None or embedding is not None or options is not None or option_values:
                raise ConfigurationError(
                    "pass either searcher=... or index=... with its embedding and options, not both"
                )
            self._searcher = searcher
            return
        if index is None:
            raise ConfigurationError("pass index=... (a location or a Store) or searcher=...")
        chosen = (options or SearchOptions()).replace(**option_values)
        if isinstance(embedding, PatentEmbedding):
            if chosen.query_task is None and embedding.query_task is not None:
                chosen = chosen.replace(query_task=embedding.query_task)
            embedding = embedding.encoder
        self._searcher = PatentSearcher(index=index, encoder=embedding, options=chosen)

    def with_options(
        self, options: SearchOptions | None = None, /, **changes: Unpack[SearchOptionValues]
    ) -> PriorArtRetriever:
        """A retriever over the same index and encoder with other options; this one is unchanged."""
        return PriorArtRetriever(
            searcher=self._searcher.with_options(options, **changes), callback_manager=self.callback_manager
        )

    # -- plumbing --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return repr(self._searcher).replace("PatentSearcher(", "PriorArtRetriever(", 1)

    def __enter__(self) -> PriorArtRetriever:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the index if the searcher opened it from a location string."""
        self._searcher.close()

    @property
    def searcher(self) -> PatentSearcher:
        return self._searcher

    @property
    def options(self) -> SearchOptions:
        return self._searcher.options

    @property
    def store(self) -> Store:
        return self._searcher.store

    @property
    def encoder(self) -> Encoder | None:
        return self._searcher.encoder

    # -- LlamaIndex ------------------------------------------------------------------------------
    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [to_node(hit) for hit in self._searcher.search(query_bundle.query_str)]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._retrieve, query_bundle)
