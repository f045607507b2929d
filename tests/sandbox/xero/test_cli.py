"""The sandbox's command line: serving from a file that survives restarts, seeding, merging."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from learnerledger.cli import main
from learnerledger.sandbox.xero import DEFAULT_TENANT_ID, SandboxStore
from learnerledger.sandbox.xero.contacts import count_contacts

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serving(db: Path, *extra: str) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "learnerledger",
            "sandbox",
            "xero",
            "--port",
            str(port),
            "--db",
            str(db),
            "--client",
            "cli-app:cli-secret",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(process.stderr.read() if process.stderr else "") from None
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
        assert "Traceback" not in err, err


def _client(url: str) -> httpx.Client:
    token = httpx.post(
        url + "/connect/token",
        data={"grant_type": "client_credentials"},
        auth=("cli-app", "cli-secret"),
    ).json()["access_token"]
    return httpx.Client(
        base_url=url + "/api.xro/2.0",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )


def test_served_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "xero.db"
    with _serving(db, "--minute-limit", "7", "--organisation", "North Campus") as url:
        with _client(url) as http:
            made = http.put("/Contacts", json={"Name": "Persistent Person"})
            assert made.status_code == 200
            assert made.headers["X-MinLimit-Remaining"] == "6"
        orgs = httpx.get(url + "/sandbox/organisations").json()
        assert {o["name"] for o in orgs} == {"Demo Training Co", "North Campus"}
    with _serving(db) as url, _client(url) as http:
        names = [c["Name"] for c in http.get("/Contacts", params={"page": 1}).json()["Contacts"]]
        assert names == ["Persistent Person"]


def test_seed_and_merge_commands(tmp_path: Path) -> None:
    db = tmp_path / "xero.db"
    runner = CliRunner()
    seeded = runner.invoke(main, ["sandbox", "xero", "seed", "--db", str(db), "--scale", "0.1"])
    assert seeded.exit_code == 0, seeded.output
    assert "legacy contacts" in seeded.output
    again = runner.invoke(main, ["sandbox", "xero", "seed", "--db", str(db), "--scale", "0.1"])
    assert again.exit_code == 1
    assert "--replace" in again.output
    replaced = runner.invoke(
        main, ["sandbox", "xero", "seed", "--db", str(db), "--scale", "0.1", "--replace"]
    )
    assert replaced.exit_code == 0

    store = SandboxStore(db)
    with store.read() as conn:
        before = count_contacts(conn, DEFAULT_TENANT_ID)
        source, target = [
            r["contact_id"]
            for r in conn.execute(
                "SELECT contact_id FROM contacts WHERE status = 'ACTIVE' ORDER BY seq LIMIT 2"
            )
        ]
    store.close()
    merged = runner.invoke(main, ["sandbox", "xero", "merge", "--db", str(db), source, target])
    assert merged.exit_code == 0, merged.output
    assert target in merged.output
    refused = runner.invoke(main, ["sandbox", "xero", "merge", "--db", str(db), source, target])
    assert refused.exit_code == 1
    assert "Merge refused" in refused.output
    store = SandboxStore(db)
    with store.read() as conn:
        after = count_contacts(conn, DEFAULT_TENANT_ID)
    store.close()
    assert after["ARCHIVED"] == before["ARCHIVED"] + 1
    restored = runner.invoke(main, ["sandbox", "xero", "restore", "--db", str(db), source])
    assert restored.exit_code == 0, restored.output
    assert source in restored.output
    again = runner.invoke(main, ["sandbox", "xero", "restore", "--db", str(db), source])
    assert again.exit_code == 1
    assert "Restore refused" in again.output
    store = SandboxStore(db)
    with store.read() as conn:
        assert count_contacts(conn, DEFAULT_TENANT_ID) == before
    store.close()


def test_bad_client_option_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["sandbox", "xero", "--db", str(tmp_path / "x.db"), "--client", "no-secret"]
    )
    assert result.exit_code == 1
    assert "is not ID:SECRET" in result.output
    missing = CliRunner().invoke(
        main, ["sandbox", "xero", "merge", "--db", str(tmp_path / "none.db"), "a", "b"]
    )
    assert missing.exit_code == 1
    assert "no sandbox database" in missing.output
