"""Xero's wire format, read and written in one place.

* Dates: ``/Date(1419937200000+0000)/`` is epoch **milliseconds** (UTC) plus the offset Xero
  displayed it in; negative epochs (before 1970) occur in old records. They become timezone-aware
  ``datetime`` values and back, exact to the millisecond.
* Money: JSON numbers are read as ``Decimal`` (never ``float``) and written back digit for digit.
* Records: :func:`parse_contact` and :func:`parse_document` turn one JSON object into a typed
  record, tolerating fields they do not know and raising :class:`WireError` for a record that
  cannot be used, so that one bad record is reported without failing the page it came on.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

__all__ = [
    "DOCUMENT_KINDS",
    "Contact",
    "Document",
    "DocumentKind",
    "WireError",
    "dumps",
    "format_date",
    "from_ms",
    "loads",
    "modified_since_header",
    "parse_contact",
    "parse_date",
    "parse_day",
    "parse_document",
    "parse_guid",
    "parse_money",
    "to_ms",
]

DocumentKind = Literal["invoice", "credit_note", "payment", "prepayment", "overpayment"]
DOCUMENT_KINDS: tuple[DocumentKind, ...] = (
    "invoice",
    "credit_note",
    "payment",
    "prepayment",
    "overpayment",
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_MS_DATE = re.compile(r"^/Date\((-?\d+)(?:([+-])(\d{2})(\d{2}))?\)/$")
_GUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)


_Day = date  # Document has a field called ``date``


class WireError(ValueError):
    """A value or record is not in the form Xero's API describes."""


# -- dates ---------------------------------------------------------------------------------


def from_ms(ms: int, tz: timezone = UTC) -> datetime:
    """The instant ``ms`` milliseconds after the epoch (negative: before it), shown in ``tz``."""
    try:
        return (_EPOCH + ms * _MS).astimezone(tz)
    except OverflowError:
        raise WireError(f"{ms} milliseconds since 1970 is outside the calendar.") from None


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (sub-millisecond digits are dropped)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise WireError(f"{moment.isoformat()} has no timezone; Xero's dates are instants.")
    return (moment - _EPOCH) // _MS


def parse_date(value: str) -> datetime:
    """``/Date(ms±zzzz)/`` (or an ISO 8601 timestamp, read as UTC when it has no zone) as an
    aware datetime in the offset Xero gave (UTC when none)."""
    if not isinstance(value, str):
        raise WireError(f"{value!r} is not a date.")
    m = _MS_DATE.match(value.strip())
    if m:
        ms, sign, hours, minutes = m.groups()
        tz = UTC
        if sign:
            offset = timedelta(hours=int(hours), minutes=int(minutes))
            if offset >= timedelta(hours=24):
                raise WireError(f"{value!r} has an impossible UTC offset.")
            tz = timezone(-offset if sign == "-" else offset)
        return from_ms(int(ms), tz)
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise WireError(f"{value!r} is not a date in a form Xero uses.") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def format_date(moment: datetime) -> str:
    """``/Date(ms±zzzz)/`` for an aware datetime; the offset is the datetime's own."""
    ms = to_ms(moment)
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"/Date({ms}{sign}{minutes // 60:02d}{minutes % 60:02d})/"


def parse_day(value: Any) -> date:
    """A calendar date field (``Date``, ``DueDate``): ``/Date(...)/`` at midnight, or
    ``2026-11-01T00:00:00`` as in ``DateString``. The day is the one Xero displayed."""
    if isinstance(value, str) and value.strip()[:1].isdigit():
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise WireError(f"{value!r} is not a date.") from None
    return parse_date(value).date()


def modified_since_header(ms: int) -> str:
    """The ``If-Modified-Since`` value for the second that holds ``ms``: UTC, whole seconds,
    in Xero's documented form ``2009-11-12T00:00:00``. Truncating to the second makes the next
    read include the boundary second again (Xero compares to the second)."""
    return from_ms(ms - ms % 1000).strftime("%Y-%m-%dT%H:%M:%S")


# -- money and JSON -----------------------------------------------------------------------


