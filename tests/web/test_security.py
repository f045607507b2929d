"""The web UI's locks: every address but sign-in needs a session (or, for the API, a token);
every form needs its session's CSRF token; viewers change nothing; sessions and tokens are
what they claim; the session cookie is HttpOnly and SameSite; repeated failures lock a name."""

from __future__ import annotations

import httpx
import pytest
from starlette.routing import Mount, Route

from learnerledger.store import Store, connections
from learnerledger.web import COOKIE, CSRF_FIELD, Users
from learnerledger.web.auth import LOCKOUT_FAILURES, LOCKOUT_SECONDS, SignInRefused
from web.conftest import ADMIN, VIEWER, Web, csrf_of


def _addresses(web: Web) -> list[tuple[str, str]]:
    """Every (method, address) the app answers, path parameters filled in."""
    found = []
    for route in web.app.routes:
        if isinstance(route, Mount):
            continue
        assert isinstance(route, Route)
        path = route.path.replace("{run_id:int}", "1").replace("{connection_id:int}", "1")
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            found.append((method, path))
    return found


def _posts(web: Web) -> list[str]:
    return [path for method, path in _addresses(web) if method == "POST" and path != "/login"]


def test_every_address_without_a_session_goes_to_sign_in_or_answers_401(web: Web) -> None:
    client = web.client()
    addresses = _addresses(web)
    assert len(addresses) > 20
    for method, path in addresses:
        if path == "/login":
            continue
        answer = client.request(method, path)
        if path.startswith("/api/"):
            assert answer.status_code == 401, (method, path)
            assert answer.json()["error"] == "unauthorised"
        else:
            assert answer.status_code == 303, (method, path)
            assert answer.headers["location"].startswith("/login?next="), (method, path)
    assert client.get("/login").status_code == 200
    assert client.get("/static/app.css").status_code == 200


def test_a_form_without_its_sessions_csrf_token_is_refused_and_changes_nothing(
    web: Web, store: Store
) -> None:
    row = connections.save_connection(
        store,
        kind="wisenet",
        tenant_id=None,
        base_url="http://127.0.0.1:9/v1",
        name="wisenet",
        auth_mode="api_key",
        secret=b"sealed",
        same_kind_replaces=True,
    )
    admin = web.sign_in(ADMIN)
    other = web.sign_in(ADMIN)  # another session of the same user: another token
    foreign = csrf_of(other.get("/").text)
    for path in [*_posts(web), f"/settings/connections/{row.id}/disconnect"]:
        for data in ({}, {CSRF_FIELD: "forged"}, {CSRF_FIELD: foreign}):
            answer = admin.post(path, data=data)
            assert answer.status_code == 403, (path, data)
            assert "Nothing was changed" in answer.text
    assert connections.get_connection(store, row.id).state == "connected"  # type: ignore[union-attr]
    # With the right token the same form works.
    done = web.post(admin, "/settings", f"/settings/connections/{row.id}/disconnect")
    assert done.status_code == 303
    assert connections.get_connection(store, row.id).state == "disconnected"  # type: ignore[union-attr]


DOCUMENT_PAGES = (
    "/documents",
    "/documents/unmatched",
    "/documents/not-representable",
    "/documents/reconciliation",
    "/documents/reconciliation.csv",
)
DOCUMENT_API = (
    "/api/documents",
    "/api/documents/unmatched",
    "/api/documents/not-representable",
    "/api/documents/reconciliation",
    "/api/documents/reconciliation.csv",
)


def test_the_documents_pages_and_the_resync_are_locked_like_every_address(web: Web) -> None:
    addresses = _addresses(web)
    for path in (*DOCUMENT_PAGES, *DOCUMENT_API):
        assert ("GET", path) in addresses, path
    assert ("POST", "/documents/reconcile") in addresses
    assert ("POST", "/settings/resync") in addresses
    anonymous = web.client()
    for path in DOCUMENT_PAGES:
        answer = anonymous.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next="), path
    for path in DOCUMENT_API:
        assert anonymous.get(path).status_code == 401, path
    admin = web.sign_in(ADMIN)
    for path, data in (
        ("/settings/resync", {"what": "documents"}),
        ("/settings/resync", {"what": "both"}),
        ("/documents/reconcile", {}),
    ):
        for token in ({}, {CSRF_FIELD: "forged"}):
            answer = admin.post(path, data={**token, **data})
            assert answer.status_code == 403, (path, token)
            assert "Nothing was changed" in answer.text
    token = Users(web.store).new_token(ADMIN[0])
    api = web.client(headers={"Authorization": f"Bearer {token}"})
    assert api.post("/documents/reconcile").status_code == 303  # a token opens the API only
    assert api.post("/api/documents/reconciliation").status_code in (403, 405)
    assert api.get("/api/documents/unmatched").status_code == 200
    assert web.jobs.tasks() == []


