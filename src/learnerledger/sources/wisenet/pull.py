"""The incremental pull of the learners flagged for Xero into the local learner table."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from learnerledger.domain.learner import Learner
from learnerledger.errors import WisenetAuthError, WisenetError
from learnerledger.jobs import Job, ProgressListener
from learnerledger.sources.wisenet.client import PAGE_SIZE, WisenetClient, describe_request
from learnerledger.sources.wisenet.connection import set_connection_state
from learnerledger.sources.wisenet.mapping import (
    Lookups,
    UnusableRecord,
    item_learner_id,
    learner_from_item,
)
from learnerledger.store import Store
from learnerledger.store import connections as stored_connections
from learnerledger.store.learners import flagged_source_ids, set_sync_to_xero, upsert_learners
from learnerledger.text import count

__all__ = ["PullResult", "pull_learners"]

_MAX_STEP_BACKS = 20  # per pull: guards against a server whose order is not stable


@dataclass
class PullResult:
    status: str  # succeeded | paused | failed
    full: bool
    resumed: bool
    dry_run: bool
    since: datetime | None = None
    watermark: datetime | None = None
    read: int = 0  # learners received (each once, however often a page repeated it)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    unflagged: int = 0
    warnings: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    calls: int = 0
    resets_at: datetime | None = None
    run_id: int | None = None
    message: str = ""

    def counts(self) -> dict[str, int]:
        return {
            "read": self.read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "unflagged": self.unflagged,
            "skipped": len(self.skipped),
            "warnings": self.warnings,
            "pages": self.pages,
            "calls": self.calls,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "full": self.full,
            "resumed": self.resumed,
            "dry_run": self.dry_run,
            "since": self.since.isoformat() if self.since else None,
            "watermark": self.watermark.isoformat() if self.watermark else None,
            "counts": self.counts(),
            "skipped": self.skipped,
            "resets_at": self.resets_at.isoformat() if self.resets_at else None,
            "run_id": self.run_id,
            "message": self.message,
        }


def _state_key(connection_id: int) -> str:
    return f"wisenet:{connection_id}:learners"


def _load_state(store: Store, key: str) -> dict[str, Any]:
    raw = store.get_meta(key)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _save_state(store: Store, key: str, state: Mapping[str, Any]) -> None:
    store.set_meta(key, json.dumps(state, separators=(",", ":")))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _parse_iso(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _filter_value(moment: datetime, zone: tzinfo) -> str:
    local = moment.astimezone(zone)
    return "gt:" + local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"


class _Rollback(Exception):
    """Ends a dry run: everything it would have written is rolled back."""


@dataclass
class _Pull:
    """One pull's moving parts, passed between its steps."""

    store: Store
    client: WisenetClient
    job: Job
    result: PullResult
    key: str
    watermark: str | None  # as stored when the pull began
    current: dict[str, Any]  # the pass: since, skip, last_id, started, max_seen
    region: str
    zone: tzinfo
    lookups: Lookups
    seen: set[int] = field(default_factory=set)


