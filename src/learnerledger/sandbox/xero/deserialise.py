"""Reading write requests as Xero's .NET deserialiser does, before any business rule runs.

Xero binds a request body to typed objects with Newtonsoft.Json. A value of the wrong type fails
the whole request with ``PostDataInvalidException`` and Newtonsoft's own message, naming the path
of the value (``Invoices[1].LineItems[0].Quantity``); nothing of the request is saved. These
helpers give the sandbox's endpoints the same first phase. Text accepts numbers and booleans (.NET
converts them), numbers accept numeric text, enums match case-insensitively.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from learnerledger.sandbox.xero.errors import ApiError, post_data_invalid
from learnerledger.sandbox.xero.wire import from_json, parse_guid, to_json

__all__ = [
    "as_bool",
    "as_date",
    "as_decimal",
    "as_enum",
    "as_guid",
    "as_list",
    "as_object",
    "as_text",
    "load_body",
    "type_error",
]

# System.Decimal's range: larger values fail deserialisation in .NET.
_DECIMAL_MAX = Decimal("79228162514264337593543950335")
_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")


def type_error(value: Any, type_name: str, path: str) -> ApiError:
    if isinstance(value, dict | list):
        char = "{" if isinstance(value, dict) else "["
        return post_data_invalid(
            f"Unexpected character encountered while parsing value: {char}. Path '{path}'."
        )
    return post_data_invalid(
        f"Error converting value {to_json(value)} to type '{type_name}'. Path '{path}'."
    )


def as_text(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"  # .NET's rendering of a boolean as text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")
    raise type_error(value, "System.String", path)


def as_bool(value: Any, path: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        raise post_data_invalid(f"Could not convert string to boolean: {value}. Path '{path}'.")
    raise type_error(value, "System.Boolean", path)


def as_enum(value: Any, allowed: tuple[str, ...], type_name: str, path: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        for option in allowed:
            if option.lower() == value.strip().lower():
                return option
    raise type_error(value, type_name, path)


def as_guid(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        guid = parse_guid(value)
        if guid is not None:
            return guid
    raise type_error(value, "System.Guid", path)


def as_list(value: Any, item_type: str, path: str) -> list[Any] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return value
    kind = "object" if isinstance(value, dict) else "value"
    raise post_data_invalid(
        f"Cannot deserialize the current JSON {kind} into type 'List<{item_type}>' because the "
        f"type requires a JSON array to deserialize correctly. Path '{path}'."
    )


def as_object(value: Any, type_name: str, path: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        raise post_data_invalid(
            f"Cannot deserialize the current JSON array into type '{type_name}' because the "
            f"type requires a JSON object to deserialize correctly. Path '{path}'."
        )
    raise type_error(value, type_name, path)


def as_decimal(value: Any, path: str) -> Decimal | None:
    """A number (or numeric text) as Decimal, exactly as written in the request."""
    if value is None:
        return None
    number: Decimal | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str):
        if not value.strip():
            return None
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise post_data_invalid(
                f"Could not convert string to decimal: {value}. Path '{path}'."
            ) from None
    if number is None or not number.is_finite():
        raise type_error(value, "System.Decimal", path)
    if abs(number) > _DECIMAL_MAX:
        raise post_data_invalid(
            f"Value was either too large or too small for a Decimal. Path '{path}'."
        )
    return number


def as_date(value: Any, path: str) -> date | None:
    """A calendar date: ``YYYY-MM-DD``, an ISO date-time (its date part) or ``/Date(ms)/``
    (the form the official SDKs send; an offset, when given, says whose midnight it is)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        iso = _ISO_DATE.match(text)
        try:
            if iso:
                return date(int(iso[1]), int(iso[2]), int(iso[3]))
            ms = _MS_DATE.match(text)
            if ms:
                moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(ms[1]))
                if ms[2]:
                    sign = 1 if ms[2][0] == "+" else -1
                    moment += sign * timedelta(hours=int(ms[2][1:3]), minutes=int(ms[2][3:5]))
                return moment.date()
        except (ValueError, OverflowError):
            pass
        raise post_data_invalid(f"Could not convert string to DateTime: {value}. Path '{path}'.")
    raise type_error(value, "System.DateTime", path)


def load_body(body: bytes, no_data: str) -> Any:
    """The JSON of a write request (numbers with a fraction as Decimal), or Xero's
    ``PostDataInvalidException`` for an empty or malformed body."""
    if not body.strip():
        raise post_data_invalid(no_data)
    try:
        return from_json(body)
    except UnicodeDecodeError:
        raise post_data_invalid("The request body is not valid UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        char = exc.doc[exc.pos] if 0 <= exc.pos < len(exc.doc) else "<end>"
        raise post_data_invalid(
            f"Unexpected character encountered while parsing value: "
            f"{char}. Path '', line {exc.lineno}, position {exc.colno}."
        ) from None
    except RecursionError:
        raise post_data_invalid("The request body is nested too deeply.") from None
