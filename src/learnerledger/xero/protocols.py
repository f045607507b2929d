"""What jobs need of Xero, as small protocols that :class:`~learnerledger.xero.XeroClient`
satisfies: planners and appliers take these, so they can be tested without HTTP.

Each names the organisation it talks to (``connection``, ``organisation``), counts the calls it
made (``calls``) and shares the organisation's rate budget (``budget``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from learnerledger.xero.client import PAGE_SIZE, ItemResult, Page, Stream
from learnerledger.xero.connections import XeroConnection
from learnerledger.xero.ratelimit import RateBudget
from learnerledger.xero.wire import Contact, Document

__all__ = [
    "ContactMerger",
    "ContactReader",
    "ContactSyncer",
    "ContactWriter",
    "DocumentReader",
    "DocumentWriter",
    "PageReader",
    "XeroOrganisation",
]

T = TypeVar("T", Contact, Document)


@runtime_checkable
class XeroOrganisation(Protocol):
    """One connected organisation and what talking to it has cost."""

    connection: XeroConnection
    calls: int
    budget: RateBudget

    @property
    def organisation(self) -> str: ...


@runtime_checkable
class PageReader(XeroOrganisation, Protocol):
    """Reads a stream page by page, incrementally (``If-Modified-Since``)."""

    def iter_pages(
        self,
        stream: Stream[T],
        *,
        modified_since_ms: int | None = None,
        where: str | None = None,
        page_size: int = PAGE_SIZE,
        start_page: int = 1,
    ) -> Iterator[Page[T]]: ...


@runtime_checkable
class ContactReader(PageReader, Protocol):
    """Reads contacts: paged and incremental, or by id."""

    def get_contacts(self, contact_ids: Sequence[str]) -> Page[Contact]: ...


@runtime_checkable
class DocumentReader(PageReader, Protocol):
    """Reads documents: paged and incremental, or one by id."""

    def get_record(self, stream: Stream[T], record_id: str) -> Page[T]: ...


@runtime_checkable
class ContactWriter(XeroOrganisation, Protocol):
    """Creates and updates contacts in batches, one result per item."""

    def create_contacts(
        self, items: Sequence[Mapping[str, Any]], idempotency_key: str
    ) -> list[ItemResult[Contact]]: ...

    def update_contacts(
        self, items: Sequence[Mapping[str, Any]], idempotency_key: str
    ) -> list[ItemResult[Contact]]: ...


@runtime_checkable
class ContactSyncer(ContactReader, ContactWriter, Protocol):
    """What the learner sync needs: read and write contacts, tell whether anything else
    changed since a moment (``count_changed_contacts``), and report retries (``on_event``)."""

    on_event: Any

    @property
    def tenant_id(self) -> str: ...

    def count_changed_contacts(self, modified_since_ms: int) -> int: ...


@runtime_checkable
class DocumentWriter(XeroOrganisation, Protocol):
    """Updates invoices and credit notes in batches (named by their ids), one result per item,
    and reads the documents of given contacts afresh."""

    def update_documents(
        self, stream: str, items: Sequence[Mapping[str, Any]], idempotency_key: str
    ) -> list[ItemResult[Document]]: ...

    def documents_of_contacts(
        self, stream: str, contact_ids: Sequence[str], *, page_size: int = PAGE_SIZE
    ) -> Iterator[Page[Document]]: ...


@runtime_checkable
class ContactMerger(ContactReader, ContactWriter, DocumentReader, DocumentWriter, Protocol):
    """What a merge needs: read contacts and documents (afresh, by contact), re-point
    documents, update and archive contacts, and report retries (``on_event``)."""

    on_event: Any

    @property
    def tenant_id(self) -> str: ...
