"""The HTTP API: a FastAPI app over one :class:`~patent_rag.search.service.PatentService`.

:func:`create_app` builds the app; ``patent-rag serve`` runs it with uvicorn, and a user can mount
it in their own service. Every endpoint translates a request into one service call and the
service's result into JSON: the search itself lives in the core. Endpoints are plain ``def``
functions, so FastAPI runs them in its thread pool; the service is safe to call from several
threads at once.

Routes (OpenAPI at ``/openapi.json``): ``GET /health``, ``GET /api/info``, ``POST /api/search``,
``POST /api/prior-art``, ``POST /api/chart`` (a claim chart; ``"judge": true`` adds the
configured LLM's opinion of each cell), ``GET /api/patents/{publication_number}``, ``POST /api/ask``
(a ``text/event-stream``, see :mod:`.ask`), and the chat page at ``/``.

Example:
    >>> app = create_app(index="my-index")  # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from patent_rag.charts import ClaimChart, judge_chart
from patent_rag.charts.judge import DEFAULT_MAX_CELLS
from patent_rag.errors import ConfigurationError, PatentRagError, StoreError
from patent_rag.llm import ChatClient
from patent_rag.search.options import SearchOptions
from patent_rag.search.patents import MAX_PASSAGES, PatentRecord
from patent_rag.search.requests import ChartRequest, PriorArtRequest, SearchRequest
from patent_rag.search.service import IndexSummary, PatentService, SearchResult
from patent_rag.server.ask import AskRequest, answer_events, retrieve
from patent_rag.server.errors import ErrorResponse, error_status, install_error_handlers
from patent_rag.server.limits import BodyLimit

__all__ = ["MAX_BODY_BYTES", "STATIC_DIR", "ChartBody", "Health", "InfoResponse", "create_app"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # the longest request (an 8,000-character query with filters) is far smaller
STATIC_DIR = Path(__file__).parent / "static"
_MAX_START = 100_000

_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "The index was built with another embedding model."},
    422: {"model": ErrorResponse, "description": "A bad filter, date or argument."},
    503: {"model": ErrorResponse, "description": "The index is not open or its backend is unavailable."},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "The patent is not in the index."}
}


class Health(BaseModel):
    """Whether the server can answer searches."""

    status: str = Field(description="ok, or unavailable when the index is not open.")
    index_open: bool
    detail: str | None = Field(default=None, description="Why the index is not open.")


class InfoResponse(IndexSummary):
    """The index's size, model and search defaults, and whether ``/api/ask`` can answer."""

    ask: bool = Field(description="An LLM is configured: POST /api/ask answers questions.")


class ChartBody(ChartRequest):
    """A claim chart request; ``judge`` also asks the server's LLM about each cell."""

    judge: bool = Field(
        default=False,
        description="Have the server's LLM judge whether each passage discloses its element (labelled "
        "model judgement, next to the passage; one LLM request per cell, found cells first, at most "
        f"{DEFAULT_MAX_CELLS}). 503 when the server has no LLM.",
    )


def _no_llm() -> JSONResponse:
    return JSONResponse(
        {
            "detail": "no LLM is configured; start the server with --llm-url and --llm-model",
            "error": "LLMNotConfigured",
        },
        status_code=503,
    )


class _State:
    """What the endpoints share: the service (None until the lifespan opens it) and the LLM."""

    def __init__(self, *, service: PatentService | None, llm: ChatClient | None) -> None:
        self.service = service
        self.llm = llm
        self.failure: PatentRagError | None = None  # why the index could not be opened at start-up

    def unavailable(self) -> PatentRagError:
        """The error a request gets while the index is not open."""
        failure = self.failure
        if failure is None:
            return StoreError(
                "the index is not open; the app opens it at start-up (a mounted app's lifespan does not "
                "run: pass service= to create_app, or run the app's lifespan from the parent's)"
            )
        message = f"the index could not be opened at start-up: {failure}"
        # A request cannot fix a bad start-up configuration: answer 409 or 503, never 422.
        if error_status(failure) in (409, 503) and type(failure).__init__ is Exception.__init__:
            return type(failure)(message)
        return StoreError(message)


def _state(request: Request) -> _State:
    state: _State = request.app.state.patent_rag
    return state


def _service(state: Annotated[_State, Depends(_state)]) -> PatentService:
    service = state.service
    if service is None or not service.is_open:
        raise state.unavailable()
    return service


_OpenService = Annotated[PatentService, Depends(_service)]


