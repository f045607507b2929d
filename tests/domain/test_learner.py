"""The learner model: readiness for Xero (Wisenet's own rules, each reason a fix), email
validity, and the content hash that tells a changed learner from an unchanged one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from learnerledger.domain import Address, Learner, is_valid_email

HOME = Address("4/17 Wattle Rd", "Parramatta", "NSW", "2150", "Australia")


def ready_learner(**changes: object) -> Learner:
    learner = Learner(
        ref_internal="DAU0000123",
        first_name="Priya",
        last_name="Ramanathan",
        email="priya.r@example.org",
        street=HOME,
    )
    return replace(learner, **changes)  # type: ignore[arg-type]


def test_a_complete_learner_is_ready() -> None:
    learner = ready_learner()
    assert learner.ready_for_xero() == []
    assert learner.ready


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"first_name": ""}, "Add a first name in the SMS."),
        ({"first_name": "   "}, "Add a first name in the SMS."),
        ({"last_name": ""}, "Add a last name in the SMS."),
        ({"email": ""}, "Add an email address in the SMS."),
        (
            {"email": "n/a"},
            "Correct the email address 'n/a' in the SMS: it is not a valid address.",
        ),
        ({"street": Address()}, "Add an address with its state and postcode in the SMS."),
        (
            {"street": replace(HOME, state="")},
            "Add the state to the street address in the SMS.",
        ),
        (
            {"street": replace(HOME, postcode="")},
            "Add the postcode to the street address in the SMS.",
        ),
        (
            {"street": Address(state="NSW", postcode="2150")},
            "Add the street line or suburb to the street address in the SMS.",
        ),
        (
            {"sync_to_xero": False},
            "Tick Sync to Xero on this learner in the SMS if it belongs in Xero.",
        ),
    ],
)
def test_each_missing_piece_is_one_reason_phrased_as_a_fix(
    changes: dict[str, object], reason: str
) -> None:
    assert ready_learner(**changes).ready_for_xero() == [reason]


def test_every_reason_is_given_at_once() -> None:
    learner = Learner(ref_internal="DAU1")
    assert learner.ready_for_xero() == [
        "Add a first name in the SMS.",
        "Add a last name in the SMS.",
        "Add an email address in the SMS.",
        "Add an address with its state and postcode in the SMS.",
    ]


def test_a_complete_postal_address_is_enough() -> None:
    postal = Address("PO Box 812", "Parramatta", "NSW", "2124", "Australia")
    learner = ready_learner(street=Address(line="1 Somewhere St"), postal=postal)
    assert learner.ready_for_xero() == []


def test_an_incomplete_postal_address_is_named_when_there_is_no_street_address() -> None:
    learner = ready_learner(street=Address(), postal=Address("PO Box 1", "Hobart", "TAS", ""))
    assert learner.ready_for_xero() == ["Add the postcode to the postal address in the SMS."]


@pytest.mark.parametrize(
    "email",
    ["a@b.co", "priya.r@example.org", "o'brien+tag@mail.example.com.au", "X_Y-z@sub-d.example.io"],
)
def test_valid_emails(email: str) -> None:
    assert is_valid_email(email)


@pytest.mark.parametrize(
    "email",
    [
        "",
        "n/a",
        "none",
        "tao.li@",
        "kate.murray@gmail",
        "Hamish@gmail com",
        "two@@example.com",
        ".dot@example.com",
        "dot.@example.com",
        "a..b@example.com",
        "a@-example.com",
        "a@example.c",
        "a@" + "x" * 250 + ".com",
    ],
)
def test_invalid_emails(email: str) -> None:
    assert not is_valid_email(email)


def test_the_hash_follows_the_data_not_the_bookkeeping() -> None:
    learner = ready_learner()
    moved = replace(learner, source="wisenet", source_id="4021", source_modified=datetime.now(UTC))
    assert moved.content_hash() == learner.content_hash()
    assert replace(learner, email="new@example.org").content_hash() != learner.content_hash()
    assert replace(learner, date_of_birth=date(1996, 8, 14)).content_hash() != (
        learner.content_hash()
    )
    assert replace(learner, warnings=("x",)).content_hash() != learner.content_hash()


def test_refinternal_must_be_given_and_times_must_be_aware() -> None:
    with pytest.raises(ValueError, match="ref_internal"):
        Learner(ref_internal="")
    with pytest.raises(ValueError, match="ref_internal"):
        Learner(ref_internal=" DAU1")
    with pytest.raises(ValueError, match="timezone-aware"):
        Learner(ref_internal="DAU1", source_modified=datetime(2024, 1, 1))


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@given(
    first=_text,
    last=_text,
    email=st.one_of(_text, st.emails()),
    line=_text,
    state=_text,
    postcode=_text,
    flag=st.booleans(),
)
def test_ready_exactly_when_wisenets_rules_hold(
    first: str, last: str, email: str, line: str, state: str, postcode: str, flag: bool
) -> None:
    learner = Learner(
        ref_internal="DAU1",
        first_name=first,
        last_name=last,
        email=email,
        street=Address(line, "", state, postcode),
        sync_to_xero=flag,
    )
    reasons = learner.ready_for_xero()
    expected = (
        flag
        and bool(first.strip())
        and bool(last.strip())
        and is_valid_email(email.strip())
        and bool(line and state and postcode)
    )
    assert (reasons == []) == expected
    assert all(r.endswith(".") and " in the SMS" in r for r in reasons)
    assert len(set(reasons)) == len(reasons)
