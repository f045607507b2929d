"""Xero's identity service: tokens, the consent page, and connections.

* ``POST /connect/token``: ``client_credentials`` (custom connections), ``authorization_code``
  (with PKCE for apps without a secret) and ``refresh_token`` (rotation; the previous refresh
  token keeps working for a 30-minute grace period, as Xero documents). Access tokens last
  30 minutes by the sandbox clock. Errors use OAuth's ``{"error": ...}`` bodies.
* ``GET /identity/connect/authorize``: a minimal consent page where a person picks the
  organisations to connect; ``POST`` records the choice and redirects with a code.
* ``GET /connections``, ``DELETE /connections/{id}``: the organisations an app may call.

Access tokens are HS256 JWTs signed with a key kept in the sandbox's database, so they stay
valid across restarts; refresh tokens are random strings stored as hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from learnerledger.sandbox.clock import Clock
from learnerledger.sandbox.xero.errors import not_found, unauthorized
from learnerledger.sandbox.xero.store import App, SandboxStore
from learnerledger.sandbox.xero.wire import iso_utc, json_response

__all__ = [
    "ACCESS_TOKEN_SECONDS",
    "Claims",
    "Identity",
]

ACCESS_TOKEN_SECONDS = 1800
CODE_SECONDS = 300
REFRESH_GRACE_SECONDS = 1800
REFRESH_UNUSED_SECONDS = 60 * 86_400


@dataclass(frozen=True)
class Claims:
    client_id: str
    scopes: tuple[str, ...]
    auth_event_id: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _oauth_error(error: str, status: int = 400, description: str | None = None) -> Response:
    body: dict[str, Any] = {"error": error}
    if description:
        body["error_description"] = description
    return json_response(body, status)


class Identity:
    def __init__(self, store: SandboxStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        key = store.meta("signing_key")
        assert key is not None
        self._key = bytes.fromhex(key)

    # -- tokens ---------------------------------------------------------------------------

    def _mint_access(self, app: App, scopes: tuple[str, ...], auth_event_id: str) -> str:
        now = int(self.clock.now())
        header = {"alg": "HS256", "kid": "sandbox", "typ": "JWT"}
        payload = {
            "nbf": now,
            "exp": now + ACCESS_TOKEN_SECONDS,
            "iss": "https://identity.xero.com",
            "aud": "https://identity.xero.com/resources",
            "client_id": app.client_id,
            "sub": hashlib.sha256(app.client_id.encode()).hexdigest()[:32],
            "auth_time": now,
            "xero_userid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-user:{app.client_id}")),
            "global_session_id": uuid.uuid4().hex,
            "jti": uuid.uuid4().hex,
            "authentication_event_id": auth_event_id,
            "scope": list(scopes),
        }
        signing_input = (
            _b64(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64(json.dumps(payload, separators=(",", ":")).encode())
        )
        sig = hmac.new(self._key, signing_input.encode("ascii"), hashlib.sha256).digest()
        return signing_input + "." + _b64(sig)

    def _id_token(self, app: App) -> str:
        now = int(self.clock.now())
        payload = {
            "nbf": now,
            "exp": now + 300,
            "iss": "https://identity.xero.com",
            "aud": app.client_id,
            "email": "finance@demotraining.example",
            "given_name": "Demo",
            "family_name": "Finance",
        }
        body = _b64(b'{"alg":"HS256","typ":"JWT"}') + "." + _b64(json.dumps(payload).encode())
        return body + "." + _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def authenticate(self, authorization: str | None) -> Claims | Response:
        """Check a ``Bearer`` access token; the Response is Xero's 401 when it fails."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return unauthorized()
        token = authorization[7:].strip()
        parts = token.split(".")
        if len(parts) != 3:
            return unauthorized()
        expected = hmac.new(
            self._key, f"{parts[0]}.{parts[1]}".encode("ascii", "replace"), hashlib.sha256
        ).digest()
        try:
            ok = hmac.compare_digest(expected, _unb64(parts[2]))
            payload = json.loads(_unb64(parts[1]))
        except (ValueError, UnicodeDecodeError):
            return unauthorized()
        if not ok or not isinstance(payload, dict):
            return unauthorized()
        exp = int(payload.get("exp", 0))
        if self.clock.now() >= exp:
            from datetime import UTC, datetime

            at = datetime.fromtimestamp(exp, tz=UTC).strftime("%m/%d/%Y %H:%M:%S")
            return unauthorized(f"TokenExpired: token expired at {at}")
        return Claims(
            client_id=str(payload["client_id"]),
            scopes=tuple(payload.get("scope", [])),
            auth_event_id=str(payload.get("authentication_event_id", "")),
            expires=exp,
        )

    def _client(
        self, request_form: dict[str, str], authorization: str | None
    ) -> tuple[str, str | None]:
        if authorization and authorization.lower().startswith("basic "):
            try:
                raw = base64.b64decode(authorization[6:].strip()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                return "", None
            client_id, _, secret = raw.partition(":")
            return client_id, secret
        return request_form.get("client_id", ""), request_form.get("client_secret")

    def _token_response(
        self, app: App, scopes: tuple[str, ...], auth_event_id: str, *, refresh: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self._mint_access(app, scopes, auth_event_id),
            "expires_in": ACCESS_TOKEN_SECONDS,
            "token_type": "Bearer",
            "scope": " ".join(scopes),
        }
        if "openid" in scopes:
            body["id_token"] = self._id_token(app)
        if refresh and "offline_access" in scopes:
            refresh_token = secrets.token_urlsafe(32)
            with self.store.tx() as conn:
                conn.execute(
                    "INSERT INTO refresh_tokens (token_hash, client_id, auth_event_id, scope, "
                    "created_ms) VALUES (?, ?, ?, ?, ?)",
                    (
                        _hash(refresh_token),
                        app.client_id,
                        auth_event_id,
                        " ".join(scopes),
                        self.clock.now_ms(),
                    ),
                )
            body["refresh_token"] = refresh_token
        return body

    async def token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        client_id, secret = self._client(form, request.headers.get("authorization"))
        app = self.store.app(client_id) if client_id else None
        if app is None:
            return _oauth_error("invalid_client")
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            return self._client_credentials(app, secret, form)
        if grant == "authorization_code":
            return self._authorization_code(app, secret, form)
        if grant == "refresh_token":
            return self._refresh(app, secret, form)
        return _oauth_error("unsupported_grant_type")

    def _secret_ok(self, app: App, secret: str | None) -> bool:
        if app.client_secret is None:
            return True  # a PKCE app has no secret
        return secret is not None and hmac.compare_digest(app.client_secret, secret)

    def _client_credentials(self, app: App, secret: str | None, form: dict[str, str]) -> Response:
        if app.client_secret is None or not self._secret_ok(app, secret):
            return _oauth_error("invalid_client")
        if app.kind != "custom":
            return _oauth_error("unauthorized_client")
        asked = tuple(form.get("scope", "").split())
        if asked and not set(asked) <= set(app.scopes):
            return _oauth_error("invalid_scope")
        scopes = asked or app.scopes
        with self.store.read() as conn:
            row = conn.execute(
                "SELECT auth_event_id FROM connections WHERE client_id = ? LIMIT 1",
                (app.client_id,),
            ).fetchone()
        auth_event_id = row["auth_event_id"] if row else str(uuid.uuid4())
        return json_response(self._token_response(app, scopes, auth_event_id, refresh=False))

    def _authorization_code(self, app: App, secret: str | None, form: dict[str, str]) -> Response:
        code = form.get("code", "")
        now = self.clock.now_ms()
        with self.store.tx() as conn:
            row = conn.execute("SELECT * FROM auth_codes WHERE code = ?", (code,)).fetchone()
            if (
                row is None
                or row["used"]
                or row["client_id"] != app.client_id
                or now - row["created_ms"] > CODE_SECONDS * 1000
                or row["redirect_uri"] != form.get("redirect_uri", "")
            ):
                return _oauth_error("invalid_grant")
            if app.client_secret is not None and not self._secret_ok(app, secret):
                return _oauth_error("invalid_client")
            if row["code_challenge"]:
                verifier = form.get("code_verifier", "")
                digest = _b64(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
                if not verifier or not hmac.compare_digest(digest, row["code_challenge"]):
                    return _oauth_error("invalid_grant")
            conn.execute("UPDATE auth_codes SET used = 1 WHERE code = ?", (code,))
        scopes = tuple(str(row["scope"]).split())
        return json_response(self._token_response(app, scopes, row["auth_event_id"], refresh=True))

    def _refresh(self, app: App, secret: str | None, form: dict[str, str]) -> Response:
        if not self._secret_ok(app, secret):
            return _oauth_error("invalid_client")
        token = form.get("refresh_token", "")
        now = self.clock.now_ms()
        with self.store.read() as conn:
            row = conn.execute(
                "SELECT * FROM refresh_tokens WHERE token_hash = ?", (_hash(token),)
            ).fetchone()
        if row is None or row["revoked"] or row["client_id"] != app.client_id:
            return _oauth_error("invalid_grant")
        if row["replaced_ms"] is not None:
            if now - row["replaced_ms"] > REFRESH_GRACE_SECONDS * 1000:
                return _oauth_error("invalid_grant")
        elif now - row["created_ms"] > REFRESH_UNUSED_SECONDS * 1000:
            return _oauth_error("invalid_grant")
        scopes = tuple(str(row["scope"]).split())
        body = self._token_response(app, scopes, row["auth_event_id"], refresh=True)
        with self.store.tx() as conn:
            conn.execute(
                "UPDATE refresh_tokens SET replaced_by = ?, "
                "replaced_ms = COALESCE(replaced_ms, ?) WHERE token_hash = ?",
                (_hash(body["refresh_token"]), now, _hash(token)),
            )
        return json_response(body)

    async def revoke(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        client_id, secret = self._client(form, request.headers.get("authorization"))
        app = self.store.app(client_id) if client_id else None
        if app is None or not self._secret_ok(app, secret):
            return _oauth_error("invalid_client")
        with self.store.tx() as conn:
            row = conn.execute(
                "SELECT auth_event_id FROM refresh_tokens WHERE token_hash = ? AND client_id = ?",
                (_hash(form.get("token", "")), app.client_id),
            ).fetchone()
            if row is not None:
                conn.execute(
                    "UPDATE refresh_tokens SET revoked = 1 WHERE auth_event_id = ?",
                    (row["auth_event_id"],),
                )
                conn.execute(
                    "DELETE FROM connections WHERE client_id = ? AND auth_event_id = ?",
                    (app.client_id, row["auth_event_id"]),
                )
        return Response(status_code=200)

    # -- consent ----------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params = {k: str(v) for k, v in (await request.form()).items()}
        app = self.store.app(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        if app is None or app.kind != "oauth":
            return _consent_error(
                "unauthorized_client",
                "This app is not registered for the authorization code flow in the sandbox.",
            )
        if not _redirect_allowed(redirect_uri):
            return _consent_error(
                "invalid_request",
                "redirect_uri must be an https URL or a "
                "loopback http URL (localhost or 127.0.0.1).",
            )
        if params.get("response_type") != "code":
            return _consent_error(
                "unsupported_response_type", "Only response_type=code is supported."
            )
        scopes = tuple(params.get("scope", "").split())
        if not scopes:
            return _consent_error("invalid_scope", "Ask for at least one scope.")
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method") or None
        if challenge and method != "S256":
            return _consent_error("invalid_request", "code_challenge_method must be S256.")
        if app.client_secret is None and not challenge:
            return _consent_error("invalid_request", "An app without a secret must use PKCE.")
        if request.method == "GET":
            return HTMLResponse(self._consent_page(app, params))
        if params.get("decision") != "allow":
            return RedirectResponse(
                _with_query(redirect_uri, error="access_denied", state=params.get("state", "")), 302
            )
        form = await request.form()
        tenants = [str(t) for t in form.getlist("tenant")]
        known = {o.tenant_id for o in self.store.organisations()}
        tenants = [t for t in tenants if t in known]
        if not tenants:
            return HTMLResponse(
                self._consent_page(app, params, "Pick at least one organisation."), status_code=400
            )
        now = self.clock.now_ms()
        auth_event_id = str(uuid.uuid4())
        code = secrets.token_urlsafe(24)
        with self.store.tx() as conn:
            conn.execute(
                "INSERT INTO auth_codes (code, client_id, redirect_uri, scope, code_challenge, "
                "code_challenge_method, auth_event_id, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    code,
                    app.client_id,
                    redirect_uri,
                    " ".join(scopes),
                    challenge,
                    method,
                    auth_event_id,
                    now,
                ),
            )
            for tenant_id in tenants:
                conn.execute(
                    "INSERT INTO connections (id, client_id, tenant_id, auth_event_id, created_ms, "
                    "updated_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (client_id, tenant_id) DO "
                    "UPDATE SET auth_event_id = excluded.auth_event_id, "
                    "updated_ms = excluded.updated_ms",
                    (str(uuid.uuid4()), app.client_id, tenant_id, auth_event_id, now, now),
                )
        return RedirectResponse(
            _with_query(
                redirect_uri,
                code=code,
                scope=" ".join(scopes),
                state=params.get("state", ""),
                session_state=uuid.uuid4().hex,
            ),
            302,
        )

    def _consent_page(self, app: App, params: dict[str, str], notice: str = "") -> str:
        orgs = self.store.organisations()
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
            if k not in ("tenant", "decision")
        )
        boxes = "".join(
            f'<li><label><input type="checkbox" name="tenant" value="{o.tenant_id}"'
            f"{' checked' if i == 0 else ''}> {html.escape(o.name)}</label></li>"
            for i, o in enumerate(orgs)
        )
        scopes = "".join(
            f"<li><code>{html.escape(s)}</code></li>" for s in params.get("scope", "").split()
        )
        warn = f'<p class="notice">{html.escape(notice)}</p>' if notice else ""
        return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Xero sandbox: allow access</title></head><body>
<h1>{html.escape(app.name)} wants access to your organisation</h1>{warn}
<form method="post" action="/identity/connect/authorize">{hidden}
<p>It asks for:</p><ul>{scopes}</ul>
<p>Organisations to connect:</p><ul>{boxes}</ul>
<button type="submit" name="decision" value="allow">Allow access</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form><p><small>Xero sandbox (learnerledger). This page stands in for login.xero.com.</small></p>
</body></html>"""

    # -- connections ------------------------------------------------------------------------

    async def connections(self, request: Request) -> Response:
        claims = self.authenticate(request.headers.get("authorization"))
        if isinstance(claims, Response):
            return claims
        event = request.query_params.get("authEventId")
        sql = (
            "SELECT c.*, o.name FROM connections c JOIN organisations o USING (tenant_id) "
            "WHERE c.client_id = ?"
        )
        args: list[Any] = [claims.client_id]
        if event:
            sql += " AND c.auth_event_id = ?"
            args.append(event)
        with self.store.read() as conn:
            rows = conn.execute(sql + " ORDER BY c.created_ms, o.name", args).fetchall()
        return json_response(
            [
                {
                    "id": r["id"],
                    "authEventId": r["auth_event_id"],
                    "tenantId": r["tenant_id"],
                    "tenantType": "ORGANISATION",
                    "tenantName": r["name"],
                    "createdDateUtc": iso_utc(r["created_ms"]),
                    "updatedDateUtc": iso_utc(r["updated_ms"]),
                }
                for r in rows
            ]
        )

    async def delete_connection(self, request: Request) -> Response:
        claims = self.authenticate(request.headers.get("authorization"))
        if isinstance(claims, Response):
            return claims
        with self.store.tx() as conn:
            deleted = conn.execute(
                "DELETE FROM connections WHERE id = ? AND client_id = ?",
                (request.path_params["id"], claims.client_id),
            ).rowcount
        if not deleted:
            return not_found()
        return Response(status_code=204)

    def connected(self, client_id: str, tenant_id: str) -> bool:
        with self.store.read() as conn:
            return (
                conn.execute(
                    "SELECT 1 FROM connections WHERE client_id = ? AND tenant_id = ?",
                    (client_id, tenant_id),
                ).fetchone()
                is not None
            )

    def single_connection(self, client_id: str) -> str | None:
        """The tenant of an app's only connection (custom connections need no tenant header)."""
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT tenant_id FROM connections WHERE client_id = ? LIMIT 2", (client_id,)
            ).fetchall()
        return rows[0]["tenant_id"] if len(rows) == 1 else None


def _redirect_allowed(uri: str) -> bool:
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.netloc:
        return True
    return parts.scheme == "http" and (parts.hostname or "") in ("localhost", "127.0.0.1", "::1")


def _with_query(uri: str, **params: str) -> str:
    sep = "&" if urlsplit(uri).query else "?"
    return uri + sep + urlencode({k: v for k, v in params.items() if v})


def _consent_error(error: str, description: str) -> Response:
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{error}</title>'
        f"</head><body><h1>Sorry, something went wrong</h1><p><code>{html.escape(error)}</code>: "
        f"{html.escape(description)}</p></body></html>"
    )
    return HTMLResponse(page, status_code=400)
