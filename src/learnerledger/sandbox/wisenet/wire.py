"""Wisenet's wire format as the sandbox speaks it: timestamps, JSON bodies and error shapes.

Timestamps go out as ``YYYY-MM-DDTHH:MM:SS`` (``.fff`` added when the milliseconds are not
zero) with no offset, for instants in UTC (contract §1.9). Errors use the shapes of contract
§1.10: ``{"Message", "Errors"}`` for 400 and 404, the gateway's ``{"message"}`` for 403/429.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.responses import Response

__all__ = [
    "ApiError",
    "bad_request",
    "format_ts",
    "json_response",
    "not_found",
    "parse_ts",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


def format_ts(ms: int) -> str:
    moment = _EPOCH + timedelta(milliseconds=ms)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return text + f".{ms % 1000:03d}" if ms % 1000 else text


def parse_ts(text: str) -> int:
    """Milliseconds since the epoch of a Wisenet timestamp (no offset means UTC).

    Raises ``ValueError`` with a message fit for a 400."""
    match = _TS.match(text.strip())
    if not match:
        raise ValueError(f"'{text}' is not a date-time; write YYYY-MM-DDTHH:MM:SS[.fff].")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")[:6]),
            tzinfo=UTC,
        )
    except ValueError:
        raise ValueError(f"'{text}' is not a date in the calendar.") from None
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Money is kept exactly; amounts have at most 15 significant digits, so the float's
        # shortest representation is the same decimal text.
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any) -> bytes:
    return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        dumps(value),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers=headers,
    )


class ApiError(Exception):
    """Raised inside a handler; the API layer answers with ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def bad_request(message: str, errors: dict[str, list[str]] | None = None) -> ApiError:
    body: dict[str, Any] = {"Message": message}
    if errors:
        body["Errors"] = errors
    return ApiError(json_response(body, 400))


def not_found(what: str) -> ApiError:
    return ApiError(json_response({"Message": f"{what} not found"}, 404))
