"""Contacts as Xero keeps them: reading them back, and Xero's rules for writing them.

A write request is handled in two phases, as Xero does. First the body is deserialised: a
value of the wrong type fails the whole request (``PostDataInvalidException``). Then each
contact is validated and written on its own: batches are not atomic, and one contact's
``ValidationErrors`` never undo another's success.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from learnerledger.sandbox.xero.deserialise import (
    as_bool,
    as_enum,
    as_guid,
    as_list,
    as_object,
    as_text,
    load_body,
    type_error,
)
from learnerledger.sandbox.xero.errors import post_data_invalid
from learnerledger.sandbox.xero.where import Field, compile_order, compile_where
from learnerledger.sandbox.xero.wire import ms_date, parse_guid

__all__ = [
    "MESSAGES",
    "ContactQuery",
    "Outcome",
    "active_named",
    "contact_by_id_or_number",
    "list_contacts",
    "parse_body",
    "render",
    "restore_contact",
    "write_contact",
]

CONTACT_STATUSES = ("ACTIVE", "ARCHIVED", "GDPRREQUEST")
ADDRESS_TYPES = ("POBOX", "STREET")
PHONE_TYPES = ("DEFAULT", "DDI", "MOBILE", "FAX", "OFFICE")

# Writable text fields and Xero's stated maximum lengths (None: no limit is documented).
STRING_FIELDS: dict[str, int | None] = {
    "ContactNumber": 50,
    "AccountNumber": 50,
    "Name": 255,
    "FirstName": 255,
    "LastName": 255,
    "CompanyNumber": 50,
    "EmailAddress": 255,
    "BankAccountDetails": 255,
    "TaxNumber": 50,
    "AccountsReceivableTaxType": 50,
    "AccountsPayableTaxType": 50,
    "DefaultCurrency": 3,
    "SalesDefaultAccountCode": 50,
    "PurchasesDefaultAccountCode": 50,
    "XeroNetworkKey": 255,
}
ADDRESS_FIELDS: dict[str, int] = {
    "AddressLine1": 500,
    "AddressLine2": 500,
    "AddressLine3": 500,
    "AddressLine4": 500,
    "City": 255,
    "Region": 255,
    "PostalCode": 50,
    "Country": 50,
    "AttentionTo": 255,
}
PHONE_FIELDS: dict[str, int] = {"PhoneNumber": 50, "PhoneAreaCode": 10, "PhoneCountryCode": 20}
PERSON_FIELDS: dict[str, int] = {"FirstName": 255, "LastName": 255, "EmailAddress": 255}
MAX_CONTACT_PERSONS = 5

# Every validation text the sandbox answers with. The docs list them with their sources.
MESSAGES = {
    "duplicate_name": "The contact name {name} is already assigned to another contact. "
    "The contact name must be unique across all active contacts.",
    "duplicate_number": "Another contact has this contact number. "
    "Please enter a different contact number.",
    "email": "Email address must be valid.",
    "archived": "The specified contact details matched an archived contact",
    "name_required": "The contact name must be specified.",
    "too_long": "{field} must not be more than {limit} characters long.",
    "name_chars": "The contact name cannot contain the characters '<' or '>'.",
    "name_spaces": "The contact name cannot contain consecutive spaces.",
    "gdpr": "The contact status cannot be set to GDPRREQUEST through the API.",
    "unknown_id": "The contact with ContactID {id} could not be found.",
    "id_on_create": "A ContactID cannot be given when creating a contact; "
    "use POST /Contacts/{{ContactID}} to update one.",
    "address_type": "An address must have an AddressType.",
    "phone_type": "A phone must have a PhoneType.",
    "persons": "A contact can have at most 5 contact persons.",
    "no_data": "No data has been processed for this endpoint. This endpoint is expecting "
    "Contact data to be specifed in the request body.",
}

# Fields that a client may send but that Xero sets itself; they are ignored on write.
_READ_ONLY = frozenset(
    {
        "UpdatedDateUTC",
        "IsSupplier",
        "IsCustomer",
        "Balances",
        "HasAttachments",
        "Attachments",
        "MergedToContactID",
        "Website",
        "Discount",
        "HasValidationErrors",
        "ValidationErrors",
        "StatusAttributeString",
        "ContactGroups",
        "SalesDefaultLineAmountType",
        "PurchasesDefaultLineAmountType",
        "SalesTrackingCategories",
        "PurchasesTrackingCategories",
        "TrackingCategoryName",
        "TrackingCategoryOption",
        "PaymentTerms",
        "BrandingTheme",
        "BatchPayments",
        "CISSettings",
    }
)
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


# -- deserialisation: the whole request fails on a value of the wrong type --------------------


@dataclass
class Submitted:
    """One contact of a write request, after deserialisation. ``fields`` holds only what was
    sent; ``Addresses``/``Phones``/``ContactPersons`` are lists of clean dicts."""

    fields: dict[str, Any]
    contact_id: str | None = None

    def echo(self) -> dict[str, Any]:
        """The contact as sent, for its ValidationErrors element. Text longer than Xero's
        limit is cut to the limit so that the answer stays within Xero's published schema."""
        out: dict[str, Any] = {
            k: v[:limit] if isinstance(v, str) and (limit := STRING_FIELDS.get(k)) else v
            for k, v in self.fields.items()
        }
        for key, limits in (("Addresses", ADDRESS_FIELDS), ("Phones", PHONE_FIELDS)):
            if key in out:
                out[key] = [
                    {k: v[: limits[k]] if k in limits else v for k, v in item.items()}
                    for item in out[key]
                ]
        if self.contact_id:
            out["ContactID"] = self.contact_id
        return out


