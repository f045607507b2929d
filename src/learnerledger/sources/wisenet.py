"""The Wisenet API v1 client: the stored connection, paced and retried GETs, and the
incremental pull of the learners flagged for Xero into the local learner table.

The API is described in ../shared/contracts/wisenet-api-v1.md (our research contract). What
the client relies on, and nothing more: ``x-api-key`` auth; lists are bare JSON arrays of
``{Data, Relationships}`` items, paged with ``skip``/``take`` (at most 1000) and ordered by id;
``syncToXeroFilter`` and ``lastModifiedTimeStampFilter=gt:...``; any 429 means "back off".
Error bodies are kept as opaque text.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import sqlalchemy as sa

from learnerledger.domain.learner import Address, Learner
from learnerledger.errors import (
    SourceError,
    WisenetAuthError,
    WisenetError,
    WisenetNotConnected,
    WisenetQuotaExhausted,
)
from learnerledger.sources.fields import normalise_phone, parse_timestamp
from learnerledger.sources.history import finish_run, start_run
from learnerledger.store import SecretBox, Store
from learnerledger.store import connections as stored_connections
from learnerledger.store.learners import learners, set_sync_to_xero, upsert_learners
from learnerledger.store.tables import meta_values

__all__ = [
    "DEFAULT_BASE_URL",
    "PAGE_SIZE",
    "ApiKeyAuth",
    "Lookups",
    "Page",
    "PullResult",
    "WisenetClient",
    "WisenetConnection",
    "check_base_url",
    "connect_wisenet",
    "learner_from_item",
    "load_connection",
    "open_client",
    "pull_learners",
    "resolve_zone",
]

DEFAULT_BASE_URL = "https://api.wisenet.co/v1"
PAGE_SIZE = 1000
TIMEOUT_SECONDS = 30.0
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_MAX_STEP_BACKS = 20  # per pull: guards against a server whose order is not stable
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
    """GETs against one Wisenet API base URL, paced under the per-second limit.

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
        request = _describe(path, params)
        backoffs = iter(self.backoff)
        failures = 0
        while True:
            self._pacer.wait()
            self.calls += 1
            try:
                response = self.http.get(path, params=dict(params or {}))
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
                f"Wisenet's answer to {_describe(path, params)} is not JSON.",
                fix="Check the connection's base URL: it must end in /v1.",
                request=_describe(path, params),
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
                f"Wisenet's answer to {_describe(path, params)} is not a JSON list.",
                fix="Check the connection's base URL: it must end in /v1.",
                request=_describe(path, params),
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

    def combo(self, name: str) -> list[dict[str, Any]]:
        """A lookup list (``/combos/states``...) as its ``Data`` rows."""
        items = self.get_json(f"/combos/{name}")
        rows = []
        for item in items if isinstance(items, list) else []:
            data = item.get("Data") if isinstance(item, dict) else None
            if isinstance(data, dict):
                rows.append(data)
        return rows


def _describe(path: str, params: Mapping[str, Any] | None) -> str:
    query = "&".join(f"{k}={v}" for k, v in (params or {}).items())
    return f"GET {path}" + (f"?{query}" if query else "")


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


# -- the stored connection -----------------------------------------------------------------


@dataclass(frozen=True)
class WisenetConnection:
    id: int
    name: str
    base_url: str
    state: str
    api_key: str = field(repr=False)


def connect_wisenet(
    store: Store,
    box: SecretBox,
    *,
    api_key: str,
    base_url: str = DEFAULT_BASE_URL,
    check: bool = True,
    client_factory: Callable[[str, str], WisenetClient] | None = None,
) -> WisenetConnection:
    """Store the Wisenet connection (the key encrypted), after one call that proves the key
    works (``GET /combos/states``) unless ``check`` is off. Connecting again replaces it."""
    api_key = api_key.strip()
    if not api_key:
        raise SourceError(
            "The API key is empty.",
            fix="Copy the key from Wisenet (LRM > Settings > Integration > API Keys).",
        )
    url = check_base_url(base_url)
    if check:
        factory = client_factory or (lambda u, k: open_client(u, k))
        with factory(url, api_key) as client:
            client.combo("states")
    name = urlsplit(url).netloc
    row = stored_connections.save_connection(
        store,
        kind="wisenet",
        tenant_id=None,
        base_url=url,
        name=name,
        auth_mode="api_key",
        secret=box.seal({"api_key": api_key}),
        same_kind_replaces=True,
    )
    return WisenetConnection(row.id, name, url, "connected", api_key)


