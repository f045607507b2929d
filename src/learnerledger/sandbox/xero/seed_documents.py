"""The demo organisation's documents: three years of a training provider's invoices, bills,
payments, credit notes, prepayments and overpayments, for the legacy contacts of the seed.

Learners are invoiced for their courses (GST free, account 210) and sometimes a resource kit
(GST, account 200), and pay by card or in instalments into the business bank account (090).
Some pay a deposit first (a prepayment), some pay too much (an overpayment, later refunded or
left open), some withdraw (a credit note, applied or refunded), some never pay. Employers are
invoiced for groups of learners on 30-day terms. Trainers and suppliers send bills. Invoices of
the last two months are still drafts, awaiting approval or open; every status Xero has appears:
DRAFT, SUBMITTED, AUTHORISED (unpaid, part paid, overdue), PAID, VOIDED and DELETED, and
deleted payments and allocations too. An archived contact's documents all date from before it
was archived.

The documents are written with the store-level functions that skip validation (as the contacts
are), but every amount is planned to respect Xero's rules: nothing is paid or credited beyond
what is open, and the money adds up (the tests check it). Every draw comes from one
``random.Random`` seeded with a string and goes through ``random()``; ids are ``uuid5`` of the
seed; dates are counted back from ``today``. The same seed gives the same documents.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from learnerledger.sandbox.seed import LegacyContact
from learnerledger.sandbox.xero import documents as docs
from learnerledger.sandbox.xero import payments as pay
from learnerledger.sandbox.xero.money import ZERO, from_cents, q2
from learnerledger.sandbox.xero.organisation import find_account
from learnerledger.sandbox.xero.wire import date_ms

__all__ = ["DOCUMENT_NAMESPACE", "document_summary", "seed_documents"]

DOCUMENT_NAMESPACE = uuid.UUID("5d0c7a8e-31f4-4b6a-9e52-8c17d4f2a6b9")
_HISTORY_DAYS = 3 * 365
_RECENT_DAYS = 60

# Courses a learner enrols in, with their fees (GST free).
_COURSES = (
    ("Certificate III in Individual Support", "1850.00"),
    ("Certificate IV in Training and Assessment", "2495.00"),
    ("Certificate III in Early Childhood Education and Care", "3200.00"),
    ("Diploma of Early Childhood Education and Care", "6900.00"),
    ("Certificate IV in Ageing Support", "2750.00"),
    ("Certificate II in Security Operations", "1290.00"),
    ("Certificate IV in Work Health and Safety", "2200.00"),
    ("Diploma of Leadership and Management", "4950.00"),
    ("Provide First Aid (HLTAID011)", "145.00"),
    ("Provide Cardiopulmonary Resuscitation (HLTAID009)", "75.00"),
)
_KIT = ("Learner resource kit", "89.00")
# What trainers and suppliers bill, with the account and a range of amounts (dollars).
_BILLS = (
    ("Contract training delivery", "412", 600, 4200),
    ("Venue hire", "400", 250, 1800),
    ("Printing of learner guides", "461", 80, 900),
    ("Travel to a regional campus", "493", 120, 1400),
)

# How a sales invoice's story ends, with integer weights (old invoices / the last two months).
_FATES_OLD = {
    "paid": 44,
    "instalments": 10,
    "part_paid": 7,
    "unpaid": 5,
    "part_credited": 5,
    "withdrawn": 3,
    "prepaid": 5,
    "overpaid": 4,
    "voided": 5,
    "deleted": 3,
    "payment_deleted": 3,
    "refunded_credit": 2,
    "open_credit": 2,
    "draft_credit": 1,
    "voided_credit": 1,
    "open_prepayment": 1,
}
_FATES_RECENT = {"draft": 20, "submitted": 10, "unpaid": 40, "part_paid": 15, "paid": 15}
_BILL_FATES = {"paid": 70, "unpaid": 12, "part_paid": 6, "voided": 5, "supplier_credit": 7}


class _Rng:
    """Every draw goes through ``Random.random()``, which Python keeps stable across versions."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(f"learnerledger.seed/xero-documents/{seed}").random

    def below(self, n: int) -> int:
        return int(self._random() * n)

    def chance(self, p: float) -> bool:
        return self._random() < p

    def pick(self, options: Sequence[Any]) -> Any:
        return options[self.below(len(options))]

    def weighted(self, weights: dict[str, int]) -> str:
        roll = self.below(sum(weights.values()))
        for name, weight in weights.items():
            roll -= weight
            if roll < 0:
                return name
        raise AssertionError("unreachable")

    def share(self, amount: Decimal, low: int, high: int) -> Decimal:
        """A share of ``amount`` between low% and high%, to the cent."""
        return q2(amount * (low + self.below(high - low + 1)) / 100)


