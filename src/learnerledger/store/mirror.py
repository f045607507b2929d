"""The local mirror of each connected Xero organisation: the only writer of ``xero_contacts``,
``xero_documents`` and ``xero_rejects``.

The Xero connector hands records over as rows (:class:`ContactRow`, :class:`DocumentRow`) and
the records it could not read as :class:`Reject`; a page is stored in the caller's transaction
(with where the read stands, ``store.cursors``). Readers get domain values back: a
:class:`~learnerledger.domain.mirror.ContactIndex` of an organisation's contacts, and
:class:`~learnerledger.domain.documents.MirroredDocument` with ``Decimal`` money (kept here as
decimal text: SQLite has no exact decimal type, and a float would lose cents).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date as _Day
from decimal import Decimal
from typing import Any, TypedDict

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from learnerledger.domain.documents import DOCUMENT_KINDS, MirroredDocument
from learnerledger.domain.mirror import ContactIndex, MirroredContact
from learnerledger.store._reading import StoreOrConnection, reading
from learnerledger.store.xero_tables import xero_contacts, xero_documents, xero_rejects

__all__ = [
    "ContactRow",
    "DocumentRow",
    "MirrorCounts",
    "PageCounts",
    "Reject",
    "RejectPlace",
    "clear_page_rejects",
    "count_contacts",
    "count_contacts_changed_since",
    "count_documents",
    "count_rejects",
    "counts",
    "iter_documents",
    "list_rejects",
    "load_contact_index",
    "load_documents",
    "store_contact_page",
    "store_contacts",
    "store_document_page",
    "store_documents",
]


class ContactRow(TypedDict):
    """A contact to mirror, column by column (``data``: its JSON as Xero sent it)."""

    contact_id: str
    name: str
    contact_number: str | None
    account_number: str | None
    first_name: str | None
    last_name: str | None
    email: str | None
    status: str
    merged_to: str | None
    is_customer: bool
    is_supplier: bool
    updated_ms: int
    data: str


class DocumentRow(TypedDict):
    """A document to mirror, column by column (``data``: its JSON as Xero sent it)."""

    kind: str  # one of DOCUMENT_KINDS
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
    updated_ms: int
    data: str


_MONEY = ("total", "amount_due", "amount_paid", "amount_credited", "remaining_credit")


@dataclass(frozen=True)
class Reject:
    """A record Xero sent that could not be read."""

    record_id: str | None
    reason: str
    raw: str


@dataclass(frozen=True)
class RejectPlace:
    """Where to read a set-aside record again: by its id, or the page it was on."""

    record_id: str | None
    retry_from_ms: int | None
    retry_page: int | None


@dataclass
class PageCounts:
    """What storing a page did."""

    written: int = 0  # new or changed records mirrored
    unchanged: int = 0  # already mirrored (read again)
    rejected: int = 0  # malformed records set aside
    recovered: int = 0  # records set aside earlier and now read


@dataclass(frozen=True)
class _Table:
    table: sa.Table
    id_column: str
    scoped: bool  # keyed by (kind, id) rather than id alone

    def key(self, row: Mapping[str, Any]) -> tuple[str, str]:
        return (str(row["kind"]) if self.scoped else "", str(row[self.id_column]))


_CONTACTS = _Table(xero_contacts, "contact_id", scoped=False)
_DOCUMENTS = _Table(xero_documents, "document_id", scoped=True)

# -- writing -------------------------------------------------------------------------------------


def _existing_versions(
    conn: Connection, connection_id: int, spec: _Table, ids: Sequence[str]
) -> dict[tuple[str, str], int]:
    """(kind, id) -> updated_ms of the mirrored versions of the records ``ids``."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    table = spec.table
    id_col = table.c[spec.id_column]
    kind_col = table.c.kind if spec.scoped else sa.literal("")
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(wanted), 500):
        rows = conn.execute(
            sa.select(kind_col, id_col, table.c.updated_ms).where(
                table.c.connection_id == connection_id, id_col.in_(wanted[start : start + 500])
            )
        )
        for kind, record_id, updated in rows:
            found[(str(kind), str(record_id))] = int(updated)
    return found