def load_connection(store: Store, box: SecretBox) -> WisenetConnection:
    found = stored_connections.list_connections(store, "wisenet")
    row = found[0] if found else None
    if row is None or row.secret is None:
        raise WisenetNotConnected(
            "No Wisenet connection is stored yet.",
            fix="Run learnerledger connect wisenet --api-key KEY (or import a CSV export with "
            "learnerledger import learners FILE.csv).",
        )
    secret = box.open(row.secret)
    return WisenetConnection(row.id, row.name, row.base_url, row.state, str(secret["api_key"]))


def _set_connection_state(store: Store, connection_id: int, state: str, detail: str) -> None:
    stored_connections.set_state(store, connection_id, state, detail)


def resolve_zone(name: str) -> tzinfo:
    """The zone Wisenet's offset-less timestamps are read in (setting ``wisenet_timezone``)."""
    if name.strip().upper() in ("UTC", "Z", ""):
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise SourceError(
            f"{name!r} is not a time zone name.",
            fix="Set wisenet_timezone to a name such as UTC or Australia/Sydney.",
        ) from None


# -- learners --------------------------------------------------------------------------------


class Lookups:
    """StateId and CountryId resolved through the rows each learner's Relationships carry and,
    for any id they do not include, the combos (fetched at most once per pull)."""

    def __init__(self, client: WisenetClient) -> None:
        self.client = client
        self.states: dict[int, str] = {}
        self.countries: dict[int, str] = {}
        self._fetched = False

    def learn(self, relationships: Any) -> None:
        if not isinstance(relationships, dict):
            return
        for row in relationships.get("States") or []:
            if isinstance(row, dict) and isinstance(row.get("StateId"), int):
                self.states[row["StateId"]] = str(row.get("ShortDescription") or "")
        for row in relationships.get("Countries") or []:
            if isinstance(row, dict) and isinstance(row.get("CountryId"), int):
                self.countries[row["CountryId"]] = str(row.get("Description") or "")

    def _fetch(self) -> None:
        if self._fetched:
            return
        self._fetched = True
        self.learn(
            {"States": self.client.combo("states"), "Countries": self.client.combo("countries")}
        )

    def state(self, state_id: int) -> str | None:
        if state_id not in self.states:
            self._fetch()
        return self.states.get(state_id)

    def country(self, country_id: int) -> str | None:
        if country_id not in self.countries:
            self._fetch()
        return self.countries.get(country_id)


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _street_line(address: Mapping[str, Any], read_only: str) -> str:
    line = _text(address.get(read_only))
    if not line:
        box = _text(address.get("PoBox"))
        number = _text(address.get("StreetNumber"))
        unit = _text(address.get("UnitDetails"))
        if unit and number:
            number = f"{unit}/{number}"
        line = (
            f"PO Box {box}"
            if box
            else " ".join(p for p in (number or unit, _text(address.get("StreetName"))) if p)
        )
    extras = [_text(address.get("BuildingName")), line, _text(address.get("ExtraAddressLine"))]
    return ", ".join(p for p in extras if p)


