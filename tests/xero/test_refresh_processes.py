"""Two processes needing a token refresh at the same moment produce exactly one refresh:
the refresh is serialised by a lock held in the store, and the second process uses the token
the first one saved."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, XeroSandbox, browser_consent
from learnerledger.store import Store, load_secret_box
from learnerledger.store.tables import connections
from learnerledger.xero import connect_oauth
from learnerledger.xero.connections import TokenSet

WORKER = Path(__file__).with_name("refresh_worker.py")


def _refresh_calls(sandbox: XeroSandbox) -> int:
    return sum(1 for e in sandbox.recorder.exchanges if e.path == "/connect/token")


@pytest.mark.slow
def test_two_processes_refreshing_at_once_make_one_refresh(
    xero_sandbox: XeroSandbox, store: Store, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    box = load_secret_box(home)
    connection = connect_oauth(
        store,
        box,
        client_id=OAUTH_CLIENT_ID,
        client_secret=OAUTH_CLIENT_SECRET,
        base_url=xero_sandbox.url,
        port=0,
        open_url=browser_consent(xero_sandbox),
        choose=lambda tenants: tenants[0],
    )
    # Make the stored access token look expired to both processes.
    with store.transaction() as conn:
        sealed = conn.execute(
            sa.select(connections.c.secret).where(connections.c.id == connection.id)
        ).scalar_one()
        tokens = TokenSet.from_secret(box.open(sealed))
        tokens.expires_at = 0
        conn.execute(
            connections.update()
            .where(connections.c.id == connection.id)
            .values(secret=box.seal(tokens.to_secret()))
        )
    before = _refresh_calls(xero_sandbox)
    url = str(store.engine.url)
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), url, str(home), str(tmp_path), name],
            stderr=subprocess.PIPE,
        )
        for name in ("one", "two")
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"{n}.ready").exists() for n in ("one", "two")):
        assert time.monotonic() < deadline, "the workers did not start"
        assert all(w.poll() is None for w in workers), [w.stderr.read() for w in workers]  # type: ignore[union-attr]
        time.sleep(0.01)
    (tmp_path / "go").touch()
    for w in workers:
        _, err = w.communicate(timeout=60)
        assert w.returncode == 0, err.decode()
    results = [json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two")]
    assert sorted(r["refreshes"] for r in results) == [0, 1]
    assert all(r["organisation"] == "Demo Training Co" for r in results)
    assert _refresh_calls(xero_sandbox) - before == 1
    assert 401 not in [e.status for e in xero_sandbox.recorder.api_exchanges()]
