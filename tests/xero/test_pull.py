"""``pull contacts`` fills the mirror over real HTTP: the largest pages, archived contacts and
MergedToContactID kept, one call when nothing changed, a spent daily budget that pauses the
pull and a resumed pull that loses nothing, and a malformed record set aside and recovered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conftest import XeroSandbox
from learnerledger.jobs import ProgressEvent
from learnerledger.sandbox.xero import Limits
from learnerledger.sandbox.xero.contacts import insert_contact
from learnerledger.sandbox.xero.seed import seed_organisation
from learnerledger.sandbox.xero.webapp import merge
from learnerledger.status import collect_status
from learnerledger.store import Store, history
from learnerledger.store.xero_tables import xero_contacts, xero_cursors, xero_rejects
from learnerledger.xero import pull_contacts
from learnerledger.xero.mirror import CLOCK_MARGIN_MS
from learnerledger.xero.wire import from_ms

BASE_MS = 1_735_689_600_000  # 2025-01-01


def _insert(sandbox: XeroSandbox, count: int, *, step_ms: int = 1000, first: int = 0) -> None:
    with sandbox.store.tx() as conn:
        for n in range(first, first + count):
            insert_contact(
                conn,
                sandbox.tenant_id,
                {
                    "Name": f"Learner {n} RI-{n:05d}",
                    "ContactNumber": f"RI-{n:05d}",
                    "EmailAddress": f"l{n}@example.edu.au",
                },
                now_ms=BASE_MS + n * step_ms,
            )


def _sandbox_count(sandbox: XeroSandbox) -> int:
    with sandbox.store.read() as conn:
        return int(conn.execute("SELECT count(*) FROM contacts").fetchone()[0])


def _mirrored(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(xero_contacts)).scalar_one())


def _calls(sandbox: XeroSandbox) -> int:
    return len(sandbox.recorder.api_exchanges())


def test_a_pull_mirrors_everything_then_costs_one_call(
    connect_xero: Any, xero_sandbox: XeroSandbox, store: Store
) -> None:
    report = seed_organisation(xero_sandbox.store, seed=1, scale=0.5)
    setup = connect_xero(xero_sandbox)
    progress: list[ProgressEvent] = []
    first = pull_contacts(store, setup.client(), on_progress=progress.append)
    assert first.status == "succeeded"
    assert first.calls == 1
    assert first.streams[0].written == report.contacts
    assert _mirrored(store) == _sandbox_count(xero_sandbox)
    assert progress[-1].total == report.contacts
    counts = collect_status(store, setup.config)["counts"]
    assert counts["contacts"] == report.contacts
    assert counts["contacts_archived"] == report.archived > 0
    request = xero_sandbox.recorder.api_exchanges()[-1]
    assert "pageSize=1000" in request.query
    assert "includeArchived=true" in request.query
    assert "if-modified-since" not in request.request_headers

    with store.read() as conn:
        cursor = conn.execute(sa.select(xero_cursors.c.cursor_ms)).scalar_one()
    answered = xero_sandbox.recorder.api_exchanges()[-1].body
    first_answer_ms = int(answered.split(b"/Date(", 1)[1].split(b")", 1)[0])
    assert cursor == first_answer_ms - CLOCK_MARGIN_MS  # when the first read began, less a margin
    again = pull_contacts(store, setup.client())
    assert again.calls == 1
    assert again.streams[0].written == 0
    assert again.streams[0].received == 0  # nothing changed since the first read began
    since = xero_sandbox.recorder.api_exchanges()[-1].request_headers["if-modified-since"]
    assert since == from_ms(cursor).strftime("%Y-%m-%dT%H:%M:%S")

    with store.read() as conn:
        target = conn.execute(
            sa.select(xero_contacts.c.contact_id).where(xero_contacts.c.status == "ACTIVE")
        ).scalar()
    setup.client().update_contact(target, {"EmailAddress": "changed@example.edu.au"}, "u-1")
    changed = pull_contacts(store, setup.client())
    assert (changed.calls, changed.streams[0].written) == (1, 1)
    with store.read() as conn:
        email = conn.execute(
            sa.select(xero_contacts.c.email).where(xero_contacts.c.contact_id == target)
        ).scalar_one()
    assert email == "changed@example.edu.au"


def test_merged_contacts_keep_their_merged_to(
    connect_xero: Any, xero_sandbox: XeroSandbox, store: Store
) -> None:
    _insert(xero_sandbox, 3)
    setup = connect_xero(xero_sandbox)
    pull_contacts(store, setup.client())
    with store.read() as conn:
        ids = list(conn.execute(sa.select(xero_contacts.c.contact_id)).scalars())
    source, target = ids[0], ids[1]
    with xero_sandbox.store.tx() as conn:
        merge(conn, xero_sandbox.tenant_id, source, target, now_ms=xero_sandbox.clock.now_ms())
    report = pull_contacts(store, setup.client())
    assert report.streams[0].written >= 1
    with store.read() as conn:
        row = conn.execute(
            sa.select(xero_contacts).where(xero_contacts.c.contact_id == source)
        ).one()
    assert row.status == "ARCHIVED"
    assert row.merged_to == target


def test_pages_are_as_large_as_xero_allows(
    connect_xero: Any, xero_sandbox: XeroSandbox, store: Store
) -> None:
    _insert(xero_sandbox, 2500)
    report = pull_contacts(store, connect_xero(xero_sandbox).client())
    assert report.calls == 3
    assert _mirrored(store) == 2500


def test_a_bulk_import_within_one_second_is_paged_by_number(
    connect_xero: Any, xero_sandbox: XeroSandbox, store: Store
) -> None:
    _insert(xero_sandbox, 1500, step_ms=0)
    report = pull_contacts(store, connect_xero(xero_sandbox).client())
    assert report.calls == 2
    assert _mirrored(store) == 1500


def test_changes_during_a_long_pull_are_not_skipped(
    connect_xero: Any, xero_sandbox: XeroSandbox, store: Store
) -> None:
    _insert(xero_sandbox, 2500)
    client = connect_xero(xero_sandbox).client()
    pages = client.iter_contacts()
    first = next(pages)
    # Someone edits a contact already read. Ordered by UpdatedDateUTC, it would move to the end
    # and shift every later record one place back, so the first record of the next page would
    # be skipped; ordered by id, nothing moves.
    writer = connect_xero(xero_sandbox).client()
    writer.update_contact(first.records[10].contact_id, {"FirstName": "Edited"}, "edit-1")
    seen = {c.contact_id for c in first.records}
    for page in pages:
        seen |= {c.contact_id for c in page.records}
    assert len(seen) == 2500
    reads = [e for e in xero_sandbox.recorder.api_exchanges() if e.method == "GET"]
    assert len(reads) == 3  # no more than the pages themselves
    assert all("order=ContactID" in e.query for e in reads)


def _edit(sandbox: XeroSandbox, contact_id: str, **fields: Any) -> None:
    """Change a contact as a person in Xero's web app would (no API call, no budget spent)."""
    from learnerledger.sandbox.xero.contacts import get_row, update_contact_row

    with sandbox.store.tx() as conn:
        row = get_row(conn, sandbox.tenant_id, contact_id)
        assert row is not None
        update_contact_row(conn, contact_id, {**row.data, **fields}, now_ms=sandbox.clock.now_ms())