def _address(
    value: Any, read_only: str, label: str, lookups: Lookups, warnings: list[str]
) -> Address:
    if not isinstance(value, dict):
        return Address()
    state = ""
    state_id = value.get("StateId")
    if isinstance(state_id, int):
        found = lookups.state(state_id)
        if found is None:
            warnings.append(
                f"The {label} address's StateId {state_id} is not in Wisenet's state list; "
                "choose the state again in Wisenet."
            )
        else:
            state = found
    country = ""
    country_id = value.get("CountryId")
    if isinstance(country_id, int):
        found = lookups.country(country_id)
        if found is None:
            warnings.append(
                f"The {label} address's CountryId {country_id} is not in Wisenet's country "
                "list; choose the country again in Wisenet."
            )
        else:
            country = found
    # Clipped to the learner table's columns; Wisenet's own limits are well inside them.
    return Address(
        line=_street_line(value, read_only)[:500],
        suburb=_text(value.get("SuburbTownCity"))[:255],
        state=state[:50],
        postcode=_text(value.get("Postcode")).replace(" ", "")[:20],
        country=country[:100],
    )


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _learner_id(item: Any) -> int | None:
    data = item.get("Data", item) if isinstance(item, dict) else None
    value = data.get("LearnerId") if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def learner_from_item(
    item: Any, lookups: Lookups, *, region: str = "AU", zone: tzinfo = UTC
) -> Learner:
    """A ``LearnerAuItem`` (or a bare ``LearnerAu``) as a Learner. Raises ``ValueError`` with
    a message phrased as a fix when the record cannot be used at all."""
    if not isinstance(item, dict):
        raise ValueError("The record is not a JSON object; Wisenet sent something unexpected.")
    data = item.get("Data", item)
    if not isinstance(data, dict):
        raise ValueError("The record has no Data object; Wisenet sent something unexpected.")
    lookups.learn(item.get("Relationships"))
    personal = _obj(data.get("Personal"))
    ref = _text(personal.get("LearnerNumber"))
    if not ref:
        raise ValueError("It has no LearnerNumber (RefInternal). Give the learner one in Wisenet.")
    if len(ref) > 50:
        raise ValueError(f"Its LearnerNumber {ref!r} is longer than 50 characters.")
    warnings: list[str] = []
    phones = _obj(personal.get("PhoneNumbers"))
    numbers = {}
    for name in ("Mobile", "PhoneHome", "PhoneWork"):
        value, warning = normalise_phone(_text(phones.get(name)), region, name)
        numbers[name] = value[:50]
        if warning:
            warnings.append(warning)
    born: date | None = None
    raw_birth = _text(personal.get("DateOfBirth"))
    if raw_birth:
        try:
            born = date.fromisoformat(raw_birth[:10])
        except ValueError:
            warnings.append(f"DateOfBirth {raw_birth!r} is not a date; it was left out.")
    modified: datetime | None = None
    raw_modified = _text(data.get("LastModifiedTimeStamp"))
    if raw_modified:
        try:
            modified = parse_timestamp(raw_modified, zone)
        except ValueError:
            warnings.append(f"LastModifiedTimeStamp {raw_modified!r} is not a date-time.")
    emails = _obj(personal.get("EmailAddresses"))
    learner_id = _learner_id(item)
    return Learner(
        ref_internal=ref,
        first_name=_text(personal.get("FirstName"))[:255],
        last_name=_text(personal.get("LastName"))[:255],
        preferred_name=_text(personal.get("PreferredNamed"))[:255],
        email=_text(emails.get("Email"))[:255],
        mobile=numbers["Mobile"],
        phone_home=numbers["PhoneHome"],
        phone_work=numbers["PhoneWork"],
        date_of_birth=born,
        street=_address(
            personal.get("StreetAddress"), "StreetAddress", "street", lookups, warnings
        ),
        postal=_address(
            personal.get("PostalAddress"), "PostalAddress", "postal", lookups, warnings
        ),
        sync_to_xero=personal.get("SyncToXero") is True,
        source="wisenet",
        source_id=str(learner_id) if learner_id is not None else None,
        source_modified=modified,
        warnings=tuple(warnings),
    )


@dataclass
class PullResult:
    status: str  # succeeded | paused | failed
    full: bool
    resumed: bool
    dry_run: bool
    since: datetime | None = None
    watermark: datetime | None = None
    read: int = 0  # learners received (each once, however often a page repeated it)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    unflagged: int = 0
    warnings: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    calls: int = 0
    resets_at: datetime | None = None
    run_id: int | None = None
    message: str = ""

    def counts(self) -> dict[str, int]:
        return {
            "read": self.read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "unflagged": self.unflagged,
            "skipped": len(self.skipped),
            "warnings": self.warnings,
            "pages": self.pages,
            "calls": self.calls,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "full": self.full,
            "resumed": self.resumed,
            "dry_run": self.dry_run,
            "since": self.since.isoformat() if self.since else None,
            "watermark": self.watermark.isoformat() if self.watermark else None,
            "counts": self.counts(),
            "skipped": self.skipped,
            "resets_at": self.resets_at.isoformat() if self.resets_at else None,
            "run_id": self.run_id,
            "message": self.message,
        }


def _state_key(connection_id: int) -> str:
    return f"wisenet:{connection_id}:learners"


