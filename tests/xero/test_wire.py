"""Xero's wire format: ``/Date(ms±zzzz)/`` both ways (negative epochs too), Decimal money,
unknown fields tolerated, and a bad record named precisely."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from learnerledger.xero.wire import (
    WireError,
    dumps,
    format_date,
    from_ms,
    loads,
    modified_since_header,
    parse_contact,
    parse_date,
    parse_day,
    parse_document,
    parse_money,
    to_ms,
)

# Python's calendar runs from year 1 to 9999.
MS = st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999)
OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59)


@given(MS, OFFSETS)
def test_ms_dates_round_trip_exactly(ms: int, offset_minutes: int) -> None:
    sign = "-" if offset_minutes < 0 else "+"
    text = f"/Date({ms}{sign}{abs(offset_minutes) // 60:02d}{abs(offset_minutes) % 60:02d})/"
    try:
        moment = parse_date(text)
    except WireError:
        # Only instants whose local time leaves the calendar may be refused.
        local = from_ms(ms).replace(tzinfo=None)
        assert not (datetime.min + timedelta(days=1) < local < datetime.max - timedelta(days=1))
        return
    assert moment.tzinfo is not None
    assert to_ms(moment) == ms
    assert moment.utcoffset() == timedelta(minutes=offset_minutes)
    assert format_date(moment) == text.replace("-0000", "+0000")


@given(st.datetimes(timezones=st.just(UTC)))
def test_datetimes_survive_the_wire_to_the_millisecond(moment: datetime) -> None:
    back = parse_date(format_date(moment))
    assert back == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_known_examples_from_xero() -> None:
    assert parse_date("/Date(1439434356790)/") == datetime(2015, 8, 13, 2, 52, 36, 790000, UTC)
    eastern = parse_date("/Date(1419937200000+1300)/")
    assert eastern.utcoffset() == timedelta(hours=13)
    assert eastern == datetime(2014, 12, 30, 11, 0, tzinfo=UTC)
    assert parse_date("/Date(-2208988800000+0000)/") == datetime(1900, 1, 1, tzinfo=UTC)
    assert format_date(datetime(1969, 12, 31, 23, 59, 59, 999000, UTC)) == "/Date(-1+0000)/"
    assert parse_date("2026-11-01T10:20:30") == datetime(2026, 11, 1, 10, 20, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "bad", ["", "/Date()/", "/Date(12a)/", "Date(1)", "/Date(1+99)/", "/Date(1+2400)/", 17]
)
def test_bad_dates_are_refused(bad: object) -> None:
    with pytest.raises(WireError):
        parse_date(bad)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused_on_the_way_out() -> None:
    with pytest.raises(WireError, match="no timezone"):
        format_date(datetime(2026, 1, 1))


def test_document_days_are_the_days_xero_displayed() -> None:
    assert parse_day("2026-11-01T00:00:00") == date(2026, 11, 1)
    assert parse_day("/Date(1539216000000+0000)/") == date(2018, 10, 11)
    nz = parse_date("/Date(1539172800000+1300)/")  # midnight in Auckland, still the 11th there
    assert nz.date() == date(2018, 10, 11)


def test_modified_since_is_the_boundary_second_in_utc() -> None:
    ms = to_ms(datetime(2026, 3, 4, 5, 6, 7, 891000, UTC))
    assert modified_since_header(ms) == "2026-03-04T05:06:07"
    assert modified_since_header(-1) == "1969-12-31T23:59:59"


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12
    )
)
def test_money_round_trips_digit_for_digit(amount: Decimal) -> None:
    text = dumps({"Total": amount})
    back = loads(text)["Total"]
    assert Decimal(back) == amount
    assert str(parse_money(back)) == str(Decimal(format(amount, "f")))


def test_money_is_never_a_float() -> None:
    body = loads(b'{"Total": 0.1, "Amount": 100, "Due": 1e2}')
    assert body["Total"] == Decimal("0.1")
    assert isinstance(body["Total"], Decimal)
    assert parse_money(body["Amount"]) == Decimal(100)
    for bad in (0.1, True, "ten", "NaN", None):
        with pytest.raises(WireError):
            parse_money(bad)
    with pytest.raises(WireError, match="float"):
        dumps({"Total": 0.1})


def test_dumps_writes_dates_and_decimals_as_xero_reads_them() -> None:
    text = dumps(
        {
            "Date": date(2026, 1, 31),
            "When": datetime(2026, 1, 31, tzinfo=timezone(timedelta(hours=10))),
            "Lines": [{"UnitAmount": Decimal("12.3400")}],
            "Name": "Zoë",
        }
    )
    assert text == (
        '{"Date":"2026-01-31","When":"/Date(1769781600000+1000)/",'
        '"Lines":[{"UnitAmount":12.3400}],"Name":"Zoë"}'
    )


CONTACT = {
    "ContactID": "BD2270C8-0E09-4A15-B0A8-5C5BFA2D1234",
    "ContactNumber": "RI-0001",
    "ContactStatus": "ARCHIVED",
    "Name": "Ada Lovelace RI-0001",
    "FirstName": "Ada",
    "EmailAddress": "",
    "UpdatedDateUTC": "/Date(1767225600000+0000)/",
    "MergedToContactID": "0f8b6a4e-2d1c-4b3a-9e8f-7a6b5c4d3e2f",
    "IsCustomer": True,
    "IsSupplier": False,
    "SomethingXeroAddsNextYear": {"x": [1, 2]},
    "Balances": {"AccountsReceivable": {"Outstanding": 12.5}},
}


def test_contacts_keep_what_the_mirror_needs_and_tolerate_the_rest() -> None:
    contact = parse_contact(CONTACT)
    assert contact.contact_id == "bd2270c8-0e09-4a15-b0a8-5c5bfa2d1234"
    assert contact.archived
    assert contact.merged_to == "0f8b6a4e-2d1c-4b3a-9e8f-7a6b5c4d3e2f"
    assert contact.email is None
    assert contact.updated == datetime(2026, 1, 1, tzinfo=UTC)
    assert contact.raw["SomethingXeroAddsNextYear"] == {"x": [1, 2]}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"ContactID": "not-a-guid"}, "ContactID"),
        ({"UpdatedDateUTC": "yesterday"}, "UpdatedDateUTC"),
        ({"UpdatedDateUTC": None}, "UpdatedDateUTC"),
        ({"Name": 42}, "Name"),
        ({"IsCustomer": "yes"}, "IsCustomer"),
    ],
)
def test_a_bad_contact_says_which_field_is_wrong(change: dict[str, object], reason: str) -> None:
    with pytest.raises(WireError, match=reason):
        parse_contact({**CONTACT, **change})
    with pytest.raises(WireError):
        parse_contact(["not", "an", "object"])


def test_documents_of_every_kind() -> None:
    contact = {"ContactID": "1d9b0e0c-5f3a-4d8e-9b7c-6a5f4e3d2c1b", "Name": "Ada"}
    invoice = parse_document(
        "invoice",
        {
            "InvoiceID": "8b3a7c1e-2f4d-4e6a-9c8b-1a2b3c4d5e6f",
            "Type": "ACCREC",
            "InvoiceNumber": "INV-0001",
            "Status": "AUTHORISED",
            "Contact": contact,
            "DateString": "2026-02-03T00:00:00",
            "Date": "/Date(1770076800000+0000)/",
            "DueDate": "/Date(1771286400000+0000)/",
            "Total": Decimal("110.00"),
            "AmountDue": Decimal("60.00"),
            "AmountPaid": Decimal("50.00"),
            "AmountCredited": 0,
            "CurrencyCode": "AUD",
            "UpdatedDateUTC": "/Date(1770100000000+0000)/",
            "LineItems": [],
        },
    )
    assert invoice.number == "INV-0001"
    assert invoice.contact_id == contact["ContactID"]
    assert invoice.date == date(2026, 2, 3)
    assert invoice.due_date == date(2026, 2, 17)
    assert invoice.total == Decimal("110.00")
    assert invoice.amount_credited == Decimal(0)
    payment = parse_document(
        "payment",
        {
            "PaymentID": "2c4e6a8b-1d3f-4a5b-8c7d-9e0f1a2b3c4d",
            "PaymentType": "ACCRECPAYMENT",
            "Status": "AUTHORISED",
            "Amount": Decimal("50.00"),
            "Date": "/Date(1770163200000+0000)/",
            "Invoice": {"InvoiceID": "8b3a7c1e-2f4d-4e6a-9c8b-1a2b3c4d5e6f", "Contact": contact},
            "UpdatedDateUTC": "/Date(1770163300000+0000)/",
        },
    )
    assert payment.total == Decimal("50.00")
    assert payment.applies_to_id == "8b3a7c1e-2f4d-4e6a-9c8b-1a2b3c4d5e6f"
    assert payment.contact_id == contact["ContactID"]
    assert payment.type == "ACCRECPAYMENT"
    for kind, id_field in (
        ("credit_note", "CreditNoteID"),
        ("prepayment", "PrepaymentID"),
        ("overpayment", "OverpaymentID"),
    ):
        doc = parse_document(
            kind,  # type: ignore[arg-type]
            {
                id_field: "3a5c7e9b-0d2f-4b6a-8c1e-2f4a6c8e0b1d",
                "Contact": contact,
                "Total": "20.00",
                "RemainingCredit": "5.00",
                "UpdatedDateUTC": "/Date(0)/",
            },
        )
        assert doc.remaining_credit == Decimal("5.00")
    with pytest.raises(WireError, match="Total"):
        parse_document("invoice", {**invoice.raw, "Total": 1.5})


def test_a_string_that_looks_like_an_amount_marker_stays_a_string() -> None:
    tricky = {"Name": "\x00decimal:1\x00", "Total": Decimal("1.50")}
    assert loads(dumps(tricky)) == tricky
    assert loads(dumps(tricky, floats=True)) == tricky


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text()
        | st.decimals(allow_nan=False, allow_infinity=False),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_any_json_value_survives_dumps_and_loads(value: object) -> None:
    assert loads(dumps(value)) == value