def test_an_interrupted_pull_with_edits_in_between_loses_nothing(
    connect_xero: Any, xero_sandbox: XeroSandbox, store: Store
) -> None:
    """A pull stopped half way by a spent day budget, while contacts already read are edited
    and an old contact joins the changed set, misses nothing once it has been run again."""
    _insert(xero_sandbox, 2500)
    pull_contacts(store, connect_xero(xero_sandbox).client())  # the first full read: 3 calls
    with store.read() as conn:
        ids = sorted(conn.execute(sa.select(xero_contacts.c.contact_id)).scalars())
    xero_sandbox.clock.advance(60)
    for n, contact_id in enumerate(ids[:1500]):  # 1,500 changes: two pages to read
        _edit(xero_sandbox, contact_id, LastName=f"Changed{n}")
    xero_sandbox.clock.advance(60)
    half = pull_contacts(store, connect_xero(xero_sandbox, xero_day_limit=4).client())
    assert half.status == "paused"
    assert half.streams[0].pages == 1
    # Meanwhile: a contact read on the first page is edited again, and one unchanged since
    # the first read joins the set of changes (before the place the read stopped at).
    _edit(xero_sandbox, ids[0], LastName="Again")
    _edit(xero_sandbox, ids[2400], LastName="Joined")
    xero_sandbox.clock.advance(86_400)
    done = pull_contacts(store, connect_xero(xero_sandbox).client())
    assert done.status == "succeeded"
    pull_contacts(store, connect_xero(xero_sandbox).client())
    with store.read() as conn:
        mirrored = {
            r.contact_id: r.last_name
            for r in conn.execute(sa.select(xero_contacts.c.contact_id, xero_contacts.c.last_name))
        }
    http = xero_sandbox.http()
    truth: dict[str, Any] = {}
    for page in (1, 2, 3):
        body = http.get(
            "/Contacts", params={"page": page, "pageSize": 1000, "includeArchived": "true"}
        ).json()
        truth |= {c["ContactID"]: c.get("LastName") for c in body["Contacts"]}
    assert mirrored == truth
    assert mirrored[ids[0]] == "Again"
    assert mirrored[ids[2400]] == "Joined"


