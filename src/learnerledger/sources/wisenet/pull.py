"""The incremental pull of the learners flagged for Xero into the local learner table."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa

from learnerledger.domain.learner import Learner
from learnerledger.errors import WisenetAuthError, WisenetError, WisenetQuotaExhausted
from learnerledger.sources.history import finish_run, start_run
from learnerledger.sources.wisenet.client import PAGE_SIZE, WisenetClient, describe_request
from learnerledger.sources.wisenet.connection import set_connection_state
from learnerledger.sources.wisenet.mapping import Lookups, item_learner_id, learner_from_item
from learnerledger.store import Store
from learnerledger.store.learners import learners, set_sync_to_xero, upsert_learners
from learnerledger.store.tables import meta_values

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


def _save_state(conn: sa.Connection, key: str, state: Mapping[str, Any]) -> None:
    text = json.dumps(state, separators=(",", ":"))
    updated = conn.execute(meta_values.update().where(meta_values.c.key == key).values(value=text))
    if not updated.rowcount:
        conn.execute(meta_values.insert().values(key=key, value=text))


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
    result: PullResult
    key: str
    watermark: str | None  # as stored when the pull began
    current: dict[str, Any]  # the pass: since, skip, last_id, started, max_seen
    region: str
    zone: tzinfo
    progress: Callable[[PullResult], None] | None
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
    progress: Callable[[PullResult], None] | None = None,
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
    """
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
            "unflag": _flagged_ids(store) != set(),
        }
    since = _parse_iso(current.get("since"))
    result = PullResult(
        status="running", full=since is None, resumed=resumed, dry_run=dry_run, since=since
    )
    if not dry_run:
        result.run_id = start_run(store, "pull learners", connection_id=connection_id)
    job = _Pull(
        store, client, result, key, watermark, current, region, zone, progress, Lookups(client)
    )
    calls_before = client.calls
    try:
        with store.transaction() if dry_run else nullcontext():
            try:
                _pull_pages(job)
                result.unflagged = _unflag(job, since)
                max_seen = _parse_iso(current.get("max_seen"))
                started = _parse_iso(current.get("started"))
                if max_seen is None:
                    result.watermark = _parse_iso(watermark)
                else:
                    result.watermark = min(max_seen, started) if started else max_seen
                if not dry_run:
                    with store.transaction() as conn:
                        _save_state(conn, key, {"watermark": _iso(result.watermark), "pass": None})
                result.status = "succeeded"
            except WisenetQuotaExhausted as exc:
                result.status = "paused"
                result.resets_at = exc.resets_at
                result.message = str(exc)
            if dry_run:
                raise _Rollback
    except _Rollback:
        pass
    except WisenetAuthError as exc:
        set_connection_state(store, connection_id, "reconnect_needed", exc.message)
        _finish(store, result, client.calls - calls_before, "failed", str(exc))
        raise
    except BaseException as exc:
        _finish(store, result, client.calls - calls_before, "failed", str(exc) or repr(exc))
        raise
    _finish(store, result, client.calls - calls_before, result.status, result.message)
    return result


def _finish(store: Store, result: PullResult, calls: int, status: str, message: str) -> None:
    result.calls = calls
    result.status = status
    if status == "succeeded" and not message:
        result.message = (
            f"{result.read} learners read: {result.inserted} new, {result.updated} changed, "
            f"{result.unchanged} unchanged; {result.unflagged} no longer flagged for Xero."
        )
    else:
        result.message = message
    if result.run_id is not None:
        errors = [
            {"record": s["record"], "learner_id": s.get("learner_id"), "message": s["message"]}
            for s in result.skipped
        ]
        finish_run(
            store,
            result.run_id,
            status=status,
            counts=result.counts(),
            errors=errors,
            message=result.message,
        )


def _read_items(job: _Pull, items: list[Any]) -> list[Learner]:
    result, current = job.result, job.current
    learners: list[Learner] = []
    max_seen = _parse_iso(current.get("max_seen"))
    for item in items:
        learner_id = item_learner_id(item)
        if learner_id is not None:
            if learner_id in job.seen:
                continue  # the page overlap, or a learner that moved while we paged
            job.seen.add(learner_id)
        result.read += 1
        try:
            learner = learner_from_item(item, job.lookups, region=job.region, zone=job.zone)
        except ValueError as exc:
            record = f"learner {learner_id}" if learner_id is not None else "a learner"
            result.skipped.append({"record": record, "learner_id": learner_id, "message": str(exc)})
            continue
        result.warnings += len(learner.warnings)
        modified = learner.source_modified
        if modified is not None and (max_seen is None or modified > max_seen):
            max_seen = modified
        learners.append(learner)
    current["max_seen"] = _iso(max_seen)
    return learners


def _pull_pages(job: _Pull) -> None:
    result, current = job.result, job.current
    since = _parse_iso(current.get("since"))
    step_backs = 0
    stepped_back = False
    while True:
        params: dict[str, Any] = {"syncToXeroFilter": "true"}
        if since is not None:
            params["lastModifiedTimeStampFilter"] = _filter_value(since, job.zone)
        params |= {"skip": current["skip"], "take": PAGE_SIZE}
        page = job.client.list_page("/learnersAU", params)
        result.pages += 1
        if current.get("started") is None:
            current["started"] = _iso(page.date or job.client.now())
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
        fresh = sum(1 for item in items if item_learner_id(item) not in job.seen)
        learners = _read_items(job, items)
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
        with job.store.transaction() as conn:
            outcome = upsert_learners(conn, learners)
            _save_state(conn, job.key, {"watermark": job.watermark, "pass": current})
        result.inserted += outcome.inserted
        result.updated += outcome.updated
        result.unchanged += outcome.unchanged
        if job.progress is not None:
            job.progress(result)
        if done:
            return


def _unflag(job: _Pull, since: datetime | None) -> int:
    """Mark the stored learners whose Sync to Xero was cleared in Wisenet since the last pull.

    After a complete full pull the learners it did not see are the ones; otherwise the light
    list endpoint names the learners not flagged (changed since the last pull, when there was
    one). A first pull into an empty table needs neither."""
    if not job.current.get("unflag", True):
        return 0
    flagged = _flagged_ids(job.store)
    seen = {str(i) for i in job.seen}
    if since is None and not job.result.resumed:
        ids = sorted(flagged - seen)
    elif not flagged - seen:
        return 0
    else:
        ids = []
        skip = 0
        while True:
            params: dict[str, Any] = {"syncToXeroFilter": "false"}
            if since is not None:
                params["lastModifiedTimeStampFilter"] = _filter_value(since, job.zone)
            params |= {"skip": skip, "take": PAGE_SIZE}
            page = job.client.list_page("/learnersAU/list", params)
            job.result.pages += 1
            ids.extend(str(i) for i in map(_learner_id_basic, page.items) if i is not None)
            if len(page.items) < PAGE_SIZE:
                break
            skip += len(page.items)
        ids = sorted(set(ids) & flagged)
    if not ids:
        return 0
    with job.store.transaction() as conn:
        return set_sync_to_xero(conn, "wisenet", ids, False).updated


def _flagged_ids(store: Store) -> set[str]:
    """Wisenet's LearnerIds of the stored learners flagged for Xero."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(learners.c.source_id).where(
                learners.c.source == "wisenet", learners.c.sync_to_xero.is_(True)
            )
        )
        return {str(row.source_id) for row in rows}


def _learner_id_basic(item: Any) -> int | None:
    value = item.get("LearnerId") if isinstance(item, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
