"""``learnerledger sync learners`` on the command line: the plan, the run, JSON for scripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from conftest import ConnectedXero, XeroSandbox
from learnerledger.cli import main
from learnerledger.jobs import Job
from sync.test_sync_learners import ROOMY, make_learner, put_learners, xero_contacts


def _invoke(setup: ConnectedXero, tmp_path: Path, *args: str) -> Any:
    base = [
        "--home",
        str(setup.config.home),
        "--database-url",
        f"sqlite:///{tmp_path / 'learnerledger.db'}",
    ]
    return CliRunner().invoke(main, [*base, "sync", "learners", *args])


def test_dry_run_then_apply_on_the_command_line(
    make_xero_sandbox: Any, connect_xero: Any, tmp_path: Path
) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(limits=ROOMY)
    setup: ConnectedXero = connect_xero(sandbox)
    put_learners(
        setup.store,
        make_learner("DAU0000001"),
        make_learner("DAU0000002", first="Sam"),
        make_learner("DAU0000003", email="nope"),
    )
    planned = _invoke(setup, tmp_path, "--dry-run", "--json")
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)
    assert plan["mode"] == "adopt"  # the default
    assert plan["totals"] == {
        "create": 2,
        "update": 0,
        "unchanged": 0,
        "adopt": 0,
        "review": 0,
        "invalid": 1,
        "conflict": 0,
    }
    assert plan["api_calls"] == 2
    assert {x["ref_internal"]: x["state"] for x in plan["learners"]} == {
        "DAU0000001": "create",
        "DAU0000002": "create",
        "DAU0000003": "invalid",
    }
    human = _invoke(setup, tmp_path, "--dry-run")
    assert "2 create" in human.output
    assert "DAU0000003 invalid: Correct the email address 'nope'" in human.output
    assert "Applying it costs 2 API calls (at once)." in human.output
    assert xero_contacts(sandbox) == []

    applied = _invoke(setup, tmp_path)
    assert applied.exit_code == 0, applied.output
    assert "2 created" in applied.output
    assert len(xero_contacts(sandbox)) == 2
    again = _invoke(setup, tmp_path, "--json")
    result = json.loads(again.stdout)
    assert result["status"] == "succeeded"
    assert result["counts"]["unchanged"] == 2
    assert result["counts"]["calls"] <= 2


def test_a_bad_name_template_is_a_clear_error(
    make_xero_sandbox: Any, connect_xero: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(limits=ROOMY)
    setup: ConnectedXero = connect_xero(sandbox)
    monkeypatch.setenv("LEARNERLEDGER_CONTACT_NAME_TEMPLATE", "{FirstName} {LastName}")
    result = _invoke(setup, tmp_path, "--dry-run")
    assert result.exit_code == 1
    assert "contact_name_template" in result.output
    assert "must contain {RefInternal}" in result.output


def test_a_second_sync_while_one_runs_is_refused_naming_it(
    make_xero_sandbox: Any, connect_xero: Any, tmp_path: Path
) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(limits=ROOMY)
    setup: ConnectedXero = connect_xero(sandbox)
    put_learners(setup.store, make_learner("DAU0000001"))
    organisation = setup.connection.name
    with Job(
        setup.store,
        "sync learners",
        connection_id=setup.connection.id,
        organisation=organisation,
    ) as running:
        refused = _invoke(setup, tmp_path)
        dry = _invoke(setup, tmp_path, "--dry-run", "--json")
    assert refused.exit_code == 1
    assert (
        f"sync learners for {organisation!r} is already running (run #{running.run_id}"
        in refused.stderr
    )
    assert "Wait for it to finish" in refused.stderr
    assert dry.exit_code == 0, dry.output  # a dry run writes nothing, so it is not held up
    numbers = [c.get("ContactNumber") for c in xero_contacts(sandbox)]
    assert "DAU0000001" not in numbers  # the refused sync sent nothing
    after = _invoke(setup, tmp_path)
    assert after.exit_code == 0, after.output
    numbers = [c.get("ContactNumber") for c in xero_contacts(sandbox)]
    assert numbers.count("DAU0000001") == 1
