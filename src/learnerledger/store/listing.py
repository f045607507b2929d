"""Reads for the web UI's pages and its API, a page at a time: learners with their link state
and Xero contact (searchable, filterable, fast at 100,000 learners), a few mirrored contacts
by id, when each connection was made, and the sales documents with what the resync wrote of
each to the SMS (searchable by learner, fast at 50,000 documents).

A learner's **link state** in one organisation, in this order:

- ``not_flagged``: Sync to Xero is off in the SMS; learnerledger leaves it alone;
- ``invalid``: not ready for Xero (its ``not_ready`` reasons say what to fix in the SMS);
- ``conflict``: the last sync recorded a problem for it in Xero (the run's problem says how
  to fix it); the caller passes these RefInternals, read from the History;
- ``linked``: it has its own contact in the organisation;
- ``ready``: ready and flagged, waiting for the next sync to give it a contact.

A document's **learner** is the one the resync put it on (``resync_documents``), else the
learner of its contact by the link table, else by the contact's ContactNumber: the resync's
own mapping (``resync.mapping``) also follows Xero's merge chains, which matters only for a
document still on a merged contact.

Read only: nothing here writes (``store/learners.py``, ``store/links.py``, ``store/mirror.py``
and ``store/resync.py`` do).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from learnerledger.domain.documents import MirroredDocument
from learnerledger.domain.mirror import MirroredContact
from learnerledger.store._reading import StoreOrConnection, reading
from learnerledger.store.learners import learners
from learnerledger.store.mirror import _contact as mirror_row
from learnerledger.store.mirror import _document as document_row
from learnerledger.store.resync import resync_documents, sms_documents
from learnerledger.store.sync_tables import contact_links
from learnerledger.store.tables import connections
from learnerledger.store.xero_tables import xero_contacts, xero_documents

__all__ = [
    "LINK_STATES",
    "SMS_STATES",
    "DocumentLine",
    "DocumentPage",
    "LearnerLine",
    "LearnerPage",
    "connected_since",
    "contacts_by_id",
    "count_link_states",
    "find_documents",
    "page_documents",
    "page_learners",
]

LINK_STATES = ("linked", "ready", "invalid", "conflict", "not_flagged")
# Where an invoice stands in the SMS, as far as the resync knows: on a learner there; a write
# sent whose answer was never seen; or taken off the learner it was on.
SMS_STATES = ("in_sms", "pending", "removed")


@dataclass(frozen=True)
class LearnerLine:
    ref_internal: str
    first_name: str
    last_name: str
    email: str
    state: str
    contact_id: str | None
    contact_name: str | None
    contact_status: str | None
    not_ready: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "ref_internal": self.ref_internal,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "state": self.state,
            "contact_id": self.contact_id,
            "contact_name": self.contact_name,
            "contact_status": self.contact_status,
            "not_ready": self.not_ready,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class LearnerPage:
    lines: list[LearnerLine]
    total: int  # learners matching the search and filter
    offset: int
    limit: int


def _state(connection_id: int | None, conflicts: Collection[str]) -> Any:
    col = learners.c
    linked = contact_links.c.contact_id.is_not(None)
    whens: list[tuple[Any, str]] = [
        (col.sync_to_xero.is_(False), "not_flagged"),
        (col.ready.is_(False), "invalid"),
    ]
    if conflicts:
        whens.append((col.ref_internal.in_(sorted(conflicts)), "conflict"))
    if connection_id is not None:
        whens.append((linked, "linked"))
    return sa.case(*whens, else_="ready")


def _joined(connection_id: int | None, *, contacts: bool = True) -> Any:
    link_on = sa.and_(
        contact_links.c.ref_internal == learners.c.ref_internal,
        contact_links.c.role == "learner",
        contact_links.c.connection_id == (connection_id if connection_id is not None else -1),
    )
    contact_on = sa.and_(
        xero_contacts.c.connection_id == contact_links.c.connection_id,
        xero_contacts.c.contact_id == contact_links.c.contact_id,
    )
    linked = learners.outerjoin(contact_links, link_on)
    return linked.outerjoin(xero_contacts, contact_on) if contacts else linked


def _contains(text: str) -> str:
    """A LIKE pattern (escape ``\\``) matching ``text`` anywhere, its wildcards taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _search(query: str) -> list[Any]:
    """Every word of ``query`` found in the RefInternal, a name or the email (any case).
    ``lower(...) LIKE`` rather than ILIKE: the same on SQLite, twice as fast on PostgreSQL."""
    where = []
    for word in query.lower().split():
        pattern = _contains(word)
        where.append(
            sa.or_(
                *(
                    sa.func.lower(column).like(pattern, escape="\\")
                    for column in (
                        learners.c.ref_internal,
                        learners.c.first_name,
                        learners.c.last_name,
                        learners.c.email,
                    )
                )
            )
        )
    return where


