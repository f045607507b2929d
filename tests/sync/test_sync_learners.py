"""``sync learners`` end to end over HTTP: plan, journal, apply; each learner ends with exactly
one contact carrying its RefInternal, whatever Xero answers and whatever is in the way."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conftest import ConnectedXero, XeroSandbox
from learnerledger.domain.contact import ContactMapping
from learnerledger.domain.learner import Address, Learner
from learnerledger.sandbox.xero import DEFAULT_TENANT_ID, Limits
from learnerledger.sandbox.xero.contacts import insert_contact
from learnerledger.store import Store, history
from learnerledger.store.learners import upsert_learners
from learnerledger.store.sync_tables import contact_links, journal_steps
from learnerledger.store.tables import runs
from learnerledger.sync import sync_learners

ROOMY = Limits(minute=100_000, day=1_000_000)


def make_learner(ref: str, first: str = "Felicity", last: str = "Jones", **kw: Any) -> Learner:
    values: dict[str, Any] = {
        "ref_internal": ref,
        "first_name": first,
        "last_name": last,
        "email": f"{ref.lower()}@example.com",
        "mobile": "+61412345678",
        "street": Address("1 Main St", "Parramatta", "NSW", "2150", "Australia"),
        "source": "csv",
    }
    values.update(kw)
    return Learner(**values)


def put_learners(store: Store, *learners: Learner) -> None:
    with store.transaction() as conn:
        upsert_learners(conn, learners)


def xero_contacts(sandbox: XeroSandbox) -> list[dict[str, Any]]:
    http = sandbox.http()
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        body = http.get(
            "/Contacts", params={"page": page, "pageSize": 1000, "includeArchived": "true"}
        ).json()
        out += body["Contacts"]
        if page >= body["pagination"]["pageCount"]:
            return out
        page += 1


def by_number(contacts: list[dict[str, Any]]) -> Counter[str]:
    return Counter(c["ContactNumber"] for c in contacts if c.get("ContactNumber"))


@pytest.fixture
def setup(make_xero_sandbox: Any, connect_xero: Any) -> ConnectedXero:
    sandbox: XeroSandbox = make_xero_sandbox(limits=ROOMY)
    connected: ConnectedXero = connect_xero(sandbox)
    return connected


def test_first_sync_gives_each_learner_one_contact_and_a_rerun_costs_one_call(
    setup: ConnectedXero,
) -> None:
    learners = [make_learner(f"DAU{i:07d}", first=f"Learner{i}") for i in range(120)]
    put_learners(setup.store, *learners)
    with setup.client() as client:
        plan = sync_learners(setup.store, client, dry_run=True).plan
        assert plan.totals()["create"] == 120
        assert plan.calls == 4  # three batches of up to 50 and one check
        report = sync_learners(setup.store, client)
    assert report.status == "succeeded"
    assert report.counts()["created"] == 120
    contacts = xero_contacts(setup.sandbox)
    assert len(contacts) == 120
    assert set(by_number(contacts).values()) == {1}
    felicity = next(c for c in contacts if c["ContactNumber"] == "DAU0000007")
    assert felicity["Name"] == "Learner7 Jones DAU0000007"
    assert felicity["FirstName"] == "Learner7"
    with setup.store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(contact_links)).scalar() == 120
    with setup.client() as client:
        again = sync_learners(setup.store, client)
    assert again.counts()["unchanged"] == 120
    assert again.counts()["created"] == again.counts()["updated"] == 0
    assert again.calls <= 2


def test_an_edited_learner_sends_only_the_changed_fields(setup: ConnectedXero) -> None:
    put_learners(setup.store, make_learner("DAU0000001"), make_learner("DAU0000002", "Sam"))
    with setup.client() as client:
        sync_learners(setup.store, client)
    put_learners(setup.store, make_learner("DAU0000001", email="flick@newmail.com"))
    with setup.client() as client:
        plan = sync_learners(setup.store, client, dry_run=True).plan
        [item] = plan.writes("update")
        assert dict(item.changes) == {
            "EmailAddress": {"from": "dau0000001@example.com", "to": "flick@newmail.com"}
        }
        sync_learners(setup.store, client)
    posts = [
        e
        for e in setup.sandbox.recorder.api_exchanges()
        if e.method == "POST" and e.path.endswith("/Contacts")
    ]
    sent = json.loads(posts[-1].request_body)["Contacts"]
    assert len(sent) == 1
    assert set(sent[0]) == {"ContactID", "EmailAddress"}
    held = {c["ContactNumber"]: c for c in xero_contacts(setup.sandbox)}
    assert held["DAU0000001"]["EmailAddress"] == "flick@newmail.com"


def test_fields_the_organisation_owns_are_never_touched(setup: ConnectedXero) -> None:
    put_learners(setup.store, make_learner("DAU0000001"))
    with setup.client() as client:
        sync_learners(setup.store, client)
    [contact] = xero_contacts(setup.sandbox)
    http = setup.sandbox.http()
    http.post(f"/Contacts/{contact['ContactID']}", json={"AccountNumber": "DEB-0042"})
    put_learners(setup.store, make_learner("DAU0000001", last="Jonas"))
    with setup.client() as client:
        sync_learners(setup.store, client)
    [after] = xero_contacts(setup.sandbox)
    assert after["AccountNumber"] == "DEB-0042"
    assert after["Name"] == "Felicity Jonas DAU0000001"


def test_an_archived_contact_with_the_number_is_a_conflict(setup: ConnectedXero) -> None:
    http = setup.sandbox.http()
    [old] = http.put("/Contacts", json={"Name": "F Jones", "ContactNumber": "DAU0000001"}).json()[
        "Contacts"
    ]
    http.post(f"/Contacts/{old['ContactID']}", json={"ContactStatus": "ARCHIVED"})
    put_learners(setup.store, make_learner("DAU0000001"))
    with setup.client() as client:
        report = sync_learners(setup.store, client)
    [item] = report.plan.items
    assert item.state == "conflict"
    assert "archived" in item.reasons[0]
    assert "Restore" in item.reasons[0]
    assert len(xero_contacts(setup.sandbox)) == 1  # nothing was created beside it
    assert report.errors[0]["ref_internal"] == "DAU0000001"


def test_a_namesake_holding_the_learners_name_is_a_conflict(setup: ConnectedXero) -> None:
    http = setup.sandbox.http()
    http.put("/Contacts", json={"Name": "Felicity Jones DAU0000001"})
    put_learners(setup.store, make_learner("DAU0000001"))
    with setup.client() as client:
        report = sync_learners(setup.store, client)
    [item] = report.plan.items
    assert item.state == "conflict"
    assert "already used by the active contact" in item.reasons[0]


def test_several_contacts_with_the_number_is_a_conflict(setup: ConnectedXero) -> None:
    store = setup.sandbox.store
    with store.tx() as conn:  # only possible in Xero by old data; insert past the API's checks
        for name in ("F Jones", "Felicity J"):
            insert_contact(
                conn,
                DEFAULT_TENANT_ID,
                {"Name": name, "ContactNumber": "DAU0000001"},
                now_ms=setup.sandbox.clock.now_ms(),
            )
    put_learners(setup.store, make_learner("DAU0000001"))
    with setup.client() as client:
        report = sync_learners(setup.store, client)
    assert report.plan.items[0].state == "conflict"
    assert "2 contacts carry DAU0000001" in report.plan.items[0].reasons[0]


def test_a_contact_already_carrying_the_number_is_linked_not_duplicated(
    setup: ConnectedXero,
) -> None:
    mapping = ContactMapping()
    ready = make_learner("DAU0000001")
    stale = make_learner("DAU0000002", "Sam")
    http = setup.sandbox.http()
    http.put(
        "/Contacts",
        json={
            "Contacts": [
                mapping.contact(ready),
                {**mapping.contact(stale), "EmailAddress": "old@example.com"},
            ]
        },
    )
    put_learners(setup.store, ready, stale)
    with setup.client() as client:
        report = sync_learners(setup.store, client)
    states = {i.ref_internal: i.state for i in report.plan.items}
    assert states == {"DAU0000001": "unchanged", "DAU0000002": "update"}
    assert len(xero_contacts(setup.sandbox)) == 2
    with setup.store.read() as conn:
        linked = {r.ref_internal: r.contact_id for r in conn.execute(sa.select(contact_links))}
    assert set(linked) == {"DAU0000001", "DAU0000002"}


def test_awkward_learners(setup: ConnectedXero) -> None:
    awkward = [
        make_learner("DAU0000001", "Mary", "O'Brien"),
        make_learner("DAU0000002", 'Bob "The Builder"', "Jones"),
        make_learner("DAU0000003", "Chloé 🎓", "Nguyễn"),
        make_learner("DAU0000004", "A" * 300, "B" * 300),
        make_learner("DAU0000005", email="not-an-email"),
        make_learner("DAU0000006", email="jane.smith@"),
        make_learner("DAU0000007", first=""),
        make_learner("DAU0000008", street=Address("1 Main St", "Parramatta", "", "2150")),
    ]
    put_learners(setup.store, *awkward)
    with setup.client() as client:
        report = sync_learners(setup.store, client)
    states = {i.ref_internal: i for i in report.plan.items}
    assert {r for r, i in states.items() if i.state == "create"} == {
        "DAU0000001",
        "DAU0000002",
        "DAU0000003",
        "DAU0000004",
    }
    assert "email address" in states["DAU0000005"].reasons[0]
    assert "email address" in states["DAU0000006"].reasons[0]
    assert states["DAU0000007"].reasons == ("Add a first name in the SMS.",)
    assert "state" in states["DAU0000008"].reasons[0]
    held = {c["ContactNumber"]: c for c in xero_contacts(setup.sandbox)}
    assert held["DAU0000001"]["Name"] == "Mary O'Brien DAU0000001"
    assert held["DAU0000002"]["Name"] == 'Bob "The Builder" Jones DAU0000002'
    assert held["DAU0000003"]["Name"] == "Chloé 🎓 Nguyễn DAU0000003"
    long_name = held["DAU0000004"]["Name"]
    assert len(long_name) == 255
    assert long_name.endswith(" DAU0000004")
    assert report.counts()["invalid"] == 4


def test_the_run_is_in_the_history(setup: ConnectedXero) -> None:
    put_learners(setup.store, make_learner("DAU0000001"), make_learner("DAU0000002", first=""))
    with setup.client() as client:
        report = sync_learners(setup.store, client)
    assert report.run_id is not None
    row = history.get_run(setup.store, report.run_id)
    assert row is not None
    assert row.job == "sync learners"
    assert row.status == "succeeded"
    assert row.counts["created"] == 1
    assert row.counts["invalid"] == 1
    assert row.problems == [
        {
            "record": "DAU0000002",
            "code": "missing_first_name",
            "field": "FirstName",
            "message": "Add a first name in the SMS.",
            "fix": "",
        }
    ]


def test_dry_run_json_lists_every_learner(setup: ConnectedXero) -> None:
    put_learners(setup.store, make_learner("DAU0000001"), make_learner("DAU0000002", email=""))
    with setup.client() as client:
        report = sync_learners(setup.store, client, dry_run=True)
    data = report.plan.as_json()
    assert data["totals"]["create"] == 1
    assert data["totals"]["invalid"] == 1
    assert [(x["ref_internal"], x["state"]) for x in data["learners"]] == [
        ("DAU0000001", "create"),
        ("DAU0000002", "invalid"),
    ]
    assert data["learners"][1]["reasons"] == ["Add an email address in the SMS."]
    assert xero_contacts(setup.sandbox) == []
    with setup.store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(journal_steps)).scalar() == 0


def test_learners_not_flagged_are_left_alone(setup: ConnectedXero) -> None:
    put_learners(setup.store, make_learner("DAU0000001", sync_to_xero=False))
    with setup.client() as client:
        report = sync_learners(setup.store, client)
    assert report.plan.items == []
    assert report.plan.not_flagged == 1


def _faults(sandbox: XeroSandbox, *rules: dict[str, Any]) -> None:
    response = httpx.post(sandbox.url + "/sandbox/faults", json={"rules": list(rules)})
    assert response.status_code == 200, response.text


def _assert_exactly_one_each(sandbox: XeroSandbox, refs: list[str]) -> None:
    httpx.delete(sandbox.url + "/sandbox/faults")
    counts = by_number(xero_contacts(sandbox))
    assert {r: counts[r] for r in refs} == dict.fromkeys(refs, 1)


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "status", "status": 500, "probability": 0.4, "seed": 7},
        {"kind": "status", "status": 503, "count": 3},
        {"kind": "status", "status": 429, "count": 4, "retry_after": 2},
    ],
    ids=["500s", "503-burst", "429-burst"],
)
def test_failures_are_retried_to_exactly_one_contact_each(
    setup: ConnectedXero, rule: dict[str, Any]
) -> None:
    refs = [f"DAU{i:07d}" for i in range(130)]
    put_learners(setup.store, *(make_learner(r, first=f"L{r[-3:]}") for r in refs))
    _faults(setup.sandbox, {**rule, "path": "Contacts"})
    with setup.client() as client:
        report = sync_learners(setup.store, client)
    assert report.status == "succeeded", report.message
    assert report.counts()["created"] == 130
    _assert_exactly_one_each(setup.sandbox, refs)


def test_a_lost_answer_is_settled_by_looking_the_contacts_up(
    make_xero_sandbox: Any, connect_xero: Any
) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(limits=ROOMY)
    setup: ConnectedXero = connect_xero(sandbox, xero_retries=1)
    refs = [f"DAU{i:07d}" for i in range(60)]
    put_learners(setup.store, *(make_learner(r, first=f"L{r[-3:]}") for r in refs))
    # The first batch is written and committed, then the connection closes without the answer.
    _faults(sandbox, {"kind": "drop", "count": 1, "method": "PUT"})
    with setup.client(sleep=lambda s: None) as client:
        report = sync_learners(setup.store, client)
    assert report.status == "succeeded", report.message
    assert report.counts()["created"] == 60
    _assert_exactly_one_each(sandbox, refs)
    puts = [e for e in sandbox.recorder.api_exchanges() if e.method == "PUT"]
    assert len(puts) == 2  # the lost batch was not sent again; only the second batch was


def test_both_sandboxes_first_sync_then_an_edit_in_wisenet(
    make_xero_sandbox: Any, connect_xero: Any, make_wisenet_sandbox: Any, tmp_path: Any
) -> None:
    """The whole way over HTTP: learners pulled from the Wisenet sandbox, synced to the Xero
    sandbox; a learner edited in Wisenet is pulled again and only its changed field is sent."""
    from learnerledger.sources.wisenet import connect_wisenet, pull_learners
    from learnerledger.store import load_secret_box

    xero: XeroSandbox = make_xero_sandbox(limits=ROOMY)
    setup: ConnectedXero = connect_xero(xero)
    wisenet = make_wisenet_sandbox(seed=0.1)
    wconn = connect_wisenet(
        setup.store,
        load_secret_box(tmp_path / "home"),
        api_key=wisenet.api_key,
        base_url=wisenet.url,
    )
    with wisenet.client() as wclient:
        pull_learners(setup.store, wclient, connection_id=wconn.id)
    with setup.client() as client:
        first = sync_learners(setup.store, client)
    ready = [i.ref_internal for i in first.plan.items if i.state != "invalid"]
    assert ready
    assert first.counts()["created"] == len(ready)
    _assert_exactly_one_each(xero, ready)

    chosen = ready[0]
    listed = wisenet.http().get("/learnersAU", params={"learnerNumberFilter": chosen}).json()
    learner_id = listed[0]["Data"]["LearnerId"]
    patched = wisenet.http().patch(
        f"/learnersAU/{learner_id}",
        json=[
            {
                "op": "replace",
                "path": "/Personal/EmailAddresses/Email",
                "value": "changed.address@example.com",
            }
        ],
    )
    assert patched.status_code == 200, patched.text
    wisenet.sandbox.clock.advance(60)
    with wisenet.client() as wclient:
        pull_learners(setup.store, wclient, connection_id=wconn.id)
    with setup.client() as client:
        second = sync_learners(setup.store, client)
    assert second.counts()["updated"] == 1
    assert second.counts()["created"] == 0
    posts = [
        e
        for e in xero.recorder.api_exchanges()
        if e.method == "POST" and e.path.endswith("/Contacts")
    ]
    [sent] = json.loads(posts[-1].request_body)["Contacts"]
    assert sent.keys() == {"ContactID", "EmailAddress"}
    assert sent["EmailAddress"] == "changed.address@example.com"


def test_progress_reports_learners_batches_and_waits(
    make_xero_sandbox: Any, connect_xero: Any
) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(limits=Limits(minute=3))
    setup: ConnectedXero = connect_xero(sandbox, xero_minute_limit=3)
    put_learners(setup.store, *(make_learner(f"DAU{i:07d}") for i in range(120)))
    events: list[Any] = []
    with setup.client() as client:
        report = sync_learners(setup.store, client, on_progress=events.append)
    assert report.counts()["created"] == 120
    assert events[-1].done == events[-1].total == 120
    assert events[-1].detail["batches_done"] == events[-1].detail["batches_total"] == 3
    assert any("waiting on the rate budget (minute)" in e.note for e in events)


def test_a_spent_day_budget_pauses_the_run_and_the_next_run_finishes_it(
    make_xero_sandbox: Any, connect_xero: Any
) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(limits=Limits(day=3))
    setup: ConnectedXero = connect_xero(sandbox, xero_day_limit=3, xero_max_wait=60)
    refs = [f"DAU{i:07d}" for i in range(150)]
    put_learners(setup.store, *(make_learner(r) for r in refs))
    with setup.client() as client:
        first = sync_learners(setup.store, client)
    assert first.status == "paused"
    assert "resumes at" in first.message
    assert 0 < first.counts()["created"] < 150
    sandbox.clock.advance(86_400)
    with setup.client() as client:
        second = sync_learners(setup.store, client)
    assert second.status == "succeeded", second.message
    assert second.resumed > 0
    sandbox.clock.advance(86_400)  # a fresh day for the test's own reads
    _assert_exactly_one_each(sandbox, refs)
    with setup.store.read() as conn:
        statuses = dict(conn.execute(sa.select(runs.c.id, runs.c.status)).all())
    assert statuses[first.run_id] == "paused"