@dataclass(frozen=True)
class _Story:
    day: date
    key: str  # stable within the seed: contact key and story number
    contact_id: str
    kind: str  # learner | employer | supplier
    cutoff: date  # nothing happens on or after this day


class _Writer:
    """Writes the documents of the stories through the store-level functions."""

    def __init__(
        self, conn: sqlite3.Connection, tenant_id: str, seed: int, rng: _Rng, today: date
    ) -> None:
        self.conn = conn
        self.first_day = today - timedelta(days=_HISTORY_DAYS)
        self.tenant_id = tenant_id
        self.seed = seed
        self.rng = rng
        bank = find_account(conn, tenant_id, code="090")
        assert bank is not None, "the organisation has no chart of accounts"
        self.bank = bank
        self.numbers = {"INV-": 0, "CN-": 0}
        self.ids = Counter[str]()

    def id_for(self, key: str) -> str:
        self.ids[key] += 1
        return str(uuid.uuid5(DOCUMENT_NAMESPACE, f"{self.seed}:{key}:{self.ids[key]}"))

    def moment(self, day: date) -> int:
        """An office hour on ``day`` in Sydney (UTC 22:00 the evening before to 06:00)."""
        return date_ms(day) - 2 * 3_600_000 + self.rng.below(8 * 3_600) * 1000

    def number(self, prefix: str) -> str:
        self.numbers[prefix] += 1
        return f"{prefix}{self.numbers[prefix]:04d}"

    def document(
        self,
        story: _Story,
        type_: str,
        lines: list[dict[str, Any]],
        *,
        day: date,
        status: str,
        due_days: int | None = None,
        reference: str = "",
    ) -> docs.DocRow:
        kind = docs.CREDIT_NOTE if type_.endswith("CREDIT") else docs.INVOICE
        lines = [{**line, "LineItemID": self.id_for(story.key)} for line in lines]
        data: dict[str, Any] = {
            "Type": type_,
            "Contact": {"ContactID": story.contact_id},
            "Date": day,
            "Status": status,
            "LineItems": lines,
            "Reference": reference,
        }
        if due_days is not None:
            data["DueDate"] = day + timedelta(days=due_days)
        if type_ == "ACCREC":
            data["InvoiceNumber"] = self.number("INV-")
        elif type_ == "ACCRECCREDIT":
            data["CreditNoteNumber"] = self.number("CN-")
        elif type_ == "ACCPAY":
            data["InvoiceNumber"] = f"SUP-{self.rng.below(90000) + 10000}"  # the supplier's own
        doc_id = docs.insert_invoice(
            self.conn,
            self.tenant_id,
            data,
            now_ms=self.moment(day),
            kind=kind,
            doc_id=self.id_for(story.key),
        )
        return docs.refresh(self.conn, doc_id, now_ms=self.moment(day))

    def receive(self, story: _Story, kind: str, amount: Decimal, day: date) -> docs.DocRow:
        """A RECEIVE-PREPAYMENT or RECEIVE-OVERPAYMENT into the bank account."""
        credit_kind = docs.PREPAYMENT if kind == "PREPAYMENT" else docs.OVERPAYMENT
        line: dict[str, Any] = {"Description": "Deposit" if kind == "PREPAYMENT" else "Paid twice"}
        line["LineAmount"] = amount
        line["LineItemID"] = self.id_for(story.key)
        if kind == "PREPAYMENT":
            line.update(
                AccountCode="210", AccountID=self._account_id("210"), TaxType="EXEMPTOUTPUT"
            )
        doc_id = self.id_for(story.key)
        data, errors = docs.compose(
            credit_kind,
            doc_id=doc_id,
            type_=f"RECEIVE-{kind}",
            status="AUTHORISED",
            number=None,
            fields={"Reference": ""},
            lines=[line],
            amount_types="NoTax",
            day=day,
            due=None,
        )
        assert not errors, errors
        pay.insert_bank_transaction(
            self.conn,
            self.tenant_id,
            type_=f"RECEIVE-{kind}",
            contact_id=story.contact_id,
            bank=self.bank,
            data=data,
            day=day,
            reference="",
            reconciled=True,
            now_ms=self.moment(day),
            bank_transaction_id=self.id_for(story.key),
        )
        return self.reload(doc_id)

    def _account_id(self, code: str) -> str:
        account = find_account(self.conn, self.tenant_id, code=code)
        assert account is not None
        return str(account["AccountID"])

    def reload(self, doc_id: str) -> docs.DocRow:
        row = docs.get_document(self.conn, self.tenant_id, doc_id)
        assert row is not None
        return row

    def pay(self, story: _Story, doc: docs.DocRow, amount: Decimal, day: date) -> str:
        assert 0 < amount <= from_cents(self.reload(doc.doc_id).amount_due), (amount, doc)
        payment_id = self.id_for(story.key)
        pay.insert_payment(
            self.conn,
            self.tenant_id,
            self.reload(doc.doc_id),
            payment_id=payment_id,
            day=day,
            amount=amount,
            account=self.bank,
            reference=self.rng.pick(("", "Card", "EFT", "BPAY", "Direct deposit")),
            reconciled=self.rng.chance(0.7),
            now_ms=self.moment(day),
        )
        return payment_id

    def delete_payment(self, payment_id: str, doc: docs.DocRow, day: date) -> None:
        pay.mark_payment_deleted(self.conn, payment_id, doc.doc_id, now_ms=self.moment(day))

    def allocate(
        self, story: _Story, credit: docs.DocRow, invoice: docs.DocRow, amount: Decimal, day: date
    ) -> str:
        open_credit = from_cents(self.reload(credit.doc_id).amount_due)
        open_invoice = from_cents(self.reload(invoice.doc_id).amount_due)
        assert 0 < amount <= min(open_credit, open_invoice), (amount, open_credit, open_invoice)
        return pay.insert_allocation(
            self.conn,
            self.tenant_id,
            self.reload(credit.doc_id),
            self.reload(invoice.doc_id),
            amount=amount,
            day=day,
            now_ms=self.moment(day),
            allocation_id=self.id_for(story.key),
        )

    def unallocate(self, credit: docs.DocRow, allocation_id: str, day: date) -> None:
        removed = pay.delete_allocation(
            self.conn, self.tenant_id, credit, allocation_id, now_ms=self.moment(day)
        )
        assert removed is not None


