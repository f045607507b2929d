"""What every endpoint of the Accounting API is written against: the call as a handler sees it,
how an endpoint is declared, and the readers of Xero's query parameters and paging that the
contact endpoints (``api.py``) and the document endpoints (``document_api.py``) share."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from learnerledger.sandbox.xero.errors import QUERY_PARSE, ApiError, api_exception
from learnerledger.sandbox.xero.store import App, SandboxStore
from learnerledger.sandbox.xero.wire import envelope, parse_guid, parse_http_datetime

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "Call",
    "Endpoint",
    "Handler",
    "guid_list_param",
    "int_param",
    "modified_since",
    "page_params",
    "pagination",
]

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100


@dataclass
class Call:
    """One authenticated, rate-counted API call, as the endpoint handlers see it."""

    method: str
    app: App
    tenant_id: str
    params: dict[str, str]  # query parameters, names lower-cased (Xero ignores their case)
    headers: dict[str, str]
    body: bytes
    path_args: tuple[str, ...]
    now_ms: int
    store: SandboxStore

    def flag(self, name: str) -> bool:
        return self.params.get(name.lower(), "").strip().lower() == "true"

    @property
    def summarize_errors(self) -> bool:
        """``summarizeErrors``: true unless sent as false (Xero's effective default)."""
        return self.params.get("summarizeerrors", "true").strip().lower() != "false"

    def envelope(self, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        return envelope(key, items, now_ms=self.now_ms, provider=self.app.name)


Handler = Callable[[Call], Response]


@dataclass(frozen=True)
class Endpoint:
    """One endpoint: ``path`` is a regular expression under ``/api.xro/2.0`` (its groups are
    the call's ``path_args``); ``scopes`` are those of which the token needs one."""

    method: str
    path: str
    handler: Handler
    scopes: tuple[str, ...]


def int_param(call: Call, name: str) -> int | None:
    """An integer query parameter; like .NET's Int32, it refuses what does not fit 32 bits."""
    raw = call.params.get(name.lower())
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not -(2**31) <= value < 2**31:
        raise ApiError(api_exception(QUERY_PARSE, f"The value '{raw}' is not valid for {name}."))
    return value


def modified_since(call: Call) -> int | None:
    raw = call.headers.get("if-modified-since")
    # An unreadable date is ignored, as HTTP says a server should.
    return parse_http_datetime(raw) if raw else None


def pagination(page: int, page_size: int, total: int) -> dict[str, int]:
    return {
        "page": page,
        "pageSize": page_size,
        "pageCount": math.ceil(total / page_size) if total else 0,
        "itemCount": total,
    }


def page_params(call: Call) -> tuple[int | None, int]:
    """``page`` (None when the call is unpaged) and the page size: ``pageSize`` up to 1,000 on
    paged calls, 100 otherwise."""
    page = int_param(call, "page")
    if page is not None and page < 1:
        page = 1
    asked_size = int_param(call, "pageSize")
    page_size = DEFAULT_PAGE_SIZE if asked_size is None else asked_size
    if page_size < 1:
        raise ApiError(api_exception(QUERY_PARSE, "pageSize must be a number greater than 0."))
    return page, min(page_size, MAX_PAGE_SIZE) if page is not None else DEFAULT_PAGE_SIZE


def guid_list_param(call: Call, name: str) -> list[str] | None:
    """A comma-separated list of GUIDs (``IDs``, ``ContactIDs``), or None when not sent."""
    if not call.params.get(name.lower()):
        return None
    ids = []
    for raw in call.params[name.lower()].split(","):
        guid = parse_guid(raw)
        if guid is None:
            raise ApiError(api_exception(QUERY_PARSE, f"'{raw.strip()}' is not a valid GUID."))
        ids.append(guid)
    return ids
