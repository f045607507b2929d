"""The Xero commands: ``connect xero`` (custom connection and browser consent), ``pull
contacts`` with progress on stderr and ``--json`` on stdout, a paused pull's exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import (
    OAUTH_CLIENT_ID,
    OAUTH_CLIENT_SECRET,
    XeroSandbox,
    browser_consent,
    connect_custom_cli,
    run_cli,
)
from learnerledger.cli import EXIT_PAUSED
from learnerledger.sandbox.xero.seed import seed_organisation
from learnerledger.store import Store


def test_connect_custom_then_pull_contacts_as_json(
    xero_sandbox: XeroSandbox, store: Store, tmp_path: Path
) -> None:
    seeded = seed_organisation(xero_sandbox.store, seed=2, scale=0.2)
    home = tmp_path / "home"
    connect_custom_cli(store, home, xero_sandbox)
    result = run_cli(store, home, "pull", "contacts", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded"
    assert report["counts"]["contacts"]["written"] == seeded.contacts
    assert report["counts"]["calls"] == 1
    human = run_cli(store, home, "pull", "contacts")
    assert human.exit_code == 0
    assert "0 mirrored" in human.stdout
    assert "contacts:" in human.stderr  # progress


def test_a_custom_connection_needs_its_secret(store: Store, tmp_path: Path) -> None:
    result = run_cli(
        store, tmp_path, "connect", "xero", "--custom-connection", "--client-id", "x", env={}
    )
    assert result.exit_code == 2
    assert "--client-secret" in result.output


def test_connect_in_the_browser(
    xero_sandbox: XeroSandbox, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    def fake_open(url: str) -> bool:
        opened.append(url)
        browser_consent(xero_sandbox)(url)
        return True

    monkeypatch.setattr("webbrowser.open", fake_open)
    result = run_cli(
        store,
        tmp_path / "home",
        "connect",
        "xero",
        "--client-id",
        OAUTH_CLIENT_ID,
        "--base-url",
        xero_sandbox.url,
        "--port",
        "0",
        "--granular-scopes",
        env={"LEARNERLEDGER_XERO_CLIENT_SECRET": OAUTH_CLIENT_SECRET},
    )
    assert result.exit_code == 0, result.output
    assert "Connected 'Demo Training Co'" in result.stdout
    assert result.stdout.strip().endswith("with OAuth.")
    assert opened
    assert opened[0] in result.stderr
    assert "accounting.invoices" in opened[0]
    assert "accounting.payments" in opened[0]


def test_a_paused_pull_exits_with_tempfail_and_says_when(
    xero_sandbox: XeroSandbox, store: Store, tmp_path: Path
) -> None:
    from learnerledger.sandbox.xero.contacts import insert_contact

    with xero_sandbox.store.tx() as conn:
        for n in range(1200):
            insert_contact(
                conn,
                xero_sandbox.tenant_id,
                {"Name": f"Learner {n}"},
                now_ms=1_735_689_600_000 + n * 1000,
            )
    home = tmp_path / "home"
    connect_custom_cli(store, home, xero_sandbox)
    result = run_cli(
        store, home, "pull", "contacts", "--json", env={"LEARNERLEDGER_XERO_DAY_LIMIT": "1"}
    )
    assert result.exit_code == EXIT_PAUSED
    report = json.loads(result.stdout)
    assert report["status"] == "paused"
    assert report["resumes_at"]
    assert "Paused: Xero's daily call limit for 'Demo Training Co' is spent" in result.stderr
    status = json.loads(run_cli(store, home, "status", "--json").stdout)
    assert status["last_runs"][0]["status"] == "paused"


def test_pulling_without_a_connection_says_how_to_connect(store: Store, tmp_path: Path) -> None:
    result = run_cli(store, tmp_path, "pull", "contacts")
    assert result.exit_code == 1
    assert "No Xero organisation is connected" in result.stderr
    assert "learnerledger connect xero" in result.stderr
