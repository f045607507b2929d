"""Errors raised by learnerledger. Every message says what happened and what to do about it.

The hierarchy::

    LearnerLedgerError          anything learnerledger reports to a user
    ├── ConfigError             a setting has a bad value (names the setting and its source)
    ├── StoreError              the local database cannot be opened or migrated
    ├── JobRunning              the same job already runs for that organisation (names the run)
    ├── BudgetSpent             an API's call budget is spent: the job pauses, the next run resumes
    │   ├── RateLimited         (also a XeroError, below)
    │   └── WisenetQuotaExhausted  (also a WisenetError, below)
    ├── SandboxError            a sandbox cannot start, or a sandbox command got bad input
    ├── SourceError             learners cannot be read from the SMS
    │   ├── CsvFileError        a CSV file as a whole cannot be imported (missing, header)
    │   └── WisenetError        a Wisenet API call failed (keeps the status and the answer)
    │       ├── WisenetNotConnected    no Wisenet connection is stored yet
    │       ├── WisenetAuthError       Wisenet refused the API key (401/403)
    │       └── WisenetQuotaExhausted  the day's call quota is spent: the job pauses
    └── XeroError               a call to Xero failed (names the organisation and the call)
        ├── NotConnected        no Xero organisation is connected, or --tenant is needed
        ├── RateLimited         a rate limit is spent (which one, retry-after, resumes at)
        ├── AuthExpired         Xero refused the access token even after a refresh
        ├── ReconnectNeeded     the saved grant is dead (invalid_grant): connect again
        ├── PermissionDenied    403: a scope is missing or the organisation was disconnected
        ├── ValidationFailed    400: Xero's own validation messages, element by element
        ├── NotFound            404: no such record (or the query string was too long)
        ├── ServerError         5xx that retries did not get past
        ├── TransientError      timeouts and connection resets that retries did not get past
        └── UnexpectedResponse  an answer that cannot be read (not JSON, wrong shape)

The CLI prints ``str(error)`` as one paragraph and exits non-zero; no traceback is shown.
A :class:`BudgetSpent` is not a failure: every job (``learnerledger.jobs``) turns it into a
``paused`` run and the next run carries on where it stopped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = [
    "AuthExpired",
    "BudgetSpent",
    "ConfigError",
    "CsvFileError",
    "JobRunning",
    "LearnerLedgerError",
    "NotConnected",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "ReconnectNeeded",
    "SandboxError",
    "ServerError",
    "SourceError",
    "StoreError",
    "TransientError",
    "UnexpectedResponse",
    "ValidationFailed",
    "WisenetAuthError",
    "WisenetError",
    "WisenetNotConnected",
    "WisenetQuotaExhausted",
    "XeroError",
]


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


class JobRunning(LearnerLedgerError):
    """A job of this kind already runs for this organisation; ``run_id`` names it, ``holder``
    says where (host and process), ``expires_at`` when its lease runs out if it has died."""

    def __init__(
        self,
        message: str,
        *,
        run_id: int | None,
        holder: str,
        expires_at: datetime | None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message, fix=fix)
        self.run_id = run_id
        self.holder = holder
        self.expires_at = expires_at


class BudgetSpent(LearnerLedgerError):
    """An API's call budget is spent (Xero's rate limits, Wisenet's day quota). Nothing is
    lost: the job that met it ends ``paused`` and the next run resumes where it stopped.

    Subclasses set ``resumes_at`` (when calls may go again) and ``limit`` (which budget)."""

    resumes_at: datetime
    limit: str


# -- Xero ---------------------------------------------------------------------------------------


class XeroError(LearnerLedgerError):
    """A call to Xero failed. ``organisation`` names the organisation, ``request`` the call
    (``"GET /Contacts"``), ``status`` Xero's HTTP status when there was one."""

    def __init__(
        self,
        message: str,
        *,
        fix: str | None = None,
        organisation: str | None = None,
        request: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, fix=fix)
        self.organisation = organisation
        self.request = request
        self.status = status


class NotConnected(XeroError):
    """No Xero organisation is connected, or several are and the command did not say which."""


