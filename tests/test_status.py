"""``learnerledger status --json`` keeps the contract of DESIGN.md §4: one JSON document on
stdout with ``connections``, integer ``counts``, each organisation's ``budget`` and
``last_runs``; and the human form says the same in words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from conftest import XeroSandbox
from learnerledger.cli import main
from learnerledger.domain.learner import Address, Learner
from learnerledger.sandbox.xero.seed import seed_organisation
from learnerledger.status import collect_status, format_status
from learnerledger.store import Store
from learnerledger.store.learners import upsert_learners
from learnerledger.xero import pull_contacts

CONTRACT_COUNTS = {
    "learners",
    "learners_ready",
    "contacts",
    "contacts_archived",
    "linked",
    "duplicates_open",
    "invoices",
    "credit_notes",
    "payments",
    "documents_resynced",
}


def _cli(store: Store, home: Path, *args: str) -> Any:
    runner = CliRunner()
    return runner.invoke(
        main, ["--home", str(home), "--database-url", str(store.engine.url), *args]
    )


def test_an_empty_store_has_the_whole_shape(store: Store, tmp_path: Path) -> None:
    result = _cli(store, tmp_path / "home", "status", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert {"connections", "counts", "budget", "last_runs"} <= set(document)
    assert document["connections"] == []
    assert document["budget"] == []
    assert document["last_runs"] == []
    assert set(document["counts"]) >= CONTRACT_COUNTS
    assert all(type(v) is int and v == 0 for v in document["counts"].values())
    assert result.stderr == ""


def test_status_after_connecting_and_pulling(
    connect_xero: Any, xero_sandbox: XeroSandbox, store: Store, tmp_path: Path
) -> None:
    learners = [
        Learner(
            "RI-1",
            first_name="Ada",
            last_name="Lovelace",
            email="ada@example.edu.au",
            street=Address("1 Main St", "Carlton", "VIC", "3053", "Australia"),
        ),
        Learner("RI-2", first_name="No", last_name="Address"),
    ]
    with store.transaction() as conn:
        upsert_learners(conn, learners)
    seeded = seed_organisation(xero_sandbox.store, seed=3, scale=0.2)
    setup = connect_xero(xero_sandbox)
    pull_contacts(store, setup.client())

    result = _cli(store, tmp_path / "home", "status", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    counts = document["counts"]
    assert counts["learners"] == 2
    assert counts["learners_ready"] == sum(1 for learner in learners if learner.ready)
    assert counts["contacts"] == seeded.contacts  # archived ones included
    assert counts["contacts_archived"] == seeded.archived
    assert counts["invoices"] == counts["credit_notes"] == counts["payments"] == 0
    [connection] = document["connections"]
    assert connection["kind"] == "xero"
    assert connection["organisation"] == "Demo Training Co"
    assert connection["tenant_id"] == xero_sandbox.tenant_id
    assert connection["state"] == "connected"
    assert "secret" not in json.dumps(document).lower()
    [budget] = document["budget"]
    assert budget["organisation"] == "Demo Training Co"
    assert budget["minute_remaining"] == 59
    assert budget["day_remaining"] == 4999
    [run] = document["last_runs"]
    assert run["job"] == "pull contacts"
    assert run["status"] == "succeeded"
    assert run["counts"]["contacts"]["written"] == seeded.contacts
    assert run["calls"] == run["counts"]["calls"] == 1
    assert run["problems"] == run["errors"] == 0
    [cursor] = document["cursors"]
    assert cursor["stream"] == "contacts"
    assert cursor["complete"] is True

    text = format_status(collect_status(store, setup.config))
    assert "Demo Training Co" in text
    assert "59 of 60 calls left this minute" in text
    human = _cli(store, tmp_path / "home", "status")
    assert human.exit_code == 0
    assert "pull contacts (Demo Training Co): succeeded" in human.stdout
