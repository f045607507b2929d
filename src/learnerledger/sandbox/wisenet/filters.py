"""Query parameters: ``<field>Filter`` values, their operator prefixes, ``search``,
``skip`` and ``take`` (contract §1.5, §1.6), compiled to SQL for the sandbox's store.

A plain value means equality; ``lastModifiedTimeStampFilter`` and the id filters also take
``gt: ge: lt: le: eq: ne: bt: in: ni: ct: nc:`` (``bt`` and ``in``/``ni`` list their values
with commas). Strings compare without regard to case. Anything unreadable is a 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from learnerledger.sandbox.wisenet.wire import bad_request, parse_ts

__all__ = ["DEFAULT_TAKE", "MAX_TAKE", "Query", "paging"]

MAX_TAKE = 1000
DEFAULT_TAKE = 1000
OPERATORS = ("gt", "ge", "lt", "le", "eq", "ne", "bt", "in", "ni", "ct", "nc")
_COMPARE = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "=", "ne": "<>"}
_PREFIX = re.compile(r"^([A-Za-z]{2}):(.*)$", re.DOTALL)
_TRUE, _FALSE = {"true", "1"}, {"false", "0"}


def paging(params: Mapping[str, str]) -> tuple[int, int]:
    """``skip`` and ``take``: whole numbers, take capped at 1000 (our choice, §1.5)."""
    out = []
    for name, default in (("skip", 0), ("take", DEFAULT_TAKE)):
        raw = params.get(name, "").strip()
        if not raw:
            out.append(default)
            continue
        if not re.fullmatch(r"[+]?\d{1,9}", raw):
            raise bad_request(f"The value '{raw}' is not valid for {name}: a whole number >= 0.")
        out.append(int(raw))
    skip, take = out
    return skip, min(take, MAX_TAKE)


@dataclass
class Query:
    """WHERE clauses and their parameters, built filter by filter."""

    clauses: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)

    def where(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""

    def text_equals(self, column: str, value: str | None) -> None:
        if value is None:
            return
        self.clauses.append(f"{column} = ?")
        self.args.append(value.strip().casefold())

    def boolean(self, column: str, value: str | None, name: str) -> None:
        if value is None:
            return
        text = value.strip().casefold()
        if text not in _TRUE | _FALSE:
            raise bad_request(f"The value '{value}' is not valid for {name}: true or false.")
        self.clauses.append(f"{column} = ?")
        self.args.append(1 if text in _TRUE else 0)

    def search(self, columns: tuple[str, ...], value: str | None) -> None:
        if value is None or not value.strip():
            return
        pattern = "%" + _escape_like(value.strip().casefold()) + "%"
        self.clauses.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns) + ")")
        self.args.extend([pattern] * len(columns))

    def timestamp(self, column: str, text_column: str, value: str | None, name: str) -> None:
        self._operator(column, text_column, value, name, _timestamp_operand)

    def identifier(self, column: str, value: str | None, name: str) -> None:
        self._operator(column, f"CAST({column} AS TEXT)", value, name, _int_operand)

    def _operator(
        self, column: str, text_column: str, value: str | None, name: str, operand: Any
    ) -> None:
        if value is None:
            return
        op, rest = "eq", value
        match = _PREFIX.match(value.strip())
        if match:
            op, rest = match.group(1).lower(), match.group(2)
            if op not in OPERATORS:
                raise bad_request(
                    f"'{match.group(1)}' is not a filter operator for {name}. "
                    "Use one of: " + ", ".join(OPERATORS) + "."
                )
        if op in _COMPARE:
            self.clauses.append(f"{column} {_COMPARE[op]} ?")
            self.args.append(operand(rest, name))
        elif op == "bt":
            parts = rest.split(",")
            if len(parts) != 2:
                raise bad_request(f"bt: on {name} takes two values separated by a comma.")
            self.clauses.append(f"{column} BETWEEN ? AND ?")
            self.args.extend(operand(p, name) for p in parts)
        elif op in ("in", "ni"):
            values = [operand(p, name) for p in rest.split(",")]
            marks = ", ".join("?" for _ in values)
            self.clauses.append(f"{column} {'IN' if op == 'in' else 'NOT IN'} ({marks})")
            self.args.extend(values)
        else:  # ct, nc: on the value as the API writes it
            pattern = "%" + _escape_like(rest.strip().casefold()) + "%"
            negate = "NOT " if op == "nc" else ""
            self.clauses.append(f"lower({text_column}) {negate}LIKE ? ESCAPE '\\'")
            self.args.append(pattern)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _timestamp_operand(text: str, name: str) -> int:
    try:
        return parse_ts(text)
    except ValueError as exc:
        raise bad_request(f"The value of {name} is invalid: {exc}") from None


def _int_operand(text: str, name: str) -> int:
    text = text.strip()
    if not re.fullmatch(r"[+-]?\d{1,10}", text) or not -(2**31) <= int(text) < 2**31:
        raise bad_request(f"The value '{text}' is not valid for {name}: a whole number.")
    return int(text)
