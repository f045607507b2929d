"""A learner as a Xero contact: the unique Name rule and the field mapping.

Xero requires a contact's Name to be unique among active contacts, and two learners may share a
name, so the Name carries the learner's RefInternal: ``"{FirstName} {LastName} {RefInternal}"``
by default. The RefInternal also goes into ContactNumber (Xero's "Contact Code"), which is how
learnerledger finds the contact again: never by Name.

Only the fields the mapping owns are ever written; everything else on a contact (AccountNumber,
the organisation's own notes, fields the mapping leaves out) belongs to the organisation.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from learnerledger.domain.learner import Address, Learner

__all__ = [
    "ALL_FIELDS",
    "DEFAULT_NAME_TEMPLATE",
    "MAX_NAME",
    "ContactMapping",
    "MappingError",
    "contact_name",
    "diff_contact",
    "mapped_hash",
]

DEFAULT_NAME_TEMPLATE = "{FirstName} {LastName} {RefInternal}"
MAX_NAME = 255
_MAX_PERSON_NAME = 255
_MAX_EMAIL = 255
_MAX_PHONE = 50
_MAX_LINE = 500
_MAX_CITY = 255
_MAX_POSTCODE = 50
_MAX_COUNTRY = 50

PLACEHOLDERS = ("FirstName", "LastName", "PreferredName", "RefInternal")

# The contact fields a mapping can own. ContactNumber is always owned: it is the link.
ALL_FIELDS: tuple[str, ...] = (
    "Name",
    "FirstName",
    "LastName",
    "EmailAddress",
    "Phones.MOBILE",
    "Phones.DEFAULT",
    "Addresses.STREET",
    "Addresses.POBOX",
)
_ADDRESS_KEYS = ("AddressLine1", "City", "Region", "PostalCode", "Country")
_SPACES = re.compile(r"\s+")


class MappingError(ValueError):
    """The configured mapping cannot be used (an unknown field or placeholder)."""


def _utf16_len(text: str) -> int:
    # Xero is a .NET service: its length limits count UTF-16 code units, in which a character
    # outside the Basic Multilingual Plane (an emoji, say) takes two. Counting that way is the
    # safe side of the limit.
    return len(text.encode("utf-16-le")) // 2


def _clean(text: str) -> str:
    """Collapse white space and drop what Xero refuses in a Name (angle brackets)."""
    return _SPACES.sub(" ", text.replace("<", "").replace(">", "")).strip()


def _cut(text: str, limit: int) -> str:
    """At most ``limit`` UTF-16 units, never splitting a character, without trailing space."""
    if _utf16_len(text) <= limit:
        return text
    out = []
    used = 0
    for ch in text:
        size = _utf16_len(ch)
        if used + size > limit:
            break
        out.append(ch)
        used += size
    return "".join(out).rstrip()


def _check_template(template: str) -> list[str]:
    names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    unknown = [n for n in names if n not in PLACEHOLDERS]
    if unknown:
        raise MappingError(
            f"The contact name template {template!r} uses {{{unknown[0]}}}; it may use "
            + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            + "."
        )
    if "RefInternal" not in names:
        raise MappingError(
            f"The contact name template {template!r} must contain {{RefInternal}}: Xero needs "
            "every active contact's Name to be unique, and two learners can share a name."
        )
    return names


def contact_name(learner: Learner, template: str = DEFAULT_NAME_TEMPLATE) -> str:
    """The learner's unique contact Name: the template filled in, white space collapsed, at
    most 255 characters. When too long the names are shortened (the longest first), never the
    RefInternal."""
    _check_template(template)
    ref = _clean(learner.ref_internal)
    names = {
        "FirstName": _clean(learner.first_name),
        "LastName": _clean(learner.last_name),
        "PreferredName": _clean(learner.preferred_name or learner.first_name),
    }

    def render(values: Mapping[str, str]) -> str:
        return _clean(template.format(RefInternal=ref, **values))

    name = render(names)
    while _utf16_len(name) > MAX_NAME:
        excess = _utf16_len(name) - MAX_NAME
        longest = max(names, key=lambda k: _utf16_len(names[k]))
        if not names[longest]:
            # Only the RefInternal and the template's own text are left; keep the RefInternal.
            return _cut(name, MAX_NAME) if ref in _cut(name, MAX_NAME) else ref[:MAX_NAME]
        keep = max(0, _utf16_len(names[longest]) - excess)
        names[longest] = _cut(names[longest], keep)
        name = render(names)
    return name


@dataclass(frozen=True)
class ContactMapping:
    """Which contact fields learnerledger owns, and the Name template."""

    name_template: str = DEFAULT_NAME_TEMPLATE
    fields: tuple[str, ...] = ALL_FIELDS

    def __post_init__(self) -> None:
        _check_template(self.name_template)
        unknown = [f for f in self.fields if f not in ALL_FIELDS]
        if unknown:
            raise MappingError(
                f"The mapping names the contact field {unknown[0]!r}; the fields it can own are "
                + ", ".join(ALL_FIELDS)
                + "."
            )
        if "Name" not in self.fields:
            raise MappingError(
                "The mapping must own the contact field 'Name': Xero refuses a new contact "
                "without one, and the unique Name (with the RefInternal) is what keeps two "
                "learners of the same name apart."
            )

    @classmethod
    def from_settings(cls, name_template: str, fields: Iterable[str]) -> ContactMapping:
        chosen = tuple(f.strip() for f in fields if f.strip())
        return cls(
            name_template=name_template or DEFAULT_NAME_TEMPLATE, fields=chosen or ALL_FIELDS
        )

    def contact(self, learner: Learner) -> dict[str, Any]:
        """The contact fields this mapping owns, as Xero's JSON (``PUT /Contacts`` shape)."""
        out: dict[str, Any] = {"ContactNumber": learner.ref_internal}
        if "Name" in self.fields:
            out["Name"] = contact_name(learner, self.name_template)
        if "FirstName" in self.fields:
            out["FirstName"] = _cut(_SPACES.sub(" ", learner.first_name).strip(), _MAX_PERSON_NAME)
        if "LastName" in self.fields:
            out["LastName"] = _cut(_SPACES.sub(" ", learner.last_name).strip(), _MAX_PERSON_NAME)
        if "EmailAddress" in self.fields:
            out["EmailAddress"] = _cut(learner.email.strip(), _MAX_EMAIL)
        phones = []
        if "Phones.MOBILE" in self.fields:
            phones.append({"PhoneType": "MOBILE", "PhoneNumber": _cut(learner.mobile, _MAX_PHONE)})
        if "Phones.DEFAULT" in self.fields:
            landline = learner.phone_home or learner.phone_work
            phones.append({"PhoneType": "DEFAULT", "PhoneNumber": _cut(landline, _MAX_PHONE)})
        if phones:
            out["Phones"] = phones
        addresses = []
        if "Addresses.STREET" in self.fields:
            addresses.append(_address("STREET", learner.street))
        if "Addresses.POBOX" in self.fields:
            addresses.append(_address("POBOX", learner.postal))
        if addresses:
            out["Addresses"] = addresses
        return out