class RateLimited(XeroError, BudgetSpent):
    """A Xero rate limit is spent. ``limit`` is ``minute``, ``day``, ``appminute`` or
    ``concurrent``; ``retry_after`` is in seconds; ``resumes_at`` is when calls may go again."""

    def __init__(
        self,
        limit: str,
        retry_after: float,
        resumes_at: datetime,
        *,
        organisation: str | None = None,
        request: str | None = None,
    ) -> None:
        local = resumes_at.astimezone()
        when = local.strftime("%H:%M")
        if local.date() != datetime.now(local.tzinfo).date():
            when += local.strftime(" on %Y-%m-%d")
        zone = local.strftime("%Z") or local.strftime("%z")
        who = f"{organisation!r}" if organisation else "this organisation"
        names = {
            "day": "daily call limit",
            "minute": "per-minute call limit",
            "appminute": "per-minute limit of the app (all organisations together)",
            "concurrent": "limit of calls in flight",
        }
        super().__init__(
            f"Xero's {names.get(limit, limit + ' limit')} for {who} is spent; "
            f"it resumes at {when}{' ' + zone if zone else ''}.",
            fix="Nothing is lost: run the same command again after that time and it carries on "
            "where it stopped.",
            organisation=organisation,
            request=request,
            status=429,
        )
        self.limit = limit
        self.retry_after = retry_after
        self.resumes_at = resumes_at


class AuthExpired(XeroError):
    """Xero refused the access token (401) even after a fresh one was obtained."""


class ReconnectNeeded(XeroError):
    """The saved grant can no longer be refreshed (``invalid_grant``, or the custom
    connection's secret was rejected): a person must connect the organisation again."""


class PermissionDenied(XeroError):
    """Xero answered 403: a scope is missing, or the organisation is no longer connected."""


class ValidationFailed(XeroError):
    """Xero refused the data (400). ``messages`` are Xero's own validation messages;
    ``elements`` the refused elements as Xero echoed them."""

    def __init__(
        self,
        message: str,
        messages: list[str],
        *,
        elements: list[dict[str, Any]] | None = None,
        fix: str | None = None,
        organisation: str | None = None,
        request: str | None = None,
        status: int | None = 400,
    ) -> None:
        detail = " ".join(f"«{m}»" for m in messages)
        super().__init__(
            f"{message} Xero says: {detail}" if detail else message,
            fix=fix or "Correct the data Xero names and run the command again.",
            organisation=organisation,
            request=request,
            status=status,
        )
        self.messages = messages
        self.elements = elements or []


class NotFound(XeroError):
    """Xero answered 404: the record does not exist in this organisation."""


class ServerError(XeroError):
    """Xero kept answering 5xx after the bounded retries."""


class TransientError(XeroError):
    """Timeouts or connection resets outlasted the bounded retries."""


class UnexpectedResponse(XeroError):
    """Xero's answer could not be read: not JSON, or not the shape its API describes."""


class SourceError(LearnerLedgerError):
    """Learners could not be read from the student management system (CSV or Wisenet)."""


class CsvFileError(SourceError):
    """A CSV file cannot be imported at all (it is missing, empty, or its header is unusable).

    Problems with single rows never raise: the row is rejected and the import goes on."""

    def __init__(self, path: str, message: str, *, fix: str | None = None) -> None:
        super().__init__(f"{path}: {message}", fix=fix)
        self.path = path


class WisenetError(SourceError):
    """A call to the Wisenet API failed. ``status`` and ``body`` keep Wisenet's answer as it
    came (Wisenet documents no error shapes, so nothing is read out of it)."""

    def __init__(
        self,
        message: str,
        *,
        fix: str | None = None,
        request: str | None = None,
        status: int | None = None,
        body: str | None = None,
    ) -> None:
        super().__init__(message, fix=fix)
        self.request = request
        self.status = status
        self.body = body


class WisenetNotConnected(WisenetError):
    """No Wisenet connection is stored in this learnerledger home."""


class WisenetAuthError(WisenetError):
    """Wisenet refused the API key (missing, revoked, or the licence has no API access)."""


class WisenetQuotaExhausted(WisenetError, BudgetSpent):
    """Wisenet kept answering 429 after backing off: the day's quota for the key is spent.

    ``resets_at`` is when the quota is expected back (00:00 UTC)."""

    def __init__(self, message: str, *, resets_at: datetime, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.resets_at = resets_at
        self.resumes_at = resets_at
        self.limit = "day"