def pull_learners(
    store: Store,
    client: WisenetClient,
    *,
    connection_id: int,
    region: str = "AU",
    zone: tzinfo = UTC,
    overlap: timedelta = timedelta(minutes=10),
    full: bool = False,
    dry_run: bool = False,
    on_progress: ProgressListener | None = None,
) -> PullResult:
    """Read the learners flagged for Xero that changed since the last pull and store them.

    Incremental by ``LastModifiedTimeStamp``: the watermark is the newest timestamp seen (but
    never later than the server's clock when the pull began), and each pull asks for
    everything modified after the watermark less ``overlap``, so clock skew and writes during
    a pull lose nothing; repeats come back as unchanged rows. Pages of 1000 overlap by one
    learner, so a learner leaving the flagged list mid-pull is noticed (the pull steps back)
    instead of silently shifting the next page. Each page is stored together with the pull's
    position: a pull stopped by the day quota (status ``paused``) or a crash resumes there.
    Learners whose Sync to Xero was cleared in Wisenet are marked so (kept, not ready).

    The pull runs in the job frame (``learnerledger.jobs``): its run record holds the counts,
    a problem per learner record that could not be used, and the resume point of a paused
    pull; ``on_progress`` gets a ``learners`` event after every page. A dry run records no run.
    """
    connection = stored_connections.get_connection(store, connection_id)
    job = Job(
        store,
        "pull learners",
        connection_id=connection_id,
        organisation=connection.name if connection else None,
        calls=lambda: client.calls,
        on_progress=on_progress,
        record=not dry_run,
    )
    pull: _Pull | None = None
    try:
        with job:
            pull = _begin(job, client, connection_id, region, zone, overlap, full, dry_run)
            try:
                with store.transaction() if dry_run else nullcontext():
                    _pull(pull)
                    if dry_run:
                        raise _Rollback
            except _Rollback:
                pass
            finally:
                pull.result.calls = job.used_calls()
                job.counts.update(pull.result.counts())
    except WisenetAuthError as exc:
        set_connection_state(store, connection_id, "reconnect_needed", exc.message)
        raise
    # The frame raises every error again but a spent budget, which it records as a pause.
    assert pull is not None
    result = pull.result
    result.run_id, result.calls = job.run_id, job.calls
    if job.paused is not None:
        result.status = "paused"
        result.resets_at = job.paused.resumes_at
    else:
        result.status = "succeeded"
    result.message = job.message
    return result


def _begin(
    job: Job,
    client: WisenetClient,
    connection_id: int,
    region: str,
    zone: tzinfo,
    overlap: timedelta,
    full: bool,
    dry_run: bool,
) -> _Pull:
    """Where this pull starts: where a paused one stopped, or after the watermark (read once
    the run is ours, so two pulls never start from the same state)."""
    store = job.store
    key = _state_key(connection_id)
    state = _load_state(store, key)
    watermark = state.get("watermark") if isinstance(state.get("watermark"), str) else None
    in_progress = None if full else state.get("pass")
    resumed = isinstance(in_progress, dict)
    if isinstance(in_progress, dict):
        current: dict[str, Any] = dict(in_progress)
    else:
        start = _parse_iso(watermark)
        since = None if full or start is None else start - overlap
        # Whether learners stored before may have lost their flag: not so for a first pull.
        current = {
            "since": _iso(since),
            "skip": 0,
            "last_id": None,
            "unflag": bool(_flagged_ids(store)),
        }
    since = _parse_iso(current.get("since"))
    result = PullResult(
        status="running", full=since is None, resumed=resumed, dry_run=dry_run, since=since
    )
    return _Pull(store, client, job, result, key, watermark, current, region, zone, Lookups(client))


def _pull(pull: _Pull) -> None:
    result, current = pull.result, pull.current
    _pull_pages(pull)
    result.unflagged = _unflag(pull, _parse_iso(current.get("since")))
    max_seen = _parse_iso(current.get("max_seen"))
    started = _parse_iso(current.get("started"))
    if max_seen is None:
        result.watermark = _parse_iso(pull.watermark)
    else:
        result.watermark = min(max_seen, started) if started else max_seen
    if not result.dry_run:
        _save_state(pull.store, pull.key, {"watermark": _iso(result.watermark), "pass": None})
    pull.job.resume_at(None)
    pull.job.message = (
        f"{count(result.read, 'learner')} read: {result.inserted} new, {result.updated} changed, "
        f"{result.unchanged} unchanged; {result.unflagged} no longer flagged for Xero."
    )


def _read_items(pull: _Pull, items: list[Any]) -> list[Learner]:
    result, current = pull.result, pull.current
    learners: list[Learner] = []
    max_seen = _parse_iso(current.get("max_seen"))
    for item in items:
        learner_id = item_learner_id(item)
        if learner_id is not None:
            if learner_id in pull.seen:
                continue  # the page overlap, or a learner that moved while we paged
            pull.seen.add(learner_id)
        result.read += 1
        try:
            learner = learner_from_item(item, pull.lookups, region=pull.region, zone=pull.zone)
        except UnusableRecord as exc:
            record = f"learner {learner_id}" if learner_id is not None else "a learner"
            result.skipped.append({"record": record, "learner_id": learner_id, "message": str(exc)})
            pull.job.problem(record, exc.code, str(exc), field=exc.field)
            continue
        result.warnings += len(learner.warnings)
        modified = learner.source_modified
        if modified is not None and (max_seen is None or modified > max_seen):
            max_seen = modified
        learners.append(learner)
    current["max_seen"] = _iso(max_seen)
    return learners


