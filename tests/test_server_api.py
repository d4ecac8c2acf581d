"""The HTTP API over a real index: each endpoint's content, each error's status and JSON body, safe
concurrent requests, mounting, and ``patent-rag serve``. FastAPI's TestClient (httpx) drives the app."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import patent_rag.server.app as server_app
from patent_rag.cli import app as cli_app
from patent_rag.cli.serve import run_serve
from patent_rag.errors import ConfigurationError
from patent_rag.search.patents import MAX_PASSAGES
from patent_rag.search.searcher import PatentSearcher
from patent_rag.search.service import PatentService
from patent_rag.server import create_app
from patent_rag.stores import open_store
from tests.server_support import FULL_TEXT_PARAGRAPHS, FULL_TEXT_PATENT, copy_index, sample_corpus

QUERY = "low power CMOS voltage controlled oscillator"


@pytest.fixture(scope="module")
def index_path(sample_index_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample index the module's ``client`` holds open."""
    return copy_index(sample_index_template, tmp_path_factory.mktemp("server"))


@pytest.fixture(scope="module")
def client(index_path: Path) -> Iterator[TestClient]:
    """The app as `patent-rag serve` runs it: the lifespan opens the index, warmed, once."""
    with TestClient(create_app(index=str(index_path))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def spare_index(sample_index_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second copy of the sample index, for apps that open their own while ``client`` holds
    ``index_path`` (each closes it again)."""
    return copy_index(sample_index_template, tmp_path_factory.mktemp("spare"))


def spare_service(location: Path, encoder: Any) -> PatentService:
    return PatentService(
        searcher=PatentSearcher(index=open_store(str(location)), encoder=encoder), owns_store=True
    )


def numbers(body: dict[str, Any]) -> list[str]:
    return [hit["publication_number"] for hit in body["hits"]]


def earliest(hit: dict[str, Any]) -> date:
    return date.fromisoformat(hit["priority_date"] or hit["filing_date"])


def assert_error(response: Any, status: int, error: str, detail: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert "Traceback" not in response.text and 'File "' not in response.text
    if detail is not None:
        assert isinstance(body["detail"], str) and detail in body["detail"], body["detail"]
    return body


# -- happy paths ---------------------------------------------------------------------------------
def test_health_and_info(client: TestClient, index_path: Path) -> None:
    assert client.get("/health").json() == {"status": "ok", "index_open": True}
    info = client.get("/api/info").json()
    assert (
        info["patents"] == len(sample_corpus())
        and info["backend"] == "edge"
        and info["location"] == str(index_path)
    )
    assert info["model"] == "sentence-transformers/all-MiniLM-L6-v2" and info["dim"] == 384
    assert info["ask"] is False and info["max_top_k"] == 50 and info["mode"] == "hybrid"


def test_search_ranks_patents_with_evidence(client: TestClient) -> None:
    body = client.post("/api/search", json={"query": QUERY, "top_k": 3}).json()
    assert body["query"] == QUERY and body["mode"] == "hybrid"
    assert numbers(body)[0] == "US7863991B1" and len(body["hits"]) == 3
    assert [hit["rank"] for hit in body["hits"]] == [1, 2, 3]
    scores = [hit["score"] for hit in body["hits"]]
    assert scores == sorted(scores, reverse=True)
    for hit in body["hits"]:
        assert hit["title"] and hit["evidence"] and all(item["text"] for item in hit["evidence"])
        assert {"section", "claim_number", "paragraph_start", "score"} <= set(hit["evidence"][0])


def test_search_filters(client: TestClient) -> None:
    dated = client.post("/api/search", json={"query": QUERY, "before": "2005-01-01", "top_k": 10}).json()
    assert dated["before"] == "2005-01-01" and dated["hits"]
    assert all(earliest(hit) < date(2005, 1, 1) for hit in dated["hits"])
    classified = client.post("/api/search", json={"query": QUERY, "ipc": ["H03K"], "top_k": 10}).json()
    assert sorted(numbers(classified)) == ["US7315219B2", "US7863991B1"]
    assert client.post("/api/search", json={"query": QUERY, "countries": ["EP"]}).json()["hits"] == []
    bm25 = client.post("/api/search", json={"query": "multiphase", "mode": "bm25", "top_k": 2}).json()
    assert bm25["mode"] == "bm25" and numbers(bm25)[0] == "US7315219B2"


def test_prior_art_excludes_the_patent_and_keeps_earlier_documents(client: TestClient) -> None:
    body = client.post("/api/prior-art", json={"publication_number": "US8089324", "top_k": 5}).json()
    assert body["publication_number"] == "US8089324B2" and body["title"]
    assert body["before"] == "2008-12-31" and len(body["hits"]) == 5
    assert "US8089324B2" not in numbers(body) and "US7863599B2" not in numbers(body)  # itself, a later VCO
    assert numbers(body)[0] == "US7315219B2" and "US7863991B1" in numbers(body)
    assert all(earliest(hit) < date(2008, 12, 31) for hit in body["hits"])


def test_patent_returns_claims_and_bounded_passages(client: TestClient) -> None:
    record = client.get(f"/api/patents/{FULL_TEXT_PATENT}").json()
    assert record["publication_number"] == FULL_TEXT_PATENT and record["claims"][0]["number"] == 1
    assert record["claims"][0]["text"] and record["abstract"] and record["description"] == []
    total = record["description_total"]
    assert 8 < total <= FULL_TEXT_PARAGRAPHS
    page = client.get(f"/api/patents/{FULL_TEXT_PATENT}", params={"passages": 4, "start": 2}).json()
    assert page["description_start"] == 2 and len(page["description"]) == 4
    first = client.get(f"/api/patents/{FULL_TEXT_PATENT}", params={"passages": 3}).json()["description"]
    assert first[2] == page["description"][0]
    most = client.get(f"/api/patents/{FULL_TEXT_PATENT}", params={"passages": MAX_PASSAGES}).json()
    assert len(most["description"]) == min(MAX_PASSAGES, total)
    past = client.get(f"/api/patents/{FULL_TEXT_PATENT}", params={"passages": 5, "start": total}).json()
    assert past["description"] == []


def test_openapi_describes_every_operation(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {
        "/health",
        "/api/info",
        "/api/search",
        "/api/prior-art",
        "/api/chart",
        "/api/patents/{publication_number}",
        "/api/ask",
    }
    ask = spec["paths"]["/api/ask"]["post"]
    assert "text/event-stream" in ask["responses"]["200"]["content"]
    assert ask["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AskRequest")
    search = spec["components"]["schemas"]["SearchRequest"]
    assert search["properties"]["top_k"]["maximum"] == 50 and search["additionalProperties"] is False
    assert spec["paths"]["/api/patents/{publication_number}"]["get"]["responses"]["404"]


# -- errors ----------------------------------------------------------------------------------------
def test_unknown_patent_and_route_are_404(client: TestClient) -> None:
    assert_error(client.get("/api/patents/US1234567B2"), 404, "PatentNotFoundError", "US1234567B2 is not in")
    assert_error(
        client.post("/api/prior-art", json={"publication_number": "US1234567B2"}), 404, "PatentNotFoundError"
    )
    assert_error(client.get("/api/nothing-here"), 404, "NotFound")
    response = client.get("/api/search")
    assert_error(response, 405, "MethodNotAllowed")
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("body", "error", "detail"),
    [
        ({"query": "x", "cpc": ["H03B; DROP"]}, "ConfigurationError", "is not a CPC/IPC symbol or prefix"),
        ({"query": "x", "countries": ["USA"]}, "ConfigurationError", "is not a two-letter country code"),
        ({"query": "x", "before": "2020-13-45"}, "RequestValidationError", None),
        ({"query": "x", "since": "yesterday"}, "RequestValidationError", None),
        ({"query": "x", "top_k": 1000}, "RequestValidationError", None),
        ({"query": "x", "top_k": 0}, "RequestValidationError", None),
        ({"query": "   "}, "RequestValidationError", None),
        ({"query": "x" * 8001}, "RequestValidationError", None),
        ({"query": "x", "mode": "magic"}, "RequestValidationError", None),
        ({"query": "x", "unknown": 1}, "RequestValidationError", None),
        ({"query": "x", "cpc": ["H03B"] * 21}, "RequestValidationError", None),
        ({}, "RequestValidationError", None),
    ],
)
def test_bad_search_requests_are_422(
    client: TestClient, body: dict[str, Any], error: str, detail: str | None
) -> None:
    answer = assert_error(client.post("/api/search", json=body), 422, error, detail)
    if error == "RequestValidationError":
        assert answer["detail"] and answer["detail"][0]["loc"][0] == "body"


def test_bad_dates_name_the_format(client: TestClient) -> None:
    body = assert_error(
        client.post("/api/search", json={"query": "x", "before": "2020-13-45"}), 422, "RequestValidationError"
    )
    assert "dates are written YYYY-MM-DD" in json.dumps(body["detail"])


def test_bad_patent_paging_is_422(client: TestClient) -> None:
    for params in ({"passages": MAX_PASSAGES + 1}, {"passages": -1}, {"start": -1}, {"start": "x"}):
        assert_error(
            client.get(f"/api/patents/{FULL_TEXT_PATENT}", params=params), 422, "RequestValidationError"
        )
    assert_error(client.get("/api/patents/" + "U" * 40), 422, "RequestValidationError")


def test_bodies_over_the_limit_are_413_unread(client: TestClient) -> None:
    big = {"query": "x" * 70_000}
    assert_error(client.post("/api/search", json=big), 413, "ContentTooLarge", "larger than 65536 bytes")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"query": "'
        for _ in range(80):
            yield b"x" * 1000
        yield b'"}'

    response = client.post("/api/search", content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, 413, "ContentTooLarge")
    assert_error(
        client.post("/api/search", content=b"{not json", headers={"content-type": "application/json"}),
        422,
        "RequestValidationError",
    )


def test_ask_without_an_llm_is_503(client: TestClient) -> None:
    assert_error(
        client.post("/api/ask", json={"question": "ring VCO?"}), 503, "LLMNotConfigured", "--llm-url"
    )


def test_an_unexpected_failure_is_500_without_details(
    index_path: Path, client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    service = client.app.state.patent_rag.service  # type: ignore[attr-defined]

    def broken(request: Any) -> Any:
        raise RuntimeError("internal state /secret/path")

    monkeypatch.setattr(service, "search", broken)
    with caplog.at_level(logging.ERROR, logger="patent_rag.server"):
        response = TestClient(client.app, raise_server_exceptions=False).post(
            "/api/search", json={"query": "x"}
        )
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error", "error": "InternalError"}
    assert "/secret/path" in caplog.text  # logged for the operator, not sent to the client


def test_a_closed_store_is_503(spare_index: Path, minilm_encoder: Any) -> None:
    service = spare_service(spare_index, minilm_encoder)
    with TestClient(create_app(service=service)) as test_client:
        assert test_client.get("/health").status_code == 200
        service.close()
        health = test_client.get("/health")
        assert health.status_code == 503 and health.json()["index_open"] is False
        assert_error(test_client.post("/api/search", json={"query": "x"}), 503, "StoreError", "not open")
        assert_error(test_client.get("/api/info"), 503, "StoreError")


def test_a_locked_index_is_503(client: TestClient, index_path: Path) -> None:
    # The module's client holds the index: a second app cannot open it, and says so.
    with TestClient(create_app(index=str(index_path))) as second:
        health = second.get("/health")
        assert health.status_code == 503 and "already open" in health.json()["detail"]
        assert_error(second.post("/api/search", json={"query": "x"}), 503, "IndexLockedError", "already open")
    assert client.get("/health").status_code == 200


def test_an_index_built_with_another_model_is_409(spare_index: Path, tiny_patentsberta_dir: Path) -> None:
    with TestClient(create_app(index=str(spare_index), model=str(tiny_patentsberta_dir))) as test_client:
        assert test_client.get("/health").status_code == 503
        body = assert_error(
            test_client.post("/api/search", json={"query": "x"}), 409, "FingerprintMismatchError"
        )
        assert (
            "sentence-transformers/all-MiniLM-L6-v2" in body["detail"] and "dim: encoder=32" in body["detail"]
        )


def test_create_app_arguments() -> None:
    with pytest.raises(ConfigurationError, match=r"exactly one of index= .* or service="):
        create_app()
    with pytest.raises(ConfigurationError, match="a service is already open"):
        create_app(service=object(), model="x")  # type: ignore[arg-type]


# -- concurrency, mounting, the page -----------------------------------------------------------------
def test_concurrent_requests_answer_as_serial_ones(client: TestClient) -> None:
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/api/search", {"query": "ring oscillator with inverters", "top_k": 5}),
        ("POST", "/api/search", {"query": "light emitting diode package heat sink", "top_k": 5}),
        ("POST", "/api/search", {"query": QUERY, "mode": "bm25", "top_k": 5}),
        ("POST", "/api/search", {"query": "phase locked loop", "before": "2006-01-01"}),
        ("POST", "/api/prior-art", {"publication_number": "US8089324B2", "top_k": 5}),
        ("GET", f"/api/patents/{FULL_TEXT_PATENT}?passages=5&start=1", None),
        ("POST", "/api/search", {"query": "x", "cpc": ["bad!"]}),
        ("GET", "/api/patents/US1234567B2", None),
    ]

    def call(index: int) -> tuple[int, Any]:
        method, url, body = calls[index % len(calls)]
        response = client.request(method, url, json=body)
        return response.status_code, response.json()

    serial = [call(i) for i in range(len(calls))]
    assert [status for status, _ in serial] == [200] * 6 + [422, 404]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(call, range(4 * len(calls))))
    assert parallel == serial * 4


def test_mounted_under_a_prefix(spare_index: Path, minilm_encoder: Any) -> None:
    with spare_service(spare_index, minilm_encoder) as service:
        parent = FastAPI()
        parent.mount("/patents", create_app(service=service))
        with TestClient(parent) as test_client:
            assert (
                numbers(test_client.post("/patents/api/search", json={"query": QUERY}).json())[0]
                == "US7863991B1"
            )
            assert test_client.get("/patents/openapi.json").status_code == 200
            assert_error(test_client.get("/patents/api/patents/US1234567B2"), 404, "PatentNotFoundError")
    # A mounted app's lifespan does not run: the parent runs it, or the app says what to do.
    patents = create_app(index=str(spare_index))
    parent = FastAPI()
    parent.mount("/patents", patents)
    with TestClient(parent) as test_client:
        assert "pass service= to create_app" in test_client.get("/patents/health").json()["detail"]
    parent = FastAPI(lifespan=patents.router.lifespan_context)
    parent.mount("/patents", patents)
    with TestClient(parent) as test_client:
        assert test_client.get("/patents/health").json() == {"status": "ok", "index_open": True}


def test_the_page_and_its_files_are_served(
    spare_index: Path, minilm_encoder: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>patents</title>")
    (tmp_path / "app.js").write_text("console.log('hi')")
    (tmp_path.parent / "secret.txt").write_text("no")
    monkeypatch.setattr(server_app, "STATIC_DIR", tmp_path)
    with (
        spare_service(spare_index, minilm_encoder) as service,
        TestClient(create_app(service=service)) as test_client,
    ):
        page = test_client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "<title>patents</title>" in page.text
        assert test_client.get("/static/app.js").text == "console.log('hi')"
        assert_error(test_client.get("/static/missing.js"), 404, "NotFound")
        assert test_client.get("/static/../secret.txt").status_code == 404
    monkeypatch.setattr(server_app, "STATIC_DIR", tmp_path / "absent")
    with (
        spare_service(spare_index, minilm_encoder) as service,
        TestClient(create_app(service=service)) as test_client,
    ):
        assert_error(test_client.get("/"), 404, "NotFound", "not installed")


# -- patent-rag serve ----------------------------------------------------------------------------------
def test_serve_runs_uvicorn_on_loopback_with_the_opened_index(
    spare_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}

    def fake_run(app: FastAPI, *, host: str, port: int) -> None:
        with TestClient(app) as test_client:
            seen["health"] = test_client.get("/health").json()
            seen["info"] = test_client.get("/api/info").json()
        seen.update(host=host, port=port)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    result = CliRunner().invoke(
        cli_app,
        [
            "serve",
            "--index",
            str(spare_index),
            "--port",
            "8123",
            "--llm-url",
            "http://127.0.0.1:9/v1",
            "--llm-model",
            "m",
        ],
    )
    assert result.exit_code == 0, result.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    assert seen["health"]["index_open"] is True and seen["info"]["ask"] is True
    store = open_store(str(spare_index))
    store.open()  # the index was closed after serving: it opens again
    store.close()


def test_serve_reports_bad_options_in_one_line(
    spare_index: Path, tiny_patentsberta_dir: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    wrong_model = runner.invoke(
        cli_app, ["serve", "--index", str(spare_index), "--model", str(tiny_patentsberta_dir)]
    )
    assert (
        wrong_model.exit_code == 1
        and "error:" in wrong_model.output
        and "dim: encoder=32" in wrong_model.output
    )
    assert "Traceback" not in wrong_model.output
    with pytest.raises(ConfigurationError, match="--llm-url and --llm-model go together"):
        run_serve(index=str(spare_index), llm_url="http://localhost:11434/v1")
    with pytest.raises(ConfigurationError, match="LLM URL must be http"):
        run_serve(index=str(spare_index), llm_url="localhost:11434", llm_model="m")


# -- claim charts -----------------------------------------------------------------------------------
CHARTED = "US7863991B1"  # charted against FULL_TEXT_PATENT, the sample's one reference with its description


def test_chart_maps_elements_to_paragraphs_of_the_reference(client: TestClient) -> None:
    from patent_rag.charts import ClaimChart

    response = client.post(
        "/api/chart", json={"publication_number": CHARTED, "references": [FULL_TEXT_PATENT]}
    )
    assert response.status_code == 200, response.text
    chart = ClaimChart.model_validate(response.json())
    assert chart.publication_number == CHARTED and chart.claim.number == 1
    assert [(ref.publication_number, ref.full_text) for ref in chart.references] == [(FULL_TEXT_PATENT, True)]
    assert len(chart.cells) == len(chart.claim.elements) >= 3
    paragraphs = [cell.location.paragraph for cell in chart.cells if cell.location.section == "description"]
    assert paragraphs and all(1 <= (number or 0) <= FULL_TEXT_PARAGRAPHS for number in paragraphs)
    assert all(cell.judgement is None for cell in chart.cells)


def test_chart_defaults_to_the_top_prior_art(client: TestClient) -> None:
    body = client.post("/api/chart", json={"publication_number": "US8089324", "top": 2}).json()
    numbers = [ref["publication_number"] for ref in body["references"]]
    assert body["publication_number"] == FULL_TEXT_PATENT and len(numbers) == 2
    assert FULL_TEXT_PATENT not in numbers and all(ref["full_text"] is False for ref in body["references"])


def test_chart_errors(client: TestClient) -> None:
    def post(**body: Any) -> Any:
        return client.post("/api/chart", json={"publication_number": CHARTED, **body})

    assert_error(post(publication_number="US1234567B2"), 404, "PatentNotFoundError", "US1234567B2")
    assert_error(post(references=["US1234567B2"]), 404, "PatentNotFoundError", "US1234567B2")
    assert_error(post(claim=99), 422, "ConfigurationError", "claim 99")
    refused: list[dict[str, Any]] = [
        {"claim": 0},
        {"top": 11},
        {"references": [CHARTED] * 11},
        {"references": []},
        {"mode": "x"},
        {"colour": "red"},
    ]
    for bad in refused:
        assert_error(post(**bad), 422, "RequestValidationError")
    assert_error(post(judge=True), 503, "LLMNotConfigured", "--llm-url")


def test_chart_with_judge_asks_the_configured_llm(spare_index: Path, minilm_encoder: Any) -> None:
    from patent_rag.llm import ChatClient
    from tests.server_support import LLMScript, StubLLM

    verdict = json.dumps({"verdict": "does not disclose", "reason": "It describes a different circuit."})
    script = LLMScript(reply=lambda message: [verdict])
    with (
        StubLLM(script) as stub,
        ChatClient(base_url=stub.url, model="stub") as llm,
        spare_service(spare_index, minilm_encoder) as service,
        TestClient(create_app(service=service, llm=llm)) as test_client,
    ):
        request = {"publication_number": CHARTED, "references": [FULL_TEXT_PATENT], "judge": True}
        body = test_client.post("/api/chart", json=request).json()
        plain = test_client.post("/api/chart", json={**request, "judge": False}).json()
    judged = [cell for cell in body["cells"] if cell["judgement"] is not None]
    assert len(judged) == len(body["cells"]) == len(script.requests)
    assert all(cell["judgement"]["kind"] == "model judgement" for cell in judged)
    assert all(cell["judgement"]["verdict"] == "does not disclose" for cell in judged)
    for with_judgement, without in zip(body["cells"], plain["cells"], strict=True):
        assert {**with_judgement, "judgement": None} == without  # the passages are what retrieval found