def parse_money(value: Any) -> Decimal:
    """An amount as Decimal. Floats are refused: they have already lost digits."""
    if isinstance(value, bool | float):
        raise WireError(f"{value!r} is not an exact amount.")
    if isinstance(value, Decimal | int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise WireError(f"{value!r} is not an amount.") from None
    else:
        raise WireError(f"{value!r} is not an amount.")
    if not result.is_finite():
        raise WireError(f"{value!r} is not an amount.")
    return result


def loads(content: bytes | str) -> Any:
    """Parse a JSON body; every number with a fraction becomes a Decimal."""
    try:
        return json.loads(content, parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WireError(f"the body is not JSON ({exc}).") from None


_DECIMAL_MARK = "\x00decimal:"
_DECIMAL_TOKEN = re.compile(r'"\\u0000decimal:([-+0-9.Ee]+)\\u0000"')


def dumps(value: Any, *, floats: bool = False) -> str:
    """JSON for a request body or for the mirror: Decimal amounts digit for digit, ``date`` as
    ``YYYY-MM-DD``, ``datetime`` as ``/Date(ms±zzzz)/``. A float anywhere is refused unless
    ``floats`` (it has lost digits already); JSON read by :func:`loads` has none."""
    if not floats:
        _refuse_floats(value)
    decimals = 0

    def default(item: Any) -> Any:
        nonlocal decimals
        if isinstance(item, Decimal):
            if not item.is_finite():
                raise WireError(f"{item} cannot be sent to Xero.")
            decimals += 1
            return _DECIMAL_MARK + format(item, "f") + "\x00"
        if isinstance(item, datetime):
            return format_date(item)
        if isinstance(item, date):
            return item.isoformat()
        raise WireError(f"{item!r} cannot be written as JSON.")

    # The C encoder does the work; each Decimal travels as a marked string, unquoted after.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=default)
    text, replaced = _DECIMAL_TOKEN.subn(r"\1", text)
    if replaced != decimals:  # a string of the data itself looked like a marker
        return "".join(_encode(value))
    return text


def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise WireError(f"{value!r} is a float; send money as Decimal.")
    if isinstance(value, Mapping):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_floats(item)


def _encode(value: Any) -> list[str]:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise WireError(f"{value} cannot be sent to Xero.")
        return [format(value, "f")]
    if isinstance(value, datetime):
        return [json.dumps(format_date(value))]
    if isinstance(value, date):
        return [json.dumps(value.isoformat())]
    if isinstance(value, float):
        raise WireError(f"{value!r} is a float; send money as Decimal.")
    if isinstance(value, Mapping):
        parts = ["{"]
        for i, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise WireError(f"{key!r} is not a JSON object key.")
            parts += [("," if i else "") + json.dumps(key, ensure_ascii=False) + ":"]
            parts += _encode(item)
        return [*parts, "}"]
    if isinstance(value, list | tuple):
        parts = ["["]
        for i, item in enumerate(value):
            if i:
                parts.append(",")
            parts += _encode(item)
        return [*parts, "]"]
    return [json.dumps(value, ensure_ascii=False)]


def parse_guid(value: Any) -> str:
    """A GUID in its canonical lower-case form."""
    if not isinstance(value, str) or not _GUID.match(value.strip()):
        raise WireError(f"{value!r} is not a GUID.")
    return str(uuid.UUID(value.strip()))


# -- records -------------------------------------------------------------------------------


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise WireError(f"{key} is {value!r}, not text.")
    return value


def _flag(raw: Mapping[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise WireError(f"{key} is {value!r}, not true or false.")
    return value


def _money(raw: Mapping[str, Any], key: str) -> Decimal | None:
    value = raw.get(key)
    if value is None:
        return None
    try:
        return parse_money(value)
    except WireError as exc:
        raise WireError(f"{key}: {exc}") from None


def _object(raw: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise WireError(f"{key} is {value!r}, not an object.")
    return value


def _updated(raw: Mapping[str, Any]) -> datetime:
    if "UpdatedDateUTC" not in raw:
        raise WireError("UpdatedDateUTC is missing.")
    try:
        return parse_date(raw["UpdatedDateUTC"])
    except WireError as exc:
        raise WireError(f"UpdatedDateUTC: {exc}") from None


def _id(raw: Mapping[str, Any], key: str) -> str:
    if key not in raw:
        raise WireError(f"{key} is missing.")
    try:
        return parse_guid(raw[key])
    except WireError as exc:
        raise WireError(f"{key}: {exc}") from None


def _optional_id(raw: Mapping[str, Any] | None, key: str) -> str | None:
    if raw is None or raw.get(key) in (None, ""):
        return None
    return _id(raw, key)


def _day(raw: Mapping[str, Any], key: str) -> date | None:
    # DateString carries the displayed day without any zone arithmetic; prefer it.
    for name in (key + "String", key):
        value = raw.get(name)
        if value not in (None, ""):
            try:
                return parse_day(value)
            except WireError as exc:
                raise WireError(f"{name}: {exc}") from None
    return None


@dataclass(frozen=True)
class Contact:
    """A Xero contact: the fields the mirror and the sync use, and all of it in ``raw``."""

    contact_id: str
    name: str
    status: str  # ACTIVE, ARCHIVED, GDPRREQUEST (anything else Xero adds is kept as sent)
    updated: datetime
    contact_number: str | None
    account_number: str | None
    first_name: str | None
    last_name: str | None
    email: str | None
    merged_to: str | None  # MergedToContactID: only on paged and single-contact reads
    is_customer: bool
    is_supplier: bool
    raw: Mapping[str, Any]

    @property
    def archived(self) -> bool:
        return self.status == "ARCHIVED"


def parse_contact(raw: Any) -> Contact:
    """One contact from Xero's JSON; :class:`WireError` names what is wrong with it."""
    if not isinstance(raw, Mapping):
        raise WireError(f"a contact must be an object, not {type(raw).__name__}.")
    status = _text(raw, "ContactStatus") or "ACTIVE"
    return Contact(
        contact_id=_id(raw, "ContactID"),
        name=_text(raw, "Name") or "",
        status=status,
        updated=_updated(raw),
        contact_number=_text(raw, "ContactNumber"),
        account_number=_text(raw, "AccountNumber"),
        first_name=_text(raw, "FirstName"),
        last_name=_text(raw, "LastName"),
        email=_text(raw, "EmailAddress"),
        merged_to=_optional_id(raw, "MergedToContactID"),
        is_customer=_flag(raw, "IsCustomer"),
        is_supplier=_flag(raw, "IsSupplier"),
        raw=raw,
    )


@dataclass(frozen=True)
class Document:
    """An invoice, credit note, payment, prepayment or overpayment, reduced to what mapping and
    reconciliation need; the whole record is in ``raw``. A payment's ``total`` is its Amount
    and ``applies_to_id`` the document it pays; its contact is that document's contact."""

    kind: DocumentKind
    document_id: str
    type: str | None
    number: str | None
    reference: str | None
    status: str | None
    contact_id: str | None
    applies_to_id: str | None
    date: _Day | None
    due_date: _Day | None
    currency: str | None
    total: Decimal | None
    amount_due: Decimal | None
    amount_paid: Decimal | None
    amount_credited: Decimal | None
    remaining_credit: Decimal | None
    updated: datetime
    raw: Mapping[str, Any]


# Per kind: the id field, the number field, and the field that holds the type.
_DOCUMENT_FIELDS: dict[DocumentKind, tuple[str, str | None, str]] = {
    "invoice": ("InvoiceID", "InvoiceNumber", "Type"),
    "credit_note": ("CreditNoteID", "CreditNoteNumber", "Type"),
    "payment": ("PaymentID", None, "PaymentType"),
    "prepayment": ("PrepaymentID", None, "Type"),
    "overpayment": ("OverpaymentID", None, "Type"),
}
# What a payment can pay, and that document's id field.
_PAYMENT_TARGETS = (
    ("Invoice", "InvoiceID"),
    ("CreditNote", "CreditNoteID"),
    ("Prepayment", "PrepaymentID"),
    ("Overpayment", "OverpaymentID"),
)


def parse_document(kind: DocumentKind, raw: Any) -> Document:
    """One document of ``kind`` from Xero's JSON; :class:`WireError` names what is wrong."""
    if not isinstance(raw, Mapping):
        raise WireError(f"a document must be an object, not {type(raw).__name__}.")
    id_field, number_field, type_field = _DOCUMENT_FIELDS[kind]
    contact = _object(raw, "Contact")
    applies_to: str | None = None
    if kind == "payment":
        for key, target_id in _PAYMENT_TARGETS:
            target = _object(raw, key)
            if target is not None and target.get(target_id):
                applies_to = _id(target, target_id)
                contact = _object(target, "Contact")
                break
        total = _money(raw, "Amount")
    else:
        total = _money(raw, "Total")
    return Document(
        kind=kind,
        document_id=_id(raw, id_field),
        type=_text(raw, type_field),
        number=_text(raw, number_field) if number_field else None,
        reference=_text(raw, "Reference"),
        status=_text(raw, "Status"),
        contact_id=_optional_id(contact, "ContactID"),
        applies_to_id=applies_to,
        date=_day(raw, "Date"),
        due_date=_day(raw, "DueDate"),
        currency=_text(raw, "CurrencyCode"),
        total=total,
        amount_due=_money(raw, "AmountDue"),
        amount_paid=_money(raw, "AmountPaid"),
        amount_credited=_money(raw, "AmountCredited"),
        remaining_credit=_money(raw, "RemainingCredit"),
        updated=_updated(raw),
        raw=raw,
    )