def test_a_spent_day_pauses_the_pull_and_the_next_run_loses_nothing(
    connect_xero: Any, xero_sandbox: XeroSandbox, store: Store
) -> None:
    _insert(xero_sandbox, 2500)
    setup = connect_xero(xero_sandbox, xero_day_limit=2)
    started = xero_sandbox.clock.now()
    paused = pull_contacts(store, setup.client())
    assert paused.status == "paused"
    assert paused.calls == 2
    assert paused.paused is not None
    assert paused.paused.limit == "day"
    assert paused.paused.resumes_at.timestamp() == pytest.approx(started + 86_400, abs=5)
    assert "resumes at" in paused.message
    assert 1000 < _mirrored(store) < 2500
    run = history.get_run(store, paused.run_id)
    assert run is not None
    assert run.status == "paused"
    assert "resumes at" in run.message
    status = collect_status(store, setup.config)
    assert status["budget"][0]["day_remaining"] == 0
    assert status["cursors"][0]["complete"] is False

    xero_sandbox.clock.advance(timedelta(days=1).total_seconds())
    resumed = pull_contacts(store, setup.client())
    assert resumed.status == "succeeded"
    assert resumed.calls == 1  # the rest fits one page
    assert _mirrored(store) == 2500
    assert collect_status(store, setup.config)["cursors"][0]["complete"] is True


def test_xero_s_own_daily_limit_pauses_the_pull_too(
    make_xero_sandbox: Any, connect_xero: Any, store: Store
) -> None:
    sandbox = make_xero_sandbox(limits=Limits(concurrency=5, minute=60, day=1))
    _insert(sandbox, 1200)
    report = pull_contacts(store, connect_xero(sandbox).client())
    assert report.status == "paused"
    assert report.paused is not None
    assert report.paused.limit == "day"
    assert [e.status for e in sandbox.recorder.api_exchanges()] == [200, 429]
    assert _mirrored(store) == 1000


def test_a_malformed_record_is_set_aside_and_recovered_next_time(
    connect_xero: Any, xero_sandbox: XeroSandbox, store: Store
) -> None:
    _insert(xero_sandbox, 30)
    setup = connect_xero(xero_sandbox)
    response = httpx.post(
        xero_sandbox.url + "/sandbox/faults",
        json={"rules": [{"kind": "corrupt", "count": 1, "method": "GET", "path": "Contacts"}]},
    )
    assert response.status_code == 200
    first = pull_contacts(store, setup.client())
    assert first.status == "succeeded"
    assert (first.streams[0].written, first.streams[0].rejected) == (29, 1)
    assert _mirrored(store) == 29
    assert first.problems[0]["code"] == "unreadable_record"
    assert first.problems[0]["record"].startswith("contact")
    assert "ContactID" in first.problems[0]["message"]
    assert "could not be read" in first.message
    assert collect_status(store, setup.config)["counts"]["records_unreadable"] == 1

    second = pull_contacts(store, setup.client())
    assert second.streams[0].recovered == 1
    assert second.calls == 2  # one page read again where the bad record was, then the changes
    assert _mirrored(store) == 30
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(xero_rejects)).scalar() == 0
