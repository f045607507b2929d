"""The Wisenet sandbox as one ASGI application: the API under ``/v1`` and ``/sandbox`` controls.

The controls are the sandbox's own (not Wisenet's) and need no key: ``/sandbox/clock`` moves
time forward, ``/sandbox/limits`` shows a key's day usage and can refuse the next calls with
429, ``/sandbox/calls`` counts calls per endpoint (``DELETE`` resets the counts), and
``/sandbox/faults`` holds chosen calls in flight (``{"rules": [{"kind": "hold", "count": 1,
"skip": 2, "method": "PUT", "path": "invoices"}]}``) until ``/sandbox/faults/release``
(``{"then": "answer"}`` carries them out, ``{"then": "drop"}`` never does);
``/sandbox/faults/held`` waits until they are held.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from learnerledger.sandbox.clock import Clock
from learnerledger.sandbox.wisenet.api import WisenetApi
from learnerledger.sandbox.wisenet.ratelimit import (
    LIMIT_EXCEEDED,
    TOO_MANY_REQUESTS,
    Limits,
    RateLimiter,
)
from learnerledger.sandbox.wisenet.store import PLANS, SandboxStore
from learnerledger.sandbox.wisenet.wire import json_response
from learnerledger.sandbox.xero.faults import THEN, Faults, parse_rules

__all__ = ["Sandbox", "create_app", "parse_key", "prepare_keys"]

_MAX_HOLD_WAIT = 120.0


@dataclass
class Sandbox:
    """The parts of a running sandbox that tests, benchmarks and the demo reach for."""

    store: SandboxStore
    clock: Clock
    limiter: RateLimiter
    api: WisenetApi
    faults: Faults


def parse_key(value: str) -> tuple[str, int | None]:
    """``KEY`` or ``KEY:basic`` / ``KEY:full`` (the plan sets the day quota)."""
    key, _, plan = value.partition(":")
    if not key.strip():
        raise ValueError(f"{value!r} has no key before the colon.")
    if plan and plan.strip().lower() not in PLANS:
        raise ValueError(f"{value!r}: the plan must be one of {', '.join(PLANS)}.")
    return key.strip(), PLANS[plan.strip().lower()] if plan else None


def prepare_keys(store: SandboxStore, clock: Clock, keys: Sequence[str]) -> list[str]:
    """Register the given keys; with none given and none stored, make one. Returns the keys
    made or given (stored keys are hashes and cannot be shown again)."""
    shown = []
    for value in keys:
        key, day_limit = parse_key(value)
        label = value.partition(":")[2] or "default"
        store.add_key(key, label=label, day_limit=day_limit, now_ms=clock.now_ms())
        shown.append(key)
    if not keys and store.key_count() == 0:
        key = "wisenet-sandbox-" + secrets.token_urlsafe(12)
        store.add_key(key, label="generated", day_limit=None, now_ms=clock.now_ms())
        shown.append(key)
    return shown


def create_app(
    store: SandboxStore, *, clock: Clock | None = None, limits: Limits | None = None
) -> Starlette:
    clock = clock or Clock()
    limiter = RateLimiter(limits or Limits(), clock)
    faults = Faults()
    api = WisenetApi(store, clock, limiter, faults)

    async def root(_: Request) -> Response:
        return PlainTextResponse(
            "learnerledger Wisenet sandbox. API: /v1 (x-api-key), controls: /sandbox/clock, "
            "/sandbox/limits, /sandbox/calls, /sandbox/faults\n"
        )

    async def clock_endpoint(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            seconds = body.get("advance_seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                return json_response({"Message": 'Send {"advance_seconds": N}, N >= 0.'}, 400)
            clock.advance(float(seconds))
        return json_response({"now_ms": clock.now_ms(), "offset_seconds": clock.offset})

    async def limits_endpoint(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            count = body.get("fail_next", 0)
            message = body.get("message", TOO_MANY_REQUESTS)
            if (
                isinstance(count, bool)
                or not isinstance(count, int)
                or count < 0
                or message not in (TOO_MANY_REQUESTS, LIMIT_EXCEEDED)
            ):
                return json_response(
                    {
                        "Message": 'Send {"fail_next": N, "message": "Too Many Requests" '
                        'or "Limit Exceeded"}.'
                    },
                    400,
                )
            limiter.fail_next(count, message)
        key = request.headers.get("x-api-key", "")
        found = store.find_key(key) if key else None
        usage = limiter.state(found.key_hash, found.day_limit) if found else {}
        return json_response(
            {
                "per_second_limit": limiter.limits.per_second,
                "default_day_limit": limiter.limits.day,
                "key": usage,
            }
        )

    async def calls_endpoint(request: Request) -> Response:
        if request.method == "DELETE":
            store.reset_calls()
        calls = store.calls()
        return json_response({"total": sum(calls.values()), "by_endpoint": calls})

    async def faults_endpoint(request: Request) -> Response:
        if request.method == "DELETE":
            faults.clear()
        elif request.method == "POST":
            try:
                rules = parse_rules(json.loads(await request.body() or b"{}"))
            except ValueError as exc:
                return json_response({"Message": str(exc)}, 400)
            if any(rule.kind != "hold" for rule in rules):
                return json_response(
                    {
                        "Message": "The Wisenet sandbox holds calls only (kind hold); "
                        "/sandbox/limits refuses calls with 429."
                    },
                    400,
                )
            faults.set(rules)
        return json_response({"rules": faults.describe()})

    async def held_endpoint(request: Request) -> Response:
        try:
            wanted = int(request.query_params.get("count", 1))
            timeout = float(request.query_params.get("timeout", 30))
        except ValueError:
            return json_response({"Message": "count and timeout must be numbers."}, 400)
        if wanted < 0 or not 0 <= timeout <= _MAX_HOLD_WAIT:
            return json_response(
                {"Message": f"count must be 0 or more, timeout 0 to {_MAX_HOLD_WAIT} seconds."},
                400,
            )
        reached = await run_in_threadpool(faults.wait_held, wanted, timeout)
        held = faults.held()
        if not reached:
            return json_response(
                {"Message": f"{wanted} held calls were waited for; {len(held)} are held."}, 408
            )
        return json_response({"held": held})

    async def release_endpoint(request: Request) -> Response:
        then = str((await _body(request)).get("then", "answer"))
        if then not in THEN:
            return json_response({"Message": 'Send {"then": "answer"} or {"then": "drop"}.'}, 400)
        return json_response({"released": await faults.release(then)})

    routes = [
        Route("/", root),
        Route("/v1/{path:path}", api.handle, methods=["GET", "PUT", "POST", "PATCH", "DELETE"]),
        Route("/sandbox/clock", clock_endpoint, methods=["GET", "POST"]),
        Route("/sandbox/limits", limits_endpoint, methods=["GET", "POST"]),
        Route("/sandbox/calls", calls_endpoint, methods=["GET", "DELETE"]),
        Route("/sandbox/faults", faults_endpoint, methods=["GET", "POST", "DELETE"]),
        Route("/sandbox/faults/held", held_endpoint, methods=["GET"]),
        Route("/sandbox/faults/release", release_endpoint, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = Sandbox(store, clock, limiter, api, faults)
    return app


async def _body(request: Request) -> dict[str, object]:
    try:
        value = json.loads(await request.body() or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
