"""Fixtures for the document tests: ``books`` (the sandbox's HTTP API) and ``xero_sdk`` (Xero's
official Python SDK), both on a fresh Xero sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import XeroSandbox
from sandbox_documents import SDK, Books


@pytest.fixture
def books(xero_sandbox: XeroSandbox) -> Books:
    return Books(xero_sandbox, xero_sandbox.http())


@pytest.fixture
def xero_sdk(xero_sandbox: XeroSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[SDK]:
    from xero_python.api_client.oauth2 import TokenApi

    # The SDK keeps its token URL in a class attribute; point it at the sandbox.
    monkeypatch.setattr(
        TokenApi, "client_credentials_token_url", xero_sandbox.url + "/connect/token"
    )
    sdk = SDK(xero_sandbox)
    sdk.client.get_client_credentials_token()
    yield sdk
    sdk.close()
