"""Xero's error responses, with its status codes, envelopes and message texts.

Accounting API errors use the ``ApiException`` shape (``ErrorNumber``, ``Type``, ``Message``,
``Elements``); the identity layer answers 401/403 with a problem-details object; a missing
resource is a plain-text 404, as Xero really sends it.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import PlainTextResponse, Response

from learnerledger.sandbox.xero.wire import json_response

__all__ = [
    "NOT_FOUND_TEXT",
    "ApiError",
    "api_exception",
    "forbidden",
    "not_found",
    "post_data_invalid",
    "query_parse",
    "unauthorized",
    "validation_exception",
]

NOT_FOUND_TEXT = "The resource you're looking for cannot be found"

# ErrorNumber and Type pairs as the Accounting API reports them.
VALIDATION = (10, "ValidationException")
POST_DATA_INVALID = (14, "PostDataInvalidException")
QUERY_PARSE = (16, "QueryParseException")


class ApiError(Exception):
    """Raised inside a handler; turned into ``response`` by the API layer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def api_exception(kind: tuple[int, str], message: str, status: int = 400) -> Response:
    number, type_ = kind
    return json_response({"ErrorNumber": number, "Type": type_, "Message": message}, status)


def validation_exception(elements: list[dict[str, Any]]) -> Response:
    number, type_ = VALIDATION
    body = {
        "ErrorNumber": number,
        "Type": type_,
        "Message": "A validation exception occurred",
        "Elements": elements,
    }
    return json_response(body, 400)


def post_data_invalid(message: str) -> ApiError:
    return ApiError(api_exception(POST_DATA_INVALID, message))


def query_parse(message: str) -> ApiError:
    return ApiError(api_exception(QUERY_PARSE, message))


def not_found() -> Response:
    return PlainTextResponse(NOT_FOUND_TEXT, status_code=404)


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }


def unauthorized(detail: str = "AuthenticationUnsuccessful") -> Response:
    return json_response(
        _problem(401, "Unauthorized", detail), 401, headers={"WWW-Authenticate": "Bearer"}
    )


def forbidden(detail: str = "AuthenticationUnsuccessful") -> Response:
    return json_response(_problem(403, "Forbidden", detail), 403)
