"""The sandbox commands find their default databases in the learnerledger home, however it is
given (``--home``, the environment, the settings file), and say what they serve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from learnerledger.cli import main
from learnerledger.sandbox import server


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, str, int]]:
    """``serve`` records what it was asked to serve instead of blocking."""
    calls: list[tuple[Any, str, int]] = []
    monkeypatch.setattr(server, "serve", lambda app, host, port: calls.append((app, host, port)))
    return calls


def test_seeds_go_to_the_home_given_by_flag(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runner = CliRunner()
    xero = runner.invoke(main, ["--home", str(home), "sandbox", "xero", "seed", "--scale", "0.01"])
    assert xero.exit_code == 0, xero.output
    assert xero.output.endswith(f"into {home / 'sandbox' / 'xero.db'}.\n")
    wisenet = runner.invoke(
        main, ["--home", str(home), "sandbox", "wisenet", "seed", "--scale", "0.01"]
    )
    assert wisenet.exit_code == 0, wisenet.output
    assert wisenet.output.startswith("Seeded 6 learners")
    assert wisenet.output.endswith(f"into {home / 'sandbox' / 'wisenet.db'}.\n")


def test_the_home_from_the_settings_file_and_the_environment(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text(f'home = "{(tmp_path / "from-file").as_posix()}"\n', encoding="utf-8")
    runner = CliRunner()
    from_file = runner.invoke(
        main, ["--config", str(settings), "sandbox", "xero", "seed", "--scale", "0.01"]
    )
    assert from_file.exit_code == 0, from_file.output
    assert (tmp_path / "from-file" / "sandbox" / "xero.db").exists()
    from_env = runner.invoke(
        main,
        ["sandbox", "wisenet", "seed", "--scale", "0.01"],
        env={"LEARNERLEDGER_HOME": str(tmp_path / "from-env")},
    )
    assert from_env.exit_code == 0, from_env.output
    assert (tmp_path / "from-env" / "sandbox" / "wisenet.db").exists()


def test_the_wisenet_sandbox_says_what_it_serves(
    tmp_path: Path, served: list[tuple[Any, str, int]]
) -> None:
    home = tmp_path / "home"
    runner = CliRunner()
    empty = runner.invoke(
        main, ["--home", str(home), "sandbox", "wisenet", "--port", "9002", "--api-key", "k1"]
    )
    assert empty.exit_code == 0, empty.output
    assert empty.stderr.splitlines() == [
        f"Wisenet sandbox on http://127.0.0.1:9002  (database {home / 'sandbox' / 'wisenet.db'})",
        "  API base URL: http://127.0.0.1:9002/v1  (0 learners)",
        "  API key: k1",
        "  Empty: run `learnerledger sandbox wisenet seed` to add learners.",
    ]
    runner.invoke(main, ["--home", str(home), "sandbox", "wisenet", "seed", "--scale", "0.01"])
    seeded = runner.invoke(main, ["--home", str(home), "sandbox", "wisenet"])
    assert seeded.stderr.splitlines()[1:] == [
        "  API base URL: http://127.0.0.1:8002/v1  (6 learners)",
        "  API keys: as registered before (give --api-key to add one)",
    ]
    assert [(host, port) for _, host, port in served] == [("127.0.0.1", 9002), ("127.0.0.1", 8002)]


def test_the_xero_sandbox_says_what_it_serves(
    tmp_path: Path, served: list[tuple[Any, str, int]]
) -> None:
    db = tmp_path / "x.db"
    result = CliRunner().invoke(main, ["sandbox", "xero", "--db", str(db), "--client", "a:b"])
    assert result.exit_code == 0, result.output
    assert (
        result.stderr.splitlines()[0] == f"Xero sandbox on http://127.0.0.1:8001  (database {db})"
    )
    assert "  token URL:    http://127.0.0.1:8001/connect/token" in result.stderr.splitlines()
    assert len(served) == 1
