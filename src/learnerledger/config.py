"""Settings: one declared table feeds the config file, the environment, CLI flags and the docs.

Precedence, highest first: a CLI flag, the environment (``LEARNERLEDGER_<NAME>``), the config
file (``learnerledger.toml`` in the working directory, or ``--config PATH``), the default.
Secrets are never settings: they come from the environment or the encrypted store.

Every value is parsed to its setting's type and checked once, by :func:`load_config`; a bad
value is a :class:`ConfigError` whose ``setting`` and ``source`` say which one and from where.
A setting declared with ``flag=True`` is also a global option of the command line.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from learnerledger.errors import ConfigError

__all__ = [
    "CONFIG_FILE",
    "SETTINGS",
    "Config",
    "InvalidValue",
    "Setting",
    "config_of",
    "load_config",
    "setting",
    "settings_rows",
]

CONFIG_FILE = "learnerledger.toml"


class InvalidValue(ValueError):
    """Raised by a setting's ``check``: the message says what is wrong, ``fix`` what to do."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix


@dataclass(frozen=True)
class Setting:
    """One setting. ``flag`` makes it a global command-line option (``--database-url``);
    ``check`` validates (and may normalise) a parsed value, raising ``ValueError``."""

    name: str
    default: Any
    help: str
    type: type = str
    flag: bool = False
    check: Callable[[Any], Any] | None = None

    @property
    def env(self) -> str:
        return "LEARNERLEDGER_" + self.name.upper()

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse(self, raw: Any, source: str) -> Any:
        """Turn a raw value from a file, the environment or a flag into this setting's type,
        checked; ``source`` names where it came from in the error."""
        value = self._convert(raw, source)
        if self.check is None:
            return value
        try:
            return self.check(value)
        except ValueError as exc:
            fix = exc.fix if isinstance(exc, InvalidValue) else None
            raise ConfigError(self.name, source, str(exc), fix=fix) from None

    def _convert(self, raw: Any, source: str) -> Any:
        if self.type is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ConfigError(self.name, source, f"{raw!r} is not true or false.")
        if self.type is int:
            if isinstance(raw, bool):
                raise ConfigError(self.name, source, f"{raw!r} is not a whole number.")
            try:
                return int(raw)
            except (TypeError, ValueError):
                raise ConfigError(self.name, source, f"{raw!r} is not a whole number.") from None
        if not isinstance(raw, str | int | float):
            raise ConfigError(self.name, source, f"{raw!r} is not text.")
        return str(raw)


def _country_code(value: str) -> str:
    import phonenumbers

    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidValue(
            f"{region!r} is not a country code.", fix="Use two letters such as AU or NZ."
        )
    return region


def _name_template(value: str) -> str:
    from learnerledger.domain.contact import ContactMapping

    ContactMapping.from_settings(value, ())  # a MappingError says what is wrong
    return value


