"""The web UI's people and their ways in: the only writer of ``users``, ``user_sessions``,
``api_tokens`` and ``login_failures``.

A user has a name, a role (``admin`` changes things, ``viewer`` only looks) and an argon2 hash
of the password. Sessions and API tokens are kept by the SHA-256 digest of their secret, never
the secret itself, so a copy of the store lets no one in. ``login_failures`` counts the failed
sign-ins per name since the last success, for the lockout. Times are epoch milliseconds from
the caller's clock, so expiry and lockout are tested without waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from learnerledger.store.db import Store
from learnerledger.store.tables import metadata

__all__ = [
    "ROLES",
    "FailureRow",
    "SessionRow",
    "UserRow",
    "add_token",
    "add_user",
    "clear_failures",
    "create_session",
    "delete_session",
    "delete_user_sessions",
    "failures",
    "find_session",
    "find_token",
    "get_user",
    "list_users",
    "record_failure",
    "set_password",
    "touch_session",
]

ROLES = ("admin", "viewer")

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("role", sa.String(10), nullable=False),  # admin | viewer
    sa.Column("password_hash", sa.String(255), nullable=False),  # argon2id, with its salt
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
)

user_sessions = sa.Table(
    "user_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # SHA-256 of the cookie's value
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),  # the forms' token for this session
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("seen_ms", sa.BigInteger, nullable=False),
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
)
sa.Index("ix_user_sessions_user", user_sessions.c.user_id)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # SHA-256 of the token
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("used_ms", sa.BigInteger, nullable=True),
)

login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),  # as typed, case-folded
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_ms", sa.BigInteger, nullable=False),
)


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    role: str
    password_hash: str

    def __repr__(self) -> str:  # the hash stays out of logs and tracebacks
        return f"UserRow(id={self.id}, name={self.name!r}, role={self.role!r})"


@dataclass(frozen=True)
class SessionRow:
    user: UserRow
    csrf: str
    expires_ms: int
    seen_ms: int


@dataclass(frozen=True)
class FailureRow:
    failures: int
    last_ms: int


def _user(r: Any) -> UserRow | None:
    if r is None:
        return None
    return UserRow(id=int(r[0]), name=str(r[1]), role=str(r[2]), password_hash=str(r[3]))


_USER_COLUMNS = (users.c.id, users.c.name, users.c.role, users.c.password_hash)


def add_user(store: Store, name: str, role: str, password_hash: str, *, now_ms: int) -> UserRow:
    """Add a user, or give an existing one (same name) this role and password."""
    with store.transaction(lock=f"users:{name}") as conn:
        existing = conn.execute(sa.select(users.c.id).where(users.c.name == name)).scalar()
        values = {"role": role, "password_hash": password_hash, "updated_ms": now_ms}
        if existing is None:
            conn.execute(users.insert().values(name=name, created_ms=now_ms, **values))
        else:
            conn.execute(users.update().where(users.c.id == existing).values(values))
        row = conn.execute(sa.select(*_USER_COLUMNS).where(users.c.name == name)).first()
    found = _user(row)
    assert found is not None
    return found


def set_password(store: Store, user_id: int, password_hash: str, *, now_ms: int) -> None:
    """Keep a rehashed password (argon2's parameters grew stronger since it was set)."""
    with store.transaction() as conn:
        conn.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(password_hash=password_hash, updated_ms=now_ms)
        )


def get_user(store: Store, name: str) -> UserRow | None:
    with store.read() as conn:
        return _user(conn.execute(sa.select(*_USER_COLUMNS).where(users.c.name == name)).first())


def list_users(store: Store) -> list[UserRow]:
    with store.read() as conn:
        rows = conn.execute(sa.select(*_USER_COLUMNS).order_by(users.c.name)).all()
    return [u for u in (_user(r) for r in rows) if u is not None]


def create_session(
    store: Store, id_hash: str, user_id: int, csrf: str, *, now_ms: int, expires_ms: int
) -> None:
    with store.transaction() as conn:
        conn.execute(
            user_sessions.insert().values(
                id_hash=id_hash,
                user_id=user_id,
                csrf=csrf,
                created_ms=now_ms,
                seen_ms=now_ms,
                expires_ms=expires_ms,
            )
        )


