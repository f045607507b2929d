"""Long jobs started from the web UI, run on threads of the server process.

A job started from a page runs on the job frame (``learnerledger.jobs``) exactly as its command
does, on a thread of its own: it goes on when the browser is closed, its run record and
progress are in the History for every viewer, and a second start of a job that is running
(here, in another server, or on the command line) is refused at once with a message naming
the running one. Each kind of job calls the same library function as its command.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from learnerledger.config import Config
from learnerledger.errors import JobRunning, LearnerLedgerError
from learnerledger.jobs import ProgressEvent, ProgressListener, check_not_running
from learnerledger.store import Store

if TYPE_CHECKING:
    from learnerledger.merge import ApplyReport, PlanReport, VerifyReport
    from learnerledger.resync import Reconciliation, WisenetTarget
    from learnerledger.sources.wisenet import WisenetClient, WisenetConnection

__all__ = [
    "JOBS",
    "MERGE_STEPS",
    "BackgroundJobs",
    "JobSpec",
    "Kept",
    "MergeKept",
    "Outcome",
    "Reconciled",
    "Task",
    "spec",
]

log = logging.getLogger("learnerledger.web")


class _Report(Protocol):
    status: str
    message: str
    run_id: int | None


# What a job is given: the store, the settings, the connection it runs for, a listener, and
# the options of the form that started it (keyword arguments: a resync's date range).
Work = Callable[..., _Report]


@dataclass
class Outcome:
    """How a job made of several runs ended (the History has each run), and the result it
    made that the pages show, if any: a reconciliation, or a merge plan, apply or verify."""

    status: str
    message: str
    run_id: int | None
    reconciliation: Reconciliation | None = None
    merge: PlanReport | ApplyReport | VerifyReport | None = None


R = TypeVar("R")


@dataclass(frozen=True)
class Kept(Generic[R]):
    """A result this server made for an organisation and keeps in memory for its pages: the
    same result as the command prints, and when and by whom it was made."""

    connection_id: int
    result: R
    run_id: int | None
    made: datetime
    started_by: str


# The last reconciliation: ``learnerledger report reconcile``'s result.
Reconciled = Kept["Reconciliation"]
# The merge jobs by their step on the Merge page: ``learnerledger merge plan|apply|verify``.
MERGE_STEPS = {"merge plan": "plan", "merge apply": "apply", "merge verify": "verify"}


@dataclass(frozen=True)
class MergeKept:
    """The last merge plan, apply and verify this server made for an organisation."""

    plan: Kept[PlanReport] | None = None
    apply: Kept[ApplyReport] | None = None
    verify: Kept[VerifyReport] | None = None


@dataclass(frozen=True)
class JobSpec:
    """A job the web UI can start: its name on the job frame (the History's "job") and what
    runs it, for one connection (a Xero organisation, or the Wisenet account)."""

    name: str
    title: str
    work: Work
    frames: tuple[str, ...] = ()  # the job-frame names it runs (default: ``name``)

    @property
    def frame_names(self) -> tuple[str, ...]:
        return self.frames or (self.name,)


@dataclass
class Task:
    """One job started here: what it is, how it stands, and how it ended."""

    id: int
    job: str
    title: str
    organisation: str | None
    connection_id: int
    started_by: str
    started: datetime
    status: str = "running"  # running | succeeded | failed | paused | refused
    message: str = ""
    run_id: int | None = None
    finished: datetime | None = None
    last: ProgressEvent | None = None
    runs: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job": self.job,
            "title": self.title,
            "organisation": self.organisation,
            "started_by": self.started_by,
            "started_utc": self.started.isoformat(timespec="seconds"),
            "finished_utc": self.finished.isoformat(timespec="seconds") if self.finished else None,
            "status": self.status,
            "message": self.message,
            "run_id": self.run_id,
            "runs": list(self.runs),
            "progress": self.last.as_json() if self.last else None,
        }


class BackgroundJobs:
    """The jobs this server process started, each on a daemon thread."""

    def __init__(self, store: Store, config: Config, *, keep: int = 50) -> None:
        self.store = store
        self.config = config
        self.keep = keep
        self._tasks: dict[int, Task] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._kept: dict[tuple[int, str], Kept[Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start(
        self,
        spec: JobSpec,
        *,
        connection_id: int,
        organisation: str | None,
        user: str,
        options: Mapping[str, Any] | None = None,
    ) -> Task:
        """Start ``spec`` for the connection (with the form's ``options``), or raise
        :class:`JobRunning` naming the run."""
        with self._lock:
            for task in self._tasks.values():
                if (
                    task.status == "running"
                    and task.connection_id == connection_id
                    and set(_SPECS[task.job].frame_names) & set(spec.frame_names)
                ):
                    where = f" (run #{task.run_id})" if task.run_id else ""
                    who = f" for {organisation!r}" if organisation else ""
                    raise JobRunning(
                        f"{task.title}{who} is already running{where}, started by "
                        f"{task.started_by} at {task.started.astimezone():%H:%M:%S}.",
                        run_id=task.run_id,
                        holder="this server",
                        expires_at=None,
                        fix="Wait for it to finish (History shows its progress) and start it "
                        "again.",
                    )
            for frame in spec.frame_names:
                check_not_running(
                    self.store, frame, connection_id=connection_id, organisation=organisation
                )
            task = Task(
                id=next(self._ids),
                job=spec.name,
                title=spec.title,
                organisation=organisation,
                connection_id=connection_id,
                started_by=user,
                started=datetime.now(UTC),
            )
            self._tasks[task.id] = task
            thread = threading.Thread(
                target=self._run,
                args=(spec, task, dict(options or {})),
                name=f"web job {task.id}",
                daemon=True,
            )
            self._threads[task.id] = thread
            self._forget_old()
        thread.start()
        log.info("job %s started by %s (task %d)", spec.name, user, task.id)
        return task

    def _run(self, spec: JobSpec, task: Task, options: dict[str, Any]) -> None:
        def listen(event: ProgressEvent) -> None:
            task.last = event
            if event.run_id is not None:
                task.run_id = event.run_id
                if event.run_id not in task.runs:
                    task.runs.append(event.run_id)

        try:
            report = spec.work(self.store, self.config, task.connection_id, listen, **options)
            if isinstance(report, Outcome) and report.reconciliation is not None:
                from learnerledger.resync.reconcile import JOB
                from learnerledger.store import history

                run = history.last_run(self.store, JOB, task.connection_id)
                self._keep(task, "reconcile", report.reconciliation, run.id if run else None)
            if isinstance(report, Outcome) and report.merge is not None:
                self._keep(task, MERGE_STEPS[task.job], report.merge, report.merge.run_id)
            task.status = report.status
            task.message = report.message
            if report.run_id is not None:
                task.run_id = report.run_id
                if report.run_id not in task.runs:
                    task.runs.append(report.run_id)
        except JobRunning as exc:
            task.status, task.message = "refused", str(exc)
        except LearnerLedgerError as exc:
            task.status, task.message = "failed", str(exc)
        except Exception as exc:  # a bug: recorded, never a traceback on a page
            log.exception("job %s (task %d) failed", spec.name, task.id)
            task.status = "failed"
            task.message = f"The job stopped on an unexpected error ({type(exc).__name__})."
        finally:
            task.finished = datetime.now(UTC)
            log.info("job %s (task %d) %s", spec.name, task.id, task.status)

    def _keep(self, task: Task, what: str, result: Any, run_id: int | None) -> None:
        kept = Kept(task.connection_id, result, run_id, datetime.now(UTC), task.started_by)
        with self._lock:
            self._kept[(task.connection_id, what)] = kept

    def reconciled(self, connection_id: int) -> Reconciled | None:
        """The last reconciliation this server made for the organisation, or None."""
        with self._lock:
            return cast("Reconciled | None", self._kept.get((connection_id, "reconcile")))

    def merged(self, connection_id: int) -> MergeKept:
        """The last merge plan, apply and verify this server made for the organisation."""
        with self._lock:
            return MergeKept(
                **{step: self._kept.get((connection_id, step)) for step in MERGE_STEPS.values()}
            )

    def _forget_old(self) -> None:
        finished = [t for t in self._tasks.values() if t.status != "running"]
        for task in sorted(finished, key=lambda t: t.id)[: max(0, len(self._tasks) - self.keep)]:
            self._tasks.pop(task.id, None)
            self._threads.pop(task.id, None)

    def tasks(self) -> list[Task]:
        with self._lock:
            return sorted(self._tasks.values(), key=lambda t: t.id, reverse=True)

    def get(self, task_id: int) -> Task | None:
        return self._tasks.get(task_id)

    def for_run(self, run_id: int) -> Task | None:
        return next((t for t in self.tasks() if run_id in t.runs), None)

    def wait(self, task_id: int, timeout: float) -> bool:
        """Wait until the task has finished (tests and shutdown); True if it has."""
        thread = self._threads.get(task_id)
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def live_progress(self, run_id: int, status: str) -> dict[str, Any] | None:
        """The newest progress event of a running run of this process (fresher than the one
        the heartbeat saved on the run record), or None."""
        if status != "running":
            return None
        task = self.for_run(run_id)
        if task is None or task.last is None or task.last.run_id != run_id:
            return None
        return task.last.as_json()

    def running(self) -> list[Task]:
        return [t for t in self.tasks() if t.status == "running"]


# -- the jobs -------------------------------------------------------------------------------


def _mapping(config: Config) -> Any:
    from learnerledger.domain.contact import ContactMapping

    return ContactMapping.from_settings(
        str(config["contact_name_template"]), str(config["contact_fields"]).split(",")
    )


def _xero(store: Store, config: Config, connection_id: int) -> Any:
    from learnerledger.xero.client import open_client
    from learnerledger.xero.connections import list_connections

    connection = next((c for c in list_connections(store) if c.id == connection_id), None)
    if connection is None or connection.state == "disconnected":
        raise LearnerLedgerError(
            "That Xero organisation is not connected.",
            fix="Connect it again under Settings > Connected Apps.",
        )
    return open_client(store, config, connection=connection)


def sync_learners_job(
    store: Store, config: Config, connection_id: int, listen: ProgressListener
) -> _Report:
    from learnerledger.sync import sync_learners

    with _xero(store, config, connection_id) as client:
        return sync_learners(
            store, client, mapping=_mapping(config), mode="adopt", on_progress=listen
        )


def find_duplicates_job(
    store: Store, config: Config, connection_id: int, listen: ProgressListener
) -> _Report:
    from learnerledger.merge import find_duplicates_job as find

    with _xero(store, config, connection_id) as client:
        report: _Report = find(store, client, on_progress=listen)
        return report


@contextmanager
def _wisenet(store: Store, config: Config) -> Iterator[tuple[WisenetConnection, WisenetClient]]:
    """The connected Wisenet account and a client for it."""
    from learnerledger.sources.wisenet import load_connection, open_client
    from learnerledger.store import load_secret_box

    wisenet = load_connection(store, load_secret_box(config.home))
    if wisenet.state == "disconnected":
        raise LearnerLedgerError(
            "Wisenet is disconnected.", fix="Connect it again under Settings > Connected Apps."
        )
    with open_client(
        wisenet.base_url,
        wisenet.api_key,
        requests_per_second=config["wisenet_requests_per_second"],
    ) as client:
        yield wisenet, client


def pull_learners_job(
    store: Store, config: Config, connection_id: int, listen: ProgressListener
) -> _Report:
    """Pull the learners flagged for Xero from the connected Wisenet account."""
    from learnerledger.sources.wisenet import pull_learners, resolve_zone

    with _wisenet(store, config) as (wisenet, client):
        result: _Report = pull_learners(
            store,
            client,
            connection_id=wisenet.id,
            region=str(config["phone_region"]),
            zone=resolve_zone(config["wisenet_timezone"]),
            on_progress=listen,
        )
        return result


def resync_learners_job(
    store: Store, config: Config, connection_id: int, listen: ProgressListener
) -> _Report:
    """The Resync button's learners: pull them from Wisenet (when it is connected), then give
    every ready learner its contact in the organisation."""
    from learnerledger.store import connections

    messages = []
    wisenet = [
        c for c in connections.list_connections(store, "wisenet") if c.state != "disconnected"
    ]
    if wisenet:
        pulled = pull_learners_job(store, config, wisenet[0].id, listen)
        messages.append(pulled.message)
        if pulled.status != "succeeded":
            return Outcome(pulled.status, " ".join(messages), pulled.run_id)
    synced = sync_learners_job(store, config, connection_id, listen)
    messages.append(synced.message)
    return Outcome(synced.status, " ".join(m for m in messages if m), synced.run_id)


def _wisenet_target(store: Store, config: Config, stack: ExitStack) -> WisenetTarget | None:
    """Where the resync writes Wisenet's learners' documents: the connected account (None
    without one: the learners came from a CSV export, their documents stay in the store)."""
    from learnerledger.resync import WisenetTarget
    from learnerledger.store import connections

    if not connections.list_connections(store, "wisenet"):
        return None
    wisenet, client = stack.enter_context(_wisenet(store, config))
    return WisenetTarget(client, wisenet.id, int(config["wisenet_day_limit"]))


def _reconcile(
    store: Store, client: Any, wisenet: WisenetTarget | None, listen: ProgressListener
) -> Outcome:
    from learnerledger.resync import reconcile
    from learnerledger.resync.reconcile import JOB
    from learnerledger.store import history

    result = reconcile(store, client, wisenet=wisenet, on_progress=listen)
    run = history.last_run(store, JOB, client.connection.id)
    return Outcome(
        result.status,
        f"Reconciliation: {result.message}",
        run.id if run else None,
        result if result.status == "succeeded" else None,
    )


def reconcile_job(
    store: Store, config: Config, connection_id: int, listen: ProgressListener
) -> Outcome:
    """``report reconcile``: Xero against the SMS, learner by learner."""
    with ExitStack() as stack:
        wisenet = _wisenet_target(store, config, stack)
        client = stack.enter_context(_xero(store, config, connection_id))
        return _reconcile(store, client, wisenet, listen)


def resync_documents_job(
    store: Store,
    config: Config,
    connection_id: int,
    listen: ProgressListener,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    then_reconcile: bool = True,
) -> Outcome:
    """``resync documents`` (over the range, or the default without one), then, when it
    succeeded and ``then_reconcile``, the reconciliation of both sides."""
    from learnerledger.resync import resync_documents

    with ExitStack() as stack:
        wisenet = _wisenet_target(store, config, stack)
        client = stack.enter_context(_xero(store, config, connection_id))
        report = resync_documents(
            store,
            client,
            wisenet=wisenet,
            date_from=date_from,
            date_to=date_to,
            on_progress=listen,
        )
        if not then_reconcile or report.status != "succeeded":
            return Outcome(report.status, report.message, report.run_id)
        checked = _reconcile(store, client, wisenet, listen)
        return Outcome(
            checked.status,
            f"{report.message} {checked.message}",
            report.run_id,
            checked.reconciliation,
        )


def resync_both_job(
    store: Store,
    config: Config,
    connection_id: int,
    listen: ProgressListener,
    **options: Any,
) -> _Report:
    """The Resync button's "both": the learners first, then (if that went through) their
    documents."""
    learners = resync_learners_job(store, config, connection_id, listen)
    if learners.status != "succeeded":
        return learners
    documents = resync_documents_job(store, config, connection_id, listen, **options)
    return Outcome(
        documents.status,
        f"{learners.message} {documents.message}",
        documents.run_id,
        documents.reconciliation,
    )


def merge_plan_job(
    store: Store, config: Config, connection_id: int, listen: ProgressListener
) -> Outcome:
    """``merge plan``: every confirmed cluster read afresh and planned; nothing is written."""
    from learnerledger.merge import merge_plan

    with _xero(store, config, connection_id) as client:
        report = merge_plan(store, client, mapping=_mapping(config), on_progress=listen)
    return Outcome(report.status, report.message, None, merge=report if report.plan else None)


def merge_apply_job(
    store: Store,
    config: Config,
    connection_id: int,
    listen: ProgressListener,
    *,
    archive: bool = True,
) -> Outcome:
    """``merge apply`` (``--no-archive`` without ``archive``): what the API can move moves,
    the rest goes on the worklist for Xero's Merge."""
    from learnerledger.merge import merge_apply

    with _xero(store, config, connection_id) as client:
        report = merge_apply(
            store, client, mapping=_mapping(config), archive=archive, on_progress=listen
        )
    return Outcome(report.status, report.message, report.run_id, merge=report)


def merge_verify_job(
    store: Store, config: Config, connection_id: int, listen: ProgressListener
) -> Outcome:
    """``merge verify``: how each cluster's merge stands now, read afresh."""
    from learnerledger.merge import merge_verify

    with _xero(store, config, connection_id) as client:
        report = merge_verify(store, client, mapping=_mapping(config), on_progress=listen)
    return Outcome(report.status, report.message, report.run_id, merge=report)


JOBS: tuple[JobSpec, ...] = (
    JobSpec("sync learners", "Sync learners to Xero", sync_learners_job),
    JobSpec("find duplicates", "Find duplicates", find_duplicates_job),
    JobSpec("pull learners", "Pull learners from Wisenet", pull_learners_job),
    JobSpec(
        "resync learners",
        "Resync learners",
        resync_learners_job,
        frames=("sync learners",),
    ),
    JobSpec(
        "resync documents",
        "Resync documents",
        resync_documents_job,
        frames=("resync documents", "report reconcile"),
    ),
    JobSpec(
        "resync both",
        "Resync learners and documents",
        resync_both_job,
        frames=("sync learners", "resync documents", "report reconcile"),
    ),
    JobSpec("report reconcile", "Reconcile Xero with the SMS", reconcile_job),
    JobSpec("merge plan", "Make the merge plan", merge_plan_job),
    JobSpec("merge apply", "Apply the merge plan", merge_apply_job),
    JobSpec("merge verify", "Verify the merges", merge_verify_job),
)
_SPECS = {spec.name: spec for spec in JOBS}


def spec(name: str) -> JobSpec:
    return _SPECS[name]
