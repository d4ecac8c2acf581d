"""Fuzz the HTTP API from its own OpenAPI spec with schemathesis: valid and invalid requests to
every operation, over a real index, with /api/ask answered by a stub LLM. No request may get a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from patent_rag.llm import ChatClient
from patent_rag.search.searcher import PatentSearcher
from patent_rag.search.service import PatentService
from patent_rag.server import create_app
from patent_rag.stores import open_store
from tests.server_support import LLMScript, StubLLM, copy_index

pytestmark = pytest.mark.slow


# The spec is the app's own; building an app opens nothing, so collecting this module stays cheap.
schema = schemathesis.openapi.from_dict(create_app(index="(not opened)").openapi())


@pytest.fixture(scope="module")
def app(
    sample_index_template: Path, minilm_encoder: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    location = copy_index(sample_index_template, tmp_path_factory.mktemp("fuzz"))
    searcher = PatentSearcher(index=open_store(str(location)), encoder=minilm_encoder)
    with (
        PatentService(searcher=searcher, owns_store=True) as service,
        StubLLM(LLMScript(answer="Known [US7315219B2] and invented [US1234567B2].")) as stub,
        ChatClient(base_url=stub.url, model="stub", timeout=10) as llm,
    ):
        yield create_app(service=service, llm=llm)


@schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_request_is_a_server_error(app: Any, case: Any) -> None:
    response = case.call(app=app)
    case.validate_response(response, checks=[not_a_server_error])
    assert "Traceback" not in response.text
