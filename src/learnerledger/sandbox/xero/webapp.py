"""What a person does in Xero's web app, kept apart from the API under ``/sandbox/...``.

Xero's API cannot merge contacts; people do it on Xero's Contacts screen. The sandbox offers
that screen (alphabetical contact pages, a contact's page with a Merge form) and the same
actions as JSON for scripts and tests, plus the sandbox's own controls: its clock, its
organisations and the seed's ground truth. None of it needs a token: the sandbox listens on
loopback only.
"""

from __future__ import annotations

import html
import json
import math
import sqlite3
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from learnerledger.sandbox.clock import Clock
from learnerledger.sandbox.xero import branding, documents
from learnerledger.sandbox.xero import contacts as contact_rules
from learnerledger.sandbox.xero.contacts import ContactQuery
from learnerledger.sandbox.xero.faults import THEN, Faults, parse_rules
from learnerledger.sandbox.xero.money import from_cents
from learnerledger.sandbox.xero.organisation import ensure_chart
from learnerledger.sandbox.xero.store import SandboxStore
from learnerledger.sandbox.xero.wire import date_of_ms, json_response, parse_guid

__all__ = ["MergeRefused", "WebApp", "merge", "merge_in", "restore_in"]

_PAGE_SIZE = 100
MAX_HOLD_WAIT = 300  # seconds a /sandbox/faults/held request may wait


class MergeRefused(ValueError):
    """Xero's Merge (or Restore) screen would not offer this; the message says why."""


def merge(
    conn: sqlite3.Connection, tenant_id: str, source_id: str, target: str, *, now_ms: int
) -> contact_rules.ContactRow:
    """Merge ``source_id`` into ``target`` as Xero's web app does: the source is archived, its
    ``MergedToContactID`` names the target, and every document it had (paid or not, with its
    payments and allocations) now belongs to the target. ``target`` is a ContactID, or the
    Name of an active contact, as a person picks it on Xero's Merge screen."""
    target_id = parse_guid(target) or ""
    if not target_id:
        named = contact_rules.active_named(conn, tenant_id, target)
        if not named:
            raise MergeRefused(f"No active contact is named {target!r}.")
        if len(named) > 1:
            raise MergeRefused(f"{len(named)} active contacts are named {target!r}.")
        target_id = named[0].contact_id
    try:
        row = contact_rules.merge_contacts(conn, tenant_id, source_id, target_id, now_ms=now_ms)
    except ValueError as exc:
        raise MergeRefused(str(exc)) from None
    documents.move_documents(conn, tenant_id, row.contact_id, target_id)
    return row


def merge_in(
    store: SandboxStore, tenant_id: str, source_id: str, target: str, *, now_ms: int
) -> contact_rules.ContactRow:
    """``merge`` in a transaction of its own: all of it happens, or nothing."""
    with store.tx() as conn:
        return merge(conn, tenant_id, source_id, target, now_ms=now_ms)


