"""Settings: precedence flag > environment > file > default, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from learnerledger.config import SETTINGS, Setting, load_config, settings_rows
from learnerledger.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(environ={})
    assert cfg.home == Path(".learnerledger")
    assert cfg.database_url == "sqlite:///.learnerledger/learnerledger.db"
    assert all(cfg.sources[s.name] == "default" for s in SETTINGS)


def test_precedence(tmp_path: Path) -> None:
    file = tmp_path / "learnerledger.toml"
    file.write_text('home = "from-file"\ndatabase_url = "sqlite:///file.db"\n')
    env = {"LEARNERLEDGER_DATABASE_URL": "sqlite:///env.db", "LEARNERLEDGER_HOME": "from-env"}
    cfg = load_config(file, overrides={"home": "from-flag"}, environ=env)
    assert cfg["home"] == "from-flag"
    assert cfg.sources["home"] == "command line"
    assert cfg.database_url == "sqlite:///env.db"
    assert cfg.sources["database_url"] == "LEARNERLEDGER_DATABASE_URL"
    only_file = load_config(file, environ={})
    assert only_file["home"] == "from-file"
    assert only_file.sources["home"] == str(file)


def test_unknown_key_names_the_known_ones(tmp_path: Path) -> None:
    file = tmp_path / "learnerledger.toml"
    file.write_text('hoem = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_config(file, environ={})
    assert "'hoem'" in str(info.value)
    assert "home" in str(info.value).split("Known settings:")[1]


def test_bad_values_name_the_setting_and_source(tmp_path: Path) -> None:
    number = Setting("batch_size", 50, "Items per batch.", int)
    with pytest.raises(ConfigError) as info:
        number.parse("lots", "LEARNERLEDGER_BATCH_SIZE")
    assert "'batch_size'" in str(info.value)
    assert "LEARNERLEDGER_BATCH_SIZE" in str(info.value)
    assert "whole number" in str(info.value)
    flag = Setting("dry", False, "Dry run.", bool)
    assert flag.parse("yes", "x") is True
    with pytest.raises(ConfigError, match="true or false"):
        flag.parse("maybe", "x")
    broken = tmp_path / "broken.toml"
    broken.write_text("home = \n")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(broken, environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml", environ={})


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    missing = [row for row in settings_rows() if row not in text]
    assert not missing, (
        "docs/settings.md lacks (or has an old version of) these rows:\n" + "\n".join(missing)
    )
