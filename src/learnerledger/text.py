"""Small helpers for the words learnerledger prints."""

from __future__ import annotations

__all__ = ["count"]


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``count(1, "call")`` is "1 call", ``count(3, "call")`` "3 calls", with thousands commas."""
    word = singular if n == 1 else (plural or singular + "s")
    return f"{n:,} {word}"