def _address(kind: str, address: Address) -> dict[str, str]:
    return {
        "AddressType": kind,
        "AddressLine1": _cut(address.line, _MAX_LINE),
        "City": _cut(address.suburb, _MAX_CITY),
        "Region": _cut(address.state, _MAX_CITY),
        "PostalCode": _cut(address.postcode, _MAX_POSTCODE),
        "Country": _cut(address.country, _MAX_COUNTRY),
    }


def mapped_hash(mapped: Mapping[str, Any]) -> str:
    """A stable digest of a mapped contact, to tell at a glance whether anything changed."""
    text = json.dumps(mapped, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _by_type(items: Any, key: str) -> dict[str, Mapping[str, Any]]:
    if not isinstance(items, list):
        return {}
    return {str(i.get(key)): i for i in items if isinstance(i, Mapping)}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def diff_contact(mapped: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``mapped`` that differs from the contact as Xero holds it (``current`` is
    Xero's JSON). Only owned fields are compared; phones and addresses by their type, and an
    address is sent whole when any of its parts changed. Empty means nothing to send."""
    changes: dict[str, Any] = {}
    for key, value in mapped.items():
        if key == "Phones":
            held = _by_type(current.get("Phones"), "PhoneType")
            changed = [
                p
                for p in value
                if _text(held.get(p["PhoneType"], {}).get("PhoneNumber")) != p["PhoneNumber"]
            ]
            if changed:
                changes["Phones"] = changed
        elif key == "Addresses":
            held = _by_type(current.get("Addresses"), "AddressType")
            changed = [
                a
                for a in value
                if any(_text(held.get(a["AddressType"], {}).get(k)) != a[k] for k in _ADDRESS_KEYS)
            ]
            if changed:
                changes["Addresses"] = changed
        elif _text(current.get(key)) != _text(value):
            changes[key] = value
    return changes
