"""One process of the two-process refresh test: waits for the start signal, then makes one
call that needs a token refresh, and writes what it did as JSON."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from learnerledger.config import load_config
from learnerledger.store import open_store
from learnerledger.xero import open_client


def main(database_url: str, home: str, workdir: str, name: str) -> None:
    work = Path(workdir)
    store = open_store(database_url)
    config = load_config(overrides={"home": home}, environ={})
    with open_client(store, config) as client:
        (work / f"{name}.ready").touch()
        deadline = time.monotonic() + 30
        while not (work / "go").exists():
            if time.monotonic() > deadline:
                raise SystemExit("no start signal")
            time.sleep(0.001)
        answer = client.request("GET", "Organisation")
        result = {
            "refreshes": client.auth.refreshes,
            "organisation": answer["Organisations"][0]["Name"],
        }
    (work / f"{name}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:])
