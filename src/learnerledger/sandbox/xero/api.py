"""The Accounting API under ``/api.xro/2.0``: the checks every call goes through, then the
endpoints.

A call is answered in Xero's order: JSON only (``Accept: application/json``), a valid access
token (401), a connected organisation (403) and the scope the endpoint needs (403), the rate
limits (429, counted per organisation and app, and per app), the body size, the
``Idempotency-Key`` cache, and only then the endpoint. Every answer after authentication
carries ``X-DayLimit-Remaining``, ``X-MinLimit-Remaining`` and ``X-AppMinLimit-Remaining``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from learnerledger.sandbox.clock import Clock
from learnerledger.sandbox.xero import branding, documents
from learnerledger.sandbox.xero import contacts as contact_rules
from learnerledger.sandbox.xero.contacts import ContactQuery
from learnerledger.sandbox.xero.document_api import endpoints as document_endpoints
from learnerledger.sandbox.xero.errors import (
    POST_DATA_INVALID,
    VALIDATION,
    ApiError,
    api_exception,
    forbidden,
    not_found,
    validation_exception,
)
from learnerledger.sandbox.xero.faults import FaultRule, Faults
from learnerledger.sandbox.xero.http import (
    Call,
    Endpoint,
    Handler,
    guid_list_param,
    modified_since,
    page_params,
    pagination,
)
from learnerledger.sandbox.xero.identity import Identity
from learnerledger.sandbox.xero.organisation import list_accounts, render_organisation
from learnerledger.sandbox.xero.ratelimit import RateLimiter
from learnerledger.sandbox.xero.store import App, SandboxStore
from learnerledger.sandbox.xero.where import Field, compile_order, compile_where
from learnerledger.sandbox.xero.wire import json_response, parse_guid

__all__ = ["MAX_BODY_BYTES", "QUIET_HANG_UPS", "AccountingApi"]

_log = logging.getLogger(__name__)

MAX_BODY_BYTES = 3_500_000  # "A single POST ... has a size limit of 3.5MB"
IDEMPOTENCY_SECONDS = 360  # responses are kept for six minutes
MAX_IDEMPOTENCY_KEY = 128

_CONTACTS_READ = ("accounting.contacts", "accounting.contacts.read")
_CONTACTS_WRITE = ("accounting.contacts",)
_SETTINGS_READ = ("accounting.settings", "accounting.settings.read")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    scopes: tuple[str, ...]


@dataclass
class AccountingApi:
    store: SandboxStore
    clock: Clock
    identity: Identity
    limiter: RateLimiter
    latency_ms: int = 0
    faults: Faults = field(default_factory=Faults)
    routes: list[Route] = field(default_factory=list)

    def __post_init__(self) -> None:
        for endpoint in (*_endpoints(), *document_endpoints(), *branding.endpoints()):
            self.add(endpoint)

    def add(self, endpoint: Endpoint) -> None:
        """Serve an endpoint (paths match case-insensitively, as Xero's do)."""
        pattern = re.compile("^" + endpoint.path + "/?$", re.IGNORECASE)
        self.routes.append(Route(endpoint.method, pattern, endpoint.handler, endpoint.scopes))

    def _match(self, method: str, path: str) -> tuple[Route | None, tuple[str, ...], bool]:
        path_known = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m:
                path_known = True
                if route.method == method:
                    return route, m.groups(), True
        return None, (), path_known

    async def handle(self, request: Request) -> Response:
        if "application/json" not in request.headers.get("accept", "").lower():
            return PlainTextResponse(
                "The learnerledger Xero sandbox answers in JSON only: send "
                "'Accept: application/json' (Xero itself would answer in XML).",
                status_code=406,
            )
        claims = self.identity.authenticate(request.headers.get("authorization"))
        if isinstance(claims, Response):
            return claims
        app = self.store.app(claims.client_id)
        if app is None:
            return forbidden()
        tenant_id = request.headers.get("xero-tenant-id", "").strip()
        if not tenant_id and app.kind == "custom":
            tenant_id = self.identity.single_connection(app.client_id) or ""
        tenant_id = parse_guid(tenant_id) or tenant_id
        if not tenant_id or not self.identity.connected(app.client_id, tenant_id):
            return forbidden()
        path = "/" + request.path_params.get("path", "")
        route, args, path_known = self._match(request.method, path)
        if route is None:
            if path_known:
                return api_exception(
                    (22, "MethodNotAllowedException"),
                    f"The method '{request.method}' is not allowed on this endpoint.",
                    405,
                )
            return not_found()
        if not set(route.scopes) & set(claims.scopes):
            return forbidden("AuthorizationUnsuccessful")

        try:
            body = await request.body()
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read an answer
        decision = self.limiter.acquire(app.client_id, tenant_id)
        if not decision.allowed:
            return PlainTextResponse(
                "Rate limit exceeded", status_code=429, headers=decision.headers
            )
        try:
            if self.latency_ms:
                await asyncio.sleep(self.latency_ms / 1000)
            fired = self.faults.fire(request.method, path)
            response = await self._faulty(request, body, app, tenant_id, route, args, fired)
        finally:
            self.limiter.release(app.client_id, tenant_id)
        response.headers.update(decision.headers)
        return response

    async def _faulty(
        self,
        request: Request,
        body: bytes,
        app: App,
        tenant_id: str,
        route: Route,
        args: tuple[str, ...],
        fired: list[FaultRule],
    ) -> Response:
        """Answer the call, shaped by any injected faults (see ``faults.py``)."""
        kinds = {rule.kind: rule for rule in fired}
        if "hold" not in kinds:
            return await self._shaped(request, body, app, tenant_id, route, args, kinds)
        path = "/" + request.path_params.get("path", "")
        async with self.faults.holding(request.method, path) as then:
            if then == "drop":
                return _HangUp(fault="hold")
            return await self._shaped(request, body, app, tenant_id, route, args, kinds)

    async def _shaped(
        self,
        request: Request,
        body: bytes,
        app: App,
        tenant_id: str,
        route: Route,
        args: tuple[str, ...],
        kinds: dict[str, FaultRule],
    ) -> Response:
        if "status" in kinds:
            return _fault_status(kinds["status"])
        if "delay" in kinds:
            await asyncio.sleep(kinds["delay"].seconds)
        response = await self._answer(request, body, app, tenant_id, route, args)
        if "drop" in kinds:
            return _HangUp(fault="drop", status_code=response.status_code)
        if "corrupt" in kinds:
            response = _corrupt(response)
        if "delay" in kinds:
            response.headers["X-Sandbox-Fault"] = "delay"
        return response

    async def _answer(
        self,
        request: Request,
        body: bytes,
        app: App,
        tenant_id: str,
        route: Route,
        args: tuple[str, ...],
    ) -> Response:
        if len(body) > MAX_BODY_BYTES:
            return api_exception(
                POST_DATA_INVALID,
                f"The request body is {len(body):,} bytes; a request may carry at most "
                f"{MAX_BODY_BYTES:,} bytes (3.5 MB). Send fewer items per request.",
            )
        call = Call(
            method=request.method,
            app=app,
            tenant_id=tenant_id,
            params={k.lower(): v for k, v in request.query_params.items()},
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            path_args=args,
            now_ms=self.clock.now_ms(),
            store=self.store,
        )
        key = request.headers.get("idempotency-key")
        if key is None or request.method == "GET":
            return await run_in_threadpool(_run, route.handler, call)
        return await run_in_threadpool(self._idempotent, key, request, route, call)

    def _idempotent(self, key: str, request: Request, route: Route, call: Call) -> Response:
        if len(key) > MAX_IDEMPOTENCY_KEY:
            return api_exception(
                VALIDATION, f"The Idempotency-Key is longer than {MAX_IDEMPOTENCY_KEY} characters."
            )
        fingerprint = hashlib.sha256(
            "\n".join(
                [
                    call.method,
                    request.url.path.lower(),
                    call.tenant_id,
                    json.dumps(sorted(call.params.items())),
                    hashlib.sha256(call.body).hexdigest(),
                ]
            ).encode()
        ).hexdigest()
        with self.store.tx() as conn:
            row = conn.execute(
                "SELECT * FROM idempotency WHERE client_id = ? AND key = ?",
                (call.app.client_id, key),
            ).fetchone()
            if row is not None and call.now_ms - row["created_ms"] > IDEMPOTENCY_SECONDS * 1000:
                conn.execute(
                    "DELETE FROM idempotency WHERE client_id = ? AND key = ?",
                    (call.app.client_id, key),
                )
                row = None
            if row is not None:
                if row["fingerprint"] != fingerprint:
                    return api_exception(
                        VALIDATION, f"Idempotency Key: {key} is used with a different request."
                    )
                return Response(
                    row["body"], status_code=row["status"], media_type=row["media_type"]
                )
            response = _run(route.handler, call)
            if response.status_code < 500:
                conn.execute(
                    "INSERT INTO idempotency (client_id, key, fingerprint, status, media_type, "
                    "body, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        call.app.client_id,
                        key,
                        fingerprint,
                        response.status_code,
                        response.media_type or "application/json",
                        bytes(response.body),
                        call.now_ms,
                    ),
                )
        return response


