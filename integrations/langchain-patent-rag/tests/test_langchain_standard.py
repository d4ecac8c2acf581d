"""LangChain's own standard suites (langchain-tests) on PatentRetriever and PatentEmbeddings.

The suites build the component from properties, which cannot take fixtures: an autouse fixture hands
each test instance the session's searcher or encoder first.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_patent_rag import PatentEmbeddings, PatentRetriever
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from patent_rag.encoding.encoder import Encoder
from patent_rag.search.searcher import PatentSearcher


class TestPatentRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _use_session_searcher(self, searcher: PatentSearcher) -> None:
        self._searcher = searcher

    @property
    def retriever_constructor(self) -> type[PatentRetriever]:
        return PatentRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"searcher": self._searcher, "k": 5}

    @property
    def retriever_query_example(self) -> str:
        return "voltage controlled oscillator with a ring of inverters"


class TestPatentEmbeddingsUnit(EmbeddingsUnitTests):
    """Built from a profile name, as a user would (the weights load in well under a second)."""

    @property
    def embeddings_class(self) -> type[PatentEmbeddings]:
        return PatentEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "all-minilm-l6-v2", "precision": "fp32"}


class TestPatentEmbeddingsIntegration(EmbeddingsIntegrationTests):
    """On the asymmetric profile: query and document prompts differ, the vectors' shape must not."""

    @pytest.fixture(autouse=True)
    def _use_session_encoder(self, asymmetric: Encoder) -> None:
        self._encoder = asymmetric

    @property
    def embeddings_class(self) -> type[PatentEmbeddings]:
        return PatentEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"encoder": self._encoder}
