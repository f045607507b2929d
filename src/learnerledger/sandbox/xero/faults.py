"""Fault injection: make the sandbox fail the way networks and busy APIs fail, on purpose.

``POST /sandbox/faults`` sets the rules (``DELETE`` clears them, ``GET`` shows them)::

    {"rules": [
      {"kind": "status", "status": 500, "probability": 0.3, "seed": 1},
      {"kind": "status", "status": 429, "count": 5, "retry_after": 2, "problem": "minute"},
      {"kind": "drop", "count": 1, "method": "PUT", "path": "Contacts"},
      {"kind": "hold", "count": 1, "skip": 2, "method": "PUT", "path": "Contacts"},
      {"kind": "delay", "seconds": 5, "count": 1},
      {"kind": "corrupt", "count": 1}
    ]}

* ``status``: answer with that status instead of doing the work (500, 503 or 429 bursts);
* ``drop``: do the work and commit it, then close the connection without the answer: the
  client has lost the response of a request that did happen, whatever its timeout;
* ``hold``: stop the call before doing anything until ``POST /sandbox/faults/release``, so a
  test can act while the call is known to be in flight (``GET /sandbox/faults/held`` waits
  until it is);
* ``delay``: hold the request for ``seconds`` before doing anything (a slow network);
* ``corrupt``: do the work, then make one record of the answer malformed.

A rule fires for calls matching its ``method`` and ``path`` (a case-insensitive regular
expression searched in the path after ``/api.xro/2.0``), after letting the first ``skip``
matching calls pass, either on the next ``count`` calls or with ``probability`` (drawn from a
generator seeded with ``seed``, so runs repeat exactly). Every answer shaped by a fault
carries ``X-Sandbox-Fault`` naming it.

Releasing held calls (``{"then": "answer"}``, the default, or ``{"then": "drop"}``) lets them
carry on as usual, or closes their connections without doing the work; the release answers
once the released calls have finished, so what they did is visible when it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FaultRule", "Faults", "parse_rules"]

KINDS = ("status", "drop", "hold", "delay", "corrupt")
THEN = ("answer", "drop")


@dataclass
class FaultRule:
    kind: str
    status: int = 500
    probability: float | None = None
    count: int | None = None
    skip: int = 0
    seed: int = 0
    method: str | None = None
    path: str | None = None
    seconds: float = 0.0
    retry_after: int = 1
    problem: str = "minute"
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not (self.path and not re.search(self.path, path, re.IGNORECASE))

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_") and v is not None}


@dataclass(eq=False)
class _Held:
    """A call stopped by a ``hold`` rule, and how to wake it on the server's event loop."""

    method: str
    path: str
    loop: asyncio.AbstractEventLoop
    resume: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    then: str = "answer"

    def wake(self, then: str) -> None:
        self.then = then
        self.loop.call_soon_threadsafe(self.resume.set)


def parse_rules(data: Any) -> list[FaultRule]:
    """Rules from the JSON body; ValueError with a readable reason when they are unusable."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise ValueError('Send {"rules": [...]}.')
    rules: list[FaultRule] = []
    for i, raw in enumerate(data["rules"]):
        if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
            raise ValueError(f"rules[{i}].kind must be one of {', '.join(KINDS)}.")
        try:
            rule = FaultRule(
                kind=str(raw["kind"]),
                status=int(raw.get("status", 500)),
                probability=None if raw.get("probability") is None else float(raw["probability"]),
                count=None if raw.get("count") is None else int(raw["count"]),
                skip=int(raw.get("skip", 0)),
                seed=int(raw.get("seed", 0)),
                method=raw.get("method"),
                path=raw.get("path"),
                seconds=float(raw.get("seconds", 0.0)),
                retry_after=int(raw.get("retry_after", 1)),
                problem=str(raw.get("problem", "minute")),
            )
        except (TypeError, ValueError):
            raise ValueError(f"rules[{i}] has a value of the wrong type.") from None
        if rule.probability is None and rule.count is None:
            raise ValueError(f"rules[{i}] needs a count or a probability.")
        if rule.probability is not None and not 0 <= rule.probability <= 1:
            raise ValueError(f"rules[{i}].probability must be between 0 and 1.")
        if rule.skip < 0:
            raise ValueError(f"rules[{i}].skip must be zero or more.")
        if rule.path:
            try:
                re.compile(rule.path)
            except re.error:
                raise ValueError(f"rules[{i}].path is not a regular expression.") from None
        rule._rng.seed(rule.seed)
        rules.append(rule)
    return rules


class Faults:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._held: list[_Held] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def set(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self._rules = rules

    def clear(self) -> None:
        """No rules any more; held calls carry on."""
        self.set([])
        for call in self._take_held():
            call.wake("answer")

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.public() for r in self._rules]

    def fire(self, method: str, path: str) -> list[FaultRule]:
        """The rules that fire for this call (skips and counts are used up)."""
        fired: list[FaultRule] = []
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                    continue
                if rule.count is not None:
                    if rule.count <= 0:
                        continue
                    rule.count -= 1
                    fired.append(rule)
                elif rule.probability is not None and rule._rng.random() < rule.probability:
                    fired.append(rule)
        return fired

    # -- held calls ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def holding(self, method: str, path: str) -> AsyncIterator[str]:
        """Wait until released; yields what to do then (``answer`` or ``drop``). The release
        waits for the block to end, so the call's work is done when the release returns."""
        call = _Held(method.upper(), path, asyncio.get_running_loop())
        with self._changed:
            self._held.append(call)
            self._changed.notify_all()
        try:
            await call.resume.wait()
            yield call.then
        finally:
            with self._changed:
                if call in self._held:  # cancelled while held (the server stopping)
                    self._held.remove(call)
            call.finished.set()

    def held(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"method": c.method, "path": c.path} for c in self._held]

    def wait_held(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` calls are held; False if ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._held) < count:
                left = deadline - time.monotonic()
                if left <= 0 or not self._changed.wait(left):
                    return len(self._held) >= count
            return True

    async def release(self, then: str = "answer") -> int:
        """Let every held call go on (``answer``) or hang up on it (``drop``); returns once
        they have finished. Call it on the server's event loop."""
        calls = self._take_held()
        for call in calls:
            call.wake(then)
        for call in calls:
            await call.finished.wait()
        return len(calls)

    def _take_held(self) -> list[_Held]:
        with self._lock:
            calls, self._held = self._held, []
        return calls
