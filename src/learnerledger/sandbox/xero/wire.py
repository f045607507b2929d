"""The sandbox's own rendering of Xero's wire format (it shares no code with the client)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

__all__ = [
    "JSON_MEDIA_TYPE",
    "envelope",
    "iso_utc",
    "json_response",
    "ms_date",
    "ms_date_plain",
    "parse_guid",
    "parse_http_datetime",
]

JSON_MEDIA_TYPE = "application/json; charset=utf-8"
_GUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)


def ms_date(ms: int) -> str:
    """``/Date(1551399321043+0000)/``, the form Xero uses for UpdatedDateUTC."""
    return f"/Date({ms}+0000)/"


def ms_date_plain(ms: int) -> str:
    """``/Date(1551399321121)/``, the form of the envelope's DateTimeUTC."""
    return f"/Date({ms})/"


def iso_utc(ms: int) -> str:
    """``2019-07-09T23:40:30.1833130``: the identity service's dates (no zone, 7 decimals)."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}0"


def parse_guid(text: str) -> str | None:
    """The canonical lower-case form of a GUID, or None when ``text`` is not one."""
    if not isinstance(text, str) or not _GUID.match(text.strip()):
        return None
    return str(uuid.UUID(text.strip()))


def parse_http_datetime(text: str) -> int | None:
    """Milliseconds for an ``If-Modified-Since`` value: ISO 8601 (Xero's form) or an HTTP date."""
    from email.utils import parsedate_to_datetime

    value = text.strip()
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            dt = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # Xero reads a zoneless timestamp as UTC
    return int(dt.timestamp() * 1000)


def envelope(
    key: str, items: list[dict[str, Any]], *, now_ms: int, provider: str
) -> dict[str, Any]:
    return {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": provider,
        "DateTimeUTC": ms_date_plain(now_ms),
        key: items,
    }


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
    return Response(content, status_code=status_code, headers=headers, media_type=JSON_MEDIA_TYPE)