def _money_text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _write(
    conn: Connection,
    connection_id: int,
    spec: _Table,
    rows: Sequence[Mapping[str, Any]],
    now_ms: int,
) -> None:
    if not rows:
        return
    table = spec.table
    id_col = table.c[spec.id_column]
    by_kind: dict[str, list[str]] = {}
    for row in rows:
        kind, record_id = spec.key(row)
        by_kind.setdefault(kind, []).append(record_id)
    for kind, ids in by_kind.items():
        condition = [table.c.connection_id == connection_id, id_col.in_(ids)]
        if spec.scoped:
            condition.append(table.c.kind == kind)
        conn.execute(table.delete().where(*condition))
    values = []
    for row in rows:
        value = {"connection_id": connection_id, "mirrored_ms": now_ms, **row}
        if spec.scoped:
            value.update({m: _money_text(row[m]) for m in _MONEY})
        values.append(value)
    conn.execute(table.insert(), values)


def store_contacts(
    conn: Connection, connection_id: int, rows: Sequence[ContactRow], now_ms: int
) -> None:
    """Mirror contacts, replacing what was mirrored of them."""
    _write(conn, connection_id, _CONTACTS, rows, now_ms)


def store_documents(
    conn: Connection, connection_id: int, rows: Sequence[DocumentRow], now_ms: int
) -> None:
    """Mirror documents, replacing what was mirrored of them."""
    _write(conn, connection_id, _DOCUMENTS, rows, now_ms)


def _store_page(
    conn: Connection,
    connection_id: int,
    spec: _Table,
    stream: str,
    rows: Sequence[Mapping[str, Any]],
    rejects: Sequence[Reject],
    *,
    date_filter: str | None,
    retry_from_ms: int | None,
    retry_page: int,
    now_ms: int,
) -> PageCounts:
    counts = PageCounts()
    mirrored = _existing_versions(conn, connection_id, spec, [spec.key(r)[1] for r in rows])
    fresh: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in rows:
        key = spec.key(row)
        stamp = int(row["updated_ms"])
        if mirrored.get(key, -(2**62)) >= stamp:
            counts.unchanged += 1
            continue
        previous = fresh.get(key)
        if previous is None or int(previous["updated_ms"]) < stamp:
            fresh[key] = row
    _write(conn, connection_id, spec, list(fresh.values()), now_ms)
    counts.written += len(fresh)
    # A record read well now is no longer a problem.
    readable = [spec.key(r)[1] for r in rows]
    if readable:
        counts.recovered += conn.execute(
            xero_rejects.delete().where(
                xero_rejects.c.connection_id == connection_id,
                xero_rejects.c.stream == stream,
                xero_rejects.c.record_id.in_(readable),
            )
        ).rowcount
    for reject in rejects:
        counts.rejected += 1
        if reject.record_id is not None:
            conn.execute(
                xero_rejects.delete().where(
                    xero_rejects.c.connection_id == connection_id,
                    xero_rejects.c.stream == stream,
                    xero_rejects.c.record_id == reject.record_id,
                )
            )
        conn.execute(
            xero_rejects.insert().values(
                connection_id=connection_id,
                stream=stream,
                date_filter=date_filter,
                retry_from_ms=retry_from_ms,
                retry_page=retry_page,
                record_id=reject.record_id,
                reason=reject.reason,
                raw=reject.raw,
                seen_ms=now_ms,
            )
        )
    return counts


def store_contact_page(
    conn: Connection,
    connection_id: int,
    stream: str,
    rows: Sequence[ContactRow],
    rejects: Sequence[Reject],
    *,
    date_filter: str | None,
    retry_from_ms: int | None,
    retry_page: int,
    now_ms: int,
) -> PageCounts:
    """Store one page of contacts: new and changed ones mirrored (a version already mirrored
    is not written again), rejects of these records cleared, new rejects set aside with
    where to read them again (``retry_page`` under the If-Modified-Since ``retry_from_ms``)."""
    return _store_page(
        conn,
        connection_id,
        _CONTACTS,
        stream,
        rows,
        rejects,
        date_filter=date_filter,
        retry_from_ms=retry_from_ms,
        retry_page=retry_page,
        now_ms=now_ms,
    )


