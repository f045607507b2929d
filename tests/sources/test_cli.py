"""The command line of the learner sources: ``sandbox wisenet seed``, ``connect wisenet``,
``pull learners`` and ``import learners``, with clean messages and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from conftest import WisenetSandbox
from learnerledger.cli import main
from learnerledger.sources.wisenet import client as wisenet
from learnerledger.store import open_store
from learnerledger.store.learners import count_learners
from learnerledger.store.tables import connections

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLE = DOCS / "examples" / "learners.csv"


def run(home: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    environment = {"LEARNERLEDGER_SECRET_KEY": ""} | (env or {})
    return CliRunner().invoke(main, ["--home", str(home), *args], env=environment)


def test_the_sandbox_seed_command(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    result = run(tmp_path, "sandbox", "wisenet", "seed", "--db", str(db), "--scale", "0.5")
    assert result.exit_code == 0, result.output
    assert "Seeded 300 learners" in result.stdout
    again = run(tmp_path, "sandbox", "wisenet", "seed", "--db", str(db))
    assert again.exit_code == 1
    assert "--replace" in again.stderr
    assert "Traceback" not in again.output


def test_the_sandbox_seed_without_invoices(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    with_invoices = run(tmp_path, "sandbox", "wisenet", "seed", "--db", str(db), "--scale", "0.1")
    assert with_invoices.exit_code == 0, with_invoices.output
    assert not with_invoices.stdout.rstrip().endswith(f"and 0 invoices into {db}.")
    args = ("sandbox", "wisenet", "seed", "--db", str(db), "--scale", "0.1", "--replace")
    without = run(tmp_path, *args, "--no-invoices")
    assert without.exit_code == 0, without.output
    assert without.stdout.rstrip().endswith(f"and 0 invoices into {db}.")
    assert "Seeded 60 learners" in without.stdout


def test_connect_then_pull_learners(tmp_path: Path, wisenet_sandbox: WisenetSandbox) -> None:
    home = tmp_path / "home"
    connected = run(
        home, "connect", "wisenet", "--api-key", wisenet_sandbox.api_key,
        "--base-url", wisenet_sandbox.url,
    )  # fmt: skip
    assert connected.exit_code == 0, connected.output
    assert "the key works" in connected.stdout
    database = (home / "learnerledger.db").read_bytes()
    assert wisenet_sandbox.api_key.encode() not in database

    pulled = run(home, "pull", "learners", "--json")
    assert pulled.exit_code == 0, pulled.output
    report = json.loads(pulled.stdout)
    assert report["status"] == "succeeded"
    assert report["counts"]["inserted"] > 500
    assert report["counts"]["calls"] == 1

    human = run(home, "pull", "learners")
    assert human.exit_code == 0, human.output
    assert "0 new, 0 changed" in human.stdout
    assert "2 calls to Wisenet." in human.stdout

    store = open_store(f"sqlite:///{home / 'learnerledger.db'}")
    with store.read() as conn:
        assert count_learners(conn).learners == report["counts"]["inserted"]
    store.close()


def test_a_refused_key_is_a_clean_error(tmp_path: Path, wisenet_sandbox: WisenetSandbox) -> None:
    result = run(
        tmp_path, "connect", "wisenet", "--api-key", "wrong", "--base-url", wisenet_sandbox.url
    )
    assert result.exit_code == 1
    assert "Wisenet refused the API key (403)" in result.stderr
    assert "Traceback" not in result.output
    store = open_store(f"sqlite:///{tmp_path / 'learnerledger.db'}")
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(connections)).scalar() == 0
    store.close()


def test_pull_without_a_connection_says_how_to_connect(tmp_path: Path) -> None:
    result = run(tmp_path, "pull", "learners")
    assert result.exit_code == 1
    assert "connect wisenet --api-key" in result.stderr


def test_a_paused_pull_exits_75(
    tmp_path: Path, make_wisenet_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox: WisenetSandbox = make_wisenet_sandbox(seed=None, day=1)
    slept: list[float] = []
    monkeypatch.setattr(wisenet, "_sleep", slept.append)  # the backoffs cost no real time
    home = tmp_path / "home"
    # --no-check: the one call of the day is the pull's.
    args = ("--api-key", sandbox.api_key, "--base-url", sandbox.url, "--no-check")
    assert run(home, "connect", "wisenet", *args).exit_code == 0
    assert sandbox.http().get("/entities").status_code == 200  # spends the day's one call
    result = run(home, "pull", "learners")
    assert result.exit_code == 75, result.output
    assert "Paused:" in result.stderr
    assert "quota resets" in result.stderr
    assert slept == [1.0, 2.0]


def test_import_learners_with_a_report(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    text = EXAMPLE.read_text(encoding="utf-8")
    source.write_text(text + "DAU0000999,Bad,Date,,,,,31/02/1990\n", encoding="utf-8")
    report = tmp_path / "rejected.csv"
    result = run(tmp_path, "import", "learners", str(source), "--report", str(report))
    assert result.exit_code == 0, result.output
    assert "Rejected line 10 (DAU0000999), DateOfBirth:" in result.stdout
    assert "8 new, 0 changed, 0 unchanged, 1 rejected" in result.stdout
    assert "DAU0000999" in report.read_text(encoding="utf-8-sig")

    again = run(tmp_path, "import", "learners", str(source), "--json")
    document = json.loads(again.stdout)
    assert document["counts"] | {"rows": 0} == {
        "rows": 0,
        "inserted": 0,
        "updated": 0,
        "unchanged": 8,
        "rejected": 1,
        "warnings": 0,
        "blank_lines": 0,
    }
    assert document["rejected"][0]["problems"][0]["code"] == "bad_date"


def test_import_dry_run_and_phone_region(tmp_path: Path) -> None:
    dry = run(tmp_path, "import", "learners", str(EXAMPLE), "--dry-run")
    assert dry.exit_code == 0
    assert dry.stdout.splitlines()[-1].startswith("Dry run, nothing stored. 8 rows: 8 new")
    bad = run(tmp_path, "import", "learners", str(EXAMPLE), "--phone-region", "XX")
    assert bad.exit_code == 1
    assert "phone_region" in bad.stderr
    missing = run(tmp_path, "import", "learners", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1
    assert "there is no such file" in missing.stderr


def test_unwritable_places_are_clean_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    seeded = run(tmp_path, "sandbox", "wisenet", "seed", "--db", str(blocker / "w.db"))
    assert seeded.exit_code == 1
    assert "cannot be opened" in seeded.stderr
    report = run(tmp_path, "import", "learners", str(EXAMPLE), "--report", str(blocker / "r.csv"))
    assert report.exit_code == 1
    assert "the report cannot be written" in report.stderr
    store = open_store(f"sqlite:///{tmp_path / 'learnerledger.db'}")
    with store.read() as conn:
        assert count_learners(conn).learners == 0  # checked before anything was imported
    store.close()