def _parse_sub_list(
    raw: Any,
    path: str,
    item_type: str,
    type_key: str,
    types: tuple[str, ...],
    limits: dict[str, int],
) -> list[dict[str, Any]] | None:
    items = as_list(raw, item_type, path)
    if items is None:
        return None
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        ipath = f"{path}[{i}]"
        obj = as_object(item, item_type, ipath)
        clean: dict[str, Any] = {}
        kind = as_enum(obj.get(type_key), types, f"{item_type}Type", f"{ipath}.{type_key}")
        if kind is not None:
            clean[type_key] = kind
        for name in limits:
            text = as_text(obj.get(name), f"{ipath}.{name}")
            if text is not None:
                clean[name] = text
        out.append(clean)
    return out


def parse_contact(raw: Any, path: str) -> Submitted:
    obj = as_object(raw, "Contact", path)
    fields: dict[str, Any] = {}
    contact_id = as_guid(obj.get("ContactID"), f"{path}.ContactID")
    for name in STRING_FIELDS:
        if name in obj:
            text = as_text(obj[name], f"{path}.{name}")
            if text is not None:
                fields[name] = text
    status = as_enum(
        obj.get("ContactStatus"), CONTACT_STATUSES, "ContactStatus", f"{path}.ContactStatus"
    )
    if status is not None:
        fields["ContactStatus"] = status
    addresses = _parse_sub_list(
        obj.get("Addresses"),
        f"{path}.Addresses",
        "Address",
        "AddressType",
        ADDRESS_TYPES,
        ADDRESS_FIELDS,
    )
    if addresses is not None:
        fields["Addresses"] = addresses
    phones = _parse_sub_list(
        obj.get("Phones"), f"{path}.Phones", "Phone", "PhoneType", PHONE_TYPES, PHONE_FIELDS
    )
    if phones is not None:
        fields["Phones"] = phones
    persons_raw = as_list(obj.get("ContactPersons"), "ContactPerson", f"{path}.ContactPersons")
    if persons_raw is not None:
        persons: list[dict[str, Any]] = []
        for i, item in enumerate(persons_raw):
            ppath = f"{path}.ContactPersons[{i}]"
            person_obj = as_object(item, "ContactPerson", ppath)
            person: dict[str, Any] = {}
            for name in PERSON_FIELDS:
                text = as_text(person_obj.get(name), f"{ppath}.{name}")
                if text is not None:
                    person[name] = text
            include = as_bool(person_obj.get("IncludeInEmails"), f"{ppath}.IncludeInEmails")
            person["IncludeInEmails"] = bool(include)
            persons.append(person)
        fields["ContactPersons"] = persons
    for name in _READ_ONLY:
        if name in ("IsSupplier", "IsCustomer", "HasValidationErrors", "HasAttachments"):
            as_bool(obj.get(name), f"{path}.{name}")  # still type-checked, then ignored
    return Submitted(fields=fields, contact_id=contact_id)