def page_learners(
    source: StoreOrConnection,
    connection_id: int | None,
    *,
    query: str = "",
    state: str | None = None,
    conflicts: Collection[str] = (),
    offset: int = 0,
    limit: int = 50,
) -> LearnerPage:
    """One page of learners by RefInternal, matching ``query`` (words) and ``state``."""
    state_of = _state(connection_id, conflicts)
    where = _search(query)
    if state is not None:
        where.append(state_of == state)
    joined = _joined(connection_id)
    rows_query = (
        sa.select(
            learners.c.ref_internal,
            learners.c.first_name,
            learners.c.last_name,
            learners.c.email,
            learners.c.not_ready,
            learners.c.warnings,
            state_of.label("state"),
            contact_links.c.contact_id,
            xero_contacts.c.name.label("contact_name"),
            xero_contacts.c.status.label("contact_status"),
        )
        .select_from(joined)
        .where(*where)
        .order_by(learners.c.ref_internal)
        .offset(max(0, offset))
        .limit(max(1, limit))
    )
    # Counting needs the link (for the state), never the contact's name.
    counted = _joined(connection_id, contacts=False) if state is not None else learners
    total_query = sa.select(sa.func.count()).select_from(counted).where(*where)
    with reading(source) as conn:
        total = int(conn.execute(total_query).scalar_one())
        lines = [
            LearnerLine(
                ref_internal=r.ref_internal,
                first_name=r.first_name,
                last_name=r.last_name,
                email=r.email,
                state=str(r.state),
                contact_id=r.contact_id,
                contact_name=r.contact_name,
                contact_status=r.contact_status,
                not_ready=list(r.not_ready or []),
                warnings=list(r.warnings or []),
            )
            for r in conn.execute(rows_query)
        ]
    return LearnerPage(lines=lines, total=total, offset=max(0, offset), limit=max(1, limit))


def count_link_states(
    source: StoreOrConnection, connection_id: int | None, *, conflicts: Collection[str] = ()
) -> dict[str, int]:
    """How many learners are in each link state (every state listed, zeros included)."""
    state_of = _state(connection_id, conflicts).label("state")
    query = (
        sa.select(state_of, sa.func.count()).select_from(_joined(connection_id)).group_by(state_of)
    )
    counts = dict.fromkeys(LINK_STATES, 0)
    with reading(source) as conn:
        for name, n in conn.execute(query):
            counts[str(name)] = int(n)
    return counts


def connected_since(source: StoreOrConnection) -> dict[int, datetime]:
    """When each connection was first made (the resync's default range starts a year before)."""
    with reading(source) as conn:
        rows = conn.execute(sa.select(connections.c.id, connections.c.created_utc))
        return {
            int(r.id): (
                r.created_utc.replace(tzinfo=UTC) if r.created_utc.tzinfo is None else r.created_utc
            )
            for r in rows
        }


def contacts_by_id(
    source: StoreOrConnection, connection_id: int, contact_ids: Collection[str]
) -> dict[str, MirroredContact]:
    """The mirrored contacts of the organisation with these ids (those the mirror holds)."""
    ids = sorted(set(contact_ids))
    found: dict[str, MirroredContact] = {}
    with reading(source) as conn:
        for start in range(0, len(ids), 500):
            rows = conn.execute(
                sa.select(xero_contacts).where(
                    xero_contacts.c.connection_id == connection_id,
                    xero_contacts.c.contact_id.in_(ids[start : start + 500]),
                )
            )
            for r in rows:
                found[r.contact_id] = mirror_row(r)
    return found


# -- documents ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentLine:
    """A mirrored sales document (the Xero side) and what the resync wrote of it to the SMS."""

    document: MirroredDocument
    contact_name: str | None
    contact_number: str | None
    learner: str | None  # see the module's docstring
    learner_name: str
    sms: str | None  # wisenet | csv: where the resync wrote it (None: never)
    sms_learner: str | None  # the learner the SMS holds it on (None: not held, or no longer)
    written_utc: datetime | None
    pending: str | None  # put | delete: sent by a resync that never saw the answer
    pending_learner: str | None
    sms_status: str | None  # a CSV source's copy in the local store
    sms_total: Decimal | None
    sms_due: Decimal | None