def _contact_fields(value: str) -> str:
    from learnerledger.domain.contact import ContactMapping

    ContactMapping.from_settings("", value.split(","))
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "home",
        ".learnerledger",
        "Directory for local state: the SQLite database and the encryption key.",
        flag=True,
    ),
    Setting(
        "database_url",
        "",
        "SQLAlchemy URL of the store. Empty means SQLite in HOME/learnerledger.db; "
        "a postgresql:// URL selects PostgreSQL.",
        flag=True,
    ),
    Setting(
        "xero_base_url",
        "",
        "Where `connect xero` finds Xero: empty means Xero's real hosts (login.xero.com, "
        "identity.xero.com, api.xero.com); a URL such as http://127.0.0.1:8001 points identity "
        "and API at one other host, e.g. the Xero sandbox.",
    ),
    Setting(
        "xero_day_limit",
        5000,
        "Calls per organisation in a rolling 24 hours (Xero allows 5,000; 1,000 on the Starter "
        "tier). When spent, a job pauses and says when it resumes.",
        int,
    ),
    Setting(
        "xero_minute_limit",
        60,
        "Calls per organisation in a rolling minute (Xero allows 60).",
        int,
    ),
    Setting(
        "xero_concurrency",
        5,
        "Calls per organisation in flight at once, across every process (Xero allows 5).",
        int,
    ),
    Setting(
        "xero_max_wait",
        900,
        "Seconds a job may wait for Xero's rate budget before it pauses instead (a spent "
        "daily limit usually means hours).",
        int,
    ),
    Setting(
        "xero_timeout",
        60,
        "Seconds to wait for one answer from Xero before the call counts as lost and is retried.",
        int,
    ),
    Setting(
        "xero_retries",
        5,
        "Attempts for one call when Xero times out, resets the connection or answers 5xx "
        "(with exponential backoff and jitter).",
        int,
    ),
    Setting(
        "phone_region",
        "AU",
        "Country (two letters, e.g. AU or NZ) assumed for learners' phone numbers written "
        "without a country code, when they are normalised to E.164.",
        check=_country_code,
    ),
    Setting(
        "wisenet_timezone",
        "UTC",
        "Time zone of Wisenet's timestamps that carry no UTC offset (e.g. Australia/Sydney); "
        "used for incremental pulls.",
    ),
    Setting(
        "wisenet_overlap_minutes",
        10,
        "An incremental `pull learners` re-reads this many minutes before the last change it "
        "saw, so that clock skew and changes made during a pull are never missed.",
        int,
    ),
    Setting(
        "wisenet_requests_per_second",
        10,
        "Calls per second the Wisenet client makes at most (Wisenet allows 10 per API key).",
        int,
    ),
    Setting(
        "wisenet_day_limit",
        1000,
        "Calls per day the Wisenet API key's plan allows (1,000 on the Basic plan, 10,000 on "
        "Full). A resync stops before going over it and carries on after 00:00 UTC.",
        int,
    ),
    Setting(
        "contact_name_template",
        "{FirstName} {LastName} {RefInternal}",
        "The Name each learner's Xero contact gets. Placeholders: {FirstName}, {LastName}, "
        "{PreferredName}, {RefInternal}; it must contain {RefInternal}, which keeps Names unique.",
        check=_name_template,
    ),
    Setting(
        "contact_fields",
        "",
        "The contact fields learnerledger owns and keeps in step with the SMS, comma-separated: "
        "Name, FirstName, LastName, EmailAddress, Phones.MOBILE, Phones.DEFAULT, "
        "Addresses.STREET, Addresses.POBOX. Empty means all of them. ContactNumber is always "
        "owned; anything else on a contact belongs to the organisation.",
        check=_contact_fields,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def setting(name: str) -> Setting:
    """The declared setting called ``name`` (a KeyError names an undeclared one)."""
    return _BY_NAME[name]


def settings_rows() -> list[str]:
    """docs/settings.md's table rows, one per setting (a test keeps the docs in step)."""
    return [f"| `{s.name}` | `{s.env}` | `{s.default!r}` | {s.help} |" for s in SETTINGS]


@dataclass(frozen=True)
class Config:
    """Resolved settings, each parsed to its declared type and checked, with where each value
    came from (for messages and ``status``). Only :func:`load_config` makes one."""

    values: Mapping[str, Any]
    sources: Mapping[str, str]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def home(self) -> Path:
        return Path(self.values["home"])

    @property
    def database_url(self) -> str:
        url = str(self.values["database_url"])
        if url:
            return url
        return f"sqlite:///{self.home / 'learnerledger.db'}"


def load_config(
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Resolve every declared setting. ``overrides`` are CLI flags (None means not given)."""
    environ = os.environ if environ is None else environ
    file_values: dict[str, Any] = {}
    file_label = ""
    file_path = Path(path) if path is not None else Path(CONFIG_FILE)
    if file_path.exists():
        file_label = str(file_path)
        try:
            file_values = tomllib.loads(file_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                "config", file_label, f"the file cannot be read: {exc}.", fix="Fix its TOML syntax."
            ) from None
        unknown = sorted(set(file_values) - set(_BY_NAME))
        if unknown:
            raise ConfigError(
                unknown[0],
                file_label,
                "no such setting.",
                fix="Known settings: " + ", ".join(_BY_NAME) + ".",
            )
    elif path is not None:
        raise ConfigError("config", str(path), "the file does not exist.")

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        given = (overrides or {}).get(setting.name)
        if given is not None:
            values[setting.name] = setting.parse(given, "command line")
            sources[setting.name] = "command line"
        elif setting.env in environ:
            values[setting.name] = setting.parse(environ[setting.env], setting.env)
            sources[setting.name] = setting.env
        elif setting.name in file_values:
            values[setting.name] = setting.parse(file_values[setting.name], file_label)
            sources[setting.name] = file_label
        else:
            values[setting.name] = setting.default
            sources[setting.name] = "default"
    return Config(values=values, sources=sources)


# Where a command line keeps the Config it loaded, so that it is loaded once per invocation.
_CONFIG_KEY = "learnerledger.config"


def config_of(ctx: Any) -> Config:
    """The settings of a Click invocation (``ctx``), loaded and checked once from the main
    command's ``--config`` and the settings' flags, then kept on the root context."""
    root = ctx.find_root()
    cfg: Config | None = root.meta.get(_CONFIG_KEY)
    if cfg is None:
        params = root.params
        overrides = {s.name: params.get(s.name) for s in SETTINGS}
        cfg = load_config(params.get("config"), overrides=overrides)
        root.meta[_CONFIG_KEY] = cfg
    return cfg
