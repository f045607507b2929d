"""Who may use the web UI: local users with argon2 password hashes, server-side sessions,
API tokens, CSRF tokens, and a lockout after repeated failed sign-ins.

Secrets never rest in the store as they are: a session cookie and an API token are random
strings the store knows only by their SHA-256 digest, and a password only by its argon2id
hash. Each session has its own CSRF token, which every form carries in a hidden ``csrf_token``
field. Times come from an injectable clock, so expiry and lockout are tested without waiting.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from learnerledger.errors import LearnerLedgerError
from learnerledger.store import Store
from learnerledger.store import users as stored
from learnerledger.store.users import ROLES, SessionRow, UserRow

__all__ = [
    "LOCKOUT_FAILURES",
    "LOCKOUT_SECONDS",
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "SESSION_IDLE_SECONDS",
    "Session",
    "SignInRefused",
    "Users",
    "digest",
    "same_secret",
]

# Five wrong passwords for a name within a quarter of an hour lock it for a quarter of an hour.
LOCKOUT_FAILURES = 5
LOCKOUT_SECONDS = 15 * 60
# A session ends after this long unused (each request slides it on).
SESSION_IDLE_SECONDS = 12 * 3600
MIN_PASSWORD_LENGTH = 10
_TOUCH_EVERY_MS = 60_000  # a session's expiry is moved on at most once a minute

_hasher = PasswordHasher()
# Compared against when the name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class SignInRefused(LearnerLedgerError):
    """A sign-in that did not succeed; the message says why as far as is safe to say."""


def digest(secret: str) -> str:
    """How the store knows a session cookie or an API token: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same_secret(given: str | None, expected: str) -> bool:
    """``given`` equals ``expected``, compared in constant time."""
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class Session:
    """A signed-in visitor: the user and the session's CSRF token. ``key`` is the digest of the
    cookie (the cookie's value itself is never kept)."""

    key: str
    user: UserRow
    csrf: str


class Users:
    """The users of one store, and their sessions and tokens."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- people ---------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str) -> UserRow:
        """Add a user, or give an existing one a new role and password (ending its sessions)."""
        name = name.strip()
        if not name or len(name) > 100 or any(c.isspace() for c in name):
            raise LearnerLedgerError(
                f"The user name {name!r} cannot be used.",
                fix="Choose a name of 1 to 100 characters without spaces, e.g. jsmith.",
            )
        if role not in ROLES:
            raise LearnerLedgerError(
                f"There is no role {role!r}.", fix="Choose admin (changes things) or viewer."
            )
        if len(password) < MIN_PASSWORD_LENGTH:
            raise LearnerLedgerError(
                f"The password is shorter than {MIN_PASSWORD_LENGTH} characters.",
                fix="Choose a longer one; a few unrelated words make a good password.",
            )
        user = stored.add_user(
            self.store, name, role, _hasher.hash(password), now_ms=self._now_ms()
        )
        stored.delete_user_sessions(self.store, user.id)
        return user

    def get(self, name: str) -> UserRow | None:
        return stored.get_user(self.store, name.strip())

    def sign_in(self, name: str, password: str) -> UserRow:
        """The user ``name`` if ``password`` is theirs and the name is not locked out."""
        name = name.strip()
        now = self._now_ms()
        window = LOCKOUT_SECONDS * 1000
        failed = stored.failures(self.store, name)
        if failed and failed.failures >= LOCKOUT_FAILURES and now - failed.last_ms < window:
            minutes = max(1, round((failed.last_ms + window - now) / 60_000))
            raise SignInRefused(
                f"Too many failed sign-ins for {name!r}: signing in is locked for about "
                f"{minutes} more minute{'s' if minutes != 1 else ''}.",
                fix="Wait, then try again; an admin can set a new password with "
                "`learnerledger users add NAME --role ROLE`.",
            )
        user = stored.get_user(self.store, name)
        if user is None:
            _verify(_DUMMY_HASH, password)  # an unknown name takes as long as a wrong password
        if user is None or not _verify(user.password_hash, password):
            count = stored.record_failure(self.store, name, now_ms=now, window_ms=window)
            left = LOCKOUT_FAILURES - count
            warning = (
                f" {left} more failed attempt{'s' if left != 1 else ''} lock the name for "
                f"{LOCKOUT_SECONDS // 60} minutes."
                if 0 < left <= 2
                else ""
            )
            raise SignInRefused(
                "The user name or password is not right." + warning,
                fix="Check both and try again (passwords are case-sensitive).",
            )
        stored.clear_failures(self.store, name)
        if _hasher.check_needs_rehash(user.password_hash):
            stored.set_password(self.store, user.id, _hasher.hash(password), now_ms=now)
        return user

    # -- sessions -------------------------------------------------------------------------

    def open_session(self, user: UserRow) -> tuple[str, Session]:
        """A new session: the cookie's value (give it to the browser, keep it nowhere) and
        the session."""
        cookie = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self._now_ms()
        key = digest(cookie)
        stored.create_session(
            self.store, key, user.id, csrf, now_ms=now, expires_ms=now + SESSION_IDLE_SECONDS * 1000
        )
        return cookie, Session(key=key, user=user, csrf=csrf)

    def session(self, cookie: str | None) -> Session | None:
        """The live session of a cookie's value, its expiry moved on."""
        if not cookie:
            return None
        key = digest(cookie)
        now = self._now_ms()
        row: SessionRow | None = stored.find_session(self.store, key, now_ms=now)
        if row is None:
            return None
        if now - row.seen_ms >= _TOUCH_EVERY_MS:
            stored.touch_session(
                self.store, key, now_ms=now, expires_ms=now + SESSION_IDLE_SECONDS * 1000
            )
        return Session(key=key, user=row.user, csrf=row.csrf)

    def close_session(self, session: Session) -> None:
        stored.delete_session(self.store, session.key, now_ms=self._now_ms())

    # -- API tokens -----------------------------------------------------------------------

    def new_token(self, name: str) -> str:
        """A new API token for ``name``: shown once, kept only as its digest."""
        user = self.get(name)
        if user is None:
            raise LearnerLedgerError(
                f"There is no user {name!r}.",
                fix="Add one first: learnerledger users add NAME --role viewer.",
            )
        token = "llt_" + secrets.token_urlsafe(32)
        stored.add_token(self.store, digest(token), user.id, now_ms=self._now_ms())
        return token

    def token_user(self, token: str | None) -> UserRow | None:
        if not token:
            return None
        return stored.find_token(self.store, digest(token))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
