"""The job frame: the one way a job (pull, import, sync, and every later one) runs.

A job is a block run inside :class:`Job`::

    with Job(store, "pull contacts", connection_id=c.id, organisation=c.name,
             calls=lambda: client.calls, on_progress=bar) as job:
        ...
        job.count("written", n)
        job.problem("contact 4f1c…", "unreadable_record", "…", fix="…")
        job.progress("contacts", done, total)
    job.outcome   # succeeded | failed | paused | cancelled

What the frame gives every job alike:

- **a run record** in the History (``store/history.py``): job, organisation, started, finished,
  outcome, counts, API calls used, the resume point of a paused run, its last progress event;
- **problems in one schema** (:class:`Problem`: record, field, code, message, fix), kept up to
  one cap (:data:`PROBLEM_CAP`) with a count of those dropped;
- **progress events** (:class:`ProgressEvent`) for the CLI's progress bar and the web UI's live
  view; the latest is saved on the run record about once a second, so another process sees it;
- **pauses**: a :class:`~learnerledger.errors.BudgetSpent` (Xero's rate limits, Wisenet's day
  quota) ends the block quietly with outcome ``paused``; ``job.paused`` says until when, and the
  next run carries on (each job keeps its own resume state: cursors, journal, page);
- **one run at a time**: a lease in the store (``job:<job>:<organisation>``) refuses a second
  start of the same job for the same organisation with :class:`~learnerledger.errors.JobRunning`,
  naming the running one, across processes and machines. A heartbeat thread renews the lease;
  a holder that died stops renewing and its lease expires. On the same machine a dead holder
  (its process is gone) is taken over at once.

A failure (any other error) is recorded as ``failed`` and raised again; Ctrl-C as ``cancelled``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import TracebackType
from typing import Any

from learnerledger.errors import BudgetSpent, JobRunning, LearnerLedgerError
from learnerledger.store import Store, history, leases
from learnerledger.store.history import RunRow

__all__ = [
    "LEASE_SECONDS",
    "PROBLEM_CAP",
    "Job",
    "Outcome",
    "Problem",
    "Problems",
    "ProgressEvent",
    "ProgressListener",
    "RunRow",
    "check_not_running",
    "note_waits",
]

# A run keeps this many problems; the count of the rest is kept too (``problems_dropped``).
PROBLEM_CAP = 1000
# A job's lease lasts this long without a renewal; the heartbeat renews it every quarter of it.
LEASE_SECONDS = 60.0
_HEARTBEAT_SECONDS = 1.0


class Outcome(StrEnum):
    """How a run ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PAUSED = "paused"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Problem:
    """One record a job could not use, and what to do about it.

    ``record`` names it as a person would look for it ("DAU0000072", "line 12", "invoice
    INV-0042"); ``field`` is the field at fault, if one is; ``code`` is stable, for scripts and
    filters; ``message`` says what is wrong and ``fix`` what to do."""

    record: str
    code: str
    message: str
    field: str = ""
    fix: str = ""

    def as_json(self) -> dict[str, str]:
        return asdict(self)


class Problems:
    """A run's problems: the first ``cap`` kept, the rest counted."""

    def __init__(self, cap: int = PROBLEM_CAP) -> None:
        self.cap = cap
        self.kept: list[Problem] = []
        self.dropped = 0

    def add(self, problem: Problem) -> None:
        if len(self.kept) < self.cap:
            self.kept.append(problem)
        else:
            self.dropped += 1

    def __len__(self) -> int:
        return len(self.kept) + self.dropped

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.kept)

    def as_json(self) -> list[dict[str, str]]:
        return [p.as_json() for p in self.kept]