def _line(description: str, amount: str, account: str, quantity: int = 1) -> dict[str, Any]:
    return {
        "Description": description,
        "Quantity": quantity,
        "UnitAmount": amount,
        "AccountCode": account,
    }


def _after(story: _Story, day: date, rng: _Rng, low: int, high: int) -> date | None:
    """A day ``low`` to ``high`` days after ``day``, or None when that is not before the
    story's cut-off (today, or the day the contact was archived)."""
    later = day + timedelta(days=low + rng.below(high - low + 1))
    return later if later < story.cutoff else None


def _sale(w: _Writer, story: _Story) -> None:
    """One enrolment (learner) or group booking (employer), and how it was paid."""
    rng = w.rng
    course, fee = rng.pick(_COURSES)
    if story.kind == "employer":
        lines = [_line(course, fee, "210", quantity=2 + rng.below(11))]
        due_days = 30
    else:
        lines = [_line(course, fee, "210")]
        if rng.chance(0.3):
            lines.append(_line(*_KIT, "200"))
        due_days = 14
    recent = (story.cutoff - story.day).days < _RECENT_DAYS
    fate = rng.weighted(_FATES_RECENT if recent else _FATES_OLD)
    day = story.day

    if fate == "open_prepayment":
        w.receive(story, "PREPAYMENT", rng.share(Decimal(fee), 20, 50), day)
        return
    if fate in ("draft_credit", "voided_credit", "open_credit", "refunded_credit"):
        status = {
            "draft_credit": rng.pick(("DRAFT", "SUBMITTED", "DELETED")),
            "voided_credit": "VOIDED",
        }.get(fate, "AUTHORISED")
        credit = w.document(
            story,
            "ACCRECCREDIT",
            [_line(f"Refund: {course}", str(rng.share(Decimal(fee), 10, 100)), "210")],
            day=day,
            status=status,
        )
        refund_day = _after(story, day, rng, 1, 20)
        if fate == "refunded_credit" and refund_day:
            w.pay(story, credit, from_cents(credit.amount_due), refund_day)
        return
    if fate in ("draft", "submitted", "deleted"):
        status = {"draft": "DRAFT", "submitted": "SUBMITTED", "deleted": "DELETED"}[fate]
        w.document(story, "ACCREC", lines, day=day, status=status, due_days=due_days)
        return

    prepayment = None
    if fate == "prepaid":
        deposit = rng.share(Decimal(fee), 20, 100)
        paid_on = max(w.first_day, day - timedelta(days=1 + rng.below(20)))
        prepayment = w.receive(story, "PREPAYMENT", deposit, paid_on)
    status = "VOIDED" if fate == "voided" else "AUTHORISED"
    invoice = w.document(story, "ACCREC", lines, day=day, status=status, due_days=due_days)
    total = from_cents(invoice.total)
    if fate in ("voided", "unpaid") or total == ZERO:
        return
    first = _after(story, day, rng, 0, 25)
    if first is None:
        return
    if prepayment is not None:
        w.allocate(story, prepayment, invoice, min(from_cents(prepayment.amount_due), total), first)
    if fate in ("part_credited", "withdrawn"):
        share = total if fate == "withdrawn" else rng.share(total, 10, 60)
        credit = w.document(
            story,
            "ACCRECCREDIT",
            [_line(f"Credit: {course}", str(share), "210")],
            day=first,
            status="AUTHORISED",
        )
        applied = min(from_cents(credit.amount_due), share)
        if rng.chance(0.2):
            # Applied to the wrong line of business first: removed, then applied again.
            mistake = w.allocate(story, credit, invoice, applied, first)
            w.unallocate(credit, mistake, first)
        w.allocate(story, credit, invoice, applied, first)
    due = from_cents(w.reload(invoice.doc_id).amount_due)
    if due == ZERO or fate == "withdrawn":
        return
    if fate == "part_paid":
        w.pay(story, invoice, rng.share(due, 20, 80), first)
    elif fate == "instalments":
        parts = 2 + rng.below(2)
        instalment = q2(due / parts)
        day_of = first
        for n in range(parts):
            amount = (
                instalment if n < parts - 1 else from_cents(w.reload(invoice.doc_id).amount_due)
            )
            w.pay(story, invoice, amount, day_of)
            next_day = _after(story, day_of, rng, 25, 35)
            if next_day is None:
                break
            day_of = next_day
    elif fate == "payment_deleted":
        # Keyed in twice by mistake: the duplicate is deleted, the money stays paid once.
        kept = w.pay(story, invoice, due, first)
        w.delete_payment(kept, invoice, first)
        w.pay(story, invoice, due, first)
    else:
        w.pay(story, invoice, due, first)
    if fate == "overpaid":
        extra = rng.share(total, 5, 40)
        overpayment = w.receive(story, "OVERPAYMENT", extra, first)
        refund_day = _after(story, first, rng, 3, 30)
        if refund_day is not None and rng.chance(0.6):
            w.pay(story, overpayment, extra, refund_day)