class _HungUp(Exception):
    """Raised by ``_HangUp`` once its answer has started: the server then closes the
    connection, and the client never gets the body."""


class _HangUp(Response):
    """An answer that never arrives: the status line and headers go out (an ASGI app cannot
    close a connection before that), then the connection is closed before the promised body,
    so the client sees a transport error at once instead of waiting for a timeout."""

    def __init__(self, *, fault: str, status_code: int = 200) -> None:
        super().__init__(status_code=status_code, headers={"X-Sandbox-Fault": fault})
        self.headers["content-length"] = "1"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        raise _HungUp


class _QuietHangUps(logging.Filter):
    """The server reports an app that raised after starting an answer; a deliberate hang-up
    is not an error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _HungUp))


QUIET_HANG_UPS = _QuietHangUps()


def _fault_status(rule: FaultRule) -> Response:
    headers = {"X-Sandbox-Fault": "status"}
    if rule.status == 429:
        headers.update({"Retry-After": str(rule.retry_after), "X-Rate-Limit-Problem": rule.problem})
        return PlainTextResponse("Rate limit exceeded", status_code=429, headers=headers)
    if rule.status == 503:
        return PlainTextResponse("The service is unavailable.", status_code=503, headers=headers)
    return _internal_error(rule.status, headers)


def _internal_error(status: int, headers: dict[str, str]) -> Response:
    response = api_exception(
        (23, "InternalServerException"),
        "An error occurred in Xero. Check the API Status page http://status.developer.xero.com "
        "for current service status.",
        status,
    )
    response.headers.update(headers)
    return response


def _corrupt(response: Response) -> Response:
    """Make the first record of the answer's list malformed (bad id and date, wrong types)."""
    try:
        body = json.loads(bytes(response.body))
    except ValueError:
        return response
    for key, value in body.items() if isinstance(body, dict) else []:
        if isinstance(value, list) and value and isinstance(value[0], dict) and key[0].isupper():
            first = value[0]
            for id_key in [k for k in first if k.endswith("ID")][:1]:
                first[id_key] = "not-a-guid"
            for date_key in [k for k in first if k.startswith("UpdatedDate")]:
                first[date_key] = "/Date(not-a-date)/"
            first["Name"] = {"unexpected": "object"}
            break
    corrupted = json_response(body, response.status_code)
    for name, value in response.headers.items():
        if name.lower().startswith("x-"):
            corrupted.headers[name] = value
    corrupted.headers["X-Sandbox-Fault"] = "corrupt"
    return corrupted


