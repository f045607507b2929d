"""The local mirror of a Xero organisation: ``pull contacts`` and ``pull documents``.

A pull reads one stream at a time through :meth:`XeroClient.iter_pages`, from the stream's
cursor: when the previous complete pull began, less a margin for clocks. Each page is written
in one transaction together with where the pull stands, so a pull stopped anywhere (a spent
daily limit, a lost network, Ctrl-C) carries on from the next page and loses nothing. Records
already mirrored with the same ``UpdatedDateUTC`` (read again) are dropped; archived contacts
and ``MergedToContactID`` are kept like any other field. A record Xero sends malformed is set
aside in ``xero_rejects`` and reported; the rest of its page is mirrored, and the next pull
asks for it again.

Every pull is a run in the History (``runs``), with its counts, its problems and how it ended:
``succeeded``, ``paused`` (a spent rate limit: the pull returns its report, whose ``paused``
error says when it resumes) or ``failed`` (the error is raised).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from learnerledger.errors import LearnerLedgerError, RateLimited
from learnerledger.store import Store
from learnerledger.store.tables import runs
from learnerledger.store.xero_tables import (
    xero_contacts,
    xero_cursors,
    xero_documents,
    xero_rejects,
)
from learnerledger.xero.client import (
    BATCH_LIMIT,
    CONTACTS,
    DOCUMENT_STREAMS,
    Page,
    RecordProblem,
    Stream,
    XeroClient,
    date_where,
)
from learnerledger.xero.wire import Contact, Document, dumps, to_ms

__all__ = [
    "DOCUMENT_STREAM_NAMES",
    "PullProgress",
    "PullReport",
    "StreamReport",
    "cursor_name",
    "pull_contacts",
    "pull_documents",
    "store_contacts",
]

T = TypeVar("T", Contact, Document)

DOCUMENT_STREAM_NAMES = tuple(DOCUMENT_STREAMS)
_MAX_ERRORS_KEPT = 200  # per run; the full list of unreadable records is in xero_rejects


@dataclass(frozen=True)
class PullProgress:
    """Sent to ``on_progress`` after each page."""

    organisation: str
    stream: str
    pages: int
    received: int
    total: int | None  # as Xero counted it on the first page


@dataclass
class StreamReport:
    stream: str
    pages: int = 0
    received: int = 0  # records in Xero's answers
    written: int = 0  # new or changed records mirrored
    unchanged: int = 0  # already mirrored (read again)
    rejected: int = 0  # malformed records set aside
    recovered: int = 0  # records set aside earlier and now read
    complete: bool = False

    def as_counts(self) -> dict[str, int]:
        return {
            "pages": self.pages,
            "received": self.received,
            "written": self.written,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "recovered": self.recovered,
        }


@dataclass
class PullReport:
    """What a pull did, for the CLI, the History and the benchmark."""

    job: str
    organisation: str
    run_id: int
    status: str = "running"  # succeeded | paused | failed
    calls: int = 0
    streams: list[StreamReport] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    paused: RateLimited | None = None  # why and until when, when status is ``paused``

    def counts(self) -> dict[str, Any]:
        return {"calls": self.calls, **{s.stream: s.as_counts() for s in self.streams}}


def store_contacts(
    conn: Connection, connection_id: int, contacts: Sequence[Contact], now_ms: int
) -> None:
    """Mirror contacts as Xero just answered a write of them (the newest state there is)."""
    _ContactWriter().write(conn, connection_id, list(contacts), now_ms)


def cursor_name(stream: str, date_from: date | None = None, date_to: date | None = None) -> str:
    """The cursor of a stream; a date-ranged read keeps its own (it sees only part of it)."""
    if date_from is None and date_to is None:
        return stream
    start = date_from.isoformat() if date_from else ""
    end = date_to.isoformat() if date_to else ""
    return f"{stream} {start}..{end}"


# -- the pulls ---------------------------------------------------------------------------------


def pull_contacts(
    store: Store,
    client: XeroClient,
    *,
    on_progress: Callable[[PullProgress], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> PullReport:
    """Mirror every contact changed since the last pull (all of them the first time)."""
    with _Run(store, client, "pull contacts", clock) as run:
        report = run.report
        report.streams.append(StreamReport("contacts"))
        _pull_stream(store, client, CONTACTS, "contacts", None, _ContactWriter(), run, on_progress)
    return report


def pull_documents(
    store: Store,
    client: XeroClient,
    *,
    streams: Sequence[str] = DOCUMENT_STREAM_NAMES,
    date_from: date | None = None,
    date_to: date | None = None,
    on_progress: Callable[[PullProgress], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> PullReport:
    """Mirror invoices, credit notes, payments, prepayments and overpayments changed since the
    last pull, optionally only those dated between ``date_from`` and ``date_to``."""
    unknown = [s for s in streams if s not in DOCUMENT_STREAMS]
    if unknown:
        raise ValueError(f"unknown document streams: {', '.join(unknown)}")
    if date_from and date_to and date_from > date_to:
        raise LearnerLedgerError(
            f"The date range {date_from}..{date_to} is empty.",
            fix="Give --from on or before --to.",
        )
    where = date_where(date_from, date_to)
    with _Run(store, client, "pull documents", clock) as run:
        for name in streams:
            run.report.streams.append(StreamReport(name))
            _pull_stream(
                store,
                client,
                DOCUMENT_STREAMS[name],
                cursor_name(name, date_from, date_to),
                where,
                _DocumentWriter(),
                run,
                on_progress,
            )
    return run.report


# -- runs -----------------------------------------------------------------------------------------


class _Run:
    """A row in ``runs`` for the duration of a pull; its end is recorded however it ends."""

    def __init__(self, store: Store, client: XeroClient, job: str, clock: Callable[[], float]):
        self.store = store
        self.client = client
        self.clock = clock
        self.calls_before = client.calls
        with store.transaction() as conn:
            run_id = conn.execute(
                runs.insert().values(
                    job=job,
                    connection_id=client.connection.id,
                    started_utc=datetime.now(UTC),
                    status="running",
                    counts={},
                    problems=[],
                    message="",
                )
            ).inserted_primary_key
        assert run_id is not None
        self.report = PullReport(job, client.organisation, int(run_id[0]))

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def problem(self, stream: str, problem: RecordProblem) -> None:
        if len(self.report.problems) < _MAX_ERRORS_KEPT:
            self.report.problems.append(
                {"stream": stream, "record_id": problem.record_id, "reason": problem.reason}
            )

    def __enter__(self) -> _Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, _: Any
    ) -> bool:
        report = self.report
        report.calls = self.client.calls - self.calls_before
        if exc is None:
            report.status = "succeeded"
            written = sum(s.written for s in report.streams)
            rejected = sum(s.rejected for s in report.streams)
            report.message = f"{written} records mirrored from {report.organisation!r}" + (
                f"; {rejected} could not be read (see the errors)." if rejected else "."
            )
        elif isinstance(exc, RateLimited):
            report.status = "paused"
            report.message = str(exc)
            report.paused = exc
        else:
            report.status = "failed"
            report.message = str(exc) if isinstance(exc, LearnerLedgerError) else repr(exc)
        with self.store.transaction() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == report.run_id)
                .values(
                    finished_utc=datetime.now(UTC),
                    status=report.status,
                    counts=report.counts(),
                    problems=report.problems,
                    message=report.message,
                )
            )
        # A pause is an outcome, not a failure: the report says when to run again.
        return isinstance(exc, RateLimited)


# -- writing pages ----------------------------------------------------------------------------


class _Writer:
    table: sa.Table
    id_column: str

    def key(self, record: Any) -> str:
        raise NotImplementedError

    def scope(self, record: Any) -> dict[str, Any]:
        return {}

    def row(self, record: Any) -> dict[str, Any]:
        raise NotImplementedError

    def existing(
        self, conn: Connection, connection_id: int, records: Sequence[Any]
    ) -> dict[tuple[str, str], int]:
        """(scope, id) -> updated_ms of the mirrored versions of ``records``."""
        ids = sorted({self.key(r) for r in records})
        if not ids:
            return {}
        table = self.table
        id_col = table.c[self.id_column]
        kind_col = table.c["kind"] if "kind" in table.c else sa.literal("")
        found: dict[tuple[str, str], int] = {}
        for start in range(0, len(ids), 500):
            rows = conn.execute(
                sa.select(kind_col, id_col, table.c.updated_ms).where(
                    table.c.connection_id == connection_id, id_col.in_(ids[start : start + 500])
                )
            )
            for kind, record_id, updated in rows:
                found[(str(kind), str(record_id))] = int(updated)
        return found

    def write(
        self, conn: Connection, connection_id: int, records: Sequence[Any], now_ms: int
    ) -> None:
        if not records:
            return
        table = self.table
        id_col = table.c[self.id_column]
        by_scope: dict[str, list[str]] = {}
        for r in records:
            by_scope.setdefault(str(self.scope(r).get("kind", "")), []).append(self.key(r))
        for kind, ids in by_scope.items():
            condition = [table.c.connection_id == connection_id, id_col.in_(ids)]
            if "kind" in table.c:
                condition.append(table.c.kind == kind)
            conn.execute(table.delete().where(*condition))
        conn.execute(
            table.insert(),
            [
                {"connection_id": connection_id, "mirrored_ms": now_ms, **self.row(r)}
                for r in records
            ],
        )


class _ContactWriter(_Writer):
    table = xero_contacts
    id_column = "contact_id"

    def key(self, record: Contact) -> str:
        return record.contact_id

    def row(self, c: Contact) -> dict[str, Any]:
        return {
            "contact_id": c.contact_id,
            "name": c.name[:255],
            "contact_number": c.contact_number,
            "account_number": c.account_number,
            "first_name": c.first_name,
            "last_name": c.last_name,
            "email": c.email,
            "status": c.status,
            "merged_to": c.merged_to,
            "is_customer": c.is_customer,
            "is_supplier": c.is_supplier,
            "updated_ms": to_ms(c.updated),
            "data": dumps(c.raw, floats=True),
        }


def _money_text(value: Any) -> str | None:
    return None if value is None else format(value, "f")


class _DocumentWriter(_Writer):
    table = xero_documents
    id_column = "document_id"

    def key(self, record: Document) -> str:
        return record.document_id

    def scope(self, record: Document) -> dict[str, Any]:
        return {"kind": record.kind}

    def row(self, d: Document) -> dict[str, Any]:
        return {
            "kind": d.kind,
            "document_id": d.document_id,
            "type": d.type,
            "number": d.number,
            "reference": d.reference[:255] if d.reference else None,
            "status": d.status,
            "contact_id": d.contact_id,
            "applies_to_id": d.applies_to_id,
            "date": d.date,
            "due_date": d.due_date,
            "currency": d.currency,
            "total": _money_text(d.total),
            "amount_due": _money_text(d.amount_due),
            "amount_paid": _money_text(d.amount_paid),
            "amount_credited": _money_text(d.amount_credited),
            "remaining_credit": _money_text(d.remaining_credit),
            "updated_ms": to_ms(d.updated),
            "data": dumps(d.raw, floats=True),
        }


def _scope_of(writer: _Writer, record: Any) -> str:
    return str(writer.scope(record).get("kind", ""))


def _store_page(
    conn: Connection,
    run: _Run,
    writer: _Writer,
    stream: str,
    page: Page[Any],
    date_filter: str | None,
    report: StreamReport,
) -> None:
    connection_id = run.client.connection.id
    now = run.now_ms()
    records = page.records
    mirrored = writer.existing(conn, connection_id, records)
    fresh: dict[tuple[str, str], Any] = {}
    for record in records:
        key = (_scope_of(writer, record), writer.key(record))
        stamp = to_ms(record.updated)
        if mirrored.get(key, -(2**62)) >= stamp:
            report.unchanged += 1
            continue
        previous = fresh.get(key)
        if previous is None or to_ms(previous.updated) < stamp:
            fresh[key] = record
    writer.write(conn, connection_id, list(fresh.values()), now)
    report.written += len(fresh)
    # A record read well now is no longer a problem.
    readable = [writer.key(r) for r in records]
    if readable:
        report.recovered += conn.execute(
            xero_rejects.delete().where(
                xero_rejects.c.connection_id == connection_id,
                xero_rejects.c.stream == stream,
                xero_rejects.c.record_id.in_(readable),
            )
        ).rowcount
    for problem in page.problems:
        report.rejected += 1
        run.problem(stream, problem)
        if problem.record_id is not None:
            conn.execute(
                xero_rejects.delete().where(
                    xero_rejects.c.connection_id == connection_id,
                    xero_rejects.c.stream == stream,
                    xero_rejects.c.record_id == problem.record_id,
                )
            )
        conn.execute(
            xero_rejects.insert().values(
                connection_id=connection_id,
                stream=stream,
                date_filter=date_filter,
                retry_from_ms=page.since_ms,
                retry_page=page.number,
                record_id=problem.record_id,
                reason=problem.reason,
                raw=problem.raw,
                seen_ms=now,
            )
        )


@dataclass(frozen=True)
class _Cursor:
    since_ms: int | None  # the If-Modified-Since of the next read (or of the interrupted one)
    complete: bool
    resume_page: int | None  # where an interrupted read carries on
    started_ms: int | None  # when the interrupted read's first answer came


def _load_cursor(conn: Connection, connection_id: int, name: str) -> _Cursor:
    row = conn.execute(
        sa.select(
            xero_cursors.c.cursor_ms,
            xero_cursors.c.complete,
            xero_cursors.c.resume_page,
            xero_cursors.c.pull_started_ms,
        ).where(xero_cursors.c.connection_id == connection_id, xero_cursors.c.stream == name)
    ).first()
    if row is None:
        return _Cursor(None, True, None, None)
    return _Cursor(
        None if row.cursor_ms is None else int(row.cursor_ms),
        bool(row.complete),
        row.resume_page,
        row.pull_started_ms,
    )


def _save_cursor(
    conn: Connection,
    connection_id: int,
    name: str,
    cursor: _Cursor,
    *,
    now_ms: int,
) -> None:
    values: dict[str, Any] = {
        "cursor_ms": cursor.since_ms,
        "complete": cursor.complete,
        "resume_page": cursor.resume_page,
        "pull_started_ms": cursor.started_ms,
    }
    if cursor.complete:
        values["last_pull_ms"] = now_ms
    updated = conn.execute(
        xero_cursors.update()
        .where(xero_cursors.c.connection_id == connection_id, xero_cursors.c.stream == name)
        .values(values)
    ).rowcount
    if not updated:
        conn.execute(
            xero_cursors.insert().values(connection_id=connection_id, stream=name, **values)
        )


# Xero stamps records and answers with its own clocks; a change made just before the first
# answer of a read, on a server a little behind, is still read again by the next pull.
CLOCK_MARGIN_MS = 5_000


def _pull_stream(
    store: Store,
    client: XeroClient,
    stream: Stream[Any],
    cursor: str,
    where: str | None,
    writer: _Writer,
    run: _Run,
    on_progress: Callable[[PullProgress], None] | None,
) -> None:
    """Read one stream from its cursor. The pages share one If-Modified-Since and are stored
    one transaction each, with where to carry on; when the last page is in, the cursor moves
    to the moment the read began (less a margin), so that whatever changed while it ran is
    read next time. A read stopped half way carries on from its next page."""
    report = run.report.streams[-1]
    connection_id = client.connection.id
    _repair(store, client, stream, where, writer, run, report)
    with store.read() as conn:
        saved = _load_cursor(conn, connection_id, cursor)
    resuming = not saved.complete and saved.resume_page is not None
    since = saved.since_ms
    start_page = saved.resume_page if resuming and saved.resume_page else 1
    started = saved.started_ms if resuming else None
    total: int | None = None
    for page in client.iter_pages(
        stream, modified_since_ms=since, where=where, start_page=start_page
    ):
        report.pages += 1
        report.received += len(page.records) + len(page.problems)
        if total is None:
            total = page.item_count
        if started is None:
            started = page.answered_ms if page.answered_ms is not None else run.now_ms()
        with store.transaction() as conn:
            _store_page(conn, run, writer, stream.name, page, where, report)
            _save_cursor(
                conn,
                connection_id,
                cursor,
                _Cursor(since, False, page.number + 1, started),
                now_ms=run.now_ms(),
            )
        if on_progress is not None:
            on_progress(
                PullProgress(client.organisation, stream.name, report.pages, report.received, total)
            )
    # Never backwards: a cursor already past the margin (set after the writes of a sync were
    # confirmed to be the only changes) stays where it is.
    after = since if started is None else max(since or 0, started - CLOCK_MARGIN_MS)
    done = _Cursor(after, True, None, None)
    with store.transaction() as conn:
        _save_cursor(conn, connection_id, cursor, done, now_ms=run.now_ms())
    report.complete = True


def _repair(
    store: Store,
    client: XeroClient,
    stream: Stream[Any],
    where: str | None,
    writer: _Writer,
    run: _Run,
    report: StreamReport,
) -> None:
    """Read again the records an earlier pull could not read: by id when their id could be
    read (contacts 50 to a call, documents one by one: they are rare), otherwise the page they
    were on, once; whatever that read finds replaces them (the record, or a new reject)."""
    connection_id = client.connection.id
    condition = [
        xero_rejects.c.connection_id == connection_id,
        xero_rejects.c.stream == stream.name,
        xero_rejects.c.date_filter.is_(None)
        if where is None
        else xero_rejects.c.date_filter == where,
    ]
    with store.read() as conn:
        rows = conn.execute(
            sa.select(
                xero_rejects.c.record_id, xero_rejects.c.retry_from_ms, xero_rejects.c.retry_page
            ).where(*condition)
        ).all()
    ids = sorted({str(r.record_id) for r in rows if r.record_id is not None})
    places = sorted(
        {(r.retry_from_ms, r.retry_page or 1) for r in rows if r.record_id is None},
        key=lambda p: (-1 if p[0] is None else p[0], p[1]),
    )
    if stream.name == CONTACTS.name:
        pages = [
            client.get_contacts(ids[first : first + BATCH_LIMIT])
            for first in range(0, len(ids), BATCH_LIMIT)
        ]
    else:
        pages = [client.get_record(stream, record_id) for record_id in ids]
    for page in pages:
        with store.transaction() as conn:
            _store_page(conn, run, writer, stream.name, page, where, report)
    for since, number in places:
        page = next(
            iter(client.iter_pages(stream, modified_since_ms=since, where=where, start_page=number))
        )
        with store.transaction() as conn:
            cleared = conn.execute(
                xero_rejects.delete().where(
                    *condition,
                    xero_rejects.c.record_id.is_(None),
                    xero_rejects.c.retry_from_ms.is_(None)
                    if since is None
                    else xero_rejects.c.retry_from_ms == since,
                    sa.func.coalesce(xero_rejects.c.retry_page, 1) == number,
                )
            ).rowcount
            _store_page(conn, run, writer, stream.name, page, where, report)
            report.recovered += max(0, cleared - len(page.problems))
