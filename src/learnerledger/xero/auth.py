"""Getting and keeping a Xero access token.

* :class:`IdentityClient` talks to Xero's identity service: ``client_credentials`` for custom
  connections, the authorization code (with PKCE) for OAuth apps, ``refresh_token`` with
  rotation, and ``/connections`` for the organisations a token may call.
* :class:`XeroAuth` is the ``httpx.Auth`` every API call goes through. It refreshes a token that
  is about to expire, or that Xero refused with 401, under a lock held in the store: two
  processes never refresh one token set at once (Xero would answer the loser ``invalid_grant``
  and the organisation would need reconnecting). The rotated refresh token is saved before the
  request is retried, and ``invalid_grant`` marks the connection "reconnect needed".
* :func:`authorize_in_browser` runs the authorization-code flow with PKCE: a consent URL, a
  loopback receiver for the redirect, the code exchanged for tokens.

Auth is for a synchronous ``httpx.Client``: refreshing touches the store and the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from learnerledger.errors import (
    LearnerLedgerError,
    ServerError,
    TransientError,
    UnexpectedResponse,
    XeroError,
)
from learnerledger.xero.connections import Endpoints, TokenSet, TokenStore
from learnerledger.xero.locks import StoreLock

__all__ = [
    "BROAD_SCOPES",
    "GRANULAR_SCOPES",
    "Consent",
    "ConsentRequest",
    "IdentityClient",
    "LoopbackReceiver",
    "Tenant",
    "XeroAuth",
    "authorize_in_browser",
    "finish_consent",
    "start_consent",
]

# What learnerledger asks for. Apps created before 2 March 2026 use the broad scopes; apps
# created since then must use the granular ones (accounting.transactions was split).
BROAD_SCOPES = (
    "offline_access",
    "accounting.contacts",
    "accounting.transactions",
    "accounting.settings.read",
)
GRANULAR_SCOPES = (
    "offline_access",
    "accounting.contacts",
    "accounting.invoices",
    "accounting.payments",
    "accounting.settings.read",
)

# Refresh this long before the token's stated expiry, so a call never leaves with a token
# that dies in flight (and clocks that differ a little do not matter).
EXPIRY_MARGIN_SECONDS = 120.0


@dataclass(frozen=True)
class Tenant:
    """One organisation a token may call (an entry of ``GET /connections``)."""

    tenant_id: str
    name: str
    tenant_type: str
    auth_event_id: str


class IdentityClient:
    """Calls to Xero's identity service. ``retries`` bounds attempts on timeouts and 5xx."""

    def __init__(
        self,
        http: httpx.Client,
        endpoints: Endpoints,
        *,
        retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.http = http
        self.endpoints = endpoints
        self.retries = max(1, retries)
        self.sleep = sleep
        self.clock = clock

    def client_credentials(self, client_id: str, client_secret: str) -> TokenSet:
        body = self._token_call(
            {"grant_type": "client_credentials"}, client_id, client_secret, "client_credentials"
        )
        return _token_set(
            "custom_connection", client_id, client_secret, body, now=self.clock(), previous=None
        )

    def exchange_code(
        self,
        code: str,
        *,
        redirect_uri: str,
        code_verifier: str,
        client_id: str,
        client_secret: str | None,
    ) -> TokenSet:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        body = self._token_call(form, client_id, client_secret, "authorization_code")
        return _token_set("oauth", client_id, client_secret, body, now=self.clock(), previous=None)

    def renew(self, tokens: TokenSet) -> TokenSet:
        """A fresh access token: by refresh token (OAuth) or by client credentials."""
        if tokens.auth_mode == "custom_connection":
            return self.client_credentials(tokens.client_id, tokens.client_secret or "")
        if not tokens.refresh_token:
            raise GrantRefused("invalid_grant", "no refresh token is stored")
        form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        body = self._token_call(form, tokens.client_id, tokens.client_secret, "refresh_token")
        return _token_set(
            "oauth", tokens.client_id, tokens.client_secret, body, now=self.clock(), previous=tokens
        )

    def connections(self, access_token: str, *, auth_event_id: str | None = None) -> list[Tenant]:
        params = {"authEventId": auth_event_id} if auth_event_id else None
        response = self._send(
            "GET",
            self.endpoints.connections,
            "GET /connections",
            params=params,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        if response.status_code != 200:
            raise XeroError(
                f"Xero's list of connected organisations answered {response.status_code}.",
                fix="Check the app's credentials and that an organisation was chosen.",
                request="GET /connections",
                status=response.status_code,
            )
        try:
            data = json.loads(response.content)
            return [
                Tenant(
                    tenant_id=str(item["tenantId"]),
                    name=str(item.get("tenantName") or item["tenantId"]),
                    tenant_type=str(item.get("tenantType") or "ORGANISATION"),
                    auth_event_id=str(item.get("authEventId") or ""),
                )
                for item in data
            ]
        except (ValueError, KeyError, TypeError):
            raise UnexpectedResponse(
                "Xero's list of connected organisations could not be read.",
                request="GET /connections",
            ) from None

    # -- internals ------------------------------------------------------------------------

    def _token_call(
        self, form: dict[str, str], client_id: str, client_secret: str | None, grant: str
    ) -> dict[str, Any]:
        auth: tuple[str, str] | None = None
        if client_secret:
            auth = (client_id, client_secret)
        else:
            form = {**form, "client_id": client_id}  # a PKCE app has no secret
        response = self._send(
            "POST", self.endpoints.token, f"POST /connect/token ({grant})", data=form, auth=auth
        )
        try:
            body = json.loads(response.content) if response.content else {}
        except ValueError:
            body = {}
        if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            return body
        error = str(body.get("error", "")) if isinstance(body, dict) else ""
        if error in ("invalid_grant", "invalid_client", "unauthorized_client"):
            raise GrantRefused(error, str(body.get("error_description") or ""))
        raise XeroError(
            f"Xero's token service refused the {grant} request "
            f"({response.status_code}{': ' + error if error else ''}).",
            fix="Check the client id, secret and scopes of the Xero app, then connect again.",
            request=f"POST /connect/token ({grant})",
            status=response.status_code,
        )

    def _send(self, method: str, url: str, label: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(1, self.retries + 1):
            try:
                response = self.http.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise TransientError(
                        f"Xero's identity service did not answer {label}: {type(exc).__name__}.",
                        fix="Check the network connection and try again.",
                        request=label,
                    ) from None
            else:
                if response.status_code < 500:
                    return response
                if attempt == self.retries:
                    raise ServerError(
                        f"Xero's identity service answered {response.status_code} to {label}.",
                        fix="Xero may be having an outage; try again later.",
                        request=label,
                        status=response.status_code,
                    )
            self.sleep(min(8.0, 0.5 * 2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover


class GrantRefused(LearnerLedgerError):
    """The identity service refused the grant itself: only a new consent helps."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"Xero refused the credentials ({error}).")
        self.error = error
        self.description = description


def _token_set(
    mode: str,
    client_id: str,
    client_secret: str | None,
    body: dict[str, Any],
    *,
    now: float,
    previous: TokenSet | None,
) -> TokenSet:
    try:
        expires_in = float(body.get("expires_in", 1800))
    except (TypeError, ValueError):
        expires_in = 1800.0
    return TokenSet(
        auth_mode=mode,
        client_id=client_id,
        client_secret=client_secret,
        access_token=str(body["access_token"]),
        expires_at=now + expires_in,
        # Xero rotates refresh tokens; keep the old one only if none came back.
        refresh_token=body.get("refresh_token") or (previous.refresh_token if previous else None),
        scope=str(body.get("scope") or (previous.scope if previous else "")),
    )


def token_claims(access_token: str) -> dict[str, Any]:
    """The claims of a JWT access token, unverified (only to read ``authentication_event_id``)."""
    try:
        payload = access_token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class XeroAuth(httpx.Auth):
    """Bearer auth for one connection, refreshing under the store's lock."""

    requires_response_body = True

    def __init__(
        self,
        tokens: TokenStore,
        identity: IdentityClient,
        lock: StoreLock,
        *,
        clock: Callable[[], float] = time.time,
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        self.tokens = tokens
        self.identity = identity
        self.lock = lock
        self.clock = clock
        self.on_retry = on_retry
        self._cached: TokenSet | None = None
        self._mutex = threading.Lock()  # threads of this process queue here, processes at the lock
        self.refreshes = 0  # refreshes this object performed (tests and reports)

    def _fresh(self, tokens: TokenSet | None) -> bool:
        return bool(
            tokens is not None
            and tokens.access_token
            and tokens.expires_at - EXPIRY_MARGIN_SECONDS > self.clock()
        )

    def access_token(self) -> str:
        cached = self._cached
        if cached is not None and self._fresh(cached):
            return str(cached.access_token)
        stored = self.tokens.load()  # another process may have refreshed already
        if self._fresh(stored):
            self._cached = stored
            return str(stored.access_token)
        return self.refresh(stale=stored.access_token)

    def refresh(self, *, stale: str | None) -> str:
        """A new access token, unless someone replaced ``stale`` meanwhile (then theirs)."""
        with self._mutex, self.lock.hold():
            stored = self.tokens.load()
            if stored.access_token != stale and self._fresh(stored):
                self._cached = stored
                return str(stored.access_token)
            try:
                renewed = self.identity.renew(stored)
            except GrantRefused as exc:
                detail = (
                    f"Xero refused its saved credentials ({exc.error}) on "
                    f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(self.clock()))}: "
                    + (
                        "the client secret is wrong or was regenerated."
                        if stored.auth_mode == "custom_connection"
                        else "the refresh token expired (60 days unused), was revoked, or "
                        "the app was disconnected."
                    )
                )
                self.tokens.mark_reconnect_needed(detail)
                raise self.tokens.reconnect_error(detail) from None
            # Saved before any request is retried: the old refresh token is now spent.
            self.tokens.save(renewed)
            self._cached = renewed
            self.refreshes += 1
            return str(renewed.access_token)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            # Expired early, revoked, or refreshed elsewhere: one fresh token, one retry.
            token = self.refresh(stale=token)
            if self.on_retry is not None:
                self.on_retry()
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


# -- the authorization-code flow ------------------------------------------------------------


@dataclass(frozen=True)
class Consent:
    """The outcome of a consent in the browser: the tokens and the organisations granted."""

    tokens: TokenSet
    tenants: list[Tenant]


class LoopbackReceiver:
    """A one-shot HTTP server on 127.0.0.1 that receives the redirect after consent.
    ``port=0`` picks a free port (Xero itself needs the exact redirect URI registered)."""

    def __init__(self, port: int = 8765, path: str = "/callback") -> None:
        self.path = path
        self._result: dict[str, str] | None = None
        self._done = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != receiver.path:
                    self.send_error(404)
                    return
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                ok = "code" in params
                page = (
                    "<h1>Connected</h1><p>learnerledger received Xero's answer; "
                    "you can close this window.</p>"
                    if ok
                    else "<h1>Not connected</h1><p>Xero did not grant access; see the "
                    "terminal for what to do.</p>"
                )
                body = f'<!doctype html><meta charset="utf-8">{page}'.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                receiver._result = params
                receiver._done.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the query string holds the code: keep it out of the terminal

        try:
            self._server = HTTPServer(("127.0.0.1", port), Handler)
        except OSError as exc:
            raise XeroError(
                f"Cannot listen on 127.0.0.1:{port} for Xero's redirect: {exc.strerror or exc}.",
                fix="Pass --port with a free port that is registered as a redirect URI "
                "(http://localhost:PORT/callback) of the Xero app.",
            ) from None
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def redirect_uri(self) -> str:
        return f"http://localhost:{self.port}{self.path}"

    def _serve(self) -> None:
        while not self._done.is_set():
            self._server.handle_request()

    def start(self) -> LoopbackReceiver:
        self._server.timeout = 0.2
        self._thread.start()
        return self

    def wait(self, timeout: float) -> dict[str, str]:
        try:
            if not self._done.wait(timeout):
                raise XeroError(
                    f"No answer from Xero's consent page within {timeout:.0f} seconds.",
                    fix="Run the command again and complete the consent in the browser.",
                )
            return dict(self._result or {})
        finally:
            self._done.set()
            self._thread.join(timeout=2)
            self._server.server_close()


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)[:96]  # 43-128 characters of [A-Za-z0-9-._~]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class ConsentRequest:
    """One consent asked for: the URL to send the person to, and what checks the answer
    (``state``) and proves the code is ours (the PKCE ``verifier``). Keep it server-side."""

    url: str
    redirect_uri: str
    state: str
    verifier: str = field(repr=False)


def start_consent(
    endpoints: Endpoints, *, client_id: str, redirect_uri: str, scopes: tuple[str, ...]
) -> ConsentRequest:
    """The consent page's URL for the authorization-code flow with PKCE (S256)."""
    verifier, challenge = _pkce_pair()
    state = secrets.token_urlsafe(24)
    url = (
        endpoints.authorize
        + "?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "scope": " ".join(scopes),
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
    )
    return ConsentRequest(url=url, redirect_uri=redirect_uri, state=state, verifier=verifier)


def finish_consent(
    identity: IdentityClient,
    request: ConsentRequest,
    answer: dict[str, str],
    *,
    client_id: str,
    client_secret: str | None,
    retry: str = "Run the command again",
) -> Consent:
    """Check the redirect's answer against ``request``, exchange its code for tokens, and
    list the organisations granted. ``retry`` starts each message's fix."""
    if not secrets.compare_digest(answer.get("state", ""), request.state):
        raise XeroError(
            "The answer from Xero's consent page does not match this request (state differs).",
            fix=f"{retry}; do not reuse an old consent link.",
        )
    if "code" not in answer:
        error = answer.get("error", "no code")
        raise XeroError(
            f"Xero did not grant access ({error}).",
            fix=f"{retry} and choose Allow access on Xero's page.",
        )
    try:
        tokens = identity.exchange_code(
            answer["code"],
            redirect_uri=request.redirect_uri,
            code_verifier=request.verifier,
            client_id=client_id,
            client_secret=client_secret,
        )
    except GrantRefused as exc:
        raise XeroError(
            f"Xero refused to exchange the consent for tokens ({exc.error}).",
            fix="Check the client id and secret (and that the redirect URI is registered), "
            f"then {retry[0].lower() + retry[1:]}.",
        ) from None
    event = str(token_claims(tokens.access_token or "").get("authentication_event_id") or "")
    tenants = identity.connections(tokens.access_token or "", auth_event_id=event or None)
    return Consent(tokens=tokens, tenants=tenants)


def authorize_in_browser(
    identity: IdentityClient,
    *,
    client_id: str,
    client_secret: str | None,
    scopes: tuple[str, ...],
    receiver: LoopbackReceiver,
    open_url: Callable[[str], object],
    timeout: float = 300.0,
) -> Consent:
    """Show Xero's consent page, receive the redirect, exchange the code (PKCE, S256)."""
    request = start_consent(
        identity.endpoints, client_id=client_id, redirect_uri=receiver.redirect_uri, scopes=scopes
    )
    receiver.start()
    open_url(request.url)
    answer = receiver.wait(timeout)
    return finish_consent(
        identity, request, answer, client_id=client_id, client_secret=client_secret
    )
