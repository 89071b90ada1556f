"""How the generator writes values: ISO dates, money in cents, rates in millionths, month ends.

Amounts are kept in integer cents and rates in integer millionths so that every value written is
exact and the same on every machine.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import random

iso = functools.cache(dt.date.isoformat)
"""A date as YYYY-MM-DD (cached: the same few hundred dates are written millions of times)."""


def date_text(d: dt.date | None) -> str:
    """An optional date: empty when absent."""
    return "" if d is None else iso(d)


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def cents(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int(frac or 0)


def month_end(year: int, month: int) -> dt.date:
    y, m = divmod(year * 12 + month, 12)  # the first of the next month, minus a day
    return dt.date(y, m + 1, 1) - dt.timedelta(days=1)


def shift_month_end(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    return month_end(y, m + 1)


def rate_text(rate: int, places: int) -> str:
    """`rate` is in millionths; lenders write 4 or 6 decimals (rates are drawn on a 0.0001 grid)."""
    text = f"{rate // 1_000_000}.{rate % 1_000_000:06d}"
    return text[: len(text) - (6 - places)]


def log_amount(rng: random.Random, lo: int, hi: int, step: int) -> int:
    """A loan amount in cents: log-uniform between lo and hi yuan, rounded to `step` yuan."""
    yuan = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    return max(lo, min(hi, round(yuan / step) * step)) * 100
