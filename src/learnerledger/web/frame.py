"""The page frame every page and API answer goes through: the navigation, the guard
(sessions, tokens, roles), CSRF checks on forms, rendering with Jinja2, and notices.

A handler wrapped in :func:`page` gets the form already checked against its session's CSRF
token and runs on a worker thread (the store and the APIs are synchronous); a
:class:`~learnerledger.errors.LearnerLedgerError` it raises becomes a notice on the page the
form came from, never a traceback.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from learnerledger import __version__
from learnerledger.errors import LearnerLedgerError
from learnerledger.merge.money import dollars
from learnerledger.web.auth import Session, Users, same_secret

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "HERE",
    "LOGIN_CSRF_COOKIE",
    "NAV",
    "Flash",
    "Guard",
    "back",
    "environment",
    "page",
    "render",
    "secure",
    "server_error",
]

log = logging.getLogger("learnerledger.web")

COOKIE = "learnerledger_session"
LOGIN_CSRF_COOKIE = "learnerledger_login_csrf"
CSRF_FIELD = "csrf_token"
HERE = Path(__file__).parent

# The page frame's navigation, in order. A later page (an address and its title) slots in here.
NAV: list[tuple[str, str]] = [
    ("/", "Dashboard"),
    ("/learners", "Learners"),
    ("/duplicates", "Duplicates"),
    ("/merge", "Merge"),
    ("/documents", "Documents"),
    ("/history", "History"),
    ("/settings", "Settings"),
]

_PUBLIC = ("/login", "/static/")
_SAFE_METHODS = ("GET", "HEAD")
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The OAuth callback's query holds a code: no other site may see it in a Referer.
    "Referrer-Policy": "same-origin",
}


class Flash:
    """Notices shown once on the next page a session sees ("3 pairs confirmed.")."""

    def __init__(self) -> None:
        self._notes: dict[str, list[tuple[str, str]]] = {}
        self._lock = threading.Lock()

    def add(self, session: Session | None, kind: str, text: str) -> None:
        if session is None:
            return
        with self._lock:
            self._notes.setdefault(session.key, []).append((kind, text))

    def take(self, session: Session | None) -> list[tuple[str, str]]:
        if session is None:
            return []
        with self._lock:
            return self._notes.pop(session.key, [])


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


class Guard(BaseHTTPMiddleware):
    """Sessions, tokens and roles for every request; a log line per request without its query
    (which may hold an OAuth code) and never a cookie or a header."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        started = time.monotonic()
        response = await self._dispatch(request, call_next)
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        user = getattr(request.state, "user", None)
        log.info(
            "%s %s %d %s %.0fms",
            request.method,
            request.url.path,
            response.status_code,
            user.name if user else "-",
            (time.monotonic() - started) * 1000,
        )
        return response

    async def _dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        users: Users = request.app.state.users
        path = request.url.path
        request.state.session = None
        request.state.user = None
        token = _bearer(request)
        if token is not None and _is_api(path):
            user = await run_in_threadpool(users.token_user, token)
            if user is None:
                return _unauthorised("The API token is not known.")
            if request.method not in _SAFE_METHODS:
                return _refused_json("The API only reads; use the web pages to change things.")
            request.state.user = user
            return await call_next(request)
        session = await run_in_threadpool(users.session, request.cookies.get(COOKIE))
        request.state.session = session
        request.state.user = session.user if session else None
        if path.startswith(_PUBLIC):
            return await call_next(request)
        if session is None:
            if _is_api(path):
                return _unauthorised("Sign in first, or send a bearer token.")
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        if (
            request.method not in _SAFE_METHODS
            and session.user.role != "admin"
            and path != "/logout"  # a viewer may always sign out
        ):
            message = f"{session.user.name} is a viewer: viewers can look but not change anything."
            if _is_api(path):
                return _refused_json(message)
            return render(request, "refused.html", {"message": message}, status_code=403)
        return await call_next(request)


def _unauthorised(message: str) -> Response:
    return JSONResponse(
        {"error": "unauthorised", "message": message},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="learnerledger"'},
    )


def _refused_json(message: str) -> Response:
    return JSONResponse({"error": "forbidden", "message": message}, status_code=403)


# -- rendering --------------------------------------------------------------------------------


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = lambda n: f"{int(n or 0):,}"
    env.filters["label"] = lambda s: str(s or "").replace("_", " ")
    env.filters["when"] = _when
    env.filters["money"] = _money
    env.filters["dollars"] = lambda value: dollars(Decimal(str(value or 0)))
    return env


def _money(value: Any) -> str:
    """An amount (a Decimal, or its text) with thousands separators: "1,234.50"."""
    if value is None or value == "":
        return ""
    return f"{Decimal(str(value)):,.2f}"


def _when(value: Any) -> str:
    text = str(value or "")
    return text.replace("T", " ").replace("+00:00", " UTC") if text else ""


def render(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    app = request.app
    session: Session | None = request.state.session
    body = app.state.templates.get_template(template).render(
        request=request,
        path=request.url.path,
        nav=NAV,
        user=request.state.user,
        admin=bool(request.state.user and request.state.user.role == "admin"),
        csrf=session.csrf if session else "",
        csrf_field=CSRF_FIELD,
        notices=app.state.flash.take(session),
        version=__version__,
        **context,
    )
    return HTMLResponse(body, status_code=status_code)


async def server_error(request: Request, exc: Exception) -> Response:
    """A bug: logged with its traceback, shown as a plain apology (no traceback, no detail)."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Something went '
        "wrong · learnerledger</title></head><body><main><h1>Something went wrong</h1><p>The "
        "page could not be shown. Nothing you sent was lost; try again, and if it happens "
        'again see the server\'s log.</p><p><a href="/">Back to the dashboard</a></p></main>'
        "</body></html>"
    )
    return HTMLResponse(body, status_code=500)


def back(request: Request, default: str) -> str:
    """Where a form returns to: the page it came from (this site's), else ``default``."""
    referer = request.headers.get("referer", "")
    parts = urlsplit(referer)
    if parts.netloc and parts.netloc == request.url.netloc and parts.path.startswith("/"):
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return default


Handler = Callable[[Request, FormData | None], Response]


def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: a form's CSRF token is checked before it runs; the handler runs on a
    worker thread (the store and the APIs are synchronous); a LearnerLedgerError becomes a
    notice (forms: on the page they came from) or an error page."""

    async def endpoint(request: Request) -> Response:
        form: FormData | None = None
        session: Session | None = request.state.session
        if request.method not in _SAFE_METHODS:
            form = await request.form()
            given = form.get(CSRF_FIELD)
            if session is None or not same_secret(
                given if isinstance(given, str) else None, session.csrf
            ):
                return render(
                    request,
                    "refused.html",
                    {
                        "message": "This form has expired or did not come from this site. "
                        "Nothing was changed: open the page again and resend it."
                    },
                    status_code=403,
                )
        try:
            return await run_in_threadpool(handler, request, form)
        except LearnerLedgerError as exc:
            if form is not None:
                request.app.state.flash.add(session, "error", str(exc))
                return RedirectResponse(back(request, request.url.path), status_code=303)
            return render(request, "error.html", {"message": str(exc)}, status_code=400)

    endpoint.__name__ = handler.__name__
    return endpoint
