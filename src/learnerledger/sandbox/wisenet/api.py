"""The Wisenet API v1 under ``/v1``: the checks every call goes through, then the endpoints.

A call is answered in this order: the path and method (404/405), the ``x-api-key`` header
(403), the usage limits (429), the JSON body (400/415), and only then the endpoint. Every
call is counted per endpoint (``/sandbox/calls``), so benchmarks can report calls made. A
``hold`` fault (``/sandbox/faults``) stops a chosen call before the endpoint runs, until a
test releases it to carry on or to be dropped undone.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from learnerledger.sandbox.clock import Clock
from learnerledger.sandbox.wisenet import model
from learnerledger.sandbox.wisenet.filters import Query, paging
from learnerledger.sandbox.wisenet.ratelimit import RateLimiter
from learnerledger.sandbox.wisenet.store import SandboxStore, dump
from learnerledger.sandbox.wisenet.wire import (
    ApiError,
    bad_request,
    format_ts,
    json_response,
    not_found,
)
from learnerledger.sandbox.xero.faults import Faults

__all__ = ["Call", "WisenetApi", "invoice_item"]

_NO_RESOURCE = "No HTTP resource was found that matches the request URI"


@dataclass
class Call:
    method: str
    path_args: dict[str, str]
    params: dict[str, str]  # names lower-cased: Wisenet's parameter names ignore case
    body: bytes
    content_type: str
    now_ms: int

    def param(self, name: str) -> str | None:
        return self.params.get(name.lower())

    def json(self) -> Any:
        if self.content_type and "json" not in self.content_type.lower():
            raise ApiError(
                json_response(
                    {
                        "Message": f"The request entity's media type '{self.content_type}' is "
                        "not supported for this resource."
                    },
                    415,
                )
            )
        try:
            return json.loads(self.body or b"null", parse_float=Decimal, parse_constant=_no_nan)
        except (ValueError, RecursionError) as exc:
            raise bad_request(f"The request body is not valid JSON: {exc}.") from None


def _no_nan(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


Handler = Callable[[Call], Response]


class WisenetApi:
    def __init__(
        self,
        store: SandboxStore,
        clock: Clock,
        limiter: RateLimiter,
        faults: Faults | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.limiter = limiter
        self.faults = faults or Faults()
        routes: list[tuple[str, dict[str, Handler]]] = [
            ("learnersAU", {"GET": self.list_learners, "POST": self.create_learners}),
            ("learnersAU/list", {"GET": self.list_learner_basics}),
            (
                "learnersAU/{id}",
                {"GET": self.get_learner, "PUT": self.put_learner, "PATCH": self.patch_learner},
            ),
            ("learnersAU/{id}/personal", {"GET": self.get_personal, "PUT": self.put_personal}),
            ("invoices", {"GET": self.list_invoices}),
            (
                "invoices/{id}",
                {"GET": self.get_invoice, "PUT": self.put_invoice, "DELETE": self.delete_invoice},
            ),
            ("workplaces", {"GET": self.list_workplaces, "POST": self.create_workplaces}),
            ("workplaces/{id}", {"GET": self.get_workplace, "PUT": self.put_workplace}),
            ("learner-positions", {"GET": self.list_positions, "POST": self.create_positions}),
            (
                "learner-positions/{id}",
                {
                    "GET": self.get_position,
                    "PUT": self.put_position,
                    "DELETE": self.delete_position,
                },
            ),
            ("combos/{name}", {"GET": self.combo}),
            ("entities", {"GET": self.entities}),
        ]
        self._routes = [
            (template, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"), h)
            for template, h in routes
        ]

    async def handle(self, request: Request) -> Response:
        path = request.path_params.get("path", "").strip("/")
        method = request.method.upper()
        found = None
        for template, pattern, handlers in self._routes:
            match = pattern.match(path)
            if match:
                found = template, match.groupdict(), handlers
                break
        if found is None:
            self.store.count_call(f"{method} (no such path)")
            return json_response({"Message": _NO_RESOURCE}, 404)
        template, args, handlers = found
        self.store.count_call(f"{method} /{template}")
        key = request.headers.get("x-api-key", "")
        api_key = self.store.find_key(key) if key else None
        if api_key is None:
            return json_response({"message": "Forbidden"}, 403)
        refused = self.limiter.acquire(api_key.key_hash, api_key.day_limit)
        if refused is not None:
            return json_response({"message": refused}, 429)
        handler = handlers.get(method)
        if handler is None:
            return json_response(
                {"Message": f"The requested resource does not support http method '{method}'."},
                405,
            )
        call = Call(
            method=method,
            path_args=args,
            params={k.lower(): v for k, v in request.query_params.multi_items()},
            body=await request.body(),
            content_type=request.headers.get("content-type", ""),
            now_ms=self.clock.now_ms(),
        )
        if any(rule.kind == "hold" for rule in self.faults.fire(method, "/" + path)):
            async with self.faults.holding(method, "/" + path) as then:
                if then == "drop":
                    return json_response(
                        {"Message": "The sandbox dropped this call undone (a released hold)."},
                        503,
                    )
                return _run(handler, call)
        return _run(handler, call)

    # -- helpers ------------------------------------------------------------------------------

    def _int_id(self, call: Call, name: str) -> int:
        raw = call.path_args["id"]
        if not re.fullmatch(r"\d{1,10}", raw) or int(raw) >= 2**31:
            raise bad_request(f"The value '{raw}' is not valid for {name}.")
        return int(raw)

    def _page(self, call: Call, sql: str, query: Query, order: str) -> list[sqlite3.Row]:
        skip, take = paging(call.params)
        with self.store.read() as conn:
            return conn.execute(
                f"{sql}{query.where()} ORDER BY {order} LIMIT ? OFFSET ?",
                [*query.args, take, skip],
            ).fetchall()

    # -- learners -----------------------------------------------------------------------------

    def _learner_item(self, data: dict[str, Any]) -> dict[str, Any]:
        personal = data.get("Personal") or {}
        return {
            "Data": model.expand(model.LEARNER, data),
            "Relationships": model.learner_relationships(personal),
        }

    def _learner_query(self, call: Call, *, basic: bool) -> Query:
        q = Query()
        q.search(("first_name", "last_name"), call.param("search"))
        q.timestamp(
            "modified_ms",
            "modified_text",
            call.param("lastModifiedTimeStampFilter"),
            "lastModifiedTimeStampFilter",
        )
        q.boolean("is_active", call.param("isActiveFilter"), "isActiveFilter")
        q.boolean("sync_to_xero", call.param("syncToXeroFilter"), "syncToXeroFilter")
        q.text_equals("number", _fold(call.param("learnerNumberFilter")))
        q.text_equals("usi", call.param("uniqueStudentIdentifierFilter"))
        if basic:
            q.text_equals("username", call.param("learnerUsernameFilter"))
            q.boolean(
                "(usi <> '' AND coalesce(json_extract(data, '$.Personal.UsiStatus'), '')"
                " <> 'Verified')",
                call.param("usiRequiresValidationFilter"),
                "usiRequiresValidationFilter",
            )
        else:
            q.text_equals("email", call.param("emailAddressFilter"))
            q.text_equals("mobile", call.param("mobileFilter"))
            q.text_equals("alt1", call.param("learnerAlt1NumberFilter"))
            q.text_equals("alt2", call.param("learnerAlt2NumberFilter"))
        return q

    def list_learners(self, call: Call) -> Response:
        rows = self._page(
            call, "SELECT data FROM learners", self._learner_query(call, basic=False), "learner_id"
        )
        return json_response([self._learner_item(json.loads(r["data"])) for r in rows])

    def list_learner_basics(self, call: Call) -> Response:
        rows = self._page(
            call, "SELECT data FROM learners", self._learner_query(call, basic=True), "learner_id"
        )
        return json_response([model.learner_basic(json.loads(r["data"])) for r in rows])

    def _stored_learner(self, call: Call) -> dict[str, Any]:
        learner_id = self._int_id(call, "LearnerId")
        with self.store.read() as conn:
            data = self.store.learner(conn, learner_id)
        if data is None:
            raise not_found(f"Learner {learner_id}")
        return data

    def get_learner(self, call: Call) -> Response:
        return json_response(self._learner_item(self._stored_learner(call)))

    def get_personal(self, call: Call) -> Response:
        personal = self._stored_learner(call).get("Personal") or {}
        return json_response(
            {
                "Data": model.expand(model.PERSONAL, personal),
                "Relationships": model.learner_relationships(personal, personal_only=True),
            }
        )

    def create_learners(self, call: Call) -> Response:
        body = call.json()
        if not isinstance(body, list) or not body:
            raise bad_request("The request is invalid: the body must be a non-empty JSON array.")
        records: list[dict[str, Any]] = []
        for index, item in enumerate(body):
            try:
                record = model.read_body(model.LEARNER, item, label=f"learner at index {index}")
            except ApiError as exc:
                raise _at_index(exc, index) from None
            personal = record.get("Personal") or {}
            missing = {
                f"[{index}].Personal.{name}": [f"The {name} field is required."]
                for name in ("FirstName", "LastName")
                if not (personal.get(name) or "").strip()
            }
            if missing:
                raise bad_request(f"The learner at index {index} is invalid.", missing)
            records.append(record)
        items = []
        with self.store.tx() as conn:
            learner_id, seq = self.store.next_learner_ids(conn)
            for record in records:
                number = f"DAU{seq:07d}"
                while conn.execute(
                    "SELECT 1 FROM learners WHERE number = ?", (number.casefold(),)
                ).fetchone():
                    seq += 1
                    number = f"DAU{seq:07d}"
                personal = record.setdefault("Personal", {})
                personal.setdefault("IsActive", True)
                personal.setdefault("SyncToXero", False)
                personal["LearnerNumber"] = number
                personal["LearnerExportNumber"] = str(learner_id)
                record["LearnerId"] = learner_id
                record["LearnerGuid"] = str(uuid.uuid4())
                model.compose_lines(personal)
                modified = self.store.next_modified_ms(conn, call.now_ms)
                self.store.write_learner(conn, record, modified=modified, insert=True)
                items.append(self._learner_item(record))
                learner_id, seq = learner_id + 1, seq + 1
            self.store.save_learner_number(conn, seq - 1)
        return json_response(items)

    def _replace(self, call: Call, stored: dict[str, Any], record: dict[str, Any]) -> None:
        personal = record.setdefault("Personal", {})
        old = stored.get("Personal") or {}
        for name in ("LearnerNumber", "LearnerExportNumber"):
            personal[name] = old.get(name)
        record["LearnerId"] = stored["LearnerId"]
        record["LearnerGuid"] = stored["LearnerGuid"]
        model.compose_lines(personal)
        with self.store.tx() as conn:
            modified = self.store.next_modified_ms(conn, call.now_ms)
            self.store.write_learner(conn, record, modified=modified, insert=False)

    def put_learner(self, call: Call) -> Response:
        stored = self._stored_learner(call)
        record = model.read_body(model.LEARNER, call.json(), label="LearnerAu")
        self._replace(call, stored, record)
        return json_response(self._learner_item(record))

    def put_personal(self, call: Call) -> Response:
        stored = self._stored_learner(call)
        personal = model.read_body(model.PERSONAL, call.json(), label="LearnerAuPersonal")
        record = {k: v for k, v in stored.items() if k not in ("LastModifiedTimeStamp",)}
        record["Personal"] = personal
        self._replace(call, stored, record)
        return json_response(
            {
                "Data": model.expand(model.PERSONAL, personal),
                "Relationships": model.learner_relationships(personal, personal_only=True),
            }
        )

    def patch_learner(self, call: Call) -> Response:
        stored = self._stored_learner(call)
        operations = call.json()
        if not isinstance(operations, list) or not operations:
            raise bad_request(
                "The request is invalid: the body must be a JSON array of patch operations."
            )
        record = json.loads(json.dumps(stored))
        for index, operation in enumerate(operations):
            _apply_patch(record, operation, index)
        model.read_body(model.LEARNER, _server_free(record), label="patched learner")
        self._replace(call, stored, record)
        return json_response(model.expand(model.LEARNER, record))

    # -- invoices -----------------------------------------------------------------------------

    def list_invoices(self, call: Call) -> Response:
        q = Query()
        q.identifier("learner_id", call.param("learnerIdFilter"), "learnerIdFilter")
        # Ordered by the primary id, InvoiceId, as every list is (contract §1.5).
        rows = self._page(call, "SELECT data FROM invoices", q, "invoice_id")
        return json_response([invoice_item(json.loads(r["data"])) for r in rows])

    def _invoice_row(self, invoice_id: str) -> dict[str, Any] | None:
        with self.store.read() as conn:
            row = conn.execute(
                "SELECT data FROM invoices WHERE invoice_id = ?", (invoice_id.casefold(),)
            ).fetchone()
        return dict(json.loads(row["data"])) if row else None

    def get_invoice(self, call: Call) -> Response:
        invoice_id = call.path_args["id"]
        data = self._invoice_row(invoice_id)
        if data is None:
            raise not_found(f"Invoice {invoice_id}")
        return json_response(invoice_item(data))

    def put_invoice(self, call: Call) -> Response:
        invoice_id = call.path_args["id"]
        if len(invoice_id) > 100:
            raise bad_request("The value of InvoiceId is too long (100 characters at most).")
        record = model.read_body(model.INVOICE, call.json(), label="Invoice")
        given = record.get("InvoiceId")
        if given is not None and given.casefold() != invoice_id.casefold():
            raise bad_request(
                f"The body's InvoiceId '{given}' does not match the path's '{invoice_id}'.",
                {"InvoiceId": ["It must equal the id in the path, or be left out."]},
            )
        record["InvoiceId"] = given or invoice_id
        learner_id = record.get("LearnerId")
        with self.store.tx() as conn:
            if learner_id is None or not self.store.learner(conn, learner_id):
                raise bad_request(
                    "The request is invalid.",
                    {"LearnerId": [f"Learner {learner_id} does not exist."]},
                )
            conn.execute(
                "INSERT INTO invoices (invoice_id, learner_id, data) VALUES (?, ?, ?)"
                " ON CONFLICT (invoice_id) DO UPDATE SET learner_id = excluded.learner_id,"
                " data = excluded.data",
                (invoice_id.casefold(), learner_id, dump(record)),
            )
        return json_response(invoice_item(record))

    def delete_invoice(self, call: Call) -> Response:
        invoice_id = call.path_args["id"]
        with self.store.tx() as conn:
            deleted = conn.execute(
                "DELETE FROM invoices WHERE invoice_id = ?", (invoice_id.casefold(),)
            ).rowcount
        if not deleted:
            raise not_found(f"Invoice {invoice_id}")
        return Response(status_code=204)

    # -- workplaces ---------------------------------------------------------------------------

    def _workplace_item(self, data: dict[str, Any]) -> dict[str, Any]:
        head = None
        head_id = data.get("HeadOfficeWorkplaceId")
        if isinstance(head_id, int):
            with self.store.read() as conn:
                row = conn.execute(
                    "SELECT data FROM workplaces WHERE workplace_id = ?", (head_id,)
                ).fetchone()
            if row:
                head = _workplace_basic(json.loads(row["data"]))
        countries = []
        for key in ("StreetAddress", "PostalAddress"):
            country = (data.get(key) or {}).get("CountryId")
            if country in model.COUNTRY_IDS and model.COUNTRY_IDS[country] not in countries:
                countries.append(model.COUNTRY_IDS[country])
        relationships = dict.fromkeys(
            (
                "Anzsic",
                "Location",
                "SchoolType",
                "WorkplaceClassification",
                "IndustrySize",
                "AccreditationType",
            )
        )
        relationships["States"] = [model.STATE_IDS[i] for i in model.workplace_state_ids(data)]
        relationships["Countries"] = countries
        relationships["HeadOfficeWorkplace"] = head
        return {"Data": model.expand(model.WORKPLACE, data), "Relationships": relationships}

    def list_workplaces(self, call: Call) -> Response:
        q = Query()
        q.timestamp(
            "modified_ms",
            "modified_text",
            call.param("lastModifiedTimeStampFilter"),
            "lastModifiedTimeStampFilter",
        )
        q.search(("code", "description"), call.param("search"))
        rows = self._page(call, "SELECT data FROM workplaces", q, "workplace_id")
        return json_response([self._workplace_item(json.loads(r["data"])) for r in rows])

    def _stored(
        self, call: Call, table: str, column: str, param: str, label: str
    ) -> dict[str, Any]:
        """The stored JSON of the record the path names, or Wisenet's 404."""
        record_id = self._int_id(call, param)
        with self.store.read() as conn:
            row = conn.execute(
                f"SELECT data FROM {table} WHERE {column} = ?", (record_id,)
            ).fetchone()
        if row is None:
            raise not_found(f"{label} {record_id}")
        return dict(json.loads(row["data"]))

    def _stored_workplace(self, call: Call) -> dict[str, Any]:
        return self._stored(call, "workplaces", "workplace_id", "WorkplaceId", "Workplace")

    def get_workplace(self, call: Call) -> Response:
        return json_response(self._workplace_item(self._stored_workplace(call)))

    def _write_workplace(
        self, conn: sqlite3.Connection, record: dict[str, Any], now_ms: int, *, insert: bool
    ) -> None:
        modified = self.store.next_modified_ms(conn, now_ms)
        record["LastModifiedTimeStamp"] = format_ts(modified)
        values = (
            (record.get("Code") or "").casefold(),
            (record.get("Description") or "").casefold(),
            modified,
            format_ts(modified),
            dump(record),
            record["WorkplaceId"],
        )
        if insert:
            conn.execute(
                "INSERT INTO workplaces (code, description, modified_ms, modified_text, data,"
                " workplace_id) VALUES (?, ?, ?, ?, ?, ?)",
                values,
            )
        else:
            conn.execute(
                "UPDATE workplaces SET code = ?, description = ?, modified_ms = ?,"
                " modified_text = ?, data = ? WHERE workplace_id = ?",
                values,
            )

    def _read_workplace(self, raw: Any, label: str) -> dict[str, Any]:
        record = model.read_body(model.WORKPLACE, raw, label=label)
        if not (record.get("Description") or "").strip():
            raise bad_request(
                f"The {label} is invalid.", {"Description": ["The Description field is required."]}
            )
        return record

    def create_workplaces(self, call: Call) -> Response:
        body = call.json()
        if not isinstance(body, list) or not body:
            raise bad_request("The request is invalid: the body must be a non-empty JSON array.")
        records = []
        for index, item in enumerate(body):
            try:
                records.append(self._read_workplace(item, f"workplace at index {index}"))
            except ApiError as exc:
                raise _at_index(exc, index) from None
        with self.store.tx() as conn:
            next_id = int(
                conn.execute("SELECT max(workplace_id) FROM workplaces").fetchone()[0] or 300
            )
            for record in records:
                next_id += 1
                record["WorkplaceId"] = next_id
                self._write_workplace(conn, record, call.now_ms, insert=True)
        return json_response([self._workplace_item(r) for r in records], 201)

    def put_workplace(self, call: Call) -> Response:
        stored = self._stored_workplace(call)
        record = self._read_workplace(call.json(), "Workplace")
        record["WorkplaceId"] = stored["WorkplaceId"]
        with self.store.tx() as conn:
            self._write_workplace(conn, record, call.now_ms, insert=False)
        return json_response(self._workplace_item(record))

    # -- learner positions --------------------------------------------------------------------

    def _position_item(self, data: dict[str, Any]) -> dict[str, Any]:
        with self.store.read() as conn:
            learner = self.store.learner(conn, data.get("LearnerId") or 0)
            row = conn.execute(
                "SELECT data FROM workplaces WHERE workplace_id = ?", (data.get("WorkplaceId"),)
            ).fetchone()
        combos = model.COMBOS
        return {
            "Data": model.expand(model.POSITION, data),
            "Relationships": {
                "Learner": model.learner_basic(learner) if learner else None,
                "Workplace": _workplace_basic(json.loads(row["data"])) if row else None,
                "Position": _lookup(combos["positions"], "PositionId", data.get("PositionId")),
                "SalesContact": None,
                "WorkplaceType": _lookup(
                    combos["workplace-types"], "WorkplaceTypeId", data.get("WorkplaceTypeId")
                ),
                "PayLevel": _lookup(combos["pay-levels"], "PayLevelId", data.get("PayLevelId")),
            },
        }

    def list_positions(self, call: Call) -> Response:
        q = Query()
        q.timestamp(
            "modified_ms",
            "modified_text",
            call.param("lastModifiedTimeStampFilter"),
            "lastModifiedTimeStampFilter",
        )
        q.identifier("learner_id", call.param("learnerIdFilter"), "learnerIdFilter")
        q.identifier("workplace_id", call.param("workplaceIdFilter"), "workplaceIdFilter")
        rows = self._page(call, "SELECT data FROM positions", q, "position_id")
        return json_response([self._position_item(json.loads(r["data"])) for r in rows])

    def _stored_position(self, call: Call) -> dict[str, Any]:
        return self._stored(
            call, "positions", "position_id", "LearnerPositionId", "LearnerPosition"
        )

    def get_position(self, call: Call) -> Response:
        return json_response(self._position_item(self._stored_position(call)))

    def _read_position(self, conn: sqlite3.Connection, raw: Any, label: str) -> dict[str, Any]:
        record = model.read_body(model.POSITION, raw, label=label)
        errors: dict[str, list[str]] = {}
        if not self.store.learner(conn, record.get("LearnerId") or 0):
            errors["LearnerId"] = [f"Learner {record.get('LearnerId')} does not exist."]
        workplace = conn.execute(
            "SELECT 1 FROM workplaces WHERE workplace_id = ?", (record.get("WorkplaceId") or 0,)
        ).fetchone()
        if not workplace:
            errors["WorkplaceId"] = [f"Workplace {record.get('WorkplaceId')} does not exist."]
        if errors:
            raise bad_request(f"The {label} is invalid.", errors)
        return record

    def _write_position(
        self, conn: sqlite3.Connection, record: dict[str, Any], now_ms: int, *, insert: bool
    ) -> None:
        modified = self.store.next_modified_ms(conn, now_ms)
        record["LastModifiedTimeStamp"] = format_ts(modified)
        values = (
            record["LearnerId"],
            record["WorkplaceId"],
            modified,
            format_ts(modified),
            dump(record),
            record["LearnerPositionId"],
        )
        if insert:
            conn.execute(
                "INSERT INTO positions (learner_id, workplace_id, modified_ms, modified_text,"
                " data, position_id) VALUES (?, ?, ?, ?, ?, ?)",
                values,
            )
        else:
            conn.execute(
                "UPDATE positions SET learner_id = ?, workplace_id = ?, modified_ms = ?,"
                " modified_text = ?, data = ? WHERE position_id = ?",
                values,
            )

    def create_positions(self, call: Call) -> Response:
        body = call.json()
        if not isinstance(body, list) or not body:
            raise bad_request("The request is invalid: the body must be a non-empty JSON array.")
        with self.store.tx() as conn:
            records = []
            for index, item in enumerate(body):
                try:
                    records.append(self._read_position(conn, item, f"position at index {index}"))
                except ApiError as exc:
                    raise _at_index(exc, index) from None
            next_id = int(
                conn.execute("SELECT max(position_id) FROM positions").fetchone()[0] or 900
            )
            for record in records:
                next_id += 1
                record["LearnerPositionId"] = next_id
                self._write_position(conn, record, call.now_ms, insert=True)
        return json_response([self._position_item(r) for r in records], 201)

    def put_position(self, call: Call) -> Response:
        stored = self._stored_position(call)
        with self.store.tx() as conn:
            record = self._read_position(conn, call.json(), "LearnerPosition")
            record["LearnerPositionId"] = stored["LearnerPositionId"]
            self._write_position(conn, record, call.now_ms, insert=False)
        return json_response(self._position_item(record))

    def delete_position(self, call: Call) -> Response:
        position_id = self._int_id(call, "LearnerPositionId")
        with self.store.tx() as conn:
            deleted = conn.execute(
                "DELETE FROM positions WHERE position_id = ?", (position_id,)
            ).rowcount
        if not deleted:
            raise not_found(f"LearnerPosition {position_id}")
        return Response(status_code=204)

    # -- lookups ------------------------------------------------------------------------------

    def combo(self, call: Call) -> Response:
        name = call.path_args["name"]
        rows = model.COMBOS.get(name)
        if rows is None:
            raise not_found(f"Combo {name}")
        return json_response([{"Data": row, "Relationships": {}} for row in rows])

    def entities(self, call: Call) -> Response:
        skip, take = paging(call.params)
        rows = model.ENTITIES[skip : skip + take]
        return json_response([{"Data": row, "Relationships": {}} for row in rows])