def restore_in(
    store: SandboxStore, tenant_id: str, contact_id: str, *, now_ms: int
) -> contact_rules.ContactRow:
    """Xero's web-app Restore of an archived contact, in a transaction of its own."""
    with store.tx() as conn:
        try:
            return contact_rules.restore_contact(conn, tenant_id, contact_id, now_ms=now_ms)
        except ValueError as exc:
            raise MergeRefused(str(exc)) from None


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} · Xero sandbox</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}}
table{{border-collapse:collapse}}
td,th{{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:left}}
.archived{{color:#888}}.notice{{background:#fff3cd;padding:.5rem}}</style></head>
<body><p><a href="/sandbox">Xero sandbox</a></p>{body}</body></html>"""
    )


def _documents_table(held: list[documents.DocRow]) -> str:
    """A contact's invoices, credit notes, prepayments and overpayments, oldest first."""
    if not held:
        return "<h2>Documents</h2><p>No invoices, credit notes, prepayments or overpayments.</p>"
    lines = []
    for doc in held:
        kind = documents.KINDS[doc.kind]
        lines.append(
            f"<tr><td>{kind.label}</td><td>{html.escape(doc.type)}</td>"
            f"<td>{html.escape(doc.number or '')}</td>"
            f"<td>{date_of_ms(doc.date_ms).isoformat()}</td><td>{doc.status}</td>"
            f"<td>{from_cents(doc.total)}</td><td>{from_cents(doc.amount_due)}</td></tr>"
        )
    return (
        f"<h2>Documents</h2><p>{len(held)} documents.</p><table><tr><th>Document</th>"
        "<th>Type</th><th>Number</th><th>Date</th><th>Status</th><th>Total</th>"
        f"<th>Due or remaining</th></tr>{''.join(lines)}</table>"
    )


class WebApp:
    def __init__(self, store: SandboxStore, clock: Clock, faults: Faults) -> None:
        self.store = store
        self.clock = clock
        self.faults = faults

    # -- sandbox controls -------------------------------------------------------------------

    async def clock_endpoint(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                data = json.loads(await request.body() or b"{}")
                seconds = float(data.get("advance_seconds", 0))
                self.clock.advance(seconds)
            except (ValueError, TypeError, AttributeError):
                return json_response(
                    {"error": 'Send {"advance_seconds": N} with N zero or more.'}, 400
                )
        return json_response({"now_ms": self.clock.now_ms(), "offset_seconds": self.clock.offset})

    async def faults_endpoint(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.faults.clear()
        elif request.method == "POST":
            try:
                self.faults.set(parse_rules(json.loads(await request.body() or b"{}")))
            except ValueError as exc:
                return json_response({"error": str(exc)}, 400)
        return json_response({"rules": self.faults.describe()})

    async def held_calls(self, request: Request) -> Response:
        """The calls held by ``hold`` faults, once there are ``count`` of them (default 1);
        408 if that many are not held within ``timeout`` seconds (default 30)."""
        try:
            count = int(request.query_params.get("count", 1))
            timeout = float(request.query_params.get("timeout", 30))
        except ValueError:
            return json_response({"error": "count and timeout must be numbers."}, 400)
        if count < 0 or not 0 <= timeout <= MAX_HOLD_WAIT:
            return json_response(
                {"error": f"count must be zero or more, timeout 0 to {MAX_HOLD_WAIT} seconds."},
                400,
            )
        reached = await run_in_threadpool(self.faults.wait_held, count, timeout)
        held = self.faults.held()
        if not reached:
            error = f"{count} held calls were waited for; {len(held)} are held."
            return json_response({"error": error, "held": held}, 408)
        return json_response({"held": held})

    async def release_held(self, request: Request) -> Response:
        """Let the held calls go: ``{"then": "answer"}`` (default) or ``{"then": "drop"}``;
        answers once they have finished."""
        try:
            data = json.loads(await request.body() or b"{}")
            then = str(data.get("then", "answer"))
        except (ValueError, AttributeError):
            then = ""
        if then not in THEN:
            return json_response({"error": 'Send {"then": "answer"} or {"then": "drop"}.'}, 400)
        return json_response({"released": await self.faults.release(then)})

    async def organisations(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                data = json.loads(await request.body() or b"{}")
                name = str(data["Name"]).strip()
            except (ValueError, KeyError, TypeError):
                return json_response({"error": 'Send {"Name": "..."}.'}, 400)
            if not name:
                return json_response({"error": "Name must not be empty."}, 400)
            now = self.clock.now_ms()
            org = self.store.ensure_organisation(name, now_ms=now)
            with self.store.tx() as conn:
                ensure_chart(conn, org.tenant_id, now_ms=now)
        orgs = self.store.organisations()
        return json_response(
            [{"tenantId": o.tenant_id, "name": o.name, "shortCode": o.short_code} for o in orgs]
        )

    async def branding_themes(self, request: Request) -> Response:
        """The organisation's branding themes; a POST plays uploading a custom template in
        Xero's Invoice settings (``{"Name": ..., "Default": true}``)."""
        tenant_id = request.path_params["tenant"]
        if self.store.organisation(tenant_id) is None:
            return json_response({"error": f"No organisation {tenant_id}."}, 404)
        now = self.clock.now_ms()
        with self.store.tx() as conn:
            if request.method == "POST":
                parsed = branding.parse_theme_request(await request.body())
                if isinstance(parsed, str):
                    return json_response({"error": parsed}, 400)
                branding.add_theme(conn, tenant_id, parsed[0], default=parsed[1], now_ms=now)
            themes = branding.list_themes(conn, tenant_id, now_ms=now)
        return json_response(themes)

    async def truth(self, request: Request) -> Response:
        tenant_id = request.path_params["tenant"]
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT contact_id, person_ref, kind, variant FROM seed_truth WHERE tenant_id = ? "
                "ORDER BY contact_id",
                (tenant_id,),
            ).fetchall()
        return json_response([dict(r) for r in rows])

    # -- the Contacts screen ----------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        items = []
        with self.store.read() as conn:
            for org in self.store.organisations():
                counts = contact_rules.count_contacts(conn, org.tenant_id)
                items.append(
                    f'<li><a href="/sandbox/organisations/{org.tenant_id}/contacts">'
                    f"{html.escape(org.name)}</a> <code>{org.tenant_id}</code>: "
                    f"{counts['ACTIVE']} active contacts, {counts['ARCHIVED']} archived</li>"
                )
        return _page(
            "Organisations",
            "<h1>Xero sandbox</h1><p>Organisations (what a person sees in Xero's web app):</p>"
            f"<ul>{''.join(items)}</ul>",
        )

    async def contact_list(self, request: Request) -> Response:
        tenant_id = request.path_params["tenant"]
        org = self.store.organisation(tenant_id)
        if org is None:
            return _page("Not found", "<p>No such organisation.</p>")
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            page = 1
        term = request.query_params.get("q", "").strip()
        query = ContactQuery(
            page=page, page_size=_PAGE_SIZE, include_archived=True, search_term=term or None
        )
        with self.store.read() as conn:
            rows, total = contact_rules.list_contacts(conn, tenant_id, query)
        lines = []
        for row in rows:
            data = row.data
            status = row.status if not row.merged_to else f"merged into {row.merged_to[:8]}…"
            lines.append(
                f'<tr class="{row.status.lower()}"><td><a href="/sandbox/organisations/'
                f'{tenant_id}/contacts/{row.contact_id}">{html.escape(data.get("Name", ""))}</a>'
                f"</td><td>{html.escape(data.get('ContactNumber', ''))}</td>"
                f"<td>{html.escape(data.get('EmailAddress', ''))}</td><td>{status}</td></tr>"
            )
        pages = max(1, math.ceil(total / _PAGE_SIZE))
        q = f"&q={quote(term)}" if term else ""
        nav = " ".join(
            f'<a href="?page={p}{q}">{p}</a>' if p != page else f"<b>{p}</b>"
            for p in range(max(1, page - 5), min(pages, page + 5) + 1)
        )
        return _page(
            f"{org.name}: contacts",
            f"<h1>{html.escape(org.name)}: contacts</h1>"
            f'<form><input name="q" value="{html.escape(term)}" placeholder="Search">'
            f"<button>Search</button></form><p>{total} contacts, A to Z. Page {nav}</p>"
            "<table><tr><th>Name</th><th>Contact code</th><th>Email</th><th>Status</th></tr>"
            f"{''.join(lines)}</table>",
        )

    async def contact_page(self, request: Request) -> Response:
        tenant_id = request.path_params["tenant"]
        contact_id = parse_guid(request.path_params["contact"]) or ""
        with self.store.read() as conn:
            row = contact_rules.get_row(conn, tenant_id, contact_id)
            held = documents.documents_of_contact(conn, tenant_id, contact_id)
        if row is None:
            return _page("Not found", "<p>No such contact.</p>")
        notice = request.query_params.get("notice", "")
        data = row.data
        fields = "".join(
            f"<tr><th>{k}</th><td>{html.escape(str(data[k]))}</td></tr>"
            for k in (
                "Name",
                "FirstName",
                "LastName",
                "EmailAddress",
                "ContactNumber",
                "AccountNumber",
            )
            if data.get(k)
        )
        merged = (
            f'<p>Merged into <a href="/sandbox/organisations/{tenant_id}/contacts/{row.merged_to}">'
            f"{row.merged_to}</a>.</p>"
            if row.merged_to
            else ""
        )
        form = (
            f'<h2>Merge</h2><form method="post" '
            f'action="/sandbox/organisations/{tenant_id}/contacts/'
            f'{row.contact_id}/merge"><p>Merge <b>{html.escape(data.get("Name", ""))}</b> into '
            '<input name="target" size="40" required placeholder="the Name of the contact to '
            'keep (or its ContactID)"> <button>Merge</button></p><p>This contact will be '
            "archived and everything it holds will belong to the other contact. This cannot be "
            "undone.</p></form>"
            if row.status == "ACTIVE"
            else f'<form method="post" action="/sandbox/organisations/{tenant_id}/contacts/'
            f'{row.contact_id}/restore"><button>Restore</button> (make it active again; its '
            "documents stay where they are)</form>"
            if row.status == "ARCHIVED"
            else ""
        )
        warn = f'<p class="notice">{html.escape(notice)}</p>' if notice else ""
        return _page(
            data.get("Name", ""),
            f"<h1>{html.escape(data.get('Name', ''))}</h1>{warn}<p>ContactID "
            f"<code>{row.contact_id}</code>, {row.status.lower()}</p>{merged}"
            f"<table>{fields}</table>{_documents_table(held)}{form}",
        )

    async def _form_or_json(self, request: Request, field: str, key: str) -> tuple[bool, str]:
        is_form = request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        )
        if is_form:
            return True, str((await request.form()).get(field, ""))
        try:
            return False, str(json.loads(await request.body() or b"{}").get(key, ""))
        except (ValueError, AttributeError):
            return False, ""

    def _refused(self, tenant_id: str, contact: str, is_form: bool, exc: Exception) -> Response:
        if is_form:
            return RedirectResponse(
                f"/sandbox/organisations/{tenant_id}/contacts/{contact}?notice={quote(str(exc))}",
                303,
            )
        return json_response({"error": str(exc)}, 400)

    def _done(self, tenant_id: str, row: contact_rules.ContactRow, is_form: bool) -> Response:
        if is_form:
            return RedirectResponse(
                f"/sandbox/organisations/{tenant_id}/contacts/{row.contact_id}", 303
            )
        result: dict[str, Any] = {
            "ContactID": row.contact_id,
            "ContactStatus": row.status,
            "MergedToContactID": row.merged_to,
        }
        return json_response(result)

    async def merge_endpoint(self, request: Request) -> Response:
        """Xero's Merge: ``target`` (a form) or ``TargetContactID`` (JSON) is the contact to
        keep, by ContactID or by its Name as the Merge screen lets a person pick it."""
        tenant_id = request.path_params["tenant"]
        source = parse_guid(request.path_params["contact"]) or request.path_params["contact"]
        is_form, target = await self._form_or_json(request, "target", "TargetContactID")
        try:
            row = merge_in(
                self.store, tenant_id, source, target.strip(), now_ms=self.clock.now_ms()
            )
        except MergeRefused as exc:
            return self._refused(tenant_id, source, is_form, exc)
        return self._done(tenant_id, row, is_form)

    async def restore_endpoint(self, request: Request) -> Response:
        """Xero's Restore of an archived contact (Contacts › Archived › Restore)."""
        tenant_id = request.path_params["tenant"]
        contact = parse_guid(request.path_params["contact"]) or request.path_params["contact"]
        is_form = request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        )
        try:
            row = restore_in(self.store, tenant_id, contact, now_ms=self.clock.now_ms())
        except MergeRefused as exc:
            return self._refused(tenant_id, contact, is_form, exc)
        return self._done(tenant_id, row, is_form)