def _pull_pages(pull: _Pull) -> None:
    result, current = pull.result, pull.current
    since = _parse_iso(current.get("since"))
    step_backs = 0
    stepped_back = False
    while True:
        params: dict[str, Any] = {"syncToXeroFilter": "true"}
        if since is not None:
            params["lastModifiedTimeStampFilter"] = _filter_value(since, pull.zone)
        params |= {"skip": current["skip"], "take": PAGE_SIZE}
        page = pull.client.list_page("/learnersAU", params)
        result.pages += 1
        if current.get("started") is None:
            current["started"] = _iso(page.date or pull.client.now())
        items = page.items
        last_id = current.get("last_id")
        first_id = item_learner_id(items[0]) if items else None
        if (
            current["skip"] > 0
            and isinstance(last_id, int)
            and first_id is not None
            and first_id > last_id
            and step_backs < _MAX_STEP_BACKS
        ):
            # Learners before our position left the list (unflagged, say), so this page slid
            # past some we have not read: step back a page and read forward again.
            step_backs += 1
            stepped_back = True
            current["skip"] = max(0, current["skip"] - (PAGE_SIZE - 1))
            continue
        fresh = sum(1 for item in items if item_learner_id(item) not in pull.seen)
        learners = _read_items(pull, items)
        done = len(items) < PAGE_SIZE
        if not done and not fresh and not stepped_back:
            raise WisenetError(
                f"Wisenet sent only learners already read for skip={current['skip']}: paging "
                "does not move forward, so the pull stopped instead of looping.",
                fix="Check the connection's base URL; if it is Wisenet's, report this to "
                "Wisenet support with the request shown.",
                request=describe_request("/learnersAU", params),
            )
        stepped_back = False
        if not done:
            current["last_id"] = item_learner_id(items[-1])
            current["skip"] += len(items) - 1
        with pull.store.transaction() as conn:  # the page and the position, together
            outcome = upsert_learners(conn, learners)
            _save_state(pull.store, pull.key, {"watermark": pull.watermark, "pass": current})
        pull.job.resume_at(current)
        result.inserted += outcome.inserted
        result.updated += outcome.updated
        result.unchanged += outcome.unchanged
        pull.job.progress("learners", result.read, detail={"pages": result.pages})
        if done:
            return


def _unflag(pull: _Pull, since: datetime | None) -> int:
    """Mark the stored learners whose Sync to Xero was cleared in Wisenet since the last pull.

    After a complete full pull the learners it did not see are the ones; otherwise the light
    list endpoint names the learners not flagged (changed since the last pull, when there was
    one). A first pull into an empty table needs neither."""
    if not pull.current.get("unflag", True):
        return 0
    flagged = _flagged_ids(pull.store)
    seen = {str(i) for i in pull.seen}
    if since is None and not pull.result.resumed:
        ids = sorted(flagged - seen)
    elif not flagged - seen:
        return 0
    else:
        ids = []
        skip = 0
        while True:
            params: dict[str, Any] = {"syncToXeroFilter": "false"}
            if since is not None:
                params["lastModifiedTimeStampFilter"] = _filter_value(since, pull.zone)
            params |= {"skip": skip, "take": PAGE_SIZE}
            page = pull.client.list_page("/learnersAU/list", params)
            pull.result.pages += 1
            ids.extend(str(i) for i in map(_learner_id_basic, page.items) if i is not None)
            if len(page.items) < PAGE_SIZE:
                break
            skip += len(page.items)
        ids = sorted(set(ids) & flagged)
    if not ids:
        return 0
    with pull.store.transaction() as conn:
        return set_sync_to_xero(conn, "wisenet", ids, False).updated


def _flagged_ids(store: Store) -> set[str]:
    """Wisenet's LearnerIds of the stored learners flagged for Xero."""
    with store.read() as conn:
        return flagged_source_ids(conn, "wisenet")


def _learner_id_basic(item: Any) -> int | None:
    value = item.get("LearnerId") if isinstance(item, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
