"""Validation of recorded sandbox responses against Xero's OpenAPI description.

The Xero sandbox app is wrapped in ``Recorder`` (an ASGI middleware) for every test, so every
response the suite provokes, whichever client made the call, is checked when the test ends.
Responses whose status code the description does not define (401, 403, 404, 406, 429) have no
schema to check against and are counted as skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC = Path(__file__).with_name("xero-openapi") / "xero_accounting.yaml"
API_PREFIX = "/api.xro/2.0"


@cache
def spec() -> OpenAPI:
    # The published description does not pass strict spec validation (e.g. string defaults on
    # booleans), so only the responses are validated, not the document itself.
    return OpenAPI.from_file_path(str(SPEC), config=Config(spec_validator_cls=None))


@dataclass
class Exchange:
    method: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: bytes = b""
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class _Request:
    def __init__(self, ex: Exchange) -> None:
        self.host_url = "https://api.xero.com"
        self.path = ex.path
        self.full_url_pattern = self.host_url + ex.path
        self.method = ex.method.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(ex.query)), header=Headers(ex.request_headers)
        )
        self.content_type = "application/json"
        self.body = b""


class _Response:
    def __init__(self, ex: Exchange) -> None:
        self.status_code = ex.status
        self.content_type = ex.response_headers.get("content-type", "").split(";")[0]
        self.headers = Headers(ex.response_headers)
        self.data = ex.body


def validate(ex: Exchange) -> str | None:
    """None when valid or not checkable; otherwise what is wrong."""
    if not ex.path.startswith(API_PREFIX) or "x-sandbox-fault" in ex.response_headers:
        return None  # injected faults break the contract on purpose
    try:
        spec().validate_response(_Request(ex), _Response(ex))
    except (ResponseNotFound, PathNotFound, OperationNotFound):
        return None
    except Exception as exc:  # openapi-core raises several validation error types
        detail = getattr(exc, "__cause__", None) or exc
        return f"{ex.method} {ex.path}?{ex.query} -> {ex.status}: {detail}"
    return None


class Recorder:
    """ASGI middleware that keeps every exchange with the wrapped app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.exchanges: list[Exchange] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ex = Exchange(
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            request_headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
        )
        self.exchanges.append(ex)

        async def recording_receive() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                ex.request_body += message.get("body", b"")
            return message

        async def recording_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                ex.status = message["status"]
                ex.response_headers = {
                    k.decode("latin-1").lower(): v.decode("latin-1")
                    for k, v in message.get("headers", [])
                }
            elif message["type"] == "http.response.body":
                ex.body += message.get("body", b"")
            await send(message)

        await self.app(scope, recording_receive, recording_send)

    def api_exchanges(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.path.startswith(API_PREFIX)]

    def check(self) -> list[str]:
        problems = [p for p in (validate(e) for e in self.exchanges) if p]
        for ex in self.api_exchanges():
            if ex.status >= 500 and "x-sandbox-fault" not in ex.response_headers:
                problems.append(f"{ex.method} {ex.path} answered {ex.status}: {ex.body[:300]!r}")
            if ex.response_headers.get("content-type", "").startswith("application/json"):
                json.loads(ex.body)  # every JSON answer parses
        return problems
