"""The organisation record and a standard Australian chart of accounts.

Every organisation gets the same chart when it is created: a business bank account (090) that
payments go to, sales account 200 (GST on income) and a GST-free course-fees account 210, since
accredited training is GST-free in Australia. The documents part of the sandbox books to these.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

from learnerledger.sandbox.xero.store import Organisation
from learnerledger.sandbox.xero.wire import ms_date, ms_date_plain

__all__ = [
    "STANDARD_CHART",
    "ensure_chart",
    "find_account",
    "list_accounts",
    "render_organisation",
]

_ACCOUNT_NAMESPACE = uuid.UUID("0b5e7d2c-4f61-4a8e-9d3b-7c2a1e5f9b04")

# Code, Name, Type, TaxType, Class, extra fields.
STANDARD_CHART: tuple[tuple[str, str, str, str, str, dict[str, Any]], ...] = (
    (
        "090",
        "Business Bank Account",
        "BANK",
        "BASEXCLUDED",
        "ASSET",
        {
            "BankAccountNumber": "062000 12345678",
            "BankAccountType": "BANK",
            "CurrencyCode": "AUD",
            "EnablePaymentsToAccount": False,
        },
    ),
    (
        "091",
        "Business Savings Account",
        "BANK",
        "BASEXCLUDED",
        "ASSET",
        {
            "BankAccountNumber": "062000 87654321",
            "BankAccountType": "BANK",
            "CurrencyCode": "AUD",
            "EnablePaymentsToAccount": False,
        },
    ),
    ("200", "Sales", "REVENUE", "OUTPUT", "REVENUE", {}),
    ("210", "Course Fees (GST free)", "REVENUE", "EXEMPTOUTPUT", "REVENUE", {}),
    ("260", "Other Revenue", "REVENUE", "OUTPUT", "REVENUE", {}),
    ("270", "Interest Income", "REVENUE", "INPUTTAXED", "REVENUE", {}),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "INPUT", "EXPENSE", {}),
    ("400", "Advertising", "EXPENSE", "INPUT", "EXPENSE", {}),
    ("404", "Bank Fees", "EXPENSE", "INPUTTAXED", "EXPENSE", {}),
    ("412", "Consulting & Accounting", "EXPENSE", "INPUT", "EXPENSE", {}),
    ("461", "Printing & Stationery", "EXPENSE", "INPUT", "EXPENSE", {}),
    ("477", "Wages and Salaries", "EXPENSE", "BASEXCLUDED", "EXPENSE", {}),
    ("493", "Travel - National", "EXPENSE", "INPUT", "EXPENSE", {}),
    ("610", "Accounts Receivable", "CURRENT", "BASEXCLUDED", "ASSET", {"SystemAccount": "DEBTORS"}),
    ("620", "Prepayments", "CURRENT", "BASEXCLUDED", "ASSET", {}),
    (
        "800",
        "Accounts Payable",
        "CURRLIAB",
        "BASEXCLUDED",
        "LIABILITY",
        {"SystemAccount": "CREDITORS"},
    ),
    ("820", "GST", "CURRLIAB", "BASEXCLUDED", "LIABILITY", {"SystemAccount": "GST"}),
    ("835", "Revenue Received in Advance", "CURRLIAB", "BASEXCLUDED", "LIABILITY", {}),
    (
        "960",
        "Retained Earnings",
        "EQUITY",
        "BASEXCLUDED",
        "EQUITY",
        {"SystemAccount": "RETAINEDEARNINGS"},
    ),
    ("970", "Owner A Funds Introduced", "EQUITY", "BASEXCLUDED", "EQUITY", {}),
)


def ensure_chart(conn: sqlite3.Connection, tenant_id: str, *, now_ms: int) -> None:
    """Give the organisation the standard chart if it has no accounts yet."""
    if conn.execute("SELECT 1 FROM accounts WHERE tenant_id = ? LIMIT 1", (tenant_id,)).fetchone():
        return
    for code, name, type_, tax, class_, extra in STANDARD_CHART:
        account_id = str(uuid.uuid5(_ACCOUNT_NAMESPACE, f"{tenant_id}:{code}"))
        data = {
            "AccountID": account_id,
            "Code": code,
            "Name": name,
            "Status": "ACTIVE",
            "Type": type_,
            "TaxType": tax,
            "Class": class_,
            "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": type_ == "EXPENSE",
            "ReportingCode": "",
            "ReportingCodeName": "",
            "HasAttachments": False,
            "AddToWatchlist": False,
            **extra,
        }
        conn.execute(
            "INSERT INTO accounts (tenant_id, account_id, code, updated_ms, data) "
            "VALUES (?, ?, ?, ?, ?)",
            (tenant_id, account_id, code, now_ms, json.dumps(data)),
        )


def list_accounts(
    conn: sqlite3.Connection,
    tenant_id: str,
    *,
    where_sql: str = "1 = 1",
    params: list[Any] | None = None,
    order: list[str] | None = None,
    modified_since_ms: int | None = None,
) -> list[dict[str, Any]]:
    clauses = ["tenant_id = ?", where_sql]
    args: list[Any] = [tenant_id, *(params or [])]
    if modified_since_ms is not None:
        clauses.append("updated_ms >= ?")
        args.append(modified_since_ms)
    order_sql = ", ".join([*(order or []), "code ASC"])
    rows = conn.execute(
        f"SELECT data, updated_ms FROM accounts WHERE {' AND '.join(clauses)} ORDER BY {order_sql}",
        args,
    ).fetchall()
    out = []
    for row in rows:
        data = json.loads(row["data"])
        data["UpdatedDateUTC"] = ms_date(row["updated_ms"])
        out.append(data)
    return out


def find_account(
    conn: sqlite3.Connection,
    tenant_id: str,
    *,
    code: str | None = None,
    account_id: str | None = None,
) -> dict[str, Any] | None:
    """An account of the organisation by its code or its AccountID (codes match exactly)."""
    if account_id is not None:
        row = conn.execute(
            "SELECT data FROM accounts WHERE tenant_id = ? AND account_id = ?",
            (tenant_id, account_id),
        ).fetchone()
    elif code is not None:
        row = conn.execute(
            "SELECT data FROM accounts WHERE tenant_id = ? AND code = ?", (tenant_id, code)
        ).fetchone()
    else:
        return None
    return None if row is None else dict(json.loads(row["data"]))


def render_organisation(org: Organisation) -> dict[str, Any]:
    return {
        "OrganisationID": org.tenant_id,
        "APIKey": "",
        "Name": org.name,
        "LegalName": f"{org.name} Pty Ltd",
        "PaysTax": True,
        "Version": "AU",
        "OrganisationType": "COMPANY",
        "BaseCurrency": "AUD",
        "CountryCode": "AU",
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "RegistrationNumber": "",
        "TaxNumber": "51 824 753 556",
        "FinancialYearEndDay": 30,
        "FinancialYearEndMonth": 6,
        "SalesTaxBasis": "ACCRUALS",
        "SalesTaxPeriod": "QUARTERLY1",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Inclusive",
        "CreatedDateUTC": ms_date_plain(org.created_ms),
        "OrganisationEntityType": "COMPANY",
        "Timezone": "AUSEASTERNSTANDARDTIME",
        "ShortCode": org.short_code,
        "Edition": "BUSINESS",
        "Class": "STANDARD",
        "LineOfBusiness": "Vocational education and training",
        "Addresses": [
            {
                "AddressType": "STREET",
                "AddressLine1": "Level 3, 120 Education Lane",
                "City": "Parramatta",
                "Region": "NSW",
                "PostalCode": "2150",
                "Country": "Australia",
                "AttentionTo": "",
            }
        ],
        "Phones": [{"PhoneType": "OFFICE", "PhoneNumber": "9876 5432", "PhoneAreaCode": "02"}],
        "ExternalLinks": [],
        "PaymentTerms": {"Sales": {"Day": 14, "Type": "DAYSAFTERBILLDATE"}},
    }
