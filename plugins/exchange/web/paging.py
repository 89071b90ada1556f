"""Paging (分页) for every list the portal shows: PAGE_SIZE rows a page, `?p=N` in the address.

A list is read bounded (each query has its own limit); the page is a slice of it, so the page
number a person types can never make a query bigger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PAGE_SIZE = 25


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows, its number (from 1), how many pages and rows in all."""

    rows: Sequence[Any]
    number: int
    pages: int
    total: int
    size: int = PAGE_SIZE

    @property
    def first_row(self) -> int:
        return (self.number - 1) * self.size + 1 if self.total else 0

    @property
    def last_row(self) -> int:
        return self.first_row + len(self.rows) - 1 if self.total else 0


def page_of(rows: Sequence[Any], requested: str | None, size: int = PAGE_SIZE) -> Page:
    """The requested page (a number in the address, clamped to the pages there are)."""
    pages = max(1, -(-len(rows) // size))
    try:
        number = min(max(int(requested or "1"), 1), pages)
    except ValueError:
        number = 1
    return Page(rows[(number - 1) * size:number * size], number, pages, len(rows), size)