def parse_body(body: bytes) -> list[Submitted]:
    """Deserialise a Contacts write body: ``{"Contacts": [...]}`` or one contact object."""
    data = load_body(body, MESSAGES["no_data"])
    if not isinstance(data, dict):
        raise type_error(data, "Contacts", "")
    if "Contacts" in data:
        items = as_list(data["Contacts"], "Contact", "Contacts") or []
        parsed = [parse_contact(item, f"Contacts[{i}]") for i, item in enumerate(items)]
    else:
        parsed = [parse_contact(data, "")]
    if not parsed:
        raise post_data_invalid(MESSAGES["no_data"])
    return parsed


# -- keys and rows -------------------------------------------------------------------------


def name_key(name: str) -> str:
    """How Names collide: case and surrounding or repeated white space do not tell them apart
    (Xero does not document this; the stricter reading is used)."""
    return " ".join(name.split()).casefold()


def number_key(number: str | None) -> str | None:
    if number is None or not number.strip():
        return None
    return number.strip().casefold()


@dataclass
class ContactRow:
    seq: int
    contact_id: str
    status: str
    updated_ms: int
    merged_to: str | None
    is_customer: bool
    is_supplier: bool
    data: dict[str, Any]


def _row(r: sqlite3.Row) -> ContactRow:
    return ContactRow(
        seq=r["seq"],
        contact_id=r["contact_id"],
        status=r["status"],
        updated_ms=r["updated_ms"],
        merged_to=r["merged_to"],
        is_customer=bool(r["is_customer"]),
        is_supplier=bool(r["is_supplier"]),
        data=json.loads(r["data"]),
    )


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _columns(data: dict[str, Any]) -> dict[str, Any]:
    """The indexed columns (filtered and sorted on by queries) copied out of a contact."""

    def blank_none(value: Any) -> Any:
        return value if value not in ("", None) else None

    return {
        "name": data.get("Name", ""),
        "name_key": name_key(data.get("Name", "")),
        "contact_number": blank_none(data.get("ContactNumber")),
        "number_key": number_key(data.get("ContactNumber")),
        "status": data.get("ContactStatus", "ACTIVE"),
        "email": blank_none(data.get("EmailAddress")),
        "first_name": blank_none(data.get("FirstName")),
        "last_name": blank_none(data.get("LastName")),
        "account_number": blank_none(data.get("AccountNumber")),
    }


def insert_contact(
    conn: sqlite3.Connection,
    tenant_id: str,
    data: dict[str, Any],
    *,
    now_ms: int,
    contact_id: str | None = None,
) -> str:
    """Store a new contact (no validation: the API and the seed validate before calling)."""
    contact_id = contact_id or str(uuid.uuid4())
    data = {k: v for k, v in data.items() if k != "ContactID"}
    data.setdefault("ContactStatus", "ACTIVE")
    cols = _columns(data)
    conn.execute(
        f"INSERT INTO contacts (tenant_id, contact_id, {', '.join(cols)}, updated_ms, data) "
        f"VALUES (?, ?, {', '.join('?' * len(cols))}, ?, ?)",
        (tenant_id, contact_id, *cols.values(), now_ms, _dump(data)),
    )
    return contact_id


def update_contact_row(
    conn: sqlite3.Connection,
    contact_id: str,
    data: dict[str, Any],
    *,
    now_ms: int,
    merged_to: str | None = None,
) -> None:
    cols = _columns(data)
    assignments = ", ".join(f"{c} = ?" for c in cols)
    conn.execute(
        f"UPDATE contacts SET {assignments}, updated_ms = ?, data = ?, "
        "merged_to = COALESCE(?, merged_to) WHERE contact_id = ?",
        (*cols.values(), now_ms, _dump(data), merged_to, contact_id),
    )


def get_row(conn: sqlite3.Connection, tenant_id: str, contact_id: str) -> ContactRow | None:
    r = conn.execute(
        "SELECT * FROM contacts WHERE tenant_id = ? AND contact_id = ?", (tenant_id, contact_id)
    ).fetchone()
    return None if r is None else _row(r)