def _bill(w: _Writer, story: _Story) -> None:
    """A trainer's or supplier's bill, and how the organisation paid it."""
    rng = w.rng
    description, account, low, high = rng.pick(_BILLS)
    amount = Decimal(low + rng.below(high - low)).quantize(Decimal("0.01"))
    fate = rng.weighted(_BILL_FATES)
    status = "VOIDED" if fate == "voided" else "AUTHORISED"
    bill = w.document(
        story,
        "ACCPAY",
        [_line(description, str(amount), account)],
        day=story.day,
        status=status,
        due_days=30,
    )
    paid_day = _after(story, story.day, rng, 5, 35)
    if fate in ("voided", "unpaid") or paid_day is None:
        return
    if fate == "supplier_credit":
        share = rng.share(from_cents(bill.total), 10, 50)
        credit = w.document(
            story,
            "ACCPAYCREDIT",
            [_line(f"Credit: {description}", str(share), account)],
            day=paid_day,
            status="AUTHORISED",
        )
        w.allocate(story, credit, bill, from_cents(credit.total), paid_day)
    due = from_cents(w.reload(bill.doc_id).amount_due)
    if due > ZERO:
        w.pay(story, bill, rng.share(due, 30, 70) if fate == "part_paid" else due, paid_day)


def _stories(
    contacts: Sequence[LegacyContact], ids: Callable[[str], str], rng: _Rng, today: date
) -> list[_Story]:
    stories: list[_Story] = []
    for contact in contacts:
        archived = contact.contact.get("ContactStatus") == "ARCHIVED"
        cutoff = contact.updated_utc.date() if archived else today
        start = today - timedelta(days=_HISTORY_DAYS)
        span = (cutoff - start).days - 1
        if span < 1:
            continue
        if contact.kind == "employer":
            kind, count = "employer", 4 + rng.below(11)
        elif contact.variant in ("supplier", "trainer"):
            kind, count = "supplier", 3 + rng.below(6)
        else:
            kind, count = "learner", 1 + rng.below(5)
        contact_id = ids(contact.key)
        for n in range(count):
            day = start + timedelta(days=1 + rng.below(span))
            stories.append(_Story(day, f"{contact.key}:{n}", contact_id, kind, cutoff))
    stories.sort(key=lambda s: (s.day, s.key))
    return stories


