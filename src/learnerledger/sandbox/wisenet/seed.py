"""``learnerledger sandbox wisenet seed``: Demo Training Co's student management system.

The learners are ``sandbox.seed.demo_people``, the same people whose hand-typed contacts the
Xero sandbox seed holds, so those legacy contacts are their realistic duplicates. Most have
Sync to Xero ticked; some lack an email, a state or a postcode, some share a full name. The
workplaces are the employers among the Xero legacy contacts; some learners hold positions at
them, and some learners already have invoices (as an earlier integration would have left).
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from learnerledger.sandbox.seed import Address, Person, demo_people, legacy_contacts
from learnerledger.sandbox.wisenet import model
from learnerledger.sandbox.wisenet.store import SandboxStore, dump, learner_columns
from learnerledger.sandbox.wisenet.wire import format_ts

__all__ = ["SEED_TODAY", "SeedConflict", "SeedReport", "learner_record", "seed_account"]

SEED_TODAY = date(2026, 11, 1)
_NAMESPACE = uuid.UUID("0c5e7a1f-93d2-4b8e-a6f4-1d2c3b4a5e6f")
_GENDER_IDS = {"M": 1, "F": 2, "X": 3}
_COUNTRY_IDS = {
    row["Description"].casefold(): row["CountryId"] for row in model.COMBOS["countries"]
}
_STATE_IDS = {
    key.casefold(): row["StateId"]
    for row in model.COMBOS["states"]
    for key in (row["ShortDescription"], row["LongDescription"])
}
_PO_BOX = re.compile(r"^P\.?\s*O\.?\s*BOX\s+(\S+)$", re.IGNORECASE)
_UNIT = re.compile(r"^(?:Unit\s+)?(\d+)\s*[/,]\s*(\d+[A-Za-z]?)\s+(.+)$", re.IGNORECASE)
_NUMBERED = re.compile(r"^(\d+[A-Za-z]?)\s+(.+)$")


class SeedConflict(Exception):
    """The sandbox already holds learners and ``replace`` was not asked for."""


@dataclass(frozen=True)
class SeedReport:
    learners: int
    sync_to_xero: int
    workplaces: int
    positions: int
    invoices: int


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _address(address: Address | None, *, postal: bool) -> dict[str, Any] | None:
    if address is None:
        return None
    out: dict[str, Any] = {
        "SuburbTownCity": address.suburb or None,
        "StateId": _STATE_IDS.get(address.state.casefold()) if address.state else None,
        "Postcode": address.postcode or None,
        "CountryId": _COUNTRY_IDS.get(address.country.casefold()),
    }
    line = address.line1.strip()
    box = _PO_BOX.match(line)
    unit = _UNIT.match(line)
    numbered = _NUMBERED.match(line)
    if box and postal:
        out["PoBox"] = box.group(1)
    elif unit:
        out["UnitDetails"], out["StreetNumber"], out["StreetName"] = unit.groups()
    elif numbered:
        out["StreetNumber"], out["StreetName"] = numbered.groups()
    else:
        out["StreetName"] = line[:70] or None
    return out


def learner_record(person: Person, seed: int, *, active: bool = True) -> dict[str, Any]:
    """A person as a Wisenet learner (LearnerAu), with the server-owned fields filled."""
    personal: dict[str, Any] = {
        "LearnerNumber": person.ref_internal,
        "LearnerExportNumber": str(person.learner_id),
        "Title": person.title or None,
        "FirstName": person.first_name,
        "MiddleName": person.middle_name or None,
        "LastName": person.last_name,
        "PreferredNamed": person.preferred_name or None,
        "DateOfBirth": (
            format_ts(_ms(datetime.combine(person.date_of_birth, time(), tzinfo=UTC)))
            if person.date_of_birth
            else None
        ),
        "GenderId": _GENDER_IDS.get(person.gender),
        "IsActive": active,
        "SyncToXero": person.sync_to_xero,
        "SyncToSugarCrm": False,
        "PhoneNumbers": {
            "PhoneHome": person.phone_home or None,
            "PhoneWork": person.phone_work or None,
            "Mobile": person.mobile or None,
        },
        "EmailAddresses": {"Email": person.email or None},
        "StreetAddress": _address(person.street, postal=False),
        "PostalAddress": _address(person.postal, postal=True),
    }
    model.compose_lines(personal)
    return {
        "LearnerId": person.learner_id,
        "LearnerGuid": str(uuid.uuid5(_NAMESPACE, f"{seed}:{person.ref_internal}")),
        "Personal": personal,
        "LearnerAccess": {"Username": person.ref_internal.lower()},
    }


def _workplace(contact: dict[str, Any], workplace_id: int, rng: random.Random) -> dict[str, Any]:
    name = str(contact["Name"])
    letters = re.sub(r"[^A-Z0-9]", "", name.upper())[:6] or "WP"
    phones = [p["PhoneNumber"] for p in contact.get("Phones", []) if p.get("PhoneNumber")]
    email = contact.get("EmailAddress") or None
    record: dict[str, Any] = {
        "WorkplaceId": workplace_id,
        "Code": f"{letters}{workplace_id % 100:02d}",
        "Description": name[:150],
        "LegalName": name[:100],
        "ArchivedFlag": contact.get("ContactStatus") == "ARCHIVED",
        "Email": email if email and len(email) <= 50 else None,
        "Phone": phones[0] if phones and len(phones[0]) <= 15 else None,
        "BusinessNumber": (contact.get("TaxNumber") or "").replace(" ", "") or None,
        "SyncToXero": rng.random() < 0.7,
    }
    for address in contact.get("Addresses", []):
        state = _STATE_IDS.get(str(address.get("Region", "")).casefold())
        record["StreetAddress"] = {
            "AddressLine1": str(address.get("AddressLine1", ""))[:100] or None,
            "Suburb": str(address.get("City", ""))[:100] or None,
            "StateId": str(state) if state else None,
            "Postcode": str(address.get("PostalCode", ""))[:20] or None,
            "CountryId": _COUNTRY_IDS.get(str(address.get("Country", "")).casefold()),
        }
        break
    return record


def _invoice(rng: random.Random, learner_id: int, number: int, today: date) -> dict[str, Any]:
    issued = today - timedelta(days=rng.randrange(20, 700))
    course, price = rng.choice(
        [("CERT3", Decimal("1250.00")), ("CERT4", Decimal("1890.50")), ("FSK", Decimal("420.00"))]
    )
    paid = price if rng.random() < 0.6 else Decimal("0.00")
    payments = []
    if paid:
        moment = datetime.combine(issued + timedelta(days=9), time(), tzinfo=UTC)
        payments.append({"Type": "Payment", "Date": format_ts(_ms(moment)), "Amount": str(paid)})
    issued_at = datetime.combine(issued, time(), tzinfo=UTC)
    return {
        "InvoiceId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "LearnerId": learner_id,
        "InvoiceNumber": f"INV-{number:05d}",
        "InvoiceReference": f"{course}-{issued.year}",
        "SourceAppKey": "Xero",
        "Status": "PAID" if paid else "AUTHORISED",
        "Date": format_ts(_ms(issued_at)),
        "DueDate": format_ts(_ms(issued_at + timedelta(days=14))),
        "LineItems": [
            {
                "ItemCode": course,
                "Description": f"{course} tuition",
                "Quantity": 1,
                "UnitAmount": str(price),
                "AccountCode": "200",
                "TaxType": "EXEMPTOUTPUT",
                "TaxAmount": "0.00",
                "LineAmount": str(price),
            }
        ],
        "AmountTotal": str(price),
        "AmountPaid": str(paid),
        "AmountCredited": "0.00",
        "AmountDue": str(price - paid),
        "UpdateDateUtc": format_ts(_ms(issued_at + timedelta(days=10))),
        "Payments": payments,
    }


def seed_account(
    store: SandboxStore,
    *,
    seed: int = 1,
    scale: float = 1.0,
    replace: bool = False,
    today: date = SEED_TODAY,
    invoices: bool = True,
) -> SeedReport:
    """Write Demo Training Co's learners, workplaces, positions and invoices into ``store``.

    ``invoices=False`` leaves out the invoices an earlier integration would have left (they have
    no counterpart in the Xero sandbox's seed, so a reconciliation lists them); the learners,
    workplaces and positions are the same either way."""
    keep_invoices = invoices
    people = demo_people(seed, scale, today=today)
    employers = [
        c.contact for c in legacy_contacts(people, seed, today=today) if c.kind == "employer"
    ]
    rng = random.Random(f"wisenet-sandbox:{seed}")
    end = datetime.combine(today, time(), tzinfo=UTC)
    with store.tx() as conn:
        existing = conn.execute("SELECT count(*) FROM learners").fetchone()[0]
        if existing and not replace:
            raise SeedConflict(
                f"The sandbox already holds {existing} learners. Seed a new --db, or pass "
                "--replace to delete them first."
            )
        for table in ("learners", "invoices", "workplaces", "positions"):
            conn.execute(f"DELETE FROM {table}")
        rows = []
        for person in people:
            record = learner_record(person, seed, active=rng.random() >= 0.06)
            modified = _ms(person.modified_utc)
            record["LastModifiedTimeStamp"] = format_ts(modified)
            columns = learner_columns(record)
            rows.append(
                (
                    record["LearnerId"],
                    record["LearnerGuid"],
                    person.ref_internal.casefold(),
                    *columns.values(),
                    modified,
                    format_ts(modified),
                    dump(record),
                )
            )
        names = ", ".join(learner_columns({}).keys())
        conn.executemany(
            f"INSERT INTO learners (learner_id, guid, number, {names}, modified_ms,"
            f" modified_text, data) VALUES ({', '.join('?' * 16)})",
            rows,
        )
        last_number = max((int(p.ref_internal[3:]) for p in people), default=0)
        store.save_learner_number(conn, last_number)
        workplaces = [_workplace(c, 301 + i, rng) for i, c in enumerate(employers)]
        for record in workplaces:
            model.read_body(model.WORKPLACE, record, label="seeded workplace")
            moment = _ms(end - timedelta(seconds=rng.randrange(3 * 365 * 86_400)))
            record["LastModifiedTimeStamp"] = format_ts(moment)
            conn.execute(
                "INSERT INTO workplaces (workplace_id, code, description, modified_ms,"
                " modified_text, data) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record["WorkplaceId"],
                    record["Code"].casefold(),
                    record["Description"].casefold(),
                    moment,
                    format_ts(moment),
                    dump(record),
                ),
            )
        positions = written = 0
        for person in people:
            if workplaces and rng.random() < 0.2:
                positions += 1
                start = end - timedelta(days=rng.randrange(30, 1000))
                finish = start + timedelta(days=365) if rng.random() < 0.3 else None
                record = {
                    "LearnerPositionId": 900 + positions,
                    "LearnerId": person.learner_id,
                    "WorkplaceId": rng.choice(workplaces)["WorkplaceId"],
                    "PositionId": rng.choice((1, 5, 6)),
                    "WorkplaceTypeId": 1,
                    "StartDate": format_ts(_ms(start)),
                    "EndDate": format_ts(_ms(finish)) if finish else None,
                    "LastModifiedTimeStamp": format_ts(_ms(start)),
                }
                conn.execute(
                    "INSERT INTO positions (position_id, learner_id, workplace_id, modified_ms,"
                    " modified_text, data) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        record["LearnerPositionId"],
                        person.learner_id,
                        record["WorkplaceId"],
                        _ms(start),
                        format_ts(_ms(start)),
                        dump(record),
                    ),
                )
            for _ in range(rng.choice((0, 0, 0, 0, 0, 0, 1, 1, 2))):
                invoice = _invoice(rng, person.learner_id, written + 1, today)
                if not keep_invoices:
                    continue  # drawn all the same, so the rest of the seed does not change
                written += 1
                conn.execute(
                    "INSERT INTO invoices (invoice_id, learner_id, data) VALUES (?, ?, ?)",
                    (invoice["InvoiceId"].casefold(), person.learner_id, dump(invoice)),
                )
    return SeedReport(
        learners=len(people),
        sync_to_xero=sum(p.sync_to_xero for p in people),
        workplaces=len(workplaces),
        positions=positions,
        invoices=written,
    )
