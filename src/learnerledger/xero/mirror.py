"""The local mirror of a Xero organisation: ``pull contacts`` and ``pull documents``.

A pull reads one stream at a time through :meth:`XeroClient.iter_pages`, from the stream's
cursor: when the previous complete pull began, less a margin for clocks. Each page is written
in one transaction together with where the pull stands, so a pull stopped anywhere (a spent
daily limit, a lost network, Ctrl-C) carries on from the next page and loses nothing. Records
already mirrored with the same ``UpdatedDateUTC`` (read again) are dropped; archived contacts
and ``MergedToContactID`` are kept like any other field. A record Xero sends malformed is set
aside (``store.mirror``) and reported as a problem; the rest of its page is mirrored, and the
next pull asks for it again.

Every pull is a job (``learnerledger.jobs``): a run in the History with its counts (calls, and
per stream), its problems, its progress, and how it ended: ``succeeded``, ``paused`` (a spent
rate limit: the pull returns its report, whose ``paused`` error says when it resumes) or
``failed`` (the error is raised).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from learnerledger.errors import BudgetSpent, LearnerLedgerError
from learnerledger.jobs import Job, ProgressListener
from learnerledger.store import Connection, Store
from learnerledger.store import cursors as cursor_store
from learnerledger.store import mirror as mirror_store
from learnerledger.store.cursors import Cursor
from learnerledger.store.mirror import ContactRow, DocumentRow, PageCounts, Reject
from learnerledger.xero.client import (
    BATCH_LIMIT,
    CONTACTS,
    DOCUMENT_STREAMS,
    Page,
    RecordProblem,
    Stream,
    date_where,
)
from learnerledger.xero.protocols import ContactReader, DocumentReader, PageReader
from learnerledger.xero.wire import Contact, Document, dumps, to_ms

__all__ = [
    "CLOCK_MARGIN_MS",
    "DOCUMENT_STREAM_NAMES",
    "PullReport",
    "StreamReport",
    "cursor_name",
    "pull_contacts",
    "pull_documents",
    "store_contacts",
]

T = TypeVar("T", Contact, Document)

DOCUMENT_STREAM_NAMES = tuple(DOCUMENT_STREAMS)

# Xero stamps records and answers with its own clocks; a change made just before the first
# answer of a read, on a server a little behind, is still read again by the next pull.
CLOCK_MARGIN_MS = 5_000


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

    def add(self, counts: PageCounts) -> None:
        self.written += counts.written
        self.unchanged += counts.unchanged
        self.rejected += counts.rejected
        self.recovered += counts.recovered

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
    """What a pull did, for the CLI, the sync and the benchmark (the run record holds the same)."""

    job: str
    organisation: str
    run_id: int
    status: str = "running"  # succeeded | paused
    calls: int = 0
    streams: list[StreamReport] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)  # as ``jobs.Problem``
    message: str = ""
    paused: BudgetSpent | None = None  # why and until when, when status is ``paused``

    def counts(self) -> dict[str, Any]:
        return _counts(self.calls, self.streams)


def _counts(calls: int, streams: Sequence[StreamReport]) -> dict[str, Any]:
    return {"calls": calls, **{s.stream: s.as_counts() for s in streams}}


def store_contacts(
    conn: Connection, connection_id: int, contacts: Sequence[Contact], now_ms: int
) -> None:
    """Mirror contacts as Xero just answered a write of them (the newest state there is)."""
    mirror_store.store_contacts(conn, connection_id, [_contact_row(c) for c in contacts], now_ms)


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
    client: ContactReader,
    *,
    on_progress: ProgressListener | None = None,
    clock: Callable[[], float] = time.time,
) -> PullReport:
    """Mirror every contact changed since the last pull (all of them the first time)."""

    def by_ids(ids: Sequence[str]) -> list[Page[Contact]]:
        return [
            client.get_contacts(ids[first : first + BATCH_LIMIT])
            for first in range(0, len(ids), BATCH_LIMIT)
        ]

    streams = [StreamReport("contacts")]
    with _pull_job(store, client, "pull contacts", streams, on_progress) as job:
        pull = _StreamPull(store, client, job, clock, _contact_page)
        pull.run(CONTACTS, "contacts", None, streams[-1], by_ids)
    return _report(job, client, streams)


def pull_documents(
    store: Store,
    client: DocumentReader,
    *,
    streams: Sequence[str] = DOCUMENT_STREAM_NAMES,
    date_from: date | None = None,
    date_to: date | None = None,
    on_progress: ProgressListener | None = None,
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
    reports: list[StreamReport] = []
    with _pull_job(store, client, "pull documents", reports, on_progress) as job:
        pull = _StreamPull(store, client, job, clock, _document_page)
        for name in streams:
            stream = DOCUMENT_STREAMS[name]
            reports.append(StreamReport(name))

            def by_ids(
                ids: Sequence[str], stream: Stream[Document] = stream
            ) -> list[Page[Document]]:
                return [client.get_record(stream, record_id) for record_id in ids]

            pull.run(stream, cursor_name(name, date_from, date_to), where, reports[-1], by_ids)
    return _report(job, client, reports)


# -- the job ------------------------------------------------------------------------------------


@contextmanager
def _pull_job(
    store: Store,
    client: PageReader,
    name: str,
    streams: list[StreamReport],
    on_progress: ProgressListener | None,
) -> Iterator[Job]:
    """The pull as a job: its counts are kept on the run however it ends; a spent budget ends
    it quietly (``job.paused``)."""
    with Job(
        store,
        name,
        connection_id=client.connection.id,
        organisation=client.organisation,
        calls=lambda: client.calls,
        on_progress=on_progress,
    ) as job:
        try:
            yield job
            written = sum(s.written for s in streams)
            rejected = sum(s.rejected for s in streams)
            job.message = f"{written} records mirrored from {client.organisation!r}" + (
                f"; {rejected} could not be read (see the errors)." if rejected else "."
            )
        finally:
            job.counts.update(_counts(job.used_calls(), streams))


def _report(job: Job, client: PageReader, streams: list[StreamReport]) -> PullReport:
    assert job.run_id is not None
    assert job.outcome is not None
    return PullReport(
        job=job.name,
        organisation=client.organisation,
        run_id=job.run_id,
        status=job.outcome.value,
        calls=job.calls,
        streams=streams,
        problems=job.problems.as_json(),
        message=job.message,
        paused=job.paused,
    )


# -- records as rows ----------------------------------------------------------------------------


def _contact_row(c: Contact) -> ContactRow:
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


def _document_row(d: Document) -> DocumentRow:
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
        "total": d.total,
        "amount_due": d.amount_due,
        "amount_paid": d.amount_paid,
        "amount_credited": d.amount_credited,
        "remaining_credit": d.remaining_credit,
        "updated_ms": to_ms(d.updated),
        "data": dumps(d.raw, floats=True),
    }


def _rejects(page: Page[Any]) -> list[Reject]:
    return [Reject(p.record_id, p.reason, p.raw) for p in page.problems]


def _contact_page(
    conn: Connection,
    connection_id: int,
    stream: str,
    page: Page[Contact],
    where: str | None,
    now_ms: int,
) -> PageCounts:
    return mirror_store.store_contact_page(
        conn,
        connection_id,
        stream,
        [_contact_row(c) for c in page.records],
        _rejects(page),
        date_filter=where,
        retry_from_ms=page.since_ms,
        retry_page=page.number,
        now_ms=now_ms,
    )


def _document_page(
    conn: Connection,
    connection_id: int,
    stream: str,
    page: Page[Document],
    where: str | None,
    now_ms: int,
) -> PageCounts:
    return mirror_store.store_document_page(
        conn,
        connection_id,
        stream,
        [_document_row(d) for d in page.records],
        _rejects(page),
        date_filter=where,
        retry_from_ms=page.since_ms,
        retry_page=page.number,
        now_ms=now_ms,
    )


# -- reading a stream ---------------------------------------------------------------------------


class _StreamPull:
    """Reads streams of one kind of record into the mirror, for one job."""

    def __init__(
        self,
        store: Store,
        client: PageReader,
        job: Job,
        clock: Callable[[], float],
        store_page: Callable[[Connection, int, str, Page[Any], str | None, int], PageCounts],
    ) -> None:
        self.store = store
        self.client = client
        self.job = job
        self.clock = clock
        self.store_page = store_page
        self.connection_id = client.connection.id

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def run(
        self,
        stream: Stream[Any],
        cursor: str,
        where: str | None,
        report: StreamReport,
        by_ids: Callable[[Sequence[str]], list[Page[Any]]],
    ) -> None:
        """Read one stream from its cursor. The pages share one If-Modified-Since and are
        stored one transaction each, with where to carry on; when the last page is in, the
        cursor moves to the moment the read began (less a margin), so that whatever changed
        while it ran is read next time. A read stopped half way carries on from its next page."""
        self._repair(stream, where, report, by_ids)
        saved = cursor_store.load_cursor(self.store, self.connection_id, cursor)
        resuming = not saved.complete and saved.resume_page is not None
        since = saved.since_ms
        start_page = saved.resume_page if resuming and saved.resume_page else 1
        started = saved.started_ms if resuming else None
        total: int | None = None
        for page in self.client.iter_pages(
            stream, modified_since_ms=since, where=where, start_page=start_page
        ):
            report.pages += 1
            report.received += len(page.records) + len(page.problems)
            if total is None:
                total = page.item_count
            if started is None:
                started = page.answered_ms if page.answered_ms is not None else self.now_ms()
            with self.store.transaction() as conn:
                self._store(conn, stream.name, page, where, report)
                cursor_store.save_cursor(
                    conn,
                    self.connection_id,
                    cursor,
                    Cursor(since, False, page.number + 1, started),
                    now_ms=self.now_ms(),
                )
            self.job.progress(stream.name, report.received, total, detail={"pages": report.pages})
        # Never backwards: a cursor already past the margin (set after the writes of a sync
        # were confirmed to be the only changes) stays where it is.
        after = since if started is None else max(since or 0, started - CLOCK_MARGIN_MS)
        with self.store.transaction() as conn:
            cursor_store.save_cursor(
                conn, self.connection_id, cursor, Cursor(after, True), now_ms=self.now_ms()
            )
        report.complete = True

    def _store(
        self,
        conn: Connection,
        stream: str,
        page: Page[Any],
        where: str | None,
        report: StreamReport,
    ) -> PageCounts:
        counts = self.store_page(conn, self.connection_id, stream, page, where, self.now_ms())
        report.add(counts)
        for problem in page.problems:
            self._problem(stream, page, problem)
        return counts

    def _problem(self, stream: str, page: Page[Any], problem: RecordProblem) -> None:
        singular = stream.removesuffix("s").replace("_", " ")
        record = (
            f"{singular} {problem.record_id}"
            if problem.record_id
            else f"{stream} page {page.number}, item {problem.index + 1}"
        )
        self.job.problem(
            record=record,
            code="unreadable_record",
            message=f"Xero sent a {singular} that cannot be read: {problem.reason}",
            fix="Nothing is lost: the next pull asks Xero for it again. If it stays unreadable, "
            f"open the {singular} in Xero and save it again.",
        )

    def _repair(
        self,
        stream: Stream[Any],
        where: str | None,
        report: StreamReport,
        by_ids: Callable[[Sequence[str]], list[Page[Any]]],
    ) -> None:
        """Read again the records an earlier pull could not read: by id when their id could be
        read (contacts 50 to a call, documents one by one: they are rare), otherwise the page
        they were on, once; whatever that read finds replaces them (the record, or a new
        reject)."""
        rows = mirror_store.list_rejects(self.store, self.connection_id, stream.name, where)
        ids = sorted({r.record_id for r in rows if r.record_id is not None})
        places = sorted(
            {(r.retry_from_ms, r.retry_page or 1) for r in rows if r.record_id is None},
            key=lambda p: (-1 if p[0] is None else p[0], p[1]),
        )
        for page in by_ids(ids):
            with self.store.transaction() as conn:
                self._store(conn, stream.name, page, where, report)
        for since, number in places:
            page = next(
                iter(
                    self.client.iter_pages(
                        stream, modified_since_ms=since, where=where, start_page=number
                    )
                )
            )
            with self.store.transaction() as conn:
                cleared = mirror_store.clear_page_rejects(
                    conn, self.connection_id, stream.name, where, since_ms=since, page=number
                )
                self._store(conn, stream.name, page, where, report)
                report.recovered += max(0, cleared - len(page.problems))
