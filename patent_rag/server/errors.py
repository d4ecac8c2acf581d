"""patent_rag's error tree as HTTP statuses: JSON ``{"detail": ..., "error": ...}``, never a traceback.

Each :class:`~patent_rag.errors.PatentRagError` maps to one status (:func:`error_status`); its message
was written for users, so it is the ``detail``. Anything else that escapes an endpoint is a bug: the
client gets ``500 {"detail": "internal error"}`` and the traceback goes to the log only.

Example:
    >>> from patent_rag.errors import PatentNotFoundError
    >>> error_status(PatentNotFoundError("US1B2 is not in the index"))
    404
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from patent_rag.errors import (
    ConfigurationError,
    EncodingError,
    FingerprintMismatchError,
    LLMError,
    ModelUnavailableError,
    PatentNotFoundError,
    PatentRagError,
    StoreError,
)

__all__ = ["ErrorResponse", "error_body", "error_status", "install_error_handlers"]

logger = logging.getLogger(__name__)

# Most specific first: PatentNotFoundError is a ConfigurationError.
_STATUSES: tuple[tuple[type[PatentRagError], int], ...] = (
    (PatentNotFoundError, 404),
    (ConfigurationError, 422),
    (EncodingError, 422),
    (FingerprintMismatchError, 409),
    (StoreError, 503),
    (ModelUnavailableError, 503),
    (LLMError, 502),
)


class ErrorResponse(BaseModel):
    """What every failed request answers."""

    detail: str = Field(description="What went wrong, and what would work.")
    error: str = Field(description="The error's class, e.g. PatentNotFoundError.")


def error_status(error: PatentRagError) -> int:
    """The HTTP status of a patent_rag error (500 for one no client can cause)."""
    for kind, status in _STATUSES:
        if isinstance(error, kind):
            return status
    return 500


def error_body(error: PatentRagError) -> dict[str, str]:
    """The JSON body of a patent_rag error; an unexpected one says only ``internal error``."""
    if error_status(error) == 500:
        return {"detail": "internal error", "error": "InternalError"}
    return {"detail": str(error), "error": type(error).__name__}


# Names that do not follow the running Python's HTTPStatus phrases (413 changed name in 3.13).
_NAMES = {404: "NotFound", 405: "MethodNotAllowed", 413: "ContentTooLarge"}


def _status_name(status: int) -> str:
    if status in _NAMES:
        return _NAMES[status]
    try:
        return HTTPStatus(status).phrase.title().replace(" ", "").replace("-", "")
    except ValueError:
        return "HTTPError"


async def _patent_rag_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, PatentRagError):  # pragma: no cover - registered for PatentRagError only
        raise exc
    status = error_status(exc)
    if status == 500:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body(exc), status_code=status)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for HTTPException only
        raise exc
    detail = exc.detail if isinstance(exc.detail, str) else _status_name(exc.status_code)
    return JSONResponse(
        {"detail": detail, "error": _status_name(exc.status_code)},
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover
        raise exc
    # FastAPI's own shape (a list of field errors), named like every other error.
    return JSONResponse(
        {"detail": jsonable_encoder(exc.errors()), "error": "RequestValidationError"}, status_code=422
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error", "error": "InternalError"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as JSON with the right status."""
    app.add_exception_handler(PatentRagError, _patent_rag_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
