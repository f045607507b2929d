"""Settings: precedence flag > environment > file > default, and clear errors."""

from __future__ import annotations

from pathlib import Path

import click
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


def test_defaults_pass_their_checks() -> None:
    # load_config trusts the declared defaults; this keeps them honest.
    for s in SETTINGS:
        assert s.parse(s.default, "default") == s.default, s.name


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("contact_name_template", "{FirstName} {LastName}", "must contain {RefInternal}"),
        ("contact_name_template", "{Nickname} {RefInternal}", "{Nickname}"),
        ("contact_fields", "Name,Fax", "'Fax'"),
        ("contact_fields", "FirstName,LastName", "must own the contact field 'Name'"),
        ("phone_region", "XX", "not a country code"),
        ("xero_day_limit", "lots", "whole number"),
    ],
)
def test_a_bad_value_fails_at_load_naming_setting_and_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.chdir(tmp_path)
    env = f"LEARNERLEDGER_{name.upper()}"
    with pytest.raises(ConfigError) as info:
        load_config(environ={env: value})
    assert info.value.setting == name
    assert info.value.source == env
    assert says in str(info.value)
    file = tmp_path / "learnerledger.toml"
    file.write_text(f'{name} = "{value}"\n')
    with pytest.raises(ConfigError) as from_file:
        load_config(file, environ={})
    assert (from_file.value.setting, from_file.value.source) == (name, str(file))


def test_checks_normalise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(overrides={"phone_region": " nz "}, environ={})
    assert cfg["phone_region"] == "NZ"
    assert cfg.sources["phone_region"] == "command line"


def test_flag_settings_are_the_global_options() -> None:
    from learnerledger.cli import main

    options = {p.name: p for p in main.params if isinstance(p, click.Option)}
    flags = [s for s in SETTINGS if s.flag]
    assert [s.name for s in flags] == ["home", "database_url"]
    for s in flags:
        assert options[s.name].opts == [s.option]
        assert options[s.name].help == f"{s.help} [env {s.env}]"