def _run(handler: Handler, call: Call) -> Response:
    try:
        return handler(call)
    except ApiError as exc:
        return exc.response


def _fold(value: str | None) -> str | None:
    return value.casefold() if value is not None else None


def _at_index(error: ApiError, index: int) -> ApiError:
    """Prefix a batch item's field errors with its index; the message names it too."""
    body = json.loads(bytes(error.response.body))
    errors = {f"[{index}].{k}": v for k, v in (body.get("Errors") or {}).items()}
    message = body.get("Message", "The request is invalid.")
    return bad_request(f"The item at index {index} is invalid: {message}", errors or None)


def invoice_item(data: dict[str, Any]) -> dict[str, Any]:
    expanded = model.expand(model.INVOICE, data)
    return {"Data": _money(expanded), "Relationships": {}}


_MONEY_FIELDS = {"AmountTotal", "AmountDue", "AmountPaid", "AmountCredited"}
_MONEY_ITEM_FIELDS = {"UnitAmount", "TaxAmount", "LineAmount", "Amount"}


def _money(value: Any, key: str = "") -> Any:
    """Stored money is decimal text; answers carry it as JSON numbers."""
    if isinstance(value, dict):
        return {k: _money(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_money(v) for v in value]
    if isinstance(value, str) and key in _MONEY_FIELDS | _MONEY_ITEM_FIELDS:
        return Decimal(value)
    return value


def _workplace_basic(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "WorkplaceId": data.get("WorkplaceId"),
        "Code": data.get("Code"),
        "Description": data.get("Description"),
    }


def _lookup(rows: list[dict[str, Any]], key: str, value: Any) -> dict[str, Any] | None:
    return next((row for row in rows if row[key] == value), None)


def _server_free(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("LastModifiedTimeStamp",)}


def _apply_patch(record: dict[str, Any], operation: Any, index: int) -> None:
    where = f"[{index}]"
    if not isinstance(operation, dict):
        raise bad_request(f"Patch operation {where} is not a JSON object.")
    op, path = operation.get("op"), operation.get("path")
    if not isinstance(op, str) or op.casefold() != "replace":
        raise bad_request(
            f'Patch operation {where}: op {op!r} is not supported; use "replace".',
            {f"{where}.op": ["Only replace is supported."]},
        )
    if not isinstance(path, str) or not path.strip("/"):
        raise bad_request(
            f"Patch operation {where}: path is required.", {f"{where}.path": ["Required."]}
        )
    if "value" not in operation:
        raise bad_request(
            f"Patch operation {where}: value is required.", {f"{where}.value": ["Required."]}
        )
    parts = path.strip("/").split("/")
    spec: Any = model.LEARNER
    target = record
    names = []
    for depth, part in enumerate(parts):
        if not isinstance(spec, dict):
            spec = None
            break
        name = next((n for n in spec if n.casefold() == part.casefold()), None)
        if name is None:
            spec = None
            break
        names.append(name)
        spec = spec[name]
        if depth < len(parts) - 1:
            child = target.get(name)
            if not isinstance(child, dict):
                child = {}
                target[name] = child
            target = child
    if spec is None or (isinstance(spec, model.Field) and (spec.server or spec.kind == "any")):
        raise bad_request(
            f"Patch operation {where}: path '{path}' is not a field that can be replaced.",
            {f"{where}.path": ["Unknown or read-only path."]},
        )
    value = operation["value"]
    dotted = ".".join(names)
    if value is None:
        target[names[-1]] = None
        return
    if isinstance(spec, dict):
        target[names[-1]] = model.read_body(spec, value, label=dotted)
        return
    holder = model.read_body({names[-1]: spec}, {names[-1]: value}, label=dotted)
    target[names[-1]] = holder.get(names[-1])