def create_app(
    *,
    index: str | None = None,
    service: PatentService | None = None,
    model: str | None = None,
    model_path: Path | None = None,
    index_api_key_env: str | None = None,
    llm: ChatClient | None = None,
    options: SearchOptions | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The patent search API over ``index`` (opened at start-up) or an open ``service``.

    Args:
        index: an index location (directory, ``qdrant-local:PATH`` or ``http(s)://`` URL); the app's
            lifespan opens it once, warmed, and closes it at shutdown. If it cannot be opened (locked,
            built with another model ...) the app still starts, logs why, and answers every request
            with that error (``/health``: 503).
        service: an open service instead; its owner closes it.
        model, model_path, index_api_key_env, options: how to open ``index`` (see
            :meth:`PatentService.open`).
        llm: the chat client ``/api/ask`` answers with (None: ``/api/ask`` answers 503).
        max_body_bytes: larger request bodies are refused with 413 unread.

    Raises:
        ConfigurationError: not exactly one of ``index`` and ``service``; opening arguments with a
            ``service``.

    Example:
        >>> from fastapi.testclient import TestClient
        >>> with TestClient(create_app(index="my-index")) as client:  # doctest: +SKIP
        ...     client.post("/api/search", json={"query": "ring oscillator", "top_k": 3}).json()["hits"]
    """
    if (index is None) == (service is None):
        raise ConfigurationError("create_app needs exactly one of index= (a location) or service=")
    if service is not None and (model or model_path or index_api_key_env or options):
        raise ConfigurationError(
            "model, model_path, index_api_key_env and options say how to open index=; "
            "a service is already open"
        )
    state = _State(service=service, llm=llm)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if index is None:
            yield
            return
        try:
            opened = await asyncio.to_thread(
                PatentService.open,
                index,
                model=model,
                model_path=model_path,
                index_api_key_env=index_api_key_env,
                options=options,
            )
        except PatentRagError as error:
            # The app stays up and says why: /health answers 503, other requests the error's status.
            logger.error("cannot open %s: %s", index, error)
            state.failure = error
            yield
            return
        state.service = opened
        logger.info("serving %s", index)
        try:
            yield
        finally:
            state.service = None
            await asyncio.to_thread(opened.close)

    app = FastAPI(
        title="patent_rag",
        summary="Patent search, prior art and answers with citations over a patent_rag index.",
        version=_version(),
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.state.patent_rag = state
    install_error_handlers(app)
    _routes(app)
    _page(app)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("patent-rag")
    except PackageNotFoundError:
        return "0"


def _routes(app: FastAPI) -> None:
    @app.get(
        "/health",
        response_model=Health,
        response_model_exclude_none=True,
        responses={503: {"model": Health}},
        tags=["meta"],
    )
    def health(state: Annotated[_State, Depends(_state)]) -> Any:
        """Whether the index is open."""
        if state.service is not None and state.service.is_open:
            return Health(status="ok", index_open=True)
        body = Health(status="unavailable", index_open=False, detail=str(state.unavailable()))
        return JSONResponse(body.model_dump(), status_code=503)

    @app.get("/api/info", response_model=InfoResponse, responses=_ERRORS, tags=["meta"])
    def info(service: _OpenService, state: Annotated[_State, Depends(_state)]) -> InfoResponse:
        """The index's size, embedding model and search defaults, and whether ask is available."""
        summary = service.info()
        return InfoResponse(**summary.model_dump(), ask=state.llm is not None)

    @app.post("/api/search", response_model=SearchResult, responses=_ERRORS, tags=["search"])
    def search(request: SearchRequest, service: _OpenService) -> SearchResult:
        """Patents ranked for free text (a question, a claim, a description of the invention)."""
        return service.search(request)

    @app.post(
        "/api/prior-art", response_model=SearchResult, responses={**_ERRORS, **_NOT_FOUND}, tags=["search"]
    )
    def prior_art(request: PriorArtRequest, service: _OpenService) -> SearchResult:
        """Prior art for a patent of the index: cut off at its priority date, its family excluded."""
        return service.prior_art(request)

    @app.post(
        "/api/chart",
        response_model=ClaimChart,
        responses={
            **_ERRORS,
            404: {"model": ErrorResponse, "description": "The patent or a reference is not in the index."},
            422: {
                "model": ErrorResponse,
                "description": "A bad argument, or a claim the patent does not have.",
            },
            502: {"model": ErrorResponse, "description": "The LLM failed (judge: true)."},
        },
        tags=["search"],
    )
    def chart(request: ChartBody, service: _OpenService, state: Annotated[_State, Depends(_state)]) -> Any:
        """A claim charted element by element: each element's best passage in each reference (the
        numbers given, else the patent's top prior art), with its location and score, found or not.

        With ``"judge": true`` the server's LLM adds its opinion of each cell, labelled model
        judgement; the passages stay what retrieval found. 503 when no LLM is configured.
        """
        llm = state.llm
        if request.judge and llm is None:
            return _no_llm()
        result = service.chart(ChartRequest(**request.model_dump(exclude={"judge"})))
        return judge_chart(result, llm) if request.judge and llm is not None else result

    @app.get(
        "/api/patents/{publication_number}",
        response_model=PatentRecord,
        responses={**_ERRORS, **_NOT_FOUND},
        tags=["patents"],
    )
    def patent(
        service: _OpenService,
        publication_number: Annotated[
            str, PathParam(min_length=3, max_length=32, description="e.g. US8089324B2 or US8089324.")
        ],
        passages: Annotated[
            int, Query(ge=0, le=MAX_PASSAGES, description="Description passages to return.")
        ] = 0,
        start: Annotated[int, Query(ge=0, le=_MAX_START, description="First passage to return.")] = 0,
    ) -> PatentRecord:
        """A patent's bibliography, abstract and claims, and a page of its description passages."""
        return service.patent(publication_number, passages=passages, start=start)

    @app.post(
        "/api/ask",
        response_class=StreamingResponse,
        responses={
            200: {
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
                "description": "Server-sent events: hits, then token*, then done (or error).",
            },
            **_ERRORS,
            502: {"model": ErrorResponse, "description": "The LLM failed."},
        },
        tags=["ask"],
    )
    def ask(request: AskRequest, service: _OpenService, state: Annotated[_State, Depends(_state)]) -> Any:
        """Answer a question from the retrieved patents, citing them like ``[US8613112B2]``; streamed.

        Events: ``hits`` (the retrieved patents with their evidence), ``token`` (answer text as
        the LLM writes it), ``done`` (the answer with its citations checked against the hits:
        invented ones removed and listed as unresolved), or ``error``. 503 when no LLM is configured.
        """
        if state.llm is None:
            return _no_llm()
        hits = retrieve(service, request)
        return StreamingResponse(
            answer_events(state.llm, request.question, hits),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def _page(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        index_html = STATIC_DIR / "index.html"
        if not index_html.is_file():
            raise HTTPException(status_code=404, detail="the chat page is not installed with this package")
        return FileResponse(index_html, media_type="text/html")

    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
