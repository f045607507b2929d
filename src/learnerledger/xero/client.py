"""The Xero Accounting API client every job uses.

Each call goes through the same steps: a slot and a counted call from the organisation's shared
:class:`~learnerledger.xero.ratelimit.RateBudget`, a bearer token from
:class:`~learnerledger.xero.auth.XeroAuth`, the request (timeouts always set), and Xero's answer
turned into data or into an error of ``learnerledger.errors``. Timeouts, connection resets and
5xx are retried with exponential backoff and jitter, a bounded number of times; a 429 pauses the
whole organisation for ``Retry-After`` and is retried; a spent daily limit raises
``RateLimited`` with the time the job can resume.

Reads page with the largest page size (1,000) under one ``If-Modified-Since``, in the order of
the records' ids, which never change: a record edited during a long read cannot push another
past a page boundary. Writes send up
to 50 items with ``summarizeErrors=false`` and the caller's ``Idempotency-Key``, and return one
:class:`ItemResult` per input item, in input order. Creates use ``PUT`` (create-only); updates
name the ``ContactID``: Xero's ``POST`` would otherwise match a contact by its Name. Invoices
and credit notes are updated by their own ids (``update_documents``: how a merge re-points
them), and read afresh by contact (``documents_of_contacts``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

import httpx

from learnerledger import __version__
from learnerledger.config import Config
from learnerledger.errors import (
    AuthExpired,
    ConfigError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransientError,
    UnexpectedResponse,
    ValidationFailed,
    XeroError,
)
from learnerledger.store import Store, load_secret_box
from learnerledger.xero.auth import IdentityClient, XeroAuth
from learnerledger.xero.connections import TokenStore, XeroConnection, find_connection
from learnerledger.xero.locks import StoreLock
from learnerledger.xero.ratelimit import Limits, RateBudget, Waiting
from learnerledger.xero.wire import (
    Contact,
    Document,
    DocumentKind,
    WireError,
    dumps,
    from_ms,
    loads,
    modified_since_header,
    parse_contact,
    parse_date,
    parse_document,
    parse_guid,
    to_ms,
)

__all__ = [
    "BATCH_LIMIT",
    "CONTACTS",
    "CONTACT_DOCUMENT_STREAMS",
    "DOCUMENT_STREAMS",
    "MAX_BODY_BYTES",
    "PAGE_SIZE",
    "WRITABLE_DOCUMENT_STREAMS",
    "ItemResult",
    "Page",
    "RecordProblem",
    "RetryPolicy",
    "Retrying",
    "Stream",
    "XeroClient",
    "open_client",
]

T = TypeVar("T")

PAGE_SIZE = 1000  # the largest page Xero serves
BATCH_LIMIT = 50  # Xero's advice for items per write
MAX_BODY_BYTES = 3_500_000  # Xero's limit for one request body
MAX_IDEMPOTENCY_KEY = 128
# Ids per query when reading by contact: Xero refuses query strings much over 2,000 characters.
_CONTACT_IDS_PER_QUERY = 40
_WHERE_IDS_PER_QUERY = 20
_TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a call is retried."""

    attempts: int = 5  # per call, for timeouts, resets and 5xx
    base_delay: float = 0.5  # seconds; doubles each attempt
    max_delay: float = 30.0
    rate_limited_attempts: int = 20  # 429s in a row before giving up


@dataclass(frozen=True)
class Retrying:
    """Sent to ``on_event`` before a transient failure is retried."""

    request: str
    attempt: int
    reason: str
    delay: float


@dataclass(frozen=True)
class RecordProblem:
    """A record in an answer that could not be read; the rest of its page was."""

    index: int
    record_id: str | None
    reason: str
    raw: str


@dataclass(frozen=True)
class Page(Generic[T]):
    """One answer of a paged read."""

    records: list[T]
    problems: list[RecordProblem]
    item_count: int | None  # pagination.itemCount of the query that produced this page
    since_ms: int | None = None  # the If-Modified-Since of that query
    number: int = 1  # the page number under that If-Modified-Since
    answered_ms: int | None = None  # when Xero answered (the envelope's DateTimeUTC)