def _run(handler: Handler, call: Call) -> Response:
    try:
        return handler(call)
    except ApiError as exc:
        return exc.response
    except Exception:
        # A sandbox bug: answer as Xero does when it fails, and keep the traceback in the log.
        _log.exception("sandbox error on %s", call.method)
        return _internal_error(500, {})


def _endpoints() -> list[Endpoint]:
    """The contact, organisation and account endpoints (the documents' are in document_api)."""
    return [
        Endpoint("GET", r"/Contacts", get_contacts, _CONTACTS_READ),
        Endpoint("PUT", r"/Contacts", put_contacts, _CONTACTS_WRITE),
        Endpoint("POST", r"/Contacts", post_contacts, _CONTACTS_WRITE),
        Endpoint("GET", r"/Contacts/([^/]+)", get_contact, _CONTACTS_READ),
        Endpoint("POST", r"/Contacts/([^/]+)", post_contact, _CONTACTS_WRITE),
        Endpoint("GET", r"/Organisation", get_organisation, _SETTINGS_READ + _CONTACTS_READ),
        Endpoint("GET", r"/Accounts", get_accounts, _SETTINGS_READ),
        Endpoint("GET", r"/Accounts/([^/]+)", get_account, _SETTINGS_READ),
    ]


# -- contacts -------------------------------------------------------------------------------


def get_contacts(call: Call) -> Response:
    page, page_size = page_params(call)
    query = ContactQuery(
        where=call.params.get("where") or None,
        order=call.params.get("order") or None,
        ids=guid_list_param(call, "IDs"),
        page=page,
        page_size=page_size,
        include_archived=call.flag("includeArchived"),
        search_term=call.params.get("searchterm") or None,
        modified_since_ms=modified_since(call),
    )
    summary = call.flag("summaryOnly")
    with call.store.read() as conn:
        rows, total = contact_rules.list_contacts(conn, call.tenant_id, query)
        # Balances come with the fields only paged reads show; summaryOnly leaves them out.
        owed = (
            documents.balances(
                conn,
                call.tenant_id,
                [row.contact_id for row in rows],
                today=documents.org_today(call.now_ms),
            )
            if page is not None and not summary
            else {}
        )
    items = [
        contact_rules.render(
            row, extended=page is not None, summary=summary, balances=owed.get(row.contact_id)
        )
        for row in rows
    ]
    body = call.envelope("Contacts", items)
    if page is not None:
        body = {**body, "pagination": pagination(page, page_size, total)}
        body = {
            k: body[k]
            for k in ("Id", "Status", "ProviderName", "DateTimeUTC", "pagination", "Contacts")
        }
    return json_response(body)


