"""The whole way on the command line with the store on PostgreSQL: import learners from a CSV
export, connect the Xero sandbox, sync, sync again, pull contacts, status. The same run on
SQLite is the yardstick: the same contacts, and the re-run costs the same few calls."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import XeroSandbox, connect_custom_args
from learnerledger.cli import main
from sync.test_sync_learners import ROOMY, by_number, xero_contacts

LEARNERS = 300


def _write_export(path: Path) -> list[str]:
    refs = [f"DAU{i:07d}" for i in range(LEARNERS)]
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(
            [
                "RefInternal",
                "FirstName",
                "LastName",
                "Email",
                "Mobile",
                "StreetAddress",
                "StreetSuburb",
                "StreetState",
                "StreetPostcode",
                "StreetCountry",
                "SyncToXero",
            ]
        )
        for i, ref in enumerate(refs):
            out.writerow(
                [
                    ref,
                    f"Learner{i}",
                    "Nguyễn" if i % 7 == 0 else "O'Brien",
                    f"{ref.lower()}@example.com",
                    "0412 345 678",
                    f"{i} Main St",
                    "Parramatta",
                    "NSW",
                    "2150",
                    "Australia",
                    "Yes",
                ]
            )
    return refs


def _flow(sandbox: XeroSandbox, database_url: str, home: Path, export: Path) -> dict[str, Any]:
    """Every command of a first sync and a re-run; their JSON documents by step."""
    env = {"LEARNERLEDGER_DATABASE_URL": database_url, "LEARNERLEDGER_HOME": str(home)}

    def run(*args: str) -> Any:
        result = CliRunner().invoke(main, list(args), env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if "--json" in args else result.stdout

    connect = connect_custom_args(sandbox)
    return {
        "import": run("import", "learners", str(export), "--json"),
        "connect": run(*connect),
        "plan": run("sync", "learners", "--dry-run", "--json"),
        "first": run("sync", "learners", "--json"),
        "again": run("sync", "learners", "--json"),
        "pull": run("pull", "contacts", "--json"),
        "status": run("status", "--json"),
    }


@pytest.mark.slow
def test_a_sync_on_postgresql_matches_the_same_sync_on_sqlite(
    make_xero_sandbox: Any, postgres_url: str, tmp_path: Path
) -> None:
    export = tmp_path / "learners.csv"
    refs = _write_export(export)
    runs = {}
    for name, url in (
        ("sqlite", f"sqlite:///{tmp_path / 'sqlite-home' / 'learnerledger.db'}"),
        ("postgresql", postgres_url),
    ):
        sandbox: XeroSandbox = make_xero_sandbox(limits=ROOMY)
        runs[name] = _flow(sandbox, url, tmp_path / f"{name}-home", export)
        contacts = xero_contacts(sandbox)
        assert len(contacts) == LEARNERS, name
        assert {r: by_number(contacts)[r] for r in refs} == dict.fromkeys(refs, 1), name

    pg, lite = runs["postgresql"], runs["sqlite"]
    assert pg["import"]["counts"]["inserted"] == LEARNERS
    assert pg["plan"]["totals"]["create"] == LEARNERS
    assert pg["first"]["status"] == "succeeded"
    assert pg["first"]["counts"]["created"] == LEARNERS
    assert pg["again"]["counts"]["unchanged"] == LEARNERS
    assert pg["again"]["counts"]["calls"] <= 2
    assert pg["status"]["counts"]["linked"] == LEARNERS
    # The same decisions and the same calls on both stores.
    for step, part in (
        ("import", "counts"),
        ("plan", "totals"),
        ("plan", "api_calls"),
        ("first", "counts"),
        ("again", "counts"),
        ("status", "counts"),
    ):
        assert pg[step][part] == lite[step][part], (step, part)
    # How many contacts the last pull reads again depends on the clock margin, that is on how
    # long the run took; what it costs and writes does not.
    assert pg["pull"]["counts"]["calls"] == lite["pull"]["counts"]["calls"] == 1
    assert pg["pull"]["counts"]["contacts"]["written"] == 0
    assert [(x["ref_internal"], x["state"]) for x in pg["plan"]["learners"]] == [
        (x["ref_internal"], x["state"]) for x in lite["plan"]["learners"]
    ]