def _load_state(store: Store, key: str) -> dict[str, Any]:
    raw = store.get_meta(key)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _save_state(conn: sa.Connection, key: str, state: Mapping[str, Any]) -> None:
    text = json.dumps(state, separators=(",", ":"))
    updated = conn.execute(meta_values.update().where(meta_values.c.key == key).values(value=text))
    if not updated.rowcount:
        conn.execute(meta_values.insert().values(key=key, value=text))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _parse_iso(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _filter_value(moment: datetime, zone: tzinfo) -> str:
    local = moment.astimezone(zone)
    return "gt:" + local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"


class _Rollback(Exception):
    """Ends a dry run: everything it would have written is rolled back."""


@dataclass
class _Pull:
    """One pull's moving parts, passed between its steps."""

    store: Store
    client: WisenetClient
    result: PullResult
    key: str
    watermark: str | None  # as stored when the pull began
    current: dict[str, Any]  # the pass: since, skip, last_id, started, max_seen
    region: str
    zone: tzinfo
    progress: Callable[[PullResult], None] | None
    lookups: Lookups
    seen: set[int] = field(default_factory=set)


def pull_learners(
    store: Store,
    client: WisenetClient,
    *,
    connection_id: int,
    region: str = "AU",
    zone: tzinfo = UTC,
    overlap: timedelta = timedelta(minutes=10),
    full: bool = False,
    dry_run: bool = False,
    progress: Callable[[PullResult], None] | None = None,
) -> PullResult:
    """Read the learners flagged for Xero that changed since the last pull and store them.

    Incremental by ``LastModifiedTimeStamp``: the watermark is the newest timestamp seen (but
    never later than the server's clock when the pull began), and each pull asks for
    everything modified after the watermark less ``overlap``, so clock skew and writes during
    a pull lose nothing; repeats come back as unchanged rows. Pages of 1000 overlap by one
    learner, so a learner leaving the flagged list mid-pull is noticed (the pull steps back)
    instead of silently shifting the next page. Each page is stored together with the pull's
    position: a pull stopped by the day quota (status ``paused``) or a crash resumes there.
    Learners whose Sync to Xero was cleared in Wisenet are marked so (kept, not ready).
    """
    key = _state_key(connection_id)
    state = _load_state(store, key)
    watermark = state.get("watermark") if isinstance(state.get("watermark"), str) else None
    in_progress = None if full else state.get("pass")
    resumed = isinstance(in_progress, dict)
    if isinstance(in_progress, dict):
        current: dict[str, Any] = dict(in_progress)
    else:
        start = _parse_iso(watermark)
        since = None if full or start is None else start - overlap
        # Whether learners stored before may have lost their flag: not so for a first pull.
        current = {
            "since": _iso(since),
            "skip": 0,
            "last_id": None,
            "unflag": _flagged_ids(store) != set(),
        }
    since = _parse_iso(current.get("since"))
    result = PullResult(
        status="running", full=since is None, resumed=resumed, dry_run=dry_run, since=since
    )
    if not dry_run:
        result.run_id = start_run(store, "pull learners", connection_id=connection_id)
    job = _Pull(
        store, client, result, key, watermark, current, region, zone, progress, Lookups(client)
    )
    calls_before = client.calls
    try:
        with store.transaction() if dry_run else nullcontext():
            try:
                _pull_pages(job)
                result.unflagged = _unflag(job, since)
                max_seen = _parse_iso(current.get("max_seen"))
                started = _parse_iso(current.get("started"))
                if max_seen is None:
                    result.watermark = _parse_iso(watermark)
                else:
                    result.watermark = min(max_seen, started) if started else max_seen
                if not dry_run:
                    with store.transaction() as conn:
                        _save_state(conn, key, {"watermark": _iso(result.watermark), "pass": None})
                result.status = "succeeded"
            except WisenetQuotaExhausted as exc:
                result.status = "paused"
                result.resets_at = exc.resets_at
                result.message = str(exc)
            if dry_run:
                raise _Rollback
    except _Rollback:
        pass
    except WisenetAuthError as exc:
        _set_connection_state(store, connection_id, "reconnect_needed", exc.message)
        _finish(store, result, client.calls - calls_before, "failed", str(exc))
        raise
    except BaseException as exc:
        _finish(store, result, client.calls - calls_before, "failed", str(exc) or repr(exc))
        raise
    _finish(store, result, client.calls - calls_before, result.status, result.message)
    return result


def _finish(store: Store, result: PullResult, calls: int, status: str, message: str) -> None:
    result.calls = calls
    result.status = status
    if status == "succeeded" and not message:
        result.message = (
            f"{result.read} learners read: {result.inserted} new, {result.updated} changed, "
            f"{result.unchanged} unchanged; {result.unflagged} no longer flagged for Xero."
        )
    else:
        result.message = message
    if result.run_id is not None:
        errors = [
            {"record": s["record"], "learner_id": s.get("learner_id"), "message": s["message"]}
            for s in result.skipped
        ]
        finish_run(
            store,
            result.run_id,
            status=status,
            counts=result.counts(),
            errors=errors,
            message=result.message,
        )


def _read_items(job: _Pull, items: list[Any]) -> list[Learner]:
    result, current = job.result, job.current
    learners: list[Learner] = []
    max_seen = _parse_iso(current.get("max_seen"))
    for item in items:
        learner_id = _learner_id(item)
        if learner_id is not None:
            if learner_id in job.seen:
                continue  # the page overlap, or a learner that moved while we paged
            job.seen.add(learner_id)
        result.read += 1
        try:
            learner = learner_from_item(item, job.lookups, region=job.region, zone=job.zone)
        except ValueError as exc:
            record = f"learner {learner_id}" if learner_id is not None else "a learner"
            result.skipped.append({"record": record, "learner_id": learner_id, "message": str(exc)})
            continue
        result.warnings += len(learner.warnings)
        modified = learner.source_modified
        if modified is not None and (max_seen is None or modified > max_seen):
            max_seen = modified
        learners.append(learner)
    current["max_seen"] = _iso(max_seen)
    return learners


def _pull_pages(job: _Pull) -> None:
    result, current = job.result, job.current
    since = _parse_iso(current.get("since"))
    step_backs = 0
    stepped_back = False
    while True:
        params: dict[str, Any] = {"syncToXeroFilter": "true"}
        if since is not None:
            params["lastModifiedTimeStampFilter"] = _filter_value(since, job.zone)
        params |= {"skip": current["skip"], "take": PAGE_SIZE}
        page = job.client.list_page("/learnersAU", params)
        result.pages += 1
        if current.get("started") is None:
            current["started"] = _iso(page.date or job.client.now())
        items = page.items
        last_id = current.get("last_id")
        first_id = _learner_id(items[0]) if items else None
        if (
            current["skip"] > 0
            and isinstance(last_id, int)
            and first_id is not None
            and first_id > last_id
            and step_backs < _MAX_STEP_BACKS
        ):
            # Learners before our position left the list (unflagged, say), so this page slid
            # past some we have not read: step back a page and read forward again.
            step_backs += 1
            stepped_back = True
            current["skip"] = max(0, current["skip"] - (PAGE_SIZE - 1))
            continue
        fresh = sum(1 for item in items if _learner_id(item) not in job.seen)
        learners = _read_items(job, items)
        done = len(items) < PAGE_SIZE
        if not done and not fresh and not stepped_back:
            raise WisenetError(
                f"Wisenet sent only learners already read for skip={current['skip']}: paging "
                "does not move forward, so the pull stopped instead of looping.",
                fix="Check the connection's base URL; if it is Wisenet's, report this to "
                "Wisenet support with the request shown.",
                request=_describe("/learnersAU", params),
            )
        stepped_back = False
        if not done:
            current["last_id"] = _learner_id(items[-1])
            current["skip"] += len(items) - 1
        with job.store.transaction() as conn:
            outcome = upsert_learners(conn, learners)
            _save_state(conn, job.key, {"watermark": job.watermark, "pass": current})
        result.inserted += outcome.inserted
        result.updated += outcome.updated
        result.unchanged += outcome.unchanged
        if job.progress is not None:
            job.progress(result)
        if done:
            return


def _unflag(job: _Pull, since: datetime | None) -> int:
    """Mark the stored learners whose Sync to Xero was cleared in Wisenet since the last pull.

    After a complete full pull the learners it did not see are the ones; otherwise the light
    list endpoint names the learners not flagged (changed since the last pull, when there was
    one). A first pull into an empty table needs neither."""
    if not job.current.get("unflag", True):
        return 0
    flagged = _flagged_ids(job.store)
    seen = {str(i) for i in job.seen}
    if since is None and not job.result.resumed:
        ids = sorted(flagged - seen)
    elif not flagged - seen:
        return 0
    else:
        ids = []
        skip = 0
        while True:
            params: dict[str, Any] = {"syncToXeroFilter": "false"}
            if since is not None:
                params["lastModifiedTimeStampFilter"] = _filter_value(since, job.zone)
            params |= {"skip": skip, "take": PAGE_SIZE}
            page = job.client.list_page("/learnersAU/list", params)
            job.result.pages += 1
            ids.extend(str(i) for i in map(_learner_id_basic, page.items) if i is not None)
            if len(page.items) < PAGE_SIZE:
                break
            skip += len(page.items)
        ids = sorted(set(ids) & flagged)
    if not ids:
        return 0
    with job.store.transaction() as conn:
        return set_sync_to_xero(conn, "wisenet", ids, False).updated


def _flagged_ids(store: Store) -> set[str]:
    """Wisenet's LearnerIds of the stored learners flagged for Xero."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(learners.c.source_id).where(
                learners.c.source == "wisenet", learners.c.sync_to_xero.is_(True)
            )
        )
        return {str(row.source_id) for row in rows}


def _learner_id_basic(item: Any) -> int | None:
    value = item.get("LearnerId") if isinstance(item, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
