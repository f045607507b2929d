"""Field normalisation shared by the sources: phones to E.164, dates, states, postcodes."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from learnerledger.sources.fields import (
    FieldProblem,
    _normalise_phone,
    check_birth_date,
    normalise_country,
    normalise_phone,
    normalise_postcode,
    normalise_state,
    parse_date,
)


@pytest.mark.parametrize(
    ("typed", "region", "stored"),
    [
        ("0412 345 678", "AU", "+61412345678"),
        ("0412345678", "AU", "+61412345678"),
        ("+61 412 345 678", "AU", "+61412345678"),
        ("(02) 9846 1234", "AU", "+61298461234"),
        ("0443 910 896", "AU", "+61443910896"),  # a range not (yet) allocated: still 10 digits
        ("021 123 4567", "NZ", "+64211234567"),
        ("+64 21 123 4567", "AU", "+64211234567"),
    ],
)
def test_phones_are_stored_as_e164(typed: str, region: str, stored: str) -> None:
    assert normalise_phone(typed, region, "Mobile") == (stored, None)


@pytest.mark.parametrize("typed", ["9846 1234", "12", "call me", "0412 345 678 ext 9", "+999 1"])
def test_unreadable_phones_are_kept_as_typed_and_said_so(typed: str) -> None:
    value, warning = normalise_phone(f"  {typed} ", "AU", "PhoneHome")
    assert value == typed
    assert warning is not None
    assert warning.startswith(f"PhoneHome {typed!r}")
    assert "kept as typed" in warning


def test_an_empty_phone_is_empty() -> None:
    assert normalise_phone("  ", "AU", "Mobile") == ("", None)


@given(st.text(max_size=40), st.sampled_from(["AU", "NZ", "GB", "ZZ"]))
def test_no_phone_text_raises(text: str, region: str) -> None:
    value, warning = normalise_phone(text, region, "Mobile")
    assert value.startswith("+") or warning is not None or not text.strip()


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("14/08/1996", date(1996, 8, 14)),
        ("4/8/1996", date(1996, 8, 4)),
        ("14-08-1996", date(1996, 8, 14)),
        ("14.08.1996", date(1996, 8, 14)),
        ("1996-08-14", date(1996, 8, 14)),
        ("1996-08-14T00:00:00", date(1996, 8, 14)),
        (" 29/02/2000 ", date(2000, 2, 29)),
    ],
)
def test_dates_dd_mm_yyyy_or_iso(typed: str, day: date) -> None:
    assert parse_date(typed) == day


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("31/02/1990", "not a date in the calendar"),
        ("08/14/1996", "not a date in the calendar"),
        ("14/08/96", "not a date"),
        ("yesterday", "not a date"),
        ("1996-08-14T10:30:00", "not a date"),
    ],
)
def test_bad_dates_say_how_to_write_them(typed: str, message: str) -> None:
    with pytest.raises(FieldProblem, match=message) as info:
        parse_date(typed)
    assert "dd/mm/yyyy" in str(info.value)


def test_birth_dates_in_the_future_or_before_1900_are_refused() -> None:
    with pytest.raises(FieldProblem, match="future"):
        check_birth_date(date(2030, 1, 1), date(2026, 1, 1))
    with pytest.raises(FieldProblem, match="1900"):
        check_birth_date(date(1899, 12, 31), date(2026, 1, 1))
    check_birth_date(date(2000, 1, 1), date(2026, 1, 1))


@given(st.text(max_size=30))
def test_parse_date_only_raises_field_problems(text: str) -> None:
    with contextlib.suppress(FieldProblem):
        parse_date(text)


@pytest.mark.parametrize(
    ("typed", "country", "state"),
    [
        ("nsw", "", "NSW"),
        ("New South Wales", "Australia", "NSW"),
        (" queensland ", "AU", "QLD"),
        ("Vic.", "", "VIC"),
        ("Auckland", "New Zealand", "Auckland"),
        ("", "", ""),
    ],
)
def test_states(typed: str, country: str, state: str) -> None:
    assert normalise_state(typed, country) == state


def test_an_unknown_australian_state_lists_the_valid_ones() -> None:
    with pytest.raises(FieldProblem, match="NSW, VIC, QLD"):
        normalise_state("Sydney", "Australia")


def test_postcodes_keep_their_leading_zero_and_a_lost_one_is_restored() -> None:
    assert normalise_postcode("0800", "") == ("0800", None)
    value, warning = normalise_postcode("800", "Australia")
    assert value == "0800"
    assert warning is not None
    assert "leading zero" in warning
    assert normalise_postcode("SW1A 1AA", "United Kingdom") == ("SW1A 1AA", None)
    for bad in ("12345", "2l50", "21"):
        with pytest.raises(FieldProblem, match="not an Australian postcode"):
            normalise_postcode(bad, "")


def test_countries() -> None:
    assert normalise_country("au") == "Australia"
    assert normalise_country("AUS") == "Australia"
    assert normalise_country(" New  Zealand ") == "New Zealand"


_au_digits = st.builds(
    lambda lead, rest: lead + rest,
    st.sampled_from(["02", "03", "04", "05", "07", "08", "+612", "+613", "+614", "+617", "+618"]),
    st.text(alphabet="0123456789", min_size=8, max_size=8),
)


@given(_au_digits, st.lists(st.sampled_from([" ", "-", ".", "(", ")"]), max_size=3), st.data())
def test_the_australian_shortcut_agrees_with_libphonenumber(
    digits: str, separators: list[str], data: st.DataObject
) -> None:
    typed = list(digits)
    for separator in separators:
        typed.insert(data.draw(st.integers(1, len(typed) - 1)), separator)
    text = "".join(typed)
    assert normalise_phone(text, "AU", "Mobile") == _normalise_phone(text, "AU", "Mobile")