@dataclass(frozen=True)
class ItemResult(Generic[T]):
    """Xero's result for one item of a write, matched to the item that was sent."""

    index: int  # position of the item in the request
    status: str  # OK | WARNING | ERROR
    record: T | None  # what Xero stored (None when refused)
    record_id: str | None
    messages: list[str]  # Xero's validation errors for this item
    warnings: list[str]
    sent: Mapping[str, Any]

    @property
    def ok(self) -> bool:
        return self.status != "ERROR" and self.record is not None


@dataclass(frozen=True)
class Stream(Generic[T]):
    """A paged collection of the Accounting API."""

    name: str  # contacts, invoices, credit_notes, payments, prepayments, overpayments
    path: str
    collection: str  # the envelope's key
    id_field: str  # the id in Xero's JSON
    attribute: str  # the id on the typed record
    parse: Callable[[Any], T]
    params: Mapping[str, str] = field(default_factory=dict)


def _document_stream(name: str, path: str, id_field: str, kind: DocumentKind) -> Stream[Document]:
    return Stream(name, path, path, id_field, "document_id", lambda r: parse_document(kind, r))


CONTACTS: Stream[Contact] = Stream(
    "contacts",
    "Contacts",
    "Contacts",
    "ContactID",
    "contact_id",
    parse_contact,
    {"includeArchived": "true"},
)
DOCUMENT_STREAMS: dict[str, Stream[Document]] = {
    "invoices": _document_stream("invoices", "Invoices", "InvoiceID", "invoice"),
    "credit_notes": _document_stream("credit_notes", "CreditNotes", "CreditNoteID", "credit_note"),
    "payments": _document_stream("payments", "Payments", "PaymentID", "payment"),
    "prepayments": _document_stream("prepayments", "Prepayments", "PrepaymentID", "prepayment"),
    "overpayments": _document_stream(
        "overpayments", "Overpayments", "OverpaymentID", "overpayment"
    ),
}

# The document streams whose records belong to a contact (a payment belongs to what it pays),
# and the streams whose contact the API can change (``update_documents``).
CONTACT_DOCUMENT_STREAMS = ("invoices", "credit_notes", "prepayments", "overpayments")
WRITABLE_DOCUMENT_STREAMS = ("invoices", "credit_notes")

OnEvent = Callable[[Waiting | Retrying], None]


