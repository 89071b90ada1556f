"""What changed between two feed versions (版本差异), for the association's console.

Per published table (exchange.feed.tables.VERSION_TABLES): rows added, removed and changed,
counted, with a bounded list of their keys. A row is matched across versions by the table's key
(its export order); it is changed when any column other than its source row differs (a source
submission changes with every new file and says nothing about what members see).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from exchange.feed.tables import VERSION_TABLES

SHOWN = 20
"""Keys listed per table and kind of change; the counts are always complete."""
_SOURCE = ("source_submission_id", "source_line")
_KEYS = {"held": ("lender_code", "borrower_key", "loan_ref", "record_kind", "reason_code")}
"""Held records: one borrower has several per lender, so the key is the record itself."""


async def diff(pool: asyncpg.Pool, old: int, new: int) -> list[dict[str, Any]]:
    """One entry per table: counts of added, removed and changed rows and the first SHOWN keys of each."""
    out = []
    async with pool.acquire() as conn:
        for name, (table, columns, order) in VERSION_TABLES.items():
            keys = _KEYS.get(name) or tuple(c.strip() for c in order.split(","))
            compared = [c for c in columns if c not in _SOURCE]
            key_list = ", ".join(keys)
            row_list = ", ".join(compared)
            rows = await conn.fetch(f"""
                with old_rows as (select {row_list} from {table} where version = $1),
                     new_rows as (select {row_list} from {table} where version = $2),
                     gone as (select {key_list} from (select * from old_rows except select * from new_rows) r),
                     came as (select {key_list} from (select * from new_rows except select * from old_rows) r),
                     classified as (
                         select {key_list},
                                case when bool_and(side = 'came') then 'added'
                                     when bool_and(side = 'gone') then 'removed' else 'changed' end as change
                         from (select 'came' as side, * from came union all select 'gone', * from gone) as sides
                         group by {key_list}
                     ),
                     numbered as (
                         select *, count(*) over (partition by change) as n,
                                row_number() over (partition by change order by {key_list}) as i
                         from classified
                     )
                select change, n, concat_ws(' / ', {key_list}) as key from numbered where i <= $3
                order by change, i""", old, new, SHOWN)
            counts = {"added": 0, "removed": 0, "changed": 0}
            shown: dict[str, list[str]] = {"added": [], "removed": [], "changed": []}
            for r in rows:
                counts[r["change"]] = r["n"]
                shown[r["change"]].append(r["key"])
            out.append({"table": name, "counts": counts, "keys": shown})
    return out