MERGE_PAGES = ("/merge", "/merge/worklist.csv", "/merge/worklist.html")
MERGE_FORMS = ("/merge/plan", "/merge/apply", "/merge/verify")


def test_the_merge_page_and_its_steps_are_locked_like_every_address(web: Web) -> None:
    addresses = _addresses(web)
    for path in (*MERGE_PAGES, "/api/merge"):
        assert ("GET", path) in addresses, path
    for path in MERGE_FORMS:
        assert path in _posts(web), path  # so the CSRF and viewer tests send it
    anonymous = web.client()
    for method, path in [*(("GET", p) for p in MERGE_PAGES), *(("POST", p) for p in MERGE_FORMS)]:
        answer = anonymous.request(method, path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next="), path
    assert anonymous.get("/api/merge").status_code == 401
    assert web.jobs.tasks() == []


def test_signing_in_needs_the_forms_csrf_token(web: Web) -> None:
    client = web.client()
    login = client.get("/login")
    token = csrf_of(login.text)
    assert 'name="username"' in login.text
    assert 'name="password"' in login.text
    refused = client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1]})
    assert refused.status_code == 403
    assert COOKIE not in refused.cookies
    stranger = web.client()  # a token copied to a browser that never loaded the form
    assert (
        stranger.post(
            "/login", data={"username": ADMIN[0], "password": ADMIN[1], CSRF_FIELD: token}
        ).status_code
        == 403
    )


def test_a_viewer_sees_every_page_but_every_change_is_refused(web: Web, store: Store) -> None:
    viewer = web.sign_in(VIEWER)
    for method, path in _addresses(web):
        if method == "GET" and path not in ("/login", "/settings/xero/callback"):
            answer = viewer.get(path)
            assert answer.status_code in (200, 400, 404), path  # run #1 does not exist
            assert "Traceback" not in answer.text
    token = csrf_of(viewer.get("/").text)
    for path in _posts(web):
        if path == "/logout":
            continue
        answer = viewer.post(path, data={CSRF_FIELD: token, "job": "sync learners"})
        assert answer.status_code == 403, path
        assert "viewers can look but not change anything" in answer.text
    settings = viewer.get("/settings").text
    assert 'action="/settings/xero/oauth"' not in settings  # no forms to fill in vain
    assert viewer.get("/api/me").json() == {"name": VIEWER[0], "role": "viewer"}
    assert viewer.post("/logout", data={CSRF_FIELD: token}).status_code == 303


def test_the_session_cookie_is_httponly_and_samesite_and_secure_over_https(web: Web) -> None:
    client = web.client()
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login", data={"username": ADMIN[0], "password": ADMIN[1], CSRF_FIELD: token}
    )
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and COOKIE in v)
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "path=/" in flags
    assert "secure" not in flags  # plain http on loopback: a Secure cookie would be dropped
    # Behind a proxy that terminates HTTPS (and says so), the cookie is Secure too.
    proxied = web.client(headers={"X-Forwarded-Proto": "https"})
    login = proxied.get("/login")
    token = csrf_of(login.text)
    assert "secure" in login.headers["set-cookie"].lower()
    answer = proxied.post(
        "/login",
        data={"username": ADMIN[0], "password": ADMIN[1], CSRF_FIELD: token},
        headers={"Cookie": f"learnerledger_login_csrf={token}"},  # a browser on https sends it
    )
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and COOKIE in v)
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]


def test_signing_out_ends_the_session_for_good(web: Web) -> None:
    client = web.sign_in(ADMIN)
    cookie = client.cookies[COOKIE]
    assert client.get("/").status_code == 200
    web.post(client, "/", "/logout")
    replay = web.client(cookies={COOKIE: cookie})
    assert replay.get("/").status_code == 303
    assert replay.get("/api/status").status_code == 401


def test_repeated_failures_lock_the_name_even_for_the_right_password(web: Web) -> None:
    client = web.client()

    def attempt(password: str) -> httpx.Response:
        token = csrf_of(client.get("/login").text)
        return client.post(
            "/login", data={"username": ADMIN[0], "password": password, CSRF_FIELD: token}
        )

    for _ in range(LOCKOUT_FAILURES - 1):
        assert attempt("wrong password!").status_code == 401
    last = attempt("wrong password!")
    assert last.status_code == 401
    locked = attempt(ADMIN[1])
    assert locked.status_code == 401
    assert "locked" in locked.text
    assert COOKIE not in client.cookies
    # Another name is not held up.
    assert web.sign_in(VIEWER).get("/").status_code == 200