class XeroClient:
    """The Accounting API of one connected organisation."""

    def __init__(
        self,
        connection: XeroConnection,
        http: httpx.Client,
        *,
        auth: httpx.Auth,
        budget: RateBudget,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        on_event: OnEvent | None = None,
        owns_http: bool = False,
    ) -> None:
        self.connection = connection
        self.http = http
        self.auth = auth
        self.budget = budget
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.jitter = jitter
        self.on_event = on_event
        self._owns_http = owns_http
        self.calls = 0  # requests sent to the API, retries included
        if isinstance(auth, XeroAuth):
            auth.on_retry = self._counted_retry
        if on_event is not None and budget.on_wait is None:
            budget.on_wait = on_event

    @property
    def organisation(self) -> str:
        return self.connection.name

    @property
    def tenant_id(self) -> str:
        return self.connection.tenant_id

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> XeroClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _counted_retry(self) -> None:
        self.calls += 1
        self.budget.record_extra_call()

    # -- one call -----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
        modified_since_ms: int | None = None,
    ) -> Any:
        """Send one API call (retrying what may be retried) and return its JSON, parsed with
        Decimal money. Writes must carry an ``idempotency_key``: a retried write is then safe."""
        label = f"{method} /{path}"
        headers = {
            "Accept": "application/json",
            "xero-tenant-id": self.connection.tenant_id,
        }
        content: bytes | None = None
        if method != "GET":
            if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
                raise ValueError(
                    f"{label}: every write needs an Idempotency-Key of 1 to "
                    f"{MAX_IDEMPOTENCY_KEY} characters."
                )
            headers["Idempotency-Key"] = idempotency_key
        if body is not None:
            content = dumps(body).encode("utf-8")
            if len(content) > MAX_BODY_BYTES:
                raise ValueError(
                    f"{label}: the body is {len(content):,} bytes; Xero takes at most "
                    f"{MAX_BODY_BYTES:,}. Send fewer items per request."
                )
            headers["Content-Type"] = "application/json"
        if modified_since_ms is not None:
            headers["If-Modified-Since"] = modified_since_header(modified_since_ms)
        url = f"{self.connection.endpoints.api}/{path}"
        failures = 0
        limited = 0
        while True:
            response: httpx.Response | None = None
            problem = ""
            with self.budget.call(label):
                self.calls += 1
                try:
                    response = self.http.request(
                        method, url, params=params, content=content, headers=headers, auth=self.auth
                    )
                except httpx.TransportError as exc:  # timeouts, resets, refused connections
                    problem = f"{type(exc).__name__}, no answer"
                else:
                    self.budget.observe(response.headers)
            if response is None:
                failures += 1
                if failures >= self.retry.attempts:
                    raise TransientError(
                        f"Xero did not answer {label} for {self.organisation!r} after "
                        f"{failures} attempts ({problem}).",
                        fix="Check the network connection and run the command again; "
                        "nothing is lost.",
                        organisation=self.organisation,
                        request=label,
                    )
                self._backoff(label, failures, problem)
                continue
            status = response.status_code
            if status == 429:
                limited += 1
                limit = (response.headers.get("x-rate-limit-problem") or "minute").strip().lower()
                retry_after = _retry_after(response.headers.get("retry-after"))
                self.budget.blocked(limit, retry_after)
                if limited >= self.retry.rate_limited_attempts:
                    raise RateLimited(
                        limit,
                        retry_after,
                        from_ms(int(self.budget.clock() * 1000 + retry_after * 1000)),
                        organisation=self.organisation,
                        request=label,
                    )
                continue  # the budget now waits for Retry-After, or raises for a long pause
            if status in _TRANSIENT_STATUSES:
                failures += 1
                if failures >= self.retry.attempts:
                    raise ServerError(
                        f"Xero answered {status} to {label} for {self.organisation!r} "
                        f"{failures} times in a row.",
                        fix="Xero may be having an outage (status.xero.com); run the command "
                        "again later; nothing is lost.",
                        organisation=self.organisation,
                        request=label,
                        status=status,
                    )
                self._backoff(label, failures, f"HTTP {status}")
                continue
            return self._answer(response, label)

    def _backoff(self, label: str, attempt: int, reason: str) -> None:
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
        delay = ceiling / 2 + self.jitter() * ceiling / 2  # "equal jitter"
        if self.on_event is not None:
            self.on_event(Retrying(label, attempt, reason, delay))
        self.sleep(delay)

    def _answer(self, response: httpx.Response, label: str) -> Any:
        status = response.status_code

        def error(cls: type[XeroError], message: str, fix: str) -> XeroError:
            return cls(
                message, fix=fix, organisation=self.organisation, request=label, status=status
            )

        again = "Run the command again; if it persists, report it with this message."
        if status == 304:
            return None
        if status == 401:
            raise error(
                AuthExpired,
                f"Xero refused a fresh access token for {self.organisation!r} ({label}).",
                "The app may have been disconnected from the organisation in Xero: run "
                "`learnerledger connect xero` again.",
            )
        if status == 403:
            raise error(
                PermissionDenied,
                f"Xero does not allow {label} for {self.organisation!r}.",
                "Connect again and grant the scopes listed in docs/connecting-xero.md; "
                "check that the organisation is still connected to the app.",
            )
        if status == 404:
            raise error(
                NotFound,
                f"Xero has no such record ({label}) in {self.organisation!r}.",
                "Check the id; the record may have been deleted, or belong to another "
                "organisation.",
            )
        try:
            data = loads(response.content) if response.content else None
        except WireError as exc:
            if status < 400:
                raise error(
                    UnexpectedResponse, f"Xero's answer to {label} could not be read: {exc}", again
                ) from None
            data = None
        if status == 400:
            messages, elements = _validation_messages(data)
            raise ValidationFailed(
                f"Xero refused {label} for {self.organisation!r}.",
                messages,
                elements=elements,
                organisation=self.organisation,
                request=label,
            )
        if status >= 400:
            raise error(
                XeroError, f"Xero answered {status} to {label} for {self.organisation!r}.", again
            )
        if not isinstance(data, dict):
            raise error(
                UnexpectedResponse, f"Xero's answer to {label} is not a JSON object.", again
            )
        return data

    # -- reads ----------------------------------------------------------------------------------

    def iter_pages(
        self,
        stream: Stream[T],
        *,
        modified_since_ms: int | None = None,
        where: str | None = None,
        page_size: int = PAGE_SIZE,
        start_page: int = 1,
    ) -> Iterator[Page[T]]:
        """Every record of ``stream`` changed since ``modified_since_ms`` (all when None), page
        by page, from page ``start_page`` (to resume an interrupted read).

        Pages are numbered under one ``If-Modified-Since`` and ordered by the records' ids,
        which never change: a record edited during the read stays where it was, and one that
        joins the set (edited after having been older than ``If-Modified-Since``) only pushes
        later records one place on, so a record may be read twice but is never skipped. What
        changes while the pages are read is read by the next pull, which starts from when this
        one's first answer came (see ``mirror``)."""
        page = start_page
        while True:
            data, records, problems, item_count = self._read_page(
                stream, page, page_size, modified_since_ms, where
            )
            yield Page(records, problems, item_count, modified_since_ms, page, _envelope_ms(data))
            if len(records) + len(problems) < page_size or (
                item_count is not None and item_count <= page * page_size
            ):
                return
            page += 1

    def get_record(self, stream: Stream[T], record_id: str) -> Page[T]:
        """One record by its id (``GET /Invoices/{id}``...), as a page of one."""
        data = self.request("GET", f"{stream.path}/{parse_guid(record_id)}") or {}
        records, problems = _parse_items(stream, data.get(stream.collection, []))
        return Page(records, problems, None)

    def _read_page(
        self,
        stream: Stream[T],
        page: int,
        page_size: int,
        since: int | None,
        where: str | None,
        extra: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, Any], list[T], list[RecordProblem], int | None]:
        params = {
            **stream.params,
            **(extra or {}),
            "page": str(page),
            "pageSize": str(page_size),
            # Ids never change, so an edit during the read cannot shift a record past a page.
            "order": f"{stream.id_field} ASC",
        }
        if where:
            params["where"] = where
        data = self.request("GET", stream.path, params=params, modified_since_ms=since) or {}
        items = data.get(stream.collection, [])
        if not isinstance(items, list):
            raise UnexpectedResponse(
                f"Xero's answer to GET /{stream.path} has no list of {stream.collection}.",
                organisation=self.organisation,
                request=f"GET /{stream.path}",
            )
        records, problems = _parse_items(stream, items)
        pagination = data.get("pagination")
        item_count = None
        if isinstance(pagination, dict) and isinstance(pagination.get("itemCount"), int):
            item_count = int(pagination["itemCount"])
        return data, records, problems, item_count

    def iter_contacts(
        self, *, modified_since: datetime | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[Page[Contact]]:
        """Every contact, archived ones included, changed since ``modified_since``."""
        since = to_ms(modified_since) if modified_since is not None else None
        return self.iter_pages(CONTACTS, modified_since_ms=since, page_size=page_size)

    def iter_documents(
        self,
        stream: str,
        *,
        modified_since: datetime | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[Page[Document]]:
        """Every document of ``stream`` (``invoices``, ``credit_notes``, ``payments``,
        ``prepayments``, ``overpayments``) dated in the range and changed since."""
        since = to_ms(modified_since) if modified_since is not None else None
        return self.iter_pages(
            DOCUMENT_STREAMS[stream],
            modified_since_ms=since,
            where=date_where(date_from, date_to),
            page_size=page_size,
        )

    def documents_of_contacts(
        self, stream: str, contact_ids: Sequence[str], *, page_size: int = PAGE_SIZE
    ) -> Iterator[Page[Document]]:
        """Every document of ``stream`` (``invoices``, ``credit_notes``, ``prepayments``,
        ``overpayments``) whose contact is one of ``contact_ids``, whatever its date or status,
        page by page: a fresh read, for when documents must be seen as Xero holds them now
        (a merge in Xero's web app moves documents without saying so to incremental reads).

        Invoices are asked for with ``ContactIDs`` (40 to a query); the others with a
        ``where`` of ``Contact.ContactID`` terms (20 to a query): Xero's query strings are
        short. When reading the whole stream costs fewer calls than that (its first page says
        how many records there are), the whole stream is read instead and only the
        documents of ``contact_ids`` are kept: then a page may hold fewer records."""
        chosen = DOCUMENT_STREAMS[stream]
        if stream not in CONTACT_DOCUMENT_STREAMS:
            raise ValueError(f"{stream} cannot be read by contact")
        ids = sorted({parse_guid(i) for i in contact_ids})
        size = _CONTACT_IDS_PER_QUERY if stream == "invoices" else _WHERE_IDS_PER_QUERY
        queries = -(-len(ids) // size)
        if queries > 1:
            wanted = set(ids)
            data, records, problems, item_count = self._read_page(chosen, 1, page_size, None, None)
            total = item_count
            if total is not None and -(-total // page_size) <= queries:
                page = 1
                while True:
                    mine = [d for d in records if d.contact_id in wanted]
                    yield Page(mine, problems, total, None, page, _envelope_ms(data))
                    if len(records) + len(problems) < page_size or total <= page * page_size:
                        return
                    page += 1
                    data, records, problems, _ = self._read_page(
                        chosen, page, page_size, None, None
                    )
        for first in range(0, len(ids), size):
            chunk = ids[first : first + size]
            extra: dict[str, str] = {}
            where: str | None = None
            if stream == "invoices":
                extra["ContactIDs"] = ",".join(chunk)
            else:
                where = " OR ".join(f'Contact.ContactID==Guid("{i}")' for i in chunk)
            page = 1
            while True:
                data, records, problems, item_count = self._read_page(
                    chosen, page, page_size, None, where, extra
                )
                yield Page(records, problems, item_count, None, page, _envelope_ms(data))
                if len(records) + len(problems) < page_size or (
                    item_count is not None and item_count <= page * page_size
                ):
                    break
                page += 1

    def get_contact(self, contact_id: str) -> Contact:
        """One contact by ContactID (with MergedToContactID); ``NotFound`` if there is none."""
        data = self.request("GET", f"Contacts/{parse_guid(contact_id)}")
        page = _parse_items(CONTACTS, (data or {}).get("Contacts", []))
        if not page[0]:
            reason = page[1][0].reason if page[1] else "no contact in the answer"
            raise UnexpectedResponse(
                f"Xero's answer for contact {contact_id} could not be read: {reason}",
                organisation=self.organisation,
                request="GET /Contacts/{id}",
            )
        return page[0][0]

    def get_contacts(self, contact_ids: Sequence[str]) -> Page[Contact]:
        """Contacts by ContactID, at most 50 (Xero's query strings are short), archived
        included and with MergedToContactID (a paged read)."""
        if len(contact_ids) > BATCH_LIMIT:
            raise ValueError(f"ask for at most {BATCH_LIMIT} contacts at a time")
        ids = ",".join(parse_guid(i) for i in contact_ids)
        params = {"IDs": ids, "includeArchived": "true", "page": "1", "pageSize": str(PAGE_SIZE)}
        data = self.request("GET", "Contacts", params=params) or {}
        records, problems = _parse_items(CONTACTS, data.get("Contacts", []))
        return Page(records, problems, None)

    def count_changed_contacts(self, modified_since_ms: int) -> int:
        """How many contacts (archived included) changed since ``modified_since_ms``: one call
        of one record, read for its ``pagination.itemCount`` (-1 when Xero does not say)."""
        data = self.request(
            "GET",
            "Contacts",
            params={"page": "1", "pageSize": "1", "includeArchived": "true"},
            modified_since_ms=modified_since_ms,
        )
        return int(((data or {}).get("pagination") or {}).get("itemCount", -1))

    def find_contacts_by_number(self, contact_number: str) -> list[Contact]:
        """Every contact (archived included) whose ContactNumber is ``contact_number``. Xero
        does not promise ContactNumbers are unique: callers refuse to act on more than one."""
        quoted = contact_number.replace('"', '""')
        params = {
            "where": f'ContactNumber=="{quoted}"',
            "includeArchived": "true",
            "page": "1",
            "pageSize": str(PAGE_SIZE),
        }
        data = self.request("GET", "Contacts", params=params) or {}
        records, problems = _parse_items(CONTACTS, data.get("Contacts", []))
        if problems:
            raise UnexpectedResponse(
                f"Xero's answer for ContactNumber {contact_number!r} could not be read: "
                f"{problems[0].reason}",
                organisation=self.organisation,
                request="GET /Contacts?where=ContactNumber",
            )
        return [c for c in records if (c.contact_number or "").strip() == contact_number.strip()]

    # -- writes ---------------------------------------------------------------------------------

    def create_contacts(
        self, items: Sequence[Mapping[str, Any]], idempotency_key: str
    ) -> list[ItemResult[Contact]]:
        """Create up to 50 contacts (``PUT``: create-only, a namesake is refused, never
        overwritten). One result per item, in order."""
        if any("ContactID" in item for item in items):
            raise ValueError("a contact to create must not carry a ContactID")
        return self._write(CONTACTS, "PUT", "Contacts", items, idempotency_key)

    def update_contacts(
        self, items: Sequence[Mapping[str, Any]], idempotency_key: str
    ) -> list[ItemResult[Contact]]:
        """Update up to 50 contacts, each named by its ContactID (never matched by Name)."""
        for item in items:
            parse_guid(item.get("ContactID"))
        return self._write(CONTACTS, "POST", "Contacts", items, idempotency_key)

    def update_contact(
        self, contact_id: str, fields: Mapping[str, Any], idempotency_key: str
    ) -> ItemResult[Contact]:
        """Update one contact with only the fields given (e.g. ``ContactStatus: ARCHIVED``)."""
        item = {**fields, "ContactID": parse_guid(contact_id)}
        path = f"Contacts/{item['ContactID']}"
        return self._write(CONTACTS, "POST", path, [item], idempotency_key)[0]

    def update_documents(
        self, stream: str, items: Sequence[Mapping[str, Any]], idempotency_key: str
    ) -> list[ItemResult[Document]]:
        """Update up to 50 invoices or credit notes (``POST /Invoices``), each named by its id
        (``InvoiceID`` / ``CreditNoteID``) and carrying only the fields to change, e.g.
        ``{"InvoiceID": ..., "Contact": {"ContactID": ...}, "Status": "AUTHORISED"}`` to
        re-point one. One result per item, in order; a result that names another document
        than the item sent is refused as unreadable."""
        if stream not in WRITABLE_DOCUMENT_STREAMS:
            raise ValueError(f"{stream} cannot be updated through the API")
        chosen = DOCUMENT_STREAMS[stream]
        sent_ids = [parse_guid(item.get(chosen.id_field)) for item in items]
        results = self._write(chosen, "POST", chosen.path, items, idempotency_key)
        for sent_id, result in zip(sent_ids, results, strict=True):
            got = result.record.document_id if isinstance(result.record, Document) else None
            if got is not None and got != sent_id:
                raise UnexpectedResponse(
                    f"Xero's answer to POST /{chosen.path} names {chosen.id_field} {got} where "
                    f"{sent_id} was sent.",
                    fix="Look the documents up before sending them again.",
                    organisation=self.organisation,
                    request=f"POST /{chosen.path}",
                )
        return results

    def _write(
        self,
        stream: Stream[T],
        method: str,
        path: str,
        items: Sequence[Mapping[str, Any]],
        idempotency_key: str,
    ) -> list[ItemResult[T]]:
        if not 1 <= len(items) <= BATCH_LIMIT:
            raise ValueError(f"send 1 to {BATCH_LIMIT} items per request, not {len(items)}")
        data = self.request(
            method,
            path,
            params={"summarizeErrors": "false"},
            body={stream.collection: list(items)},
            idempotency_key=idempotency_key,
        )
        answered = (data or {}).get(stream.collection)
        if not isinstance(answered, list) or len(answered) != len(items):
            raise UnexpectedResponse(
                f"Xero's answer to {method} /{path} does not hold one result per item sent "
                f"({len(items)} sent).",
                fix="Look the items up before sending them again.",
                organisation=self.organisation,
                request=f"{method} /{path}",
            )
        return [
            _item_result(stream, i, sent, got)
            for i, (sent, got) in enumerate(_pair_results(items, answered))
        ]


# -- helpers -------------------------------------------------------------------------------------


def date_where(date_from: date | None, date_to: date | None) -> str | None:
    """A ``where`` clause for a document date range (both ends included)."""
    terms = []
    if date_from is not None:
        terms.append(
            f"Date >= DateTime({date_from.year}, {date_from.month:02d}, {date_from.day:02d})"
        )
    if date_to is not None:
        terms.append(f"Date <= DateTime({date_to.year}, {date_to.month:02d}, {date_to.day:02d})")
    return " && ".join(terms) or None


def _retry_after(value: str | None) -> float:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date); 60 when absent."""
    if not value:
        return 60.0
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 60.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _envelope_ms(data: Mapping[str, Any]) -> int | None:
    """When Xero produced an answer (the envelope's DateTimeUTC), in epoch milliseconds."""
    try:
        return to_ms(parse_date(data["DateTimeUTC"]))
    except (KeyError, WireError):
        return None


def _updated(record: Any) -> datetime:
    updated = record.updated
    assert isinstance(updated, datetime)
    return updated


def _parse_items(stream: Stream[T], items: Any) -> tuple[list[T], list[RecordProblem]]:
    records: list[T] = []
    problems: list[RecordProblem] = []
    if not isinstance(items, list):
        return records, [RecordProblem(0, None, f"{stream.collection} is not a list", repr(items))]
    for index, raw in enumerate(items):
        try:
            records.append(stream.parse(raw))
        except WireError as exc:
            record_id = None
            if isinstance(raw, Mapping):
                try:
                    record_id = parse_guid(raw.get(stream.id_field))
                except WireError:
                    record_id = None
            try:
                text = dumps(raw)
            except WireError:
                text = repr(raw)
            problems.append(RecordProblem(index, record_id, str(exc), text[:20_000]))
    return records, problems


def _validation_messages(data: Any) -> tuple[list[str], list[dict[str, Any]]]:
    if not isinstance(data, dict):
        return [], []
    messages: list[str] = []
    elements = [e for e in data.get("Elements") or [] if isinstance(e, dict)]
    for element in elements:
        for error in element.get("ValidationErrors") or []:
            if isinstance(error, dict) and error.get("Message"):
                messages.append(str(error["Message"]))
    if not messages and data.get("Message"):
        messages.append(str(data["Message"]))
    return messages, elements


def _key(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    if isinstance(value, str) and value.strip():
        return value.strip().casefold()
    return None


def _agree(sent: Mapping[str, Any], got: Any) -> bool:
    if not isinstance(got, Mapping):
        return True
    for name in ("ContactID", "ContactNumber"):
        mine, theirs = _key(sent, name), _key(got, name)
        if mine is not None and theirs is not None and mine != theirs:
            return False
    return True


def _pair_results(
    sent: Sequence[Mapping[str, Any]], answered: list[Any]
) -> list[tuple[Mapping[str, Any], Any]]:
    """Pair each sent item with its result. Xero answers in request order; where both sides
    carry a ContactID or ContactNumber they must agree, or the pairing is made by number."""
    pairs = list(zip(sent, answered, strict=True))
    if all(_agree(s, a) for s, a in pairs):
        return pairs
    by_number = {
        _key(a, "ContactNumber"): a
        for a in answered
        if isinstance(a, Mapping) and _key(a, "ContactNumber")
    }
    repaired: list[tuple[Mapping[str, Any], Any]] = []
    for s in sent:
        number = _key(s, "ContactNumber")
        if number is None or number not in by_number:
            raise UnexpectedResponse(
                "Xero's results cannot be matched to the items sent.",
                fix="Look the items up before sending them again.",
            )
        repaired.append((s, by_number[number]))
    return repaired


def _item_result(stream: Stream[T], index: int, sent: Mapping[str, Any], got: Any) -> ItemResult[T]:
    if not isinstance(got, Mapping):
        return ItemResult(index, "ERROR", None, None, ["Xero's result is not an object."], [], sent)
    messages = [
        str(e.get("Message"))
        for e in got.get("ValidationErrors") or []
        if isinstance(e, Mapping) and e.get("Message")
    ]
    warnings = [
        str(w.get("Message"))
        for w in got.get("Warnings") or []
        if isinstance(w, Mapping) and w.get("Message")
    ]
    status = str(got.get("StatusAttributeString") or "").upper()
    if not status:
        status = "ERROR" if got.get("HasValidationErrors") or got.get("HasErrors") else "OK"
    record: T | None = None
    record_id: str | None = None
    if status != "ERROR":
        try:
            record = stream.parse(got)
            record_id = str(got.get(stream.id_field))
        except WireError as exc:
            status = "ERROR"
            messages.append(f"Xero's result could not be read: {exc}")
    return ItemResult(index, status, record, record_id, messages, warnings, sent)


def open_client(
    store: Store,
    config: Config,
    *,
    tenant: str | None = None,
    connection: XeroConnection | None = None,
    http: httpx.Client | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_event: OnEvent | None = None,
    retry: RetryPolicy | None = None,
) -> XeroClient:
    """A client for the connected organisation ``tenant`` names (or the only one), wired to
    the store's budget, lock and tokens, with the settings of ``config``."""
    connection = connection or find_connection(store, tenant)
    timeout = float(config["xero_timeout"])
    if timeout <= 0:
        raise ConfigError(
            "xero_timeout", config.sources.get("xero_timeout", "default"), "must be above 0."
        )
    owns = http is None
    if http is None:
        http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            headers={"User-Agent": f"learnerledger/{__version__}"},
        )
    box = load_secret_box(config.home)
    tokens = TokenStore(store, box, connection)
    identity = IdentityClient(http, connection.endpoints, sleep=sleep, clock=clock)
    lock = StoreLock(store, f"refresh:{connection.id}", lease_seconds=4 * timeout + 30, clock=clock)
    auth = XeroAuth(tokens, identity, lock, clock=clock)
    budget = RateBudget(
        store,
        connection.id,
        limits=Limits.from_config(config),
        organisation=connection.name,
        clock=clock,
        sleep=sleep,
        max_wait=float(config["xero_max_wait"]),
        lease_seconds=2 * timeout + 60,
    )
    return XeroClient(
        connection,
        http,
        auth=auth,
        budget=budget,
        retry=retry or RetryPolicy(attempts=max(1, int(config["xero_retries"]))),
        sleep=sleep,
        on_event=on_event,
        owns_http=owns,
    )