def contact_by_id_or_number(
    conn: sqlite3.Connection, tenant_id: str, key: str
) -> ContactRow | None:
    """``GET /Contacts/{ContactID}`` and ``GET /Contacts/{ContactNumber}``: archived included."""
    guid = parse_guid(key)
    if guid is not None:
        found = get_row(conn, tenant_id, guid)
        if found is not None:
            return found
    nkey = number_key(key)
    if nkey is None:
        return None
    r = conn.execute(
        "SELECT * FROM contacts WHERE tenant_id = ? AND number_key = ? ORDER BY seq LIMIT 1",
        (tenant_id, nkey),
    ).fetchone()
    return None if r is None else _row(r)


# -- rendering ------------------------------------------------------------------------------


def _blank_address(kind: str) -> dict[str, Any]:
    return {"AddressType": kind, "City": "", "Region": "", "PostalCode": "", "Country": ""}


def _blank_phone(kind: str) -> dict[str, Any]:
    return {"PhoneType": kind, "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""}


def render(
    row: ContactRow,
    *,
    extended: bool,
    summary: bool = False,
    balances: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A contact as Xero returns it. ``extended`` adds the fields Xero sends only on paged
    reads and single-contact reads (MergedToContactID, ContactPersons, ...)."""
    data = row.data
    out: dict[str, Any] = {"ContactID": row.contact_id}
    for key in ("ContactNumber", "AccountNumber"):
        if data.get(key):
            out[key] = data[key]
    out["ContactStatus"] = row.status
    out["Name"] = data.get("Name", "")
    for key in ("FirstName", "LastName", "CompanyNumber"):
        if data.get(key):
            out[key] = data[key]
    out["EmailAddress"] = data.get("EmailAddress", "")
    if not summary:
        out["BankAccountDetails"] = data.get("BankAccountDetails", "")
        for key in (
            "TaxNumber",
            "AccountsReceivableTaxType",
            "AccountsPayableTaxType",
            "DefaultCurrency",
            "SalesDefaultAccountCode",
            "PurchasesDefaultAccountCode",
            "XeroNetworkKey",
        ):
            if data.get(key):
                out[key] = data[key]
        by_type = {a.get("AddressType"): a for a in data.get("Addresses", [])}
        out["Addresses"] = [
            {**_blank_address(t), **by_type.get(t, {})} for t in ("POBOX", "STREET")
        ]
        phones = {p.get("PhoneType"): p for p in data.get("Phones", [])}
        out["Phones"] = [
            {**_blank_phone(t), **phones.get(t, {})} for t in ("DEFAULT", "DDI", "FAX", "MOBILE")
        ] + ([phones["OFFICE"]] if "OFFICE" in phones else [])
    out["UpdatedDateUTC"] = ms_date(row.updated_ms)
    out["ContactGroups"] = []
    out["IsSupplier"] = row.is_supplier
    out["IsCustomer"] = row.is_customer
    if extended:
        if row.merged_to:
            out["MergedToContactID"] = row.merged_to
        out["ContactPersons"] = list(data.get("ContactPersons", []))
    if balances is not None and not summary:
        out["Balances"] = balances
    out["HasAttachments"] = False
    out["HasValidationErrors"] = False
    return out


# -- writing --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """The result for one submitted contact: the stored row, or the reasons it was refused."""

    row: ContactRow | None
    errors: list[str] = field(default_factory=list)
    created: bool = False


def _validate(merged: dict[str, Any], sent: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    name = merged.get("Name", "")
    if not name.strip():
        errors.append(MESSAGES["name_required"])
    if "Name" in sent:
        if "<" in name or ">" in name:
            errors.append(MESSAGES["name_chars"])
        if "  " in name.strip():
            errors.append(MESSAGES["name_spaces"])
    for key, limit in STRING_FIELDS.items():
        value = sent.get(key)
        if limit is not None and isinstance(value, str) and len(value) > limit:
            errors.append(MESSAGES["too_long"].format(field=key, limit=limit))
    email = sent.get("EmailAddress")
    if email and not _EMAIL.match(email.strip()):
        errors.append(MESSAGES["email"])
    for address in sent.get("Addresses", []):
        if "AddressType" not in address:
            errors.append(MESSAGES["address_type"])
        for key, limit in ADDRESS_FIELDS.items():
            if len(address.get(key, "")) > limit:
                errors.append(MESSAGES["too_long"].format(field=key, limit=limit))
    for phone in sent.get("Phones", []):
        if "PhoneType" not in phone:
            errors.append(MESSAGES["phone_type"])
        for key, limit in PHONE_FIELDS.items():
            if len(phone.get(key, "")) > limit:
                errors.append(MESSAGES["too_long"].format(field=key, limit=limit))
    persons = sent.get("ContactPersons", [])
    if len(persons) > MAX_CONTACT_PERSONS:
        errors.append(MESSAGES["persons"])
    for person in persons:
        person_email = person.get("EmailAddress")
        if person_email and not _EMAIL.match(person_email.strip()):
            errors.append(MESSAGES["email"])
    if sent.get("ContactStatus") == "GDPRREQUEST":
        errors.append(MESSAGES["gdpr"])
    return errors


def _merge(current: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in sent.items():
        if key in ("Addresses", "Phones"):
            type_key = "AddressType" if key == "Addresses" else "PhoneType"
            by_type = {item.get(type_key): item for item in merged.get(key, [])}
            for item in value:
                if type_key in item:
                    by_type[item[type_key]] = item
            merged[key] = [v for k, v in by_type.items() if k is not None]
        elif key in STRING_FIELDS and value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if "Name" in merged:
        merged["Name"] = merged["Name"].strip()
    return merged


def _conflicts(
    conn: sqlite3.Connection, tenant_id: str, merged: dict[str, Any], own_id: str | None
) -> list[str]:
    errors: list[str] = []
    if merged.get("ContactStatus", "ACTIVE") == "ACTIVE" and merged.get("Name", "").strip():
        clash = conn.execute(
            "SELECT 1 FROM contacts WHERE tenant_id = ? AND status = 'ACTIVE' AND name_key = ? "
            "AND contact_id IS NOT ? LIMIT 1",
            (tenant_id, name_key(merged["Name"]), own_id),
        ).fetchone()
        if clash:
            errors.append(MESSAGES["duplicate_name"].format(name=merged["Name"]))
    nkey = number_key(merged.get("ContactNumber"))
    if nkey is not None:
        clash = conn.execute(
            "SELECT 1 FROM contacts WHERE tenant_id = ? AND number_key = ? "
            "AND contact_id IS NOT ? LIMIT 1",
            (tenant_id, nkey, own_id),
        ).fetchone()
        if clash:
            errors.append(MESSAGES["duplicate_number"])
    return errors


def _find_for_upsert(
    conn: sqlite3.Connection, tenant_id: str, sub: Submitted
) -> tuple[ContactRow | None, str | None]:
    """POST /Contacts matches an existing contact by ContactID, then ContactNumber, then Name."""
    if sub.contact_id:
        row = get_row(conn, tenant_id, sub.contact_id)
        if row is None:
            return None, MESSAGES["unknown_id"].format(id=sub.contact_id)
        return row, None
    nkey = number_key(sub.fields.get("ContactNumber"))
    if nkey is not None:
        r = conn.execute(
            "SELECT * FROM contacts WHERE tenant_id = ? AND number_key = ? ORDER BY seq LIMIT 1",
            (tenant_id, nkey),
        ).fetchone()
        if r is not None:
            return _row(r), None
    name = sub.fields.get("Name", "")
    if name.strip():
        r = conn.execute(
            "SELECT * FROM contacts WHERE tenant_id = ? AND status = 'ACTIVE' AND name_key = ? "
            "ORDER BY seq LIMIT 1",
            (tenant_id, name_key(name)),
        ).fetchone()
        if r is not None:
            return _row(r), None
    return None, None


def write_contact(
    conn: sqlite3.Connection,
    tenant_id: str,
    sub: Submitted,
    *,
    mode: str,
    now_ms: int,
    target_id: str | None = None,
) -> Outcome:
    """Apply one submitted contact. ``mode``: ``create`` (PUT), ``upsert`` (POST /Contacts) or
    ``update`` (POST /Contacts/{target_id})."""
    existing: ContactRow | None = None
    if mode == "create":
        if sub.contact_id:
            return Outcome(None, [MESSAGES["id_on_create"]])
    elif mode == "update":
        existing = get_row(conn, tenant_id, target_id or "")
        if existing is None:
            return Outcome(None, [MESSAGES["unknown_id"].format(id=target_id)])
    else:
        existing, problem = _find_for_upsert(conn, tenant_id, sub)
        if problem:
            return Outcome(None, [problem])

    if existing is not None and existing.status != "ACTIVE":
        # Archived and merged contacts stay as they are; only a repeated archive is accepted.
        # (Whether Xero lets the API restore one is not documented: the sandbox refuses.)
        if set(sub.fields) <= {"ContactStatus"} and sub.fields.get("ContactStatus") in (
            None,
            existing.status,
        ):
            return Outcome(existing)
        return Outcome(None, [MESSAGES["archived"]])

    current = existing.data if existing is not None else {}
    merged = _merge(current, sub.fields)
    merged.setdefault("ContactStatus", "ACTIVE")
    errors = _validate(merged, sub.fields)
    own_id = existing.contact_id if existing is not None else None
    errors += _conflicts(conn, tenant_id, merged, own_id)
    if errors:
        return Outcome(None, errors)
    if existing is None:
        contact_id = insert_contact(conn, tenant_id, merged, now_ms=now_ms)
        created = True
    else:
        contact_id = existing.contact_id
        update_contact_row(conn, contact_id, merged, now_ms=now_ms)
        created = False
    row = get_row(conn, tenant_id, contact_id)
    assert row is not None
    return Outcome(row, created=created)


def active_named(conn: sqlite3.Connection, tenant_id: str, name: str) -> list[ContactRow]:
    """The active contacts whose Name is ``name`` (as Names collide: see ``name_key``)."""
    rows = conn.execute(
        "SELECT * FROM contacts WHERE tenant_id = ? AND status = 'ACTIVE' AND name_key = ? "
        "ORDER BY seq",
        (tenant_id, name_key(name)),
    ).fetchall()
    return [_row(r) for r in rows]


def restore_contact(
    conn: sqlite3.Connection, tenant_id: str, contact_id: str, *, now_ms: int
) -> ContactRow:
    """Xero's web-app Restore of an archived (or merged) contact: it is active again, unless
    an active contact has its Name. Its documents stay where they are (a merged contact's are
    with the contact it was merged into). Raises ValueError with the reason otherwise."""
    row = get_row(conn, tenant_id, contact_id)
    if row is None:
        raise ValueError(f"No contact {contact_id} in this organisation.")
    if row.status != "ARCHIVED":
        raise ValueError(
            f"{row.data.get('Name')!r} is {row.status.lower()}: only archived contacts can be "
            "restored."
        )
    name = str(row.data.get("Name", ""))
    if any(c.contact_id != contact_id for c in active_named(conn, tenant_id, name)):
        raise ValueError(f"Another active contact is named {name!r}: rename or archive it first.")
    data = dict(row.data)
    data["ContactStatus"] = "ACTIVE"
    update_contact_row(conn, contact_id, data, now_ms=now_ms)
    # Whether Xero keeps MergedToContactID on a restored contact is not documented; an active
    # contact that points elsewhere would be a contradiction, so the sandbox clears it.
    conn.execute("UPDATE contacts SET merged_to = NULL WHERE contact_id = ?", (contact_id,))
    restored = get_row(conn, tenant_id, contact_id)
    assert restored is not None
    return restored


def merge_contacts(
    conn: sqlite3.Connection, tenant_id: str, source_id: str, target_id: str, *, now_ms: int
) -> ContactRow:
    """Xero's web-app Merge: the source is archived and points at the target. Raises ValueError
    with a person-readable reason when Xero's screen would not offer the merge."""
    source = get_row(conn, tenant_id, source_id)
    target = get_row(conn, tenant_id, target_id)
    if source is None:
        raise ValueError(f"No contact {source_id} in this organisation.")
    if target is None:
        raise ValueError(f"No contact {target_id} in this organisation.")
    if source_id == target_id:
        raise ValueError("A contact cannot be merged into itself.")
    if source.status != "ACTIVE":
        raise ValueError(
            f"{source.data.get('Name')!r} is {source.status.lower()} and cannot be merged."
        )
    if target.status != "ACTIVE":
        raise ValueError(
            f"{target.data.get('Name')!r} is {target.status.lower()}; merge into an active contact."
        )
    data = dict(source.data)
    data["ContactStatus"] = "ARCHIVED"
    update_contact_row(conn, source_id, data, now_ms=now_ms, merged_to=target_id)
    row = get_row(conn, tenant_id, source_id)
    assert row is not None
    return row


# -- listing --------------------------------------------------------------------------------

_COLUMN_FIELDS: dict[str, Field] = {
    "contactid": Field("contact_id", "guid"),
    "name": Field("name", "string"),
    "contactnumber": Field("contact_number", "string"),
    "accountnumber": Field("account_number", "string"),
    "emailaddress": Field("email", "string"),
    "firstname": Field("first_name", "string"),
    "lastname": Field("last_name", "string"),
    "contactstatus": Field("status", "string"),
    "iscustomer": Field("is_customer", "bool"),
    "issupplier": Field("is_supplier", "bool"),
    "updateddateutc": Field("updated_ms", "date"),
    "mergedtocontactid": Field("merged_to", "guid"),
}


def resolve_field(path: str) -> Field | None:
    """Dynamic LINQ resolves member names case-insensitively."""
    key = path.lower()
    if key in _COLUMN_FIELDS:
        return _COLUMN_FIELDS[key]
    for name in STRING_FIELDS:
        if name.lower() == key:
            return Field(f"json_extract(data, '$.{name}')", "string")
    return None


@dataclass
class ContactQuery:
    where: str | None = None
    order: str | None = None
    ids: list[str] | None = None
    page: int | None = None
    page_size: int = 100
    include_archived: bool = False
    search_term: str | None = None
    modified_since_ms: int | None = None


def list_contacts(
    conn: sqlite3.Connection, tenant_id: str, q: ContactQuery
) -> tuple[list[ContactRow], int]:
    """The rows of one page (or of the first 100 when unpaged) and the total count."""
    clauses = ["tenant_id = ?"]
    params: list[Any] = [tenant_id]
    if not q.include_archived:
        clauses.append("status = 'ACTIVE'")
    if q.ids is not None:
        clauses.append(f"contact_id IN ({','.join('?' * len(q.ids))})")
        params.extend(q.ids)
    if q.modified_since_ms is not None:
        clauses.append("updated_ms >= ?")
        params.append(q.modified_since_ms)
    if q.search_term:
        like = (
            "%" + q.search_term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        clauses.append(
            "("
            + " OR ".join(
                f"{col} LIKE ? ESCAPE '\\'"
                for col in ("name", "first_name", "last_name", "contact_number", "email")
            )
            + ")"
        )
        params.extend([like] * 5)
    if q.where:
        sql, where_params = compile_where(q.where, resolve_field, "Contact")
        clauses.append(sql)
        params.extend(where_params)
    order_terms = compile_order(q.order, resolve_field, "Contact") if q.order else ["name ASC"]
    where_sql = " AND ".join(clauses)
    total = int(
        conn.execute(f"SELECT count(*) FROM contacts WHERE {where_sql}", params).fetchone()[0]
    )
    page = q.page or 1
    offset = (page - 1) * q.page_size
    rows = conn.execute(
        f"SELECT * FROM contacts WHERE {where_sql} ORDER BY {', '.join(order_terms)}, seq ASC "
        "LIMIT ? OFFSET ?",
        [*params, q.page_size, offset],
    ).fetchall()
    return [_row(r) for r in rows], total


def count_contacts(conn: sqlite3.Connection, tenant_id: str) -> dict[str, int]:
    counts = {"ACTIVE": 0, "ARCHIVED": 0, "GDPRREQUEST": 0}
    for status, n in conn.execute(
        "SELECT status, count(*) FROM contacts WHERE tenant_id = ? GROUP BY status", (tenant_id,)
    ):
        counts[status] = n
    return counts


Renderer = Callable[[ContactRow], dict[str, Any]]