def test_the_lockout_ends_after_its_time_and_a_success_clears_the_count(store: Store) -> None:
    now = [1_000_000.0]
    users = Users(store, clock=lambda: now[0])
    users.add("bo", "viewer", "long enough pw")
    for _ in range(LOCKOUT_FAILURES):
        with pytest.raises(SignInRefused):
            users.sign_in("bo", "nope nope nope")
    with pytest.raises(SignInRefused, match="locked"):
        users.sign_in("bo", "long enough pw")
    now[0] += LOCKOUT_SECONDS + 1
    assert users.sign_in("bo", "long enough pw").name == "bo"
    with pytest.raises(SignInRefused, match="not right"):
        users.sign_in("bo", "nope nope nope")
    assert users.sign_in("bo", "long enough pw").name == "bo"  # one failure does not lock


def test_a_session_ends_after_its_idle_time(store: Store) -> None:
    from learnerledger.web.auth import SESSION_IDLE_SECONDS

    now = [5_000_000.0]
    users = Users(store, clock=lambda: now[0])
    user = users.add("cy", "admin", "long enough pw")
    cookie, session = users.open_session(user)
    assert users.session(cookie) == session
    now[0] += SESSION_IDLE_SECONDS - 10
    assert users.session(cookie) is not None  # in use: its expiry moves on
    now[0] += SESSION_IDLE_SECONDS - 10
    assert users.session(cookie) is not None
    now[0] += SESSION_IDLE_SECONDS + 1
    assert users.session(cookie) is None
    assert users.session("made-up") is None


def test_the_api_takes_a_bearer_token_and_only_reads(web: Web) -> None:
    token = Users(web.store).new_token(VIEWER[0])
    api = web.client(headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/me").json() == {"name": VIEWER[0], "role": "viewer"}
    status = api.get("/api/status").json()
    assert set(status["status"]) >= {"connections", "counts", "budget", "last_runs"}
    assert api.post("/api/status").status_code in (403, 405)
    assert api.get("/").status_code == 303  # tokens open the API, not the pages
    wrong = web.client(headers={"Authorization": "Bearer llt_made-up"})
    assert wrong.get("/api/status").status_code == 401
    assert wrong.get("/api/status").headers["www-authenticate"].startswith("Bearer")


def test_the_store_keeps_only_digests_and_hashes(web: Web, store: Store) -> None:
    import sqlalchemy as sa

    client = web.sign_in(ADMIN)
    token = Users(store).new_token(ADMIN[0])
    with store.engine.connect() as conn:
        dump = " ".join(
            str(row)
            for table in ("users", "user_sessions", "api_tokens")
            for row in conn.execute(sa.text(f"SELECT * FROM {table}"))
        )
    assert client.cookies[COOKIE] not in dump
    assert token not in dump
    assert ADMIN[1] not in dump
    assert "$argon2id$" in dump


def test_after_sign_in_only_this_sites_addresses_are_followed(web: Web) -> None:
    client = web.client()
    login = client.get("/login?next=//evil.example/x")
    answer = client.post(
        "/login",
        data={
            "username": ADMIN[0],
            "password": ADMIN[1],
            CSRF_FIELD: csrf_of(login.text),
            "next": "//evil.example/x",
        },
    )
    assert answer.headers["location"] == "/"
    page = client.get("/learners?q=x")
    assert page.status_code == 200


@pytest.mark.parametrize("name", ["", "two words", "x" * 101])
def test_a_bad_user_name_is_refused_with_what_to_do(store: Store, name: str) -> None:
    from learnerledger.errors import LearnerLedgerError

    with pytest.raises(LearnerLedgerError, match="cannot be used"):
        Users(store).add(name, "viewer", "long enough pw")


def test_a_short_password_or_an_unknown_role_is_refused(store: Store) -> None:
    from learnerledger.errors import LearnerLedgerError

    with pytest.raises(LearnerLedgerError, match="shorter than"):
        Users(store).add("dee", "viewer", "short")
    with pytest.raises(LearnerLedgerError, match="no role"):
        Users(store).add("dee", "owner", "long enough pw")


def test_a_bug_shows_an_apology_not_a_traceback(
    web: Web, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from learnerledger.web import views

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "dashboard", broken)
    client = web.sign_in(ADMIN)
    answer = client.get("/")
    assert answer.status_code == 500
    assert "Something went wrong" in answer.text
    assert "secret internals" not in answer.text
    assert "Traceback" not in answer.text
    assert any("GET / failed" in r.getMessage() for r in caplog.records)
