"""Branding themes: ``GET /BrandingThemes`` and ``GET /BrandingThemes/{id}``, read-only as in
Xero, and the sandbox's stand-in for the one step the API cannot do: uploading a custom
(DOCX) invoice template in Xero's Invoice settings and making it the default.

Every organisation starts with Xero's "Standard" theme at ``SortOrder`` 0 (the default). A theme
added through ``POST /sandbox/organisations/{tenant}/branding-themes`` goes last, or first with
``"Default": true``; the others keep their order after it.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from starlette.responses import Response

from learnerledger.sandbox.xero.errors import not_found
from learnerledger.sandbox.xero.http import Call, Endpoint
from learnerledger.sandbox.xero.wire import from_json, json_response, ms_date, parse_guid

__all__ = ["STANDARD", "add_theme", "endpoints", "list_themes"]

STANDARD = "Standard"
_NAMESPACE = uuid.UUID("0b6f7a3e-5d1c-4f2a-9e8b-7c6d5e4f3a21")
_SETTINGS_READ = ("accounting.settings", "accounting.settings.read")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS branding_themes (
    tenant_id TEXT NOT NULL REFERENCES organisations(tenant_id),
    theme_id TEXT NOT NULL,
    name TEXT NOT NULL,
    sort_order INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, theme_id)
)
"""


def _ensure(conn: sqlite3.Connection, tenant_id: str, now_ms: int) -> None:
    conn.execute(_SCHEMA)
    if conn.execute(
        "SELECT 1 FROM branding_themes WHERE tenant_id = ? LIMIT 1", (tenant_id,)
    ).fetchone():
        return
    conn.execute(
        "INSERT INTO branding_themes (tenant_id, theme_id, name, sort_order, created_ms) "
        "VALUES (?, ?, ?, 0, ?)",
        (tenant_id, str(uuid.uuid5(_NAMESPACE, f"{tenant_id}:{STANDARD}")), STANDARD, now_ms),
    )


def _render(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "BrandingThemeID": row["theme_id"],
        "Name": row["name"],
        "LogoUrl": "",
        "Type": "INVOICE",
        "SortOrder": row["sort_order"],
        "CreatedDateUTC": ms_date(row["created_ms"]),
    }


def list_themes(
    conn: sqlite3.Connection, tenant_id: str, *, now_ms: int, theme_id: str | None = None
) -> list[dict[str, Any]]:
    """The organisation's themes in Xero's order (the default, ``SortOrder`` 0, first)."""
    _ensure(conn, tenant_id, now_ms)
    sql = "SELECT * FROM branding_themes WHERE tenant_id = ?"
    args: list[Any] = [tenant_id]
    if theme_id is not None:
        sql += " AND theme_id = ?"
        args.append(theme_id)
    rows = conn.execute(sql + " ORDER BY sort_order, name", args).fetchall()
    return [_render(r) for r in rows]


def add_theme(
    conn: sqlite3.Connection, tenant_id: str, name: str, *, default: bool, now_ms: int
) -> dict[str, Any]:
    """Add (or, by the same name, reorder) a theme, as uploading a DOCX template does."""
    _ensure(conn, tenant_id, now_ms)
    theme_id = str(uuid.uuid5(_NAMESPACE, f"{tenant_id}:{name}"))
    names = [
        str(r["theme_id"])
        for r in conn.execute(
            "SELECT theme_id FROM branding_themes WHERE tenant_id = ? AND theme_id != ? "
            "ORDER BY sort_order, name",
            (tenant_id, theme_id),
        )
    ]
    order = [theme_id, *names] if default else [*names, theme_id]
    conn.execute(
        "INSERT INTO branding_themes (tenant_id, theme_id, name, sort_order, created_ms) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, theme_id) DO NOTHING",
        (tenant_id, theme_id, name, len(order), now_ms),
    )
    for position, tid in enumerate(order):
        conn.execute(
            "UPDATE branding_themes SET sort_order = ? WHERE tenant_id = ? AND theme_id = ?",
            (position, tenant_id, tid),
        )
    return list_themes(conn, tenant_id, now_ms=now_ms, theme_id=theme_id)[0]


def parse_theme_request(body: bytes) -> tuple[str, bool] | str:
    """``{"Name": "...", "Default": true}`` as (name, default), or what is wrong with it."""
    try:
        data = from_json(body or b"{}")
        name = str(data["Name"]).strip()
        default = bool(data.get("Default", False))
    except (ValueError, KeyError, TypeError, AttributeError):
        return 'Send {"Name": "...", "Default": true|false}.'
    if not name or len(name) > 100:
        return "Name must be 1 to 100 characters."
    return name, default


def get_branding_themes(call: Call) -> Response:
    with call.store.tx() as conn:
        items = list_themes(conn, call.tenant_id, now_ms=call.now_ms)
    return json_response(call.envelope("BrandingThemes", items))


def get_branding_theme(call: Call) -> Response:
    guid = parse_guid(call.path_args[0])
    if guid is None:
        return not_found()
    with call.store.tx() as conn:
        items = list_themes(conn, call.tenant_id, now_ms=call.now_ms, theme_id=guid)
    if not items:
        return not_found()
    return json_response(call.envelope("BrandingThemes", items))


def endpoints() -> list[Endpoint]:
    return [
        Endpoint("GET", r"/BrandingThemes", get_branding_themes, _SETTINGS_READ),
        Endpoint("GET", r"/BrandingThemes/([^/]+)", get_branding_theme, _SETTINGS_READ),
    ]
