"""What the dashboards (图表) read from the marts: series per lender, industry quartiles, matrices.

Who sees what is decided here, once: `Scope` carries the caller's lender code (None for the
association). A lender's scope reads its own rows and the industry's quartiles, which are
aggregates over every lender with no lender code in them; the association's reads every lender.
Lenders have no grant on the marts schema (migration 0004: marts are for the association and
analysts), so these queries run as the web's own role and filter by lender code in SQL; every
query that returns per-lender rows takes the scope's filter, and the page test checks that a
lender's page holds no other lender's code.

The months shown are decided by `shown_months` alone (one rule for every chart).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

import asyncpg

MARTS = ("mart_portfolio_quality", "mart_roll_rates", "mart_vintage", "mart_multi_lender",
         "mart_lender_submission_quality")
TREND_MONTHS = 24
"""Months drawn on a trend chart, ending with the selected month."""
VINTAGE_COHORTS = 12
"""Most recent disbursement cohorts drawn as vintage curves."""
FROM_BUCKETS = ("C", "M1", "M2", "M3", "M4", "M5", "M6", "M7+")
TO_BUCKETS = (*FROM_BUCKETS, "settled", "compensated", "written_off", "transferred", "unreported")
"""The buckets of mart_roll_rates (its yml's accepted values), in the heatmap's order."""
RATIOS = {"npl": "npl_balance", "m1_plus": "m1_plus_balance"}
"""Balance ratios drawn as trends: numerator column of mart_portfolio_quality over outstanding_principal."""


@dataclass(frozen=True)
class Scope:
    """Whose lines a dashboard shows: one lender's (lender_code) or every lender's (None)."""

    lender_code: str | None

    def lenders_filter(self, column: str, param: int) -> str:
        """SQL condition keeping the scope's rows; `param` is the $n that carries lender_code."""
        return "true" if self.lender_code is None else f"{column} = ${param}"

    def args(self) -> list[Any]:
        return [] if self.lender_code is None else [self.lender_code]

    def min_peers(self) -> int:
        """Lenders a month needs before its industry quartiles are shown in this scope.

        A lender who knows its own ratio can work out the others' from the quartiles of two or
        three lenders (each quartile is then one lender's value or the mean of two), so a lender
        sees the band only in months with EXCHANGE_DASHBOARD_MIN_LENDERS (default 5) lenders or
        more; the association sees every lender anyway."""
        if self.lender_code is None:
            return 1
        return max(int(os.environ.get("EXCHANGE_DASHBOARD_MIN_LENDERS", "5")), 1)


@dataclass(frozen=True)
class Filters:
    month: dt.date
    product: str | None
    region: str | None
    """A province: the first two digits of the six-digit region code."""


async def built_marts(pool: asyncpg.Pool) -> set[str]:
    """The dashboard marts that exist (a fresh exchange has none until the transform runs)."""
    rows = await pool.fetch("select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                            " where n.nspname = 'marts' and c.relname = any($1::text[])", list(MARTS))
    return {r["relname"] for r in rows}


async def shown_months(pool: asyncpg.Pool) -> list[dt.date]:
    """The months the dashboards show, oldest first: the one place that decides it.

    Every month mart_portfolio_quality holds: those are complete months by construction, since a
    partial loan_status file (short of the lender's book, migration 0017) counts in no model until
    a complete file of its month arrives (int_submissions_effective.is_effective)."""
    if "mart_portfolio_quality" not in await built_marts(pool):
        return []
    rows = await pool.fetch("select distinct report_month from marts.mart_portfolio_quality order by 1")
    return [r["report_month"] for r in rows]


async def filter_options(pool: asyncpg.Pool) -> dict[str, list[str]]:
    """Products and provinces the portfolio mart holds (the filters' choices)."""
    if "mart_portfolio_quality" not in await built_marts(pool):
        return {"products": [], "regions": []}
    products = await pool.fetch("select distinct product_type from marts.mart_portfolio_quality order by 1")
    regions = await pool.fetch("select distinct left(region_code, 2) as p from marts.mart_portfolio_quality order by 1")
    return {"products": [r["product_type"] for r in products], "regions": [r["p"] for r in regions]}


_QUARTILES = """
    select month, percentile_cont(0.25) within group (order by ratio) as p25,
           percentile_cont(0.5) within group (order by ratio) as p50,
           percentile_cont(0.75) within group (order by ratio) as p75, count(*) as peers
    from {source} where ratio is not null group by month"""
"""The industry's quartiles per month over a relation of (month, lender_code, ratio): each lender counts once."""


async def ratio_trend(pool: asyncpg.Pool, scope: Scope, f: Filters, ratio: str) -> dict[str, Any]:
    """Balance ratio per lender and month, and the industry's p25 / median / p75 across lenders.

    {"months": [...], "lenders": {code: [ratio or None per month]}, "p25": [...], "p50": [...], "p75": [...]}
    The quartiles are over every lender's ratio in the month (whatever the scope), so a lender sees
    where it stands without seeing anyone else's line."""
    numerator = RATIOS[ratio]  # a fixed column name, never the request's text
    rows = await pool.fetch(f"""
        with per_lender as (
            select report_month as month, lender_code,
                   sum({numerator})::float8 / nullif(sum(outstanding_principal), 0)::float8 as ratio
            from marts.mart_portfolio_quality
            where report_month <= $1 and report_month > $1 - make_interval(months => $2)
              and ($3::text is null or product_type = $3) and ($4::text is null or left(region_code, 2) = $4)
            group by report_month, lender_code
        ),
        industry as ({_QUARTILES.format(source="per_lender")})
        select i.month, i.p25, i.p50, i.p75, i.peers, l.lender_code, l.ratio
        from industry i left join per_lender l
          on l.month = i.month and {scope.lenders_filter('l.lender_code', 5)}
        order by i.month, l.lender_code""", f.month, TREND_MONTHS, f.product, f.region, *scope.args())
    return _band_series(rows, scope.min_peers())[0]


def _band_series(rows: list[asyncpg.Record], min_peers: int) -> tuple[dict[str, Any], dict[dt.date, int]]:
    """Rows of (month, p25, p50, p75, peers, lender_code, ratio) as the chart's series, and each
    month's position; a month's quartiles are left out when fewer than min_peers lenders make them."""
    months = sorted({r["month"] for r in rows})
    index = {m: i for i, m in enumerate(months)}
    out: dict[str, Any] = {"months": [m.isoformat()[:7] for m in months], "lenders": {},
                           "p25": [None] * len(months), "p50": [None] * len(months), "p75": [None] * len(months)}
    for r in rows:
        i = index[r["month"]]
        for q in ("p25", "p50", "p75"):
            out[q][i] = r[q] if r["peers"] >= min_peers else None
        if r["lender_code"] is not None:
            out["lenders"].setdefault(r["lender_code"], [None] * len(months))[i] = r["ratio"]
    return out, index


async def roll_matrix(pool: asyncpg.Pool, scope: Scope, f: Filters) -> dict[str, Any]:
    """Balance roll rates into the selected month: from the buckets at the previous month's end to
    where the loans stand at the selected month's end, over the scope's lenders:
    {"from": buckets, "to": buckets, "z": rows of rates (None where no balance), "loans": counts}."""
    rows = await pool.fetch(f"""
        select from_bucket, to_bucket, sum(loans)::int8 as loans, sum(from_balance)::float8 as balance
        from marts.mart_roll_rates
        where to_month = $1 and ($2::text is null or product_type = $2) and {scope.lenders_filter('lender_code', 3)}
        group by from_bucket, to_bucket""", f.month, f.product, *scope.args())
    balance = {(r["from_bucket"], r["to_bucket"]): r["balance"] for r in rows}
    loans = {(r["from_bucket"], r["to_bucket"]): r["loans"] for r in rows}
    froms = [b for b in FROM_BUCKETS if any(k[0] == b for k in balance)]
    tos = [b for b in TO_BUCKETS if any(k[1] == b for k in balance)]
    z, counts = [], []
    for a in froms:
        total = sum(v for (x, _), v in balance.items() if x == a) or None
        z.append([None if total is None or (a, b) not in balance else balance[(a, b)] / total for b in tos])
        counts.append([loans.get((a, b), 0) for b in tos])
    return {"from": froms, "to": tos, "z": z, "loans": counts}


async def vintage_curves(pool: asyncpg.Pool, scope: Scope, f: Filters) -> dict[str, Any]:
    """Share of each recent cohort ever at DPD 91+ by month on book, over the scope's lenders:
    {"cohorts": {"YYYY-MM": {"mob": [...], "share": [...]}}}. Cohorts disbursed up to the selected month."""
    rows = await pool.fetch(f"""
        with cohorts as (
            select distinct cohort_month from marts.mart_vintage
            where cohort_month <= $1 and ($2::text is null or product_type = $2)
              and {scope.lenders_filter('lender_code', 3)}
            order by cohort_month desc limit {VINTAGE_COHORTS}
        )
        select v.cohort_month, v.month_on_book,
               sum(v.ever_90_plus_loans)::float8 / nullif(sum(v.cohort_loans), 0)::float8 as share
        from marts.mart_vintage v join cohorts c using (cohort_month)
        where v.cohort_month + make_interval(months => v.month_on_book) <= $1
          and ($2::text is null or v.product_type = $2) and {scope.lenders_filter('v.lender_code', 3)}
        group by v.cohort_month, v.month_on_book order by 1, 2""", f.month, f.product, *scope.args())
    cohorts: dict[str, dict[str, list[Any]]] = {}
    for r in rows:
        c = cohorts.setdefault(r["cohort_month"].isoformat()[:7], {"mob": [], "share": []})
        c["mob"].append(r["month_on_book"])
        c["share"].append(r["share"])
    return {"cohorts": cohorts}


async def multi_lender(pool: asyncpg.Pool, f: Filters) -> dict[str, Any]:
    """Borrowers by the number of lenders they hold an active loan with, in the selected month, per
    borrower type: industry-wide counts with no lender in them, the same for every caller."""
    rows = await pool.fetch("""
        select borrower_type, active_lender_count, borrowers, borrowers_in_default, share_of_borrowers::float8 as share
        from marts.mart_multi_lender where report_month = $1 order by borrower_type, active_lender_count""", f.month)
    out: dict[str, dict[str, list[Any]]] = {}
    for r in rows:
        t = out.setdefault(r["borrower_type"], {"lenders": [], "borrowers": [], "in_default": [], "share": []})
        t["lenders"].append(r["active_lender_count"])
        t["borrowers"].append(r["borrowers"])
        t["in_default"].append(r["borrowers_in_default"])
        t["share"].append(r["share"])
    return {"types": out}


async def submission_quality(pool: asyncpg.Pool, scope: Scope, f: Filters) -> dict[str, Any]:
    """Row rejection rate per lender and month against the industry's quartiles (as ratio_trend),
    and the timeliness of each month's loan_status file per lender: {"rejection": {...},
    "timeliness": {"lenders": [...], "months": [...], "status": [[...]], "days_late": [[...]]}}."""
    rows = await pool.fetch(f"""
        with q as (
            select lender_code, period_month as month, row_rejection_rate::float8 as ratio, status_timeliness,
                   status_days_late
            from marts.mart_lender_submission_quality
            where period_month <= $1 and period_month > $1 - make_interval(months => $2)
        ),
        industry as ({_QUARTILES.format(source="q")})
        select i.month, i.p25, i.p50, i.p75, i.peers, q.lender_code, q.ratio, q.status_timeliness, q.status_days_late
        from industry i left join q on q.month = i.month and {scope.lenders_filter('q.lender_code', 3)}
        order by i.month, q.lender_code""", f.month, TREND_MONTHS, *scope.args())
    rejection, index = _band_series(rows, scope.min_peers())
    status: dict[str, list[Any]] = {}
    late: dict[str, list[Any]] = {}
    for r in rows:
        if r["lender_code"] is not None:
            status.setdefault(r["lender_code"], [None] * len(index))[index[r["month"]]] = r["status_timeliness"]
            late.setdefault(r["lender_code"], [None] * len(index))[index[r["month"]]] = r["status_days_late"]
    codes = sorted(status)
    return {"rejection": rejection, "timeliness": {"lenders": codes, "months": rejection["months"],
                                                  "status": [status[c] for c in codes],
                                                  "days_late": [late[c] for c in codes]}}
