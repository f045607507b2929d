"""The sandbox's own rendering of Xero's wire format (it shares no code with the client)."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.responses import Response

__all__ = [
    "JSON_MEDIA_TYPE",
    "date_ms",
    "date_of_ms",
    "date_string",
    "day_fields",
    "envelope",
    "from_json",
    "iso_utc",
    "iso_z",
    "json_response",
    "ms_date",
    "ms_date_plain",
    "parse_guid",
    "parse_http_datetime",
    "to_json",
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


def iso_z(ms: int) -> str:
    """``2019-11-14T18:10:38Z``: the ``UpdatedDateUTCString`` of documents and payments."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_EPOCH = date(1970, 1, 1)


def date_ms(day: date) -> int:
    """A calendar date as Xero sends it: milliseconds of that day's midnight UTC."""
    return (day - _EPOCH).days * 86_400_000


def date_of_ms(ms: int) -> date:
    return _EPOCH + timedelta(days=ms // 86_400_000)


def date_string(ms: int) -> str:
    """``2019-03-05T00:00:00``: the ``DateString`` beside a document's ``Date``."""
    return date_of_ms(ms).isoformat() + "T00:00:00"


def day_fields(name: str, day: date) -> dict[str, str]:
    """A calendar date as Xero writes it in a record: ``{name}String`` and ``{name}``, e.g.
    ``"DateString": "2026-12-01T00:00:00", "Date": "/Date(1796083200000+0000)/"``."""
    ms = date_ms(day)
    return {f"{name}String": date_string(ms), name: ms_date(ms)}


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


# Money is Decimal and must reach the wire as a JSON number written exactly as the Decimal is
# (``12.30``, not ``12.3`` and never via float). The json module cannot write a number token
# for an object it does not know, so a Decimal is first written as a marked string and the
# marks are then removed with their quotes. The mark holds a private-use character and a
# per-process random part, so no text a client stored can look like one.
_NUMBER_MARK = "\ue000" + secrets.token_hex(8) + ":"
_MARKED_NUMBER = re.compile('"' + re.escape(_NUMBER_MARK) + r'(-?[0-9]+(?:\.[0-9]+)?)"')


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite():
        return _NUMBER_MARK + format(value, "f")
    return str(value)


def to_json(value: Any) -> str:
    """Compact JSON in which every Decimal is a number token with its own digits."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    if _NUMBER_MARK in text:
        text = _MARKED_NUMBER.sub(r"\1", text)
    return text


def from_json(text: str | bytes) -> Any:
    """The reverse of ``to_json``: numbers with a fraction come back as Decimal."""
    return json.loads(text, parse_float=Decimal)


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    content = to_json(body)
    return Response(content, status_code=status_code, headers=headers, media_type=JSON_MEDIA_TYPE)
