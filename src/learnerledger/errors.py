"""Errors raised by learnerledger. Every message says what happened and what to do about it.

The hierarchy::

    LearnerLedgerError          anything learnerledger reports to a user
    ├── ConfigError             a setting has a bad value (names the setting and its source)
    ├── StoreError              the local database cannot be opened or migrated
    └── SandboxError            a sandbox cannot start, or a sandbox command got bad input

The CLI prints ``str(error)`` as one paragraph and exits non-zero; no traceback is shown.
"""

from __future__ import annotations

__all__ = ["ConfigError", "LearnerLedgerError", "SandboxError", "StoreError"]


class LearnerLedgerError(Exception):
    """Base class. ``message`` says what happened, ``fix`` what the user should do."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message} {self.fix}"
        return self.message


class ConfigError(LearnerLedgerError):
    """A setting has a value that cannot be used."""

    def __init__(self, setting: str, source: str, message: str, *, fix: str | None = None) -> None:
        super().__init__(f"Setting {setting!r} (from {source}): {message}", fix=fix)
        self.setting = setting
        self.source = source


class StoreError(LearnerLedgerError):
    """The local store cannot be opened, migrated or written."""


class SandboxError(LearnerLedgerError):
    """A sandbox could not start or a sandbox command was given something it cannot use."""