def find_session(store: Store, id_hash: str, *, now_ms: int) -> SessionRow | None:
    """The session whose cookie hashes to ``id_hash``, if it has not expired."""
    query = (
        sa.select(
            *_USER_COLUMNS,
            user_sessions.c.csrf,
            user_sessions.c.expires_ms,
            user_sessions.c.seen_ms,
        )
        .select_from(user_sessions.join(users, users.c.id == user_sessions.c.user_id))
        .where(user_sessions.c.id_hash == id_hash, user_sessions.c.expires_ms > now_ms)
    )
    with store.read() as conn:
        r = conn.execute(query).first()
    if r is None:
        return None
    user = _user(r)
    assert user is not None
    return SessionRow(
        user=user, csrf=str(r.csrf), expires_ms=int(r.expires_ms), seen_ms=int(r.seen_ms)
    )


def touch_session(store: Store, id_hash: str, *, now_ms: int, expires_ms: int) -> None:
    """Slide the session's expiry: it ends after a stretch of idleness, not mid-work."""
    with store.transaction() as conn:
        conn.execute(
            user_sessions.update()
            .where(user_sessions.c.id_hash == id_hash)
            .values(seen_ms=now_ms, expires_ms=expires_ms)
        )


def delete_session(store: Store, id_hash: str, *, now_ms: int | None = None) -> None:
    """End one session (sign-out), and forget every session that has expired by ``now_ms``."""
    with store.transaction() as conn:
        conn.execute(user_sessions.delete().where(user_sessions.c.id_hash == id_hash))
        if now_ms is not None:
            conn.execute(user_sessions.delete().where(user_sessions.c.expires_ms <= now_ms))


def delete_user_sessions(store: Store, user_id: int) -> int:
    """End every session of a user (a new password or role takes effect at once)."""
    with store.transaction() as conn:
        return int(
            conn.execute(user_sessions.delete().where(user_sessions.c.user_id == user_id)).rowcount
        )


def add_token(store: Store, token_hash: str, user_id: int, *, now_ms: int) -> None:
    with store.transaction() as conn:
        conn.execute(
            api_tokens.insert().values(token_hash=token_hash, user_id=user_id, created_ms=now_ms)
        )


def find_token(store: Store, token_hash: str) -> UserRow | None:
    query = (
        sa.select(*_USER_COLUMNS)
        .select_from(api_tokens.join(users, users.c.id == api_tokens.c.user_id))
        .where(api_tokens.c.token_hash == token_hash)
    )
    with store.read() as conn:
        return _user(conn.execute(query).first())


def failures(store: Store, name: str) -> FailureRow | None:
    with store.read() as conn:
        r = conn.execute(
            sa.select(login_failures.c.failures, login_failures.c.last_ms).where(
                login_failures.c.name == name.casefold()
            )
        ).first()
    return None if r is None else FailureRow(int(r.failures), int(r.last_ms))


def record_failure(store: Store, name: str, *, now_ms: int, window_ms: int) -> int:
    """Count one more failed sign-in for ``name``; failures older than ``window_ms`` are
    forgotten first. Returns the count now."""
    key = name.casefold()
    with store.transaction(lock=f"login_failures:{key}") as conn:
        r = conn.execute(
            sa.select(login_failures.c.failures, login_failures.c.last_ms).where(
                login_failures.c.name == key
            )
        ).first()
        if r is None:
            conn.execute(login_failures.insert().values(name=key, failures=1, last_ms=now_ms))
            return 1
        count = 1 if now_ms - int(r.last_ms) > window_ms else int(r.failures) + 1
        conn.execute(
            login_failures.update()
            .where(login_failures.c.name == key)
            .values(failures=count, last_ms=now_ms)
        )
        return count


def clear_failures(store: Store, name: str) -> None:
    with store.transaction() as conn:
        conn.execute(login_failures.delete().where(login_failures.c.name == name.casefold()))