def get_contact(call: Call) -> Response:
    with call.store.read() as conn:
        row = contact_rules.contact_by_id_or_number(conn, call.tenant_id, call.path_args[0])
        if row is None:
            return not_found()
        owed = documents.balances(
            conn, call.tenant_id, [row.contact_id], today=documents.org_today(call.now_ms)
        )
    item = contact_rules.render(row, extended=True, balances=owed[row.contact_id])
    return json_response(call.envelope("Contacts", [item]))


def _write_contacts(call: Call, mode: str, target_id: str | None = None) -> Response:
    submitted = contact_rules.parse_body(call.body)
    if mode == "update":
        submitted = submitted[:1]
    summarize = call.summarize_errors
    results: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    with call.store.tx() as conn:
        for sub in submitted:
            outcome = contact_rules.write_contact(
                conn, call.tenant_id, sub, mode=mode, now_ms=call.now_ms, target_id=target_id
            )
            if outcome.row is not None:
                item = contact_rules.render(outcome.row, extended=True)
                if not summarize:
                    item["StatusAttributeString"] = "OK"
                results.append(item)
            else:
                element = {
                    **sub.echo(),
                    "HasValidationErrors": True,
                    "ValidationErrors": [{"Message": m} for m in outcome.errors],
                }
                if not summarize:
                    element["StatusAttributeString"] = "ERROR"
                results.append(element)
                failed.append(element)
    if summarize and failed:
        # Xero's default: one 400 naming the failures; the valid contacts were still saved.
        return validation_exception(failed)
    return json_response(call.envelope("Contacts", results))


def put_contacts(call: Call) -> Response:
    return _write_contacts(call, "create")


def post_contacts(call: Call) -> Response:
    return _write_contacts(call, "upsert")


def post_contact(call: Call) -> Response:
    key = call.path_args[0]
    guid = parse_guid(key)
    with call.store.read() as conn:
        row = contact_rules.get_row(conn, call.tenant_id, guid) if guid else None
    if row is None:
        return not_found()
    return _write_contacts(call, "update", target_id=row.contact_id)


# -- organisation and accounts -----------------------------------------------------------


def get_organisation(call: Call) -> Response:
    org = call.store.organisation(call.tenant_id)
    if org is None:
        return not_found()
    return json_response(call.envelope("Organisations", [render_organisation(org)]))


def _account_field(path: str) -> Field | None:
    names = {
        "accountid": ("AccountID", "guid"),
        "code": ("Code", "string"),
        "name": ("Name", "string"),
        "type": ("Type", "string"),
        "status": ("Status", "string"),
        "taxtype": ("TaxType", "string"),
        "class": ("Class", "string"),
        "bankaccounttype": ("BankAccountType", "string"),
        "bankaccountnumber": ("BankAccountNumber", "string"),
        "enablepaymentstoaccount": ("EnablePaymentsToAccount", "bool"),
        "systemaccount": ("SystemAccount", "string"),
    }
    found = names.get(path.lower())
    if found is None:
        return None
    return Field(f"json_extract(data, '$.{found[0]}')", found[1])


def get_accounts(call: Call) -> Response:
    where_sql, params = "1 = 1", list[Any]()
    if call.params.get("where"):
        where_sql, params = compile_where(call.params["where"], _account_field, "Account")
    order = (
        compile_order(call.params["order"], _account_field, "Account")
        if call.params.get("order")
        else None
    )
    with call.store.read() as conn:
        items = list_accounts(
            conn,
            call.tenant_id,
            where_sql=where_sql,
            params=params,
            order=order,
            modified_since_ms=modified_since(call),
        )
    return json_response(call.envelope("Accounts", items))


def get_account(call: Call) -> Response:
    guid = parse_guid(call.path_args[0])
    if guid is None:
        return not_found()
    with call.store.read() as conn:
        items = list_accounts(conn, call.tenant_id, where_sql="account_id = ?", params=[guid])
    if not items:
        return not_found()
    return json_response(call.envelope("Accounts", items))
