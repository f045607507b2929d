"""The Wisenet API v1 client: paced and retried calls with the API key.

The API is described in ../shared/contracts/wisenet-api-v1.md (our research contract). What
the client relies on, and nothing more: ``x-api-key`` auth; lists are bare JSON arrays of
``{Data, Relationships}`` items, paged with ``skip``/``take`` (at most 1000) and ordered by id;
any 429 means "back off". Error bodies are kept as opaque text. Invoices (contract §3) are
read, written (``PUT /invoices/{id}``, an upsert keyed by the Xero InvoiceID) and removed.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from learnerledger.errors import (
    SourceError,
    WisenetAuthError,
    WisenetError,
    WisenetQuotaExhausted,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "PAGE_SIZE",
    "TIMEOUT_SECONDS",
    "ApiKeyAuth",
    "Page",
    "WisenetClient",
    "check_base_url",
    "describe_request",
    "invoice_body",
    "open_client",
]

DEFAULT_BASE_URL = "https://api.wisenet.co/v1"
PAGE_SIZE = 1000
TIMEOUT_SECONDS = 30.0
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_RESPONSE_TEXT = 500  # characters of an error body kept in the error


class ApiKeyAuth(httpx.Auth):
    """Sends the key in ``x-api-key``. Its repr never shows the key."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["x-api-key"] = self._api_key
        yield request

    def __repr__(self) -> str:
        return "ApiKeyAuth(<hidden>)"


