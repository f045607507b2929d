"""``learnerledger duplicates`` over HTTP against the Xero sandbox: after a sync in duplicate
mode, each learner's hand-typed legacy contact is found (never the learner's own contact, nor
a sibling, nor a company), the pairs carry their evidence, and decisions survive re-runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from conftest import ConnectedXero, XeroSandbox
from learnerledger.cli import main
from learnerledger.domain.learner import Address
from learnerledger.merge import decide, find_duplicates_job
from learnerledger.status import collect_status
from learnerledger.store import history
from learnerledger.sync import sync_learners
from sync.test_sync_learners import ROOMY, make_learner, put_learners

STREET = {
    "AddressType": "STREET",
    "AddressLine1": "14 Wattle Street",
    "City": "Parramatta",
    "Region": "NSW",
    "PostalCode": "2150",
}


def _organisation(
    make_xero_sandbox: Any, connect_xero: Any
) -> tuple[ConnectedXero, dict[str, str]]:
    sandbox: XeroSandbox = make_xero_sandbox(limits=ROOMY)
    setup: ConnectedXero = connect_xero(sandbox)
    http = sandbox.http()
    legacy = {
        "felicity": {
            "Name": "JONES, Felicity",
            "EmailAddress": "Felicity.Jones@Example.com",
            "Addresses": [STREET],
        },
        "sibling": {
            "Name": "Tom Jones",
            "EmailAddress": "tom.jones@example.com",
            "Addresses": [STREET],
        },
        "company": {"Name": "Jones Plumbing Pty Ltd", "EmailAddress": "accounts@jonesplumbing.au"},
    }
    ids = {}
    for key, body in legacy.items():
        [made] = http.put("/Contacts", json=body).json()["Contacts"]
        ids[key] = made["ContactID"]
    street = Address("14 Wattle St", "Parramatta", "NSW", "2150", "Australia")
    put_learners(
        setup.store,
        make_learner("DAU0000001", email="felicity.jones@example.com", street=street),
        make_learner("DAU0000002", first="Priya", last="Natarajan", street=street),
    )
    with setup.client() as client:
        synced = sync_learners(setup.store, client, mode="duplicate")
    assert synced.created == 2
    return setup, ids


def test_the_legacy_contact_is_found_with_its_evidence_and_nothing_else(
    make_xero_sandbox: Any, connect_xero: Any
) -> None:
    setup, ids = _organisation(make_xero_sandbox, connect_xero)
    with setup.client() as client:
        report = find_duplicates_job(setup.store, client)
    assert report.status == "succeeded", report.message
    pairs = {(p.ref_internal, p.contact_id): p for p in report.pairs}
    assert set(pairs) == {("DAU0000001", ids["felicity"])}  # no sibling, company or own contact
    (pair,) = pairs.values()
    assert pair.survivor_id is not None
    assert pair.survivor_id != ids["felicity"]
    assert pair.score >= 0.5
    assert any(e["field"] for e in pair.evidence)
    assert report.run_id is not None
    run = history.get_run(setup.store, report.run_id)
    assert run is not None
    assert (run.job, run.status, run.counts["pairs"]) == ("find duplicates", "succeeded", 1)
    assert collect_status(setup.store, setup.config)["counts"]["duplicates_open"] == 1


def test_decisions_survive_a_rerun(make_xero_sandbox: Any, connect_xero: Any) -> None:
    setup, ids = _organisation(make_xero_sandbox, connect_xero)
    with setup.client() as client:
        find_duplicates_job(setup.store, client)
    done = decide(
        setup.store, setup.connection.id, "confirmed", pair=("DAU0000001", ids["felicity"])
    )
    assert done == 1
    with setup.client() as client:
        again = find_duplicates_job(setup.store, client)
    (pair,) = again.pairs
    assert (pair.decision, pair.shown_status) == ("confirmed", "confirmed")
    assert collect_status(setup.store, setup.config)["counts"]["duplicates_open"] == 0


def _invoke(setup: ConnectedXero, tmp_path: Path, *args: str) -> Any:
    base = [
        "--home",
        str(setup.config.home),
        "--database-url",
        f"sqlite:///{tmp_path / 'learnerledger.db'}",
    ]
    return CliRunner().invoke(main, [*base, "duplicates", *args])


def test_the_command_lists_json_and_records_decisions(
    make_xero_sandbox: Any, connect_xero: Any, tmp_path: Path
) -> None:
    setup, ids = _organisation(make_xero_sandbox, connect_xero)
    listed = _invoke(setup, tmp_path, "--json")
    assert listed.exit_code == 0, listed.output
    document = json.loads(listed.stdout)
    (pair,) = document["pairs"]
    for key in ("ref_internal", "contact_id", "survivor_id", "score", "status", "evidence"):
        assert key in pair
    assert pair["contact_id"] == ids["felicity"]
    assert pair["status"] in ("auto", "review")
    human = _invoke(setup, tmp_path)
    assert f"DAU0000001 ~ contact {ids['felicity']}" in human.stdout
    refused = _invoke(setup, tmp_path, "reject")
    assert refused.exit_code == 1
    assert "Say which pairs to decide" in refused.stderr
    rejected = _invoke(setup, tmp_path, "reject", "DAU0000001", ids["felicity"])
    assert rejected.exit_code == 0, rejected.output
    assert "1 pair rejected." in rejected.stdout
    shown = json.loads(_invoke(setup, tmp_path, "--json", "--status", "rejected").stdout)
    assert [p["contact_id"] for p in shown["pairs"]] == [ids["felicity"]]
    none_auto = _invoke(setup, tmp_path, "confirm", "--all-auto")
    assert "0 pairs confirmed." in none_auto.stdout  # a rejected pair stays rejected
