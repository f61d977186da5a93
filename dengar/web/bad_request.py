"""A query parameter out of range or of the wrong kind is the caller's
mistake: 400 with what is wrong, never a 500 or a bare validation dump.

Numeric query parameters are bounded where they are declared
(``Query(ge=…, le=…)``), so a value no database can take
(``?page=9223372036854775807``) never reaches the query; this module turns
FastAPI's validation error for the query string into the answer: JSON for
``/api/``, the dashboard's error page (in Indonesian) otherwise. Errors in a
JSON request body keep FastAPI's documented 422.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates

# the largest page number or offset any list takes: far beyond any real
# list, and (page - 1) * page size stays far inside a 64-bit integer
MAX_PAGE = 1_000_000
MAX_OFFSET = 100_000_000


def _query_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors: Sequence[Any] = exc.errors()
    return [
        e
        for e in errors
        if isinstance(e, dict) and tuple(e.get("loc", ()))[:1] in {("query",)}
    ]


def _name(error: dict[str, Any]) -> str:
    loc = tuple(error.get("loc", ()))
    return str(loc[1]) if len(loc) > 1 else "?"


def describe(error: dict[str, Any]) -> str:
    """One query parameter's problem, in English (API and logs)."""
    name, kind = _name(error), error.get("type", "")
    bounds = error.get("ctx") or {}
    if kind == "int_parsing":
        return f"query parameter {name!r} must be a whole number"
    if kind in {"greater_than_equal", "greater_than"}:
        return f"query parameter {name!r} must be at least {bounds.get('ge', '?')}"
    if kind in {"less_than_equal", "less_than"}:
        return f"query parameter {name!r} must be at most {bounds.get('le', '?')}"
    return f"query parameter {name!r}: {error.get('msg', 'invalid')}"


def describe_id(error: dict[str, Any]) -> str:
    """The same problem, in Indonesian for the dashboard."""
    name, kind = _name(error), error.get("type", "")
    bounds = error.get("ctx") or {}
    if kind == "int_parsing":
        return f"Parameter '{name}' harus berupa bilangan bulat."
    if kind in {"greater_than_equal", "greater_than"}:
        return f"Parameter '{name}' paling kecil {bounds.get('ge', '?')}."
    if kind in {"less_than_equal", "less_than"}:
        return f"Parameter '{name}' paling besar {bounds.get('le', '?')}."
    return f"Parameter '{name}' tidak valid."


def handler(templates: Jinja2Templates) -> Any:
    """The ``RequestValidationError`` handler for the application."""

    async def invalid_request(
        request: Request, exc: RequestValidationError
    ) -> Response:
        query = _query_errors(exc)
        if not query:  # a body or a form: FastAPI's 422 with its details
            return await request_validation_exception_handler(request, exc)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "; ".join(describe(e) for e in query)}, 400)
        message = " ".join(describe_id(e) for e in query)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": 400, "message": message, "user": None},
            status_code=400,
        )

    return invalid_request