def store_document_page(
    conn: Connection,
    connection_id: int,
    stream: str,
    rows: Sequence[DocumentRow],
    rejects: Sequence[Reject],
    *,
    date_filter: str | None,
    retry_from_ms: int | None,
    retry_page: int,
    now_ms: int,
) -> PageCounts:
    """Store one page of documents, as :func:`store_contact_page` does contacts."""
    return _store_page(
        conn,
        connection_id,
        _DOCUMENTS,
        stream,
        rows,
        rejects,
        date_filter=date_filter,
        retry_from_ms=retry_from_ms,
        retry_page=retry_page,
        now_ms=now_ms,
    )


# -- records set aside ------------------------------------------------------------------------


def _reject_condition(connection_id: int, stream: str, date_filter: str | None) -> list[Any]:
    return [
        xero_rejects.c.connection_id == connection_id,
        xero_rejects.c.stream == stream,
        xero_rejects.c.date_filter.is_(None)
        if date_filter is None
        else xero_rejects.c.date_filter == date_filter,
    ]


def list_rejects(
    source: StoreOrConnection, connection_id: int, stream: str, date_filter: str | None
) -> list[RejectPlace]:
    """The records of a stream (read with ``date_filter``) set aside, to read again."""
    with reading(source) as conn:
        rows = conn.execute(
            sa.select(
                xero_rejects.c.record_id, xero_rejects.c.retry_from_ms, xero_rejects.c.retry_page
            ).where(*_reject_condition(connection_id, stream, date_filter))
        ).all()
    return [
        RejectPlace(
            None if r.record_id is None else str(r.record_id),
            None if r.retry_from_ms is None else int(r.retry_from_ms),
            None if r.retry_page is None else int(r.retry_page),
        )
        for r in rows
    ]


def clear_page_rejects(
    conn: Connection,
    connection_id: int,
    stream: str,
    date_filter: str | None,
    *,
    since_ms: int | None,
    page: int,
) -> int:
    """Forget the id-less rejects of one page (it is being read again); how many there were."""
    return int(
        conn.execute(
            xero_rejects.delete().where(
                *_reject_condition(connection_id, stream, date_filter),
                xero_rejects.c.record_id.is_(None),
                xero_rejects.c.retry_from_ms.is_(None)
                if since_ms is None
                else xero_rejects.c.retry_from_ms == since_ms,
                sa.func.coalesce(xero_rejects.c.retry_page, 1) == page,
            )
        ).rowcount
    )


# -- reading ------------------------------------------------------------------------------------


def _contact(row: Any) -> MirroredContact:
    return MirroredContact(
        contact_id=row.contact_id,
        name=row.name,
        contact_number=row.contact_number,
        status=row.status,
        merged_to=row.merged_to,
        updated_ms=int(row.updated_ms),
        data=json.loads(row.data),
    )


def load_contact_index(source: StoreOrConnection, connection_id: int) -> ContactIndex:
    """Every mirrored contact of the organisation, archived ones included, indexed."""
    with reading(source) as conn:
        rows = conn.execute(
            sa.select(xero_contacts).where(xero_contacts.c.connection_id == connection_id)
        )
        return ContactIndex.of(_contact(r) for r in rows)


def count_contacts_changed_since(
    conn: Connection, connection_id: int, floor_ms: int
) -> tuple[int, int | None]:
    """How many mirrored contacts changed at or after ``floor_ms``, and the newest change."""
    count, newest = conn.execute(
        sa.select(sa.func.count(), sa.func.max(xero_contacts.c.updated_ms)).where(
            xero_contacts.c.connection_id == connection_id,
            xero_contacts.c.updated_ms >= floor_ms,
        )
    ).one()
    return int(count), None if newest is None else int(newest)


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _document(row: Any) -> MirroredDocument:
    return MirroredDocument(
        kind=row.kind,
        document_id=row.document_id,
        type=row.type,
        number=row.number,
        reference=row.reference,
        status=row.status,
        contact_id=row.contact_id,
        applies_to_id=row.applies_to_id,
        date=row.date,
        due_date=row.due_date,
        currency=row.currency,
        total=_money(row.total),
        amount_due=_money(row.amount_due),
        amount_paid=_money(row.amount_paid),
        amount_credited=_money(row.amount_credited),
        remaining_credit=_money(row.remaining_credit),
        updated_ms=int(row.updated_ms),
        data=json.loads(row.data, parse_float=Decimal),
    )