@dataclass(frozen=True)
class ProgressEvent:
    """Where a running job stands: ``done`` of ``total`` (when known) in its current ``stage``
    (a stream, "sending", "looking up"...), with an optional ``note`` (a wait, a retry)."""

    job: str
    organisation: str | None
    run_id: int | None
    stage: str
    done: int
    total: int | None = None
    note: str = ""
    detail: Mapping[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["detail"] = dict(self.detail or {})
        return data


ProgressListener = Callable[[ProgressEvent], None]


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists; it is someone else's
    return True


class Job:
    """One run of a job; see the module's docstring. ``record=False`` (a dry run) takes no
    lease and writes no run record, but collects problems and progress alike."""

    def __init__(
        self,
        store: Store,
        name: str,
        *,
        connection_id: int | None = None,
        organisation: str | None = None,
        calls: Callable[[], int] | None = None,
        on_progress: ProgressListener | None = None,
        record: bool = True,
        counts: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
        lease_seconds: float = LEASE_SECONDS,
        problem_cap: int = PROBLEM_CAP,
    ) -> None:
        self.store = store
        self.name = name
        self.connection_id = connection_id
        self.organisation = organisation
        self.record = record
        self.clock = clock
        self.lease_ms = int(lease_seconds * 1000)
        self.problems = Problems(problem_cap)
        self.counts: dict[str, Any] = dict(counts or {})
        self.listeners: list[ProgressListener] = [on_progress] if on_progress else []
        self.run_id: int | None = None
        self.outcome: Outcome | None = None
        self.paused: BudgetSpent | None = None
        self.message = ""
        self.resume: dict[str, Any] | None = None
        self.calls = 0
        self.last_event: ProgressEvent | None = None
        self.previous: RunRow | None = None
        self._calls = calls
        self._calls_before = calls() if calls else 0
        self._holder = uuid.uuid4().hex
        self._lease = f"job:{name}:{connection_id if connection_id is not None else '-'}"
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._saved_event: ProgressEvent | None = None

    # -- what a job body calls ----------------------------------------------------------------

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = int(self.counts.get(name, 0)) + n

    def problem(
        self, record: str, code: str, message: str, *, field: str = "", fix: str = ""
    ) -> Problem:
        found = Problem(record=record, code=code, message=message, field=field, fix=fix)
        self.problems.add(found)
        return found

    def progress(
        self,
        stage: str,
        done: int,
        total: int | None = None,
        *,
        note: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> ProgressEvent:
        event = ProgressEvent(
            job=self.name,
            organisation=self.organisation,
            run_id=self.run_id,
            stage=stage,
            done=done,
            total=total,
            note=note,
            detail=detail,
        )
        self.last_event = event
        for listener in self.listeners:
            listener(event)
        return event

    def resume_at(self, point: Mapping[str, Any] | None) -> None:
        """Where the next run carries on, should this one stop here (kept on the record)."""
        self.resume = None if point is None else dict(point)

    def used_calls(self) -> int:
        return (self._calls() - self._calls_before) if self._calls else self.calls

    # -- the frame ----------------------------------------------------------------------------

    def __enter__(self) -> Job:
        if not self.record:
            return self
        self._take_lease()
        self._heartbeat = threading.Thread(
            target=self._beat, name=f"lease {self._lease}", daemon=True
        )
        self._heartbeat.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None:
            self.outcome = Outcome.SUCCEEDED
        elif isinstance(exc, BudgetSpent):
            self.outcome = Outcome.PAUSED
            self.paused = exc
            self.message = str(exc)
        elif isinstance(exc, KeyboardInterrupt):
            self.outcome = Outcome.CANCELLED
            self.message = "Stopped by the user; run the command again to carry on."
        else:
            self.outcome = Outcome.FAILED
            self.message = str(exc) if isinstance(exc, LearnerLedgerError) else repr(exc)
        self.calls = self.used_calls()
        if self.record and self.run_id is not None:
            self._stop.set()
            if self._heartbeat is not None:
                self._heartbeat.join()
            try:
                history.finish_run(
                    self.store,
                    self.run_id,
                    status=self.outcome.value,
                    counts=self.counts,
                    calls=self.calls,
                    problems=self.problems.as_json(),
                    problems_dropped=self.problems.dropped,
                    message=self.message,
                    resume=self.resume,
                    progress=self.last_event.as_json() if self.last_event else None,
                )
            finally:
                leases.release(self.store, self._lease, self._holder)
        # A spent budget is an outcome, not a failure: the caller reads ``paused``.
        return self.outcome is Outcome.PAUSED

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _claim(self, dead: str | None = None) -> bool:
        """Take the lease (from ``dead``, a holder known to be gone) and start the run record,
        in one transaction: whoever is refused sees the winner's run."""
        detail = {
            "job": self.name,
            "organisation": self.organisation,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        now_ms = self._now_ms()
        with self.store.transaction():
            taken = leases.acquire(
                self.store,
                self._lease,
                self._holder,
                now_ms=now_ms,
                lease_ms=self.lease_ms,
                detail=detail,
                dead=dead,
            )
            if not taken:
                return False
            self.previous = history.last_run(self.store, self.name, self.connection_id)
            self.run_id = history.start_run(
                self.store, self.name, connection_id=self.connection_id, counts=self.counts
            )
            leases.describe(
                self.store, self._lease, self._holder, {**detail, "run_id": self.run_id}
            )
        return True

    def _take_lease(self) -> None:
        if self._claim():
            return
        holder = leases.current_holder(self.store, self._lease, now_ms=self._now_ms())
        if holder is None:  # released between the two looks
            if self._claim():
                return
            holder = leases.current_holder(self.store, self._lease, now_ms=self._now_ms())
        if holder is not None and self._holder_is_dead(holder):
            if self._claim(dead=holder.holder):
                return
            holder = leases.current_holder(self.store, self._lease, now_ms=self._now_ms())
        raise self._refusal(holder)

    @staticmethod
    def _holder_is_dead(holder: leases.LeaseHolder) -> bool:
        pid = holder.detail.get("pid")
        if holder.detail.get("host") != socket.gethostname() or not isinstance(pid, int):
            return False  # another machine's process: only its lease running out says so
        return pid != os.getpid() and not _process_alive(pid)

    def _refusal(self, holder: leases.LeaseHolder | None) -> JobRunning:
        who = f" for {self.organisation!r}" if self.organisation else ""
        detail = holder.detail if holder else {}
        run_id = detail.get("run_id")
        where = []
        if isinstance(run_id, int):
            where.append(f"run #{run_id}")
        if detail.get("started_utc"):
            where.append(f"started {detail['started_utc']}")
        if detail.get("host"):
            where.append(f"on {detail['host']}, process {detail.get('pid')}")
        expires = (
            datetime.fromtimestamp(holder.expires_ms / 1000, UTC) if holder is not None else None
        )
        until = (
            f" If that process has died, its lease runs out at "
            f"{expires.astimezone():%H:%M:%S} and the job can start again."
            if expires
            else ""
        )
        return JobRunning(
            f"{self.name}{who} is already running" + (f" ({', '.join(where)})." if where else "."),
            run_id=run_id if isinstance(run_id, int) else None,
            holder=str(detail.get("host", "")),
            expires_at=expires,
            fix="Wait for it to finish (`learnerledger status` shows its progress) and run the "
            "command again." + until,
        )

    def _beat(self) -> None:
        """Renew the lease and save the latest progress until the job ends."""
        renew_every = max(self.lease_ms / 4000, _HEARTBEAT_SECONDS)
        last_renewal = time.monotonic()
        while not self._stop.wait(_HEARTBEAT_SECONDS):
            # A busy store (a long write elsewhere) only delays a beat; the next one catches up.
            with contextlib.suppress(Exception):
                event = self.last_event
                if event is not None and event is not self._saved_event and self.run_id:
                    history.save_progress(self.store, self.run_id, event.as_json())
                    self._saved_event = event
                if time.monotonic() - last_renewal >= renew_every:
                    leases.renew(
                        self.store,
                        self._lease,
                        self._holder,
                        now_ms=self._now_ms(),
                        lease_ms=self.lease_ms,
                    )
                    last_renewal = time.monotonic()


def note_waits(job: Job, client: Any) -> None:
    """Show ``client``'s waits on the rate budget (events with ``limit`` and ``until``) and its
    retries (events with a ``reason``) as notes on the job's progress: the stage, the counts and
    the detail of the last progress event stay as they were."""

    def waiting(event: Any) -> None:
        until = getattr(event, "until", None)
        if until is not None:
            note = f"waiting on the rate budget ({event.limit}) until {until.astimezone():%H:%M:%S}"
        else:
            note = f"retrying: {event.reason}"
        last = job.last_event
        job.progress(
            last.stage if last else "reading",
            last.done if last else 0,
            last.total if last else None,
            note=note,
            detail=last.detail if last is not None else None,
        )

    client.on_event = waiting
    client.budget.on_wait = waiting


def check_not_running(
    store: Store,
    name: str,
    *,
    connection_id: int | None = None,
    organisation: str | None = None,
    clock: Callable[[], float] = time.time,
) -> None:
    """Raise :class:`~learnerledger.errors.JobRunning`, naming the running run, when a start of
    the job would be refused now (for a surface that starts jobs in the background and must
    answer at once)."""
    job = Job(store, name, connection_id=connection_id, organisation=organisation, clock=clock)
    holder = leases.current_holder(store, job._lease, now_ms=job._now_ms())
    if holder is not None and not job._holder_is_dead(holder):
        raise job._refusal(holder)
