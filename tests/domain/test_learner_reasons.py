"""Readiness reasons carry stable codes (and the field at fault), so that callers filter and
count them by code, never by their wording; the text API stays the same."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from learnerledger.domain import Address, Learner
from learnerledger.domain.learner import REASON_CODES, Reason

HOME = Address("4/17 Wattle Rd", "Parramatta", "NSW", "2150", "Australia")


def ready_learner(**changes: object) -> Learner:
    values: dict[str, object] = {
        "ref_internal": "DAU0000123",
        "first_name": "Priya",
        "last_name": "Ramanathan",
        "email": "priya.r@example.org",
        "street": HOME,
    }
    return Learner(**(values | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"sync_to_xero": False}, "not_flagged", "SyncToXero"),
        ({"first_name": " "}, "missing_first_name", "FirstName"),
        ({"last_name": ""}, "missing_last_name", "LastName"),
        ({"email": ""}, "missing_email", "Email"),
        ({"email": "priya@@example"}, "invalid_email", "Email"),
        ({"street": Address()}, "missing_address", ""),
        (
            {"street": Address(state="NSW", postcode="2150")},
            "missing_address_line",
            "StreetAddress",
        ),
        ({"street": Address("1 Main St", "", "", "2150")}, "missing_state", "StreetState"),
        (
            {"street": Address(), "postal": Address("PO Box 1", "Hobart", "TAS", "")},
            "missing_postcode",
            "PostalPostcode",
        ),
    ],
)
def test_each_reason_has_its_code_and_field(
    changes: dict[str, object], code: str, field: str
) -> None:
    learner = ready_learner(**changes)
    (reason,) = learner.readiness()
    assert (reason.code, reason.field) == (code, field)
    assert learner.ready_for_xero() == [reason.message]


def test_a_ready_learner_has_no_reasons() -> None:
    assert ready_learner().readiness() == []


def test_every_reason_is_given_at_once_with_its_code() -> None:
    codes = [r.code for r in Learner(ref_internal="DAU1", sync_to_xero=False).readiness()]
    assert codes == [
        "not_flagged",
        "missing_first_name",
        "missing_last_name",
        "missing_email",
        "missing_address",
    ]


def test_leaving_out_not_flagged_by_code_keeps_the_other_reasons() -> None:
    learner = Learner(ref_internal="DAU1", first_name="Priya", sync_to_xero=False)
    kept = [r.message for r in learner.readiness() if r.code != "not_flagged"]
    assert kept == [m for m in learner.ready_for_xero() if "Sync to Xero" not in m]


_text = st.sampled_from(["", " ", "x", "NSW", "2150", "a@b.co", "not an email"])


@given(
    first=_text,
    last=_text,
    email=_text,
    line=_text,
    state=_text,
    postcode=_text,
    flag=st.booleans(),
)
def test_codes_are_known_unique_and_match_the_messages(
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
    reasons = learner.readiness()
    assert all(isinstance(r, Reason) and r.code in REASON_CODES for r in reasons)
    assert len({r.code for r in reasons}) == len(reasons)
    assert [r.message for r in reasons] == learner.ready_for_xero()
