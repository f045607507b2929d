"""``learnerledger users add|token`` and ``serve``'s wiring, and the users' repository on both
databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from learnerledger.cli import main
from learnerledger.store import open_store
from learnerledger.store import users as stored
from learnerledger.web import Users


def _invoke(tmp_path: Path, *args: str, **kwargs: Any) -> Any:
    base = ["--home", str(tmp_path / "home"), "--database-url", f"sqlite:///{tmp_path / 'l.db'}"]
    return CliRunner().invoke(main, [*base, "users", *args], **kwargs)


def test_add_a_user_from_stdin_then_sign_in_and_make_a_token(tmp_path: Path) -> None:
    added = _invoke(
        tmp_path,
        "add",
        "jsmith",
        "--role",
        "admin",
        "--password-stdin",
        input="s3cret pass phrase\n",
    )
    assert added.exit_code == 0, added.output
    assert "User jsmith (admin) can sign in." in added.stdout
    store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
    users = Users(store)
    assert users.sign_in("jsmith", "s3cret pass phrase").role == "admin"
    made = _invoke(tmp_path, "token", "jsmith")
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("llt_")
    assert "shown once" in made.stderr
    user = users.token_user(token)
    assert user is not None
    assert user.name == "jsmith"
    again = _invoke(tmp_path, "token", "jsmith").stdout.strip()
    assert again != token  # each token is new; both work
    assert users.token_user(token) is not None
    store.close()


def test_add_prompts_twice_and_changing_a_password_signs_the_user_out(tmp_path: Path) -> None:
    first = _invoke(
        tmp_path, "add", "vic", "--role", "viewer", input="first password\nfirst password\n"
    )
    assert first.exit_code == 0, first.output
    store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
    users = Users(store)
    cookie, _ = users.open_session(users.sign_in("vic", "first password"))
    assert users.session(cookie) is not None
    second = _invoke(
        tmp_path, "add", "vic", "--role", "admin", "--password-stdin", input="second password\n"
    )
    assert second.exit_code == 0, second.output
    assert users.session(cookie) is None
    assert users.sign_in("vic", "second password").role == "admin"
    store.close()


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    short = _invoke(tmp_path, "add", "vic", "--role", "viewer", "--password-stdin", input="short\n")
    assert short.exit_code == 1
    assert "shorter than 10 characters" in short.stderr
    nobody = _invoke(tmp_path, "token", "nobody")
    assert nobody.exit_code == 1
    assert "There is no user 'nobody'" in nobody.stderr
    role = _invoke(tmp_path, "add", "vic", "--role", "owner", "--password-stdin", input="x\n")
    assert role.exit_code == 2


def test_the_users_repository_on_both_databases(store_url: str) -> None:
    store = open_store(store_url)
    try:
        user = stored.add_user(store, "amy", "viewer", "$argon2id$x", now_ms=1)
        assert stored.get_user(store, "amy") == user
        stored.create_session(store, "h1", user.id, "c1", now_ms=10, expires_ms=100)
        found = stored.find_session(store, "h1", now_ms=50)
        assert found is not None
        assert (found.user.name, found.csrf) == ("amy", "c1")
        assert stored.find_session(store, "h1", now_ms=100) is None  # expired
        stored.touch_session(store, "h1", now_ms=60, expires_ms=200)
        assert stored.find_session(store, "h1", now_ms=150) is not None
        stored.delete_session(store, "h1", now_ms=150)
        assert stored.find_session(store, "h1", now_ms=150) is None
        stored.add_token(store, "t1", user.id, now_ms=5)
        assert stored.find_token(store, "t1") == user
        assert stored.find_token(store, "t2") is None
        assert stored.record_failure(store, "AMY", now_ms=0, window_ms=100) == 1
        assert stored.record_failure(store, "amy", now_ms=50, window_ms=100) == 2
        assert stored.record_failure(store, "amy", now_ms=500, window_ms=100) == 1  # forgotten
        stored.clear_failures(store, "Amy")
        assert stored.failures(store, "amy") is None
        assert [u.name for u in stored.list_users(store)] == ["amy"]
        assert "argon2" not in repr(user)
    finally:
        store.close()


@pytest.mark.parametrize("args", [["serve", "--help"], ["users", "add", "--help"]])
def test_the_commands_are_registered(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0
    assert "Usage" in result.output