def load_documents(
    source: StoreOrConnection,
    connection_id: int,
    *,
    kinds: Sequence[str] | None = None,
    contact_ids: Sequence[str] | None = None,
) -> list[MirroredDocument]:
    """The organisation's mirrored documents (of ``kinds``, of ``contact_ids``), by kind and
    id, with ``Decimal`` money."""
    unknown = set(kinds or ()) - set(DOCUMENT_KINDS)
    if unknown:
        raise ValueError(f"unknown document kinds: {', '.join(sorted(unknown))}")
    query = sa.select(xero_documents).where(xero_documents.c.connection_id == connection_id)
    if kinds is not None:
        query = query.where(xero_documents.c.kind.in_(list(kinds)))
    if contact_ids is not None:
        query = query.where(xero_documents.c.contact_id.in_(list(contact_ids)))
    query = query.order_by(xero_documents.c.kind, xero_documents.c.document_id)
    with reading(source) as conn:
        return [_document(r) for r in conn.execute(query)]


def iter_documents(
    source: StoreOrConnection,
    connection_id: int,
    *,
    kinds: Sequence[str],
    batch: int = 1000,
) -> Iterator[list[MirroredDocument]]:
    """The organisation's mirrored documents of ``kinds``, ``batch`` at a time (by kind, then
    id), so that a large organisation is read without holding all of it at once."""
    unknown = set(kinds) - set(DOCUMENT_KINDS)
    if unknown:
        raise ValueError(f"unknown document kinds: {', '.join(sorted(unknown))}")
    for kind in kinds:
        after = ""
        while True:
            query = (
                sa.select(xero_documents)
                .where(
                    xero_documents.c.connection_id == connection_id,
                    xero_documents.c.kind == kind,
                    xero_documents.c.document_id > after,
                )
                .order_by(xero_documents.c.document_id)
                .limit(batch)
            )
            with reading(source) as conn:
                found = [_document(r) for r in conn.execute(query)]
            if not found:
                break
            yield found
            after = found[-1].document_id
            if len(found) < batch:
                break


# -- counting -----------------------------------------------------------------------------------


def _count(conn: Connection, table: sa.Table, *where: Any) -> int:
    return int(
        conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
    )


def count_contacts(source: StoreOrConnection, *, status: str | None = None) -> int:
    """Mirrored contacts of every organisation (only those with ``status``)."""
    where = [] if status is None else [xero_contacts.c.status == status]
    with reading(source) as conn:
        return _count(conn, xero_contacts, *where)


def count_documents(source: StoreOrConnection, kind: str | None = None) -> int:
    """Mirrored documents of every organisation (only those of ``kind``)."""
    where = [] if kind is None else [xero_documents.c.kind == kind]
    with reading(source) as conn:
        return _count(conn, xero_documents, *where)


def count_rejects(source: StoreOrConnection) -> int:
    """Records set aside as unreadable, to be read again."""
    with reading(source) as conn:
        return _count(conn, xero_rejects)


@dataclass(frozen=True)
class MirrorCounts:
    """What the mirror holds, over every organisation."""

    contacts: int
    contacts_archived: int
    documents: Mapping[str, int]  # per kind, every kind present
    unreadable: int


def counts(source: StoreOrConnection) -> MirrorCounts:
    with reading(source) as conn:
        by_kind = dict.fromkeys(DOCUMENT_KINDS, 0)
        for kind, n in conn.execute(
            sa.select(xero_documents.c.kind, sa.func.count()).group_by(xero_documents.c.kind)
        ):
            by_kind[str(kind)] = int(n)
        return MirrorCounts(
            contacts=count_contacts(conn),
            contacts_archived=count_contacts(conn, status="ARCHIVED"),
            documents=by_kind,
            unreadable=count_rejects(conn),
        )