class _Pacer:
    """At most ``per_second`` calls start in any one-second window, with a margin so that the
    server, which sees the calls a little later and not evenly spaced, never counts more."""

    def __init__(
        self, per_second: int, monotonic: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self.per_second = max(1, per_second)
        self.window = 1.1
        self.monotonic = monotonic
        self.sleep = sleep
        self._starts: deque[float] = deque()

    def wait(self) -> None:
        now = self.monotonic()
        while self._starts and self._starts[0] <= now - self.window:
            self._starts.popleft()
        if len(self._starts) >= self.per_second:
            self.sleep(self._starts[0] + self.window - now)
            now = self.monotonic()
            self._starts.popleft()
        self._starts.append(now)


@dataclass
class Page:
    items: list[Any]
    date: datetime | None  # the server's Date header, when it sent exactly one


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _next_midnight_utc(now: datetime) -> datetime:
    return datetime.combine(
        now.astimezone(UTC).date() + timedelta(days=1), datetime.min.time(), UTC
    )


class WisenetClient:
    """Calls to one Wisenet API base URL, paced under the per-second limit.

    A 429 is answered by backing off (``backoff`` seconds, one after another); if every
    backoff is met by another 429, the day quota is taken to be spent and
    ``WisenetQuotaExhausted`` is raised (Wisenet does not say which limit it was). Timeouts,
    dropped connections and 5xx are retried ``retries`` times. ``calls`` counts every request
    sent, retries included.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        requests_per_second: int = 10,
        backoff: tuple[float, ...] = (1.0, 2.0),
        retries: int = 3,
        sleep: Callable[[float], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.http = http
        self.backoff = backoff
        self.retries = retries
        self.sleep = sleep if sleep is not None else _sleep
        self.now = now
        self.calls = 0
        self._pacer = _Pacer(requests_per_second, monotonic, self.sleep)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> WisenetClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        return self._send("GET", path, params=params)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        missing_ok: bool = False,
    ) -> httpx.Response:
        """One call, paced, retried and checked. Writes are retried like reads: Wisenet's PUT
        replaces the record and DELETE removes it, so sending either twice does no harm.
        ``missing_ok``: a 404 is an answer, not an error."""
        request = describe_request(path, params, method)
        backoffs = iter(self.backoff)
        failures = 0
        headers = {"Content-Type": "application/json"} if body is not None else None
        while True:
            self._pacer.wait()
            self.calls += 1
            try:
                response = self.http.request(
                    method, path, params=dict(params or {}), content=body, headers=headers
                )
            except httpx.TransportError as exc:
                failures += 1
                if failures > self.retries:
                    raise WisenetError(
                        f"Wisenet could not be reached ({exc.__class__.__name__}) for {request}.",
                        fix="Check the network and the connection's base URL "
                        "(learnerledger connect wisenet --base-url URL), then run it again.",
                        request=request,
                    ) from None
                self.sleep(min(2.0**failures, 30.0))
                continue
            if response.status_code == 429:
                delay = next(backoffs, None)
                if delay is None:
                    resets_at = _next_midnight_utc(self.now())
                    raise WisenetQuotaExhausted(
                        "Wisenet keeps refusing calls (429) after backing off: the API key's "
                        "calls for today are used up.",
                        fix=f"Run the command again after {resets_at:%Y-%m-%d %H:%M} UTC, when "
                        "the quota resets; it continues where it stopped.",
                        resets_at=resets_at,
                        request=request,
                        status=429,
                        body=response.text[:_RESPONSE_TEXT],
                    )
                self.sleep(delay)
                continue
            backoffs = iter(self.backoff)
            if response.status_code >= 500:
                failures += 1
                if failures <= self.retries:
                    self.sleep(min(2.0**failures, 30.0))
                    continue
            if response.status_code in (401, 403):
                raise WisenetAuthError(
                    f"Wisenet refused the API key ({response.status_code}) for {request}.",
                    fix="Create a key in Wisenet (LRM > Settings > Integration > API Keys) and "
                    "run learnerledger connect wisenet --api-key KEY.",
                    request=request,
                    status=response.status_code,
                    body=response.text[:_RESPONSE_TEXT],
                )
            if response.status_code == 404 and missing_ok:
                return response
            if response.status_code >= 400:
                raise WisenetError(
                    f"Wisenet answered {response.status_code} to {request}: "
                    f"{response.text[:_RESPONSE_TEXT]!r}.",
                    fix="If the message names a setting or a value, correct it; otherwise run "
                    "the command again later.",
                    request=request,
                    status=response.status_code,
                    body=response.text[:_RESPONSE_TEXT],
                )
            return response

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self.get(path, params)
        try:
            return response.json()
        except ValueError:
            raise WisenetError(
                f"Wisenet's answer to {describe_request(path, params)} is not JSON.",
                fix="Check the connection's base URL: it must end in /v1.",
                request=describe_request(path, params),
                status=response.status_code,
                body=response.text[:_RESPONSE_TEXT],
            ) from None

    def list_page(self, path: str, params: Mapping[str, Any]) -> Page:
        response = self.get(path, params)
        try:
            items = response.json()
        except ValueError:
            items = None
        if not isinstance(items, list):
            raise WisenetError(
                f"Wisenet's answer to {describe_request(path, params)} is not a JSON list.",
                fix="Check the connection's base URL: it must end in /v1.",
                request=describe_request(path, params),
                status=response.status_code,
                body=response.text[:_RESPONSE_TEXT],
            )
        dates = response.headers.get_list("date")
        server_date = None
        if len(dates) == 1:
            try:
                server_date = parsedate_to_datetime(dates[0]).astimezone(UTC)
            except (TypeError, ValueError):
                server_date = None
        return Page(items, server_date)

    # -- invoices (contract §3) ----------------------------------------------------------------

    def put_invoice(self, invoice_id: str, invoice: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace the invoice ``invoice_id`` (``PUT /invoices/{id}``, an upsert);
        Wisenet's answer (``InvoiceItem.Data``). A refusal (400) is a WisenetError with the
        status and Wisenet's body."""
        response = self._send("PUT", _invoice_path(invoice_id), body=invoice_body(invoice))
        return _data(self._json(response, f"PUT /invoices/{invoice_id}"))

    def delete_invoice(self, invoice_id: str) -> bool:
        """Remove the invoice; False when Wisenet did not hold it (nothing to remove)."""
        response = self._send("DELETE", _invoice_path(invoice_id), missing_ok=True)
        return response.status_code != 404

    def get_invoice(self, invoice_id: str) -> dict[str, Any] | None:
        """The invoice as Wisenet holds it (``Data``, amounts as Decimal), or None."""
        response = self._send("GET", _invoice_path(invoice_id), missing_ok=True)
        if response.status_code == 404:
            return None
        return _data(self._json(response, f"GET /invoices/{invoice_id}"))

    def iter_invoices(self, *, learner_id: int | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every invoice Wisenet holds (of one learner), a page of up to 1000 at a time."""
        skip = 0
        while True:
            params: dict[str, Any] = {}
            if learner_id is not None:
                params["learnerIdFilter"] = str(learner_id)
            params |= {"skip": skip, "take": PAGE_SIZE}
            response = self.get("/invoices", params)
            items = self._json(response, describe_request("/invoices", params))
            if not isinstance(items, list):
                raise WisenetError(
                    "Wisenet's answer to GET /invoices is not a JSON list.",
                    fix="Check the connection's base URL: it must end in /v1.",
                    request=describe_request("/invoices", params),
                    status=response.status_code,
                    body=response.text[:_RESPONSE_TEXT],
                )
            yield [_data(item) for item in items]
            if len(items) < PAGE_SIZE:
                return
            skip += len(items)

    @staticmethod
    def _json(response: httpx.Response, request: str) -> Any:
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise WisenetError(
                f"Wisenet's answer to {request} is not JSON.",
                fix="Check the connection's base URL: it must end in /v1.",
                request=request,
                status=response.status_code,
                body=response.text[:_RESPONSE_TEXT],
            ) from None

    def combo(self, name: str) -> list[dict[str, Any]]:
        """A lookup list (``/combos/states``...) as its ``Data`` rows."""
        items = self.get_json(f"/combos/{name}")
        rows = []
        for item in items if isinstance(items, list) else []:
            data = item.get("Data") if isinstance(item, dict) else None
            if isinstance(data, dict):
                rows.append(data)
        return rows


def describe_request(path: str, params: Mapping[str, Any] | None, method: str = "GET") -> str:
    query = "&".join(f"{k}={v}" for k, v in (params or {}).items())
    return f"{method} {path}" + (f"?{query}" if query else "")


def _money(value: Any) -> Any:
    """Wisenet's money fields are doubles: a Decimal goes out as the JSON number with the same
    digits (up to 15 significant digits, which a double holds exactly)."""
    if isinstance(value, Decimal):
        if not value.is_finite() or len(value.as_tuple().digits) > 15:
            raise SourceError(
                f"The amount {value} cannot be sent to Wisenet: it holds 15 digits at most.",
                fix="Correct the amount in Xero.",
            )
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{value!r} cannot be written as JSON")


def invoice_body(invoice: Mapping[str, Any]) -> bytes:
    """An ``Invoice`` as the JSON Wisenet takes (amounts as numbers)."""
    return json.dumps(invoice, default=_money, ensure_ascii=False, separators=(",", ":")).encode()


def _invoice_path(invoice_id: str) -> str:
    return "/invoices/" + quote(invoice_id, safe="")


def _data(item: Any) -> dict[str, Any]:
    """The record of a ``{Data, Relationships}`` item (a bare record is taken as it is)."""
    if isinstance(item, dict):
        data = item.get("Data", item)
        if isinstance(data, dict):
            return data
    raise WisenetError(
        "Wisenet sent an invoice that is not a JSON object.",
        fix="Check the connection's base URL: it must end in /v1.",
    )


def check_base_url(base_url: str) -> str:
    """The base URL without a trailing slash; https, or http only to this machine."""
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError(
            f"{base_url!r} is not a URL.",
            fix=f"Give the API's base URL, e.g. {DEFAULT_BASE_URL} (or the sandbox's, "
            "http://127.0.0.1:8002/v1).",
        )
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise SourceError(
            f"{base_url!r} is plain http: the API key would cross the network unencrypted.",
            fix="Use the https:// address (plain http is accepted only for a sandbox on this "
            "machine).",
        )
    return url


def open_client(
    base_url: str,
    api_key: str,
    *,
    requests_per_second: int = 10,
    transport: httpx.BaseTransport | None = None,
    **options: Any,
) -> WisenetClient:
    http = httpx.Client(
        base_url=check_base_url(base_url),
        auth=ApiKeyAuth(api_key),
        headers={"Accept": "application/json", "User-Agent": "learnerledger"},
        timeout=TIMEOUT_SECONDS,
        transport=transport,
    )
    return WisenetClient(http, requests_per_second=requests_per_second, **options)