@dataclass(frozen=True)
class DocumentPage:
    lines: list[DocumentLine]
    total: int  # documents matching the search and filters
    offset: int
    limit: int
    more_learners: bool = False  # the search found more learners than it looked at


# The learner whose RefInternal a contact carries as its ContactNumber.
_BY_NUMBER = learners.alias("by_number")


def _documents_joined(connection_id: int) -> tuple[Any, Any]:
    """Documents with the resync's record, the contact's link and the contact (for the
    learner by ContactNumber); and the expression of each document's learner."""
    d, r, link, c = xero_documents, resync_documents, contact_links, xero_contacts
    by_number = _BY_NUMBER
    joined = (
        d.outerjoin(
            r, sa.and_(r.c.connection_id == connection_id, r.c.document_id == d.c.document_id)
        )
        .outerjoin(
            link,
            sa.and_(link.c.connection_id == connection_id, link.c.contact_id == d.c.contact_id),
        )
        .outerjoin(c, sa.and_(c.c.connection_id == connection_id, c.c.contact_id == d.c.contact_id))
        .outerjoin(by_number, by_number.c.ref_internal == c.c.contact_number)
    )
    learner = sa.func.coalesce(
        r.c.ref_internal, r.c.pending_ref, link.c.ref_internal, by_number.c.ref_internal
    )
    return joined, learner


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _utc_ms(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _lines(conn: Connection, connection_id: int, condition: Any) -> list[DocumentLine]:
    """The documents meeting ``condition`` (a few: each one's JSON is read), in no order."""
    joined, learner = _documents_joined(connection_id)
    s = sms_documents
    joined = joined.outerjoin(
        s,
        sa.and_(
            s.c.connection_id == connection_id, s.c.document_id == xero_documents.c.document_id
        ),
    )
    r = resync_documents
    query = (
        sa.select(
            xero_documents,
            xero_contacts.c.name.label("contact_name"),
            xero_contacts.c.contact_number,
            learner.label("learner"),
            r.c.sms,
            r.c.ref_internal.label("sms_learner"),
            r.c.written_ms,
            r.c.pending,
            r.c.pending_ref,
            s.c.status.label("sms_status"),
            s.c.amount_total.label("sms_total"),
            s.c.amount_due.label("sms_due"),
        )
        .select_from(joined)
        .where(xero_documents.c.connection_id == connection_id, condition)
    )
    rows = list(conn.execute(query))
    refs = sorted({r.learner for r in rows if r.learner})
    names: dict[str, str] = {}
    for start in range(0, len(refs), 500):
        for ref, first, last in conn.execute(
            sa.select(learners.c.ref_internal, learners.c.first_name, learners.c.last_name).where(
                learners.c.ref_internal.in_(refs[start : start + 500])
            )
        ):
            names[str(ref)] = f"{first} {last}".strip()
    return [
        DocumentLine(
            document=document_row(row),
            contact_name=row.contact_name,
            contact_number=row.contact_number,
            learner=row.learner,
            learner_name=names.get(row.learner or "", ""),
            sms=row.sms,
            sms_learner=row.sms_learner,
            written_utc=_utc_ms(row.written_ms),
            pending=row.pending,
            pending_learner=row.pending_ref,
            sms_status=row.sms_status,
            sms_total=_money(row.sms_total),
            sms_due=_money(row.sms_due),
        )
        for row in rows
    ]


def _sms_condition(sms: str | None) -> list[Any]:
    r = resync_documents
    if sms == "in_sms":
        return [r.c.ref_internal.is_not(None)]
    if sms == "pending":
        return [r.c.pending.is_not(None)]
    if sms == "removed":
        return [r.c.sms.is_not(None), r.c.ref_internal.is_(None), r.c.pending.is_(None)]
    return []


def _joined_keys(
    conn: Connection, connection_id: int, where: Sequence[Any], offset: int, limit: int
) -> tuple[list[tuple[str, str]], int]:
    """Keys of the documents meeting ``where`` in the page's order, and how many there are:
    each one's learner is worked out, so ``where`` must keep the documents few."""
    d = xero_documents
    joined, learner = _documents_joined(connection_id)
    keys = (
        sa.select(d.c.kind, d.c.document_id)
        .select_from(joined)
        .where(d.c.connection_id == connection_id, *where)
        .order_by(
            sa.case((learner.is_(None), 1), else_=0),
            learner,
            d.c.date.desc().nulls_last(),
            d.c.number,
            d.c.document_id,
        )
        .offset(offset)
        .limit(limit)
    )
    counting = (
        sa.select(sa.func.count())
        .select_from(joined)
        .where(d.c.connection_id == connection_id, *where)
    )
    total = int(conn.execute(counting).scalar_one())
    return [(str(k), str(i)) for k, i in conn.execute(keys)], total


def _resynced_keys(
    conn: Connection, connection_id: int, sms: str | None, offset: int, limit: int
) -> tuple[list[tuple[str, str]], int]:
    """The invoices the resync keeps a record of: those on a learner in the SMS by learner
    (walking the record's index, so a page costs what it shows), then those on none."""
    d, r = xero_documents, resync_documents
    joined = r.join(
        d,
        sa.and_(
            d.c.connection_id == r.c.connection_id,
            d.c.kind == "invoice",
            d.c.document_id == r.c.document_id,
        ),
    )
    sms_where = _sms_condition(sms)
    parts: list[tuple[list[Any], list[Any]]] = []
    if sms in (None, "in_sms", "pending"):
        parts.append(([r.c.ref_internal.is_not(None)], [r.c.ref_internal]))
    if sms in (None, "pending", "removed"):
        parts.append(([r.c.ref_internal.is_(None)], [r.c.pending_ref.nulls_last()]))
    keys: list[tuple[str, str]] = []
    total = 0
    for where, first in parts:
        condition = [r.c.connection_id == connection_id, *where, *sms_where]
        count = int(
            conn.execute(sa.select(sa.func.count()).select_from(r).where(*condition)).scalar_one()
        )
        skip = max(0, offset - total)
        if len(keys) < limit and skip < count:
            keys.extend(
                ("invoice", str(i))
                for (i,) in conn.execute(
                    sa.select(r.c.document_id)
                    .select_from(joined)
                    .where(*condition)
                    .order_by(*first, d.c.date.desc().nulls_last(), d.c.number, d.c.document_id)
                    .offset(skip)
                    .limit(limit - len(keys))
                )
            )
        total += count
    return keys, total


def _learner_candidates(
    conn: Connection, connection_id: int, refs: Sequence[str], kinds: Sequence[str]
) -> set[tuple[str, str]]:
    """Every document that may be one of these learners': the resync put it on one of them,
    or its contact is linked to one, or carries one's RefInternal as its ContactNumber.

    Where an index leads to them it is used; where none does (a write pending, a legacy
    contact absorbed), the table is read whole and the organisation picked here: the index on
    the organisation alone would cost a lookup per row, ten times the read."""
    d, r, link, c = xero_documents, resync_documents, contact_links, xero_contacts
    found: set[tuple[str, str]] = set()
    if "invoice" in kinds:
        written = sa.select(r.c.document_id).where(
            r.c.connection_id == connection_id, r.c.ref_internal.in_(refs)
        )
        pending = sa.select(r.c.connection_id, r.c.document_id).where(r.c.pending_ref.in_(refs))
        found.update(("invoice", str(i)) for (i,) in conn.execute(written))
        found.update(("invoice", str(i)) for o, i in conn.execute(pending) if o == connection_id)
    own = sa.select(link.c.contact_id).where(
        link.c.connection_id == connection_id,
        link.c.role == "learner",
        link.c.ref_internal.in_(refs),
    )
    absorbed = sa.select(link.c.connection_id, link.c.contact_id).where(
        link.c.role == "absorbed", link.c.ref_internal.in_(refs)
    )
    numbered = sa.select(c.c.contact_id).where(
        c.c.connection_id == connection_id, c.c.contact_number.in_(refs)
    )
    contacts = {str(i) for (i,) in conn.execute(own)}
    contacts.update(str(i) for o, i in conn.execute(absorbed) if o == connection_id)
    contacts.update(str(i) for (i,) in conn.execute(numbered))
    listed = sorted(contacts)
    for start in range(0, len(listed), 500):
        found.update(
            (str(k), str(i))
            for k, i in conn.execute(
                sa.select(d.c.kind, d.c.document_id).where(
                    d.c.connection_id == connection_id,
                    d.c.contact_id.in_(listed[start : start + 500]),
                    d.c.kind.in_(list(kinds)),
                )
            )
        )
    return found


def page_documents(
    source: StoreOrConnection,
    connection_id: int,
    *,
    kinds: Sequence[str],
    types: Sequence[str],
    query: str = "",
    sms: str | None = None,
    offset: int = 0,
    limit: int = 50,
    max_learners: int = 200,
) -> DocumentPage:
    """One page of the organisation's documents of ``kinds`` and ``types``, per learner (by
    RefInternal, those of no learner last; each learner's newest first); ``sms``: one of
    ``SMS_STATES``.

    With a ``query``: every document of the learners it finds (every word in the RefInternal,
    a name or the email; the first ``max_learners`` of them), and, if it has a digit, those
    whose number holds it. Without one, invoices are those the resync keeps a record of
    (what it wrote to the SMS, or tried to), by walking that record's index, so a page costs
    what it shows; other kinds (credits, a small part of a ledger) every one there is."""
    d = xero_documents
    offset, limit = max(0, offset), max(1, limit)
    words = query.strip()
    more = False
    with reading(source) as conn:
        if words:
            refs = [
                str(ref)
                for (ref,) in conn.execute(
                    sa.select(learners.c.ref_internal)
                    .where(*_search(words))
                    .order_by(learners.c.ref_internal)
                    .limit(max_learners + 1)
                )
            ]
            more, refs = len(refs) > max_learners, refs[:max_learners]
            candidates = _learner_candidates(conn, connection_id, refs, kinds)
            # Document numbers have digits (INV-0042): a search without one reads no numbers.
            number: Any = sa.false()
            if any(ch.isdigit() for ch in words):
                number = sa.func.lower(d.c.number).like(_contains(words.lower()), escape="\\")
                candidates.update(
                    (str(k), str(i))
                    for k, i in conn.execute(
                        sa.select(d.c.kind, d.c.document_id).where(
                            d.c.connection_id == connection_id, d.c.kind.in_(list(kinds)), number
                        )
                    )
                )
            _, learner = _documents_joined(connection_id)
            where = [
                _by_keys(candidates) if candidates else sa.false(),
                d.c.type.in_(list(types)),
                sa.or_(learner.in_(refs), number),
                *_sms_condition(sms),
            ]
            order, total = _joined_keys(conn, connection_id, where, offset, limit)
        elif list(kinds) == ["invoice"]:
            order, total = _resynced_keys(conn, connection_id, sms, offset, limit)
        else:
            where = [d.c.kind.in_(list(kinds)), d.c.type.in_(list(types)), *_sms_condition(sms)]
            order, total = _joined_keys(conn, connection_id, where, offset, limit)
        found = (
            {
                (line.document.kind, line.document.document_id): line
                for line in _lines(conn, connection_id, _by_keys(order))
            }
            if order
            else {}
        )
    lines = [found[key] for key in order if key in found]
    return DocumentPage(lines=lines, total=total, offset=offset, limit=limit, more_learners=more)


def _by_keys(keys: Collection[tuple[str, str]]) -> Any:
    by_kind: dict[str, list[str]] = {}
    for kind, document_id in keys:
        by_kind.setdefault(kind, []).append(document_id)
    d = xero_documents
    return sa.or_(
        *(sa.and_(d.c.kind == kind, d.c.document_id.in_(ids)) for kind, ids in by_kind.items())
    )


def find_documents(
    source: StoreOrConnection, connection_id: int, wanted: Collection[tuple[str, str]]
) -> dict[tuple[str, str], DocumentLine]:
    """The documents named by (kind, number or DocumentID), as a run's problems name them;
    of several with one number, one."""
    d = xero_documents
    by_kind: dict[str, set[str]] = {}
    for kind, name in wanted:
        by_kind.setdefault(kind, set()).add(name)
    found: dict[tuple[str, str], DocumentLine] = {}
    with reading(source) as conn:
        for kind, names in sorted(by_kind.items()):
            listed = sorted(names)
            for start in range(0, len(listed), 500):
                chunk = listed[start : start + 500]
                condition = sa.and_(
                    d.c.kind == kind, sa.or_(d.c.number.in_(chunk), d.c.document_id.in_(chunk))
                )
                for line in sorted(
                    _lines(conn, connection_id, condition), key=lambda x: x.document.document_id
                ):
                    doc = line.document
                    for key in (doc.number, doc.document_id):
                        if key is not None and key in names:
                            found.setdefault((kind, key), line)
    return found
