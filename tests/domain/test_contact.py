"""The unique Name rule and the learner -> contact mapping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from learnerledger.domain.contact import (
    ALL_FIELDS,
    MAX_NAME,
    ContactMapping,
    MappingError,
    contact_name,
    diff_contact,
    mapped_hash,
)
from learnerledger.domain.learner import Address, Learner


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def learner(**kw: object) -> Learner:
    base: dict[str, object] = {
        "ref_internal": "DAU0000072",
        "first_name": "Felicity",
        "last_name": "Jones",
        "email": "felicity@example.com",
        "mobile": "+61412345678",
        "phone_home": "+61298765432",
        "street": Address("1 Main St", "Parramatta", "NSW", "2150", "Australia"),
    }
    base.update(kw)
    return Learner(**base)  # type: ignore[arg-type]


def test_default_name_rule() -> None:
    assert contact_name(learner()) == "Felicity Jones DAU0000072"


def test_white_space_is_collapsed_and_angle_brackets_dropped() -> None:
    odd = learner(first_name="  Mary  Anne ", last_name="O'Brien\t<Smith>")
    assert contact_name(odd) == "Mary Anne O'Brien Smith DAU0000072"


def test_missing_parts_leave_no_double_spaces() -> None:
    assert contact_name(learner(first_name="")) == "Jones DAU0000072"


def test_long_names_are_shortened_never_the_ref_internal() -> None:
    long = learner(first_name="A" * 200, last_name="B" * 100)
    name = contact_name(long)
    assert len(name) == MAX_NAME
    assert name.endswith(" DAU0000072")
    assert "B" * 100 in name  # the longest part gave way first


def test_emoji_count_as_two_towards_the_limit() -> None:
    name = contact_name(learner(first_name="🎓" * 200, last_name="Lee"))
    assert _utf16(name) <= MAX_NAME
    assert name.endswith("Lee DAU0000072")


@given(
    first=st.text(max_size=400),
    last=st.text(max_size=400),
    ref=st.from_regex(r"[A-Z]{3}[0-9]{7}", fullmatch=True),
)
def test_name_rule_properties(first: str, last: str, ref: str) -> None:
    name = contact_name(learner(first_name=first, last_name=last, ref_internal=ref))
    assert _utf16(name) <= MAX_NAME
    assert name.endswith(ref)
    assert "  " not in name
    assert name == name.strip()
    assert "<" not in name
    assert ">" not in name


def test_templates_are_checked() -> None:
    with pytest.raises(MappingError, match=r"must contain \{RefInternal\}"):
        ContactMapping(name_template="{FirstName} {LastName}")
    with pytest.raises(MappingError, match=r"uses \{Surname\}"):
        ContactMapping(name_template="{Surname} {RefInternal}")
    with pytest.raises(MappingError, match="AccountNumber"):
        ContactMapping(fields=("Name", "AccountNumber"))
    custom = ContactMapping(name_template="{LastName}, {PreferredName} ({RefInternal})")
    assert custom.contact(learner(preferred_name="Flick"))["Name"] == "Jones, Flick (DAU0000072)"


def test_the_full_mapping() -> None:
    mapped = ContactMapping().contact(learner(postal=Address("PO Box 9", "Dubbo", "NSW", "2830")))
    assert mapped["ContactNumber"] == "DAU0000072"
    assert mapped["EmailAddress"] == "felicity@example.com"
    assert mapped["Phones"] == [
        {"PhoneType": "MOBILE", "PhoneNumber": "+61412345678"},
        {"PhoneType": "DEFAULT", "PhoneNumber": "+61298765432"},
    ]
    street, pobox = mapped["Addresses"]
    assert street == {
        "AddressType": "STREET",
        "AddressLine1": "1 Main St",
        "City": "Parramatta",
        "Region": "NSW",
        "PostalCode": "2150",
        "Country": "Australia",
    }
    assert pobox["AddressLine1"] == "PO Box 9"
    assert "AccountNumber" not in mapped


def test_work_phone_stands_in_for_a_missing_home_phone() -> None:
    mapped = ContactMapping().contact(learner(phone_home="", phone_work="+61355550000"))
    assert mapped["Phones"][1] == {"PhoneType": "DEFAULT", "PhoneNumber": "+61355550000"}


def test_a_narrower_mapping_owns_fewer_fields() -> None:
    mapped = ContactMapping(fields=("Name", "EmailAddress")).contact(learner())
    assert set(mapped) == {"ContactNumber", "Name", "EmailAddress"}


def test_diff_sends_only_what_changed() -> None:
    mapping = ContactMapping()
    before = mapping.contact(learner())
    held = {
        **before,
        "AccountNumber": "DEB-0042",
        "Phones": [*before["Phones"], {"PhoneType": "FAX", "PhoneNumber": "x"}],
        "Addresses": [*before["Addresses"]],
    }
    assert diff_contact(before, held) == {}
    after = mapping.contact(learner(email="new@example.com", mobile="+61400000000"))
    changes = diff_contact(after, held)
    assert changes == {
        "EmailAddress": "new@example.com",
        "Phones": [{"PhoneType": "MOBILE", "PhoneNumber": "+61400000000"}],
    }


def test_diff_treats_xeros_blanks_as_empty() -> None:
    mapped = ContactMapping(fields=("Name", "EmailAddress", "Phones.DEFAULT")).contact(
        learner(email="", phone_home="")
    )
    xero_view = {
        "Name": mapped["Name"],
        "EmailAddress": "",
        "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": ""}],
        "ContactNumber": "DAU0000072",
    }
    assert diff_contact(mapped, xero_view) == {}


def test_hash_is_stable_and_sensitive() -> None:
    mapping = ContactMapping()
    a = mapped_hash(mapping.contact(learner()))
    assert a == mapped_hash(mapping.contact(learner()))
    assert a != mapped_hash(mapping.contact(learner(last_name="Jonas")))


def test_all_fields_listed() -> None:
    assert set(ContactMapping().fields) == set(ALL_FIELDS)