def seed_documents(
    conn: sqlite3.Connection,
    tenant_id: str,
    contacts: Sequence[LegacyContact],
    *,
    contact_id_for: Callable[[str], str],
    seed: int,
    today: date,
) -> None:
    """Write the documents of ``contacts`` (already in the store under ``contact_id_for(key)``)
    in date order, and set the organisation's next INV- and CN- numbers after them."""
    rng = _Rng(seed)
    writer = _Writer(conn, tenant_id, seed, rng, today)
    for story in _stories(contacts, contact_id_for, rng, today):
        if story.kind == "supplier":
            _bill(writer, story)
        else:
            _sale(writer, story)
    for prefix, used in writer.numbers.items():
        conn.execute(
            "INSERT INTO sequences (tenant_id, name, next) VALUES (?, ?, ?) "
            "ON CONFLICT (tenant_id, name) DO UPDATE SET next = excluded.next",
            (tenant_id, prefix, used + 1),
        )


def document_summary(conn: sqlite3.Connection, tenant_id: str, *, today: date) -> dict[str, int]:
    """Counts of an organisation's documents by kind, type and status, of its payments and
    allocations, and of the invoices overdue on ``today``; keys sorted (docs/seed.md shows
    them for the demo organisation)."""
    counts: Counter[str] = Counter()
    for kind, type_, status, n in conn.execute(
        "SELECT kind, type, status, count(*) FROM documents WHERE tenant_id = ? "
        "GROUP BY kind, type, status",
        (tenant_id,),
    ):
        counts["documents"] += n
        counts[f"{kind}.type.{type_}"] += n
        counts[f"{kind}.status.{status}"] += n
    for status, n in conn.execute(
        "SELECT status, count(*) FROM payments WHERE tenant_id = ? GROUP BY status", (tenant_id,)
    ):
        counts[f"payments.status.{status}"] += n
    for deleted, n in conn.execute(
        "SELECT deleted, count(*) FROM allocations WHERE tenant_id = ? GROUP BY deleted",
        (tenant_id,),
    ):
        counts["allocations.deleted" if deleted else "allocations"] += n
    counts["bank_transactions"] = conn.execute(
        "SELECT count(*) FROM bank_transactions WHERE tenant_id = ?", (tenant_id,)
    ).fetchone()[0]
    overdue = conn.execute(
        "SELECT count(*) FROM documents WHERE tenant_id = ? AND kind = 'invoice' "
        "AND status = 'AUTHORISED' AND due_date_ms < ?",
        (tenant_id, date_ms(today)),
    ).fetchone()[0]
    counts["invoice.overdue"] = overdue
    return dict(sorted(counts.items()))
