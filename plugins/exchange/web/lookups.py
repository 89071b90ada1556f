"""The web's one look-up path, for the API and the portal alike: rate limit (every request, valid
or not, the association's too), checks, give-to-get, then answer and audit in one statement, on
the asyncpg pool. The rules are exchange.access.lookup's; the CLI runs them over psycopg."""

from __future__ import annotations

import json

from exchange.access import lookup as lk
from exchange.access.tokens import Caller
from exchange.web.cache import MISSING
from exchange.web.state import State

_LOOKUP_PG, _LOOKUP_NAMES = lk.dollar_params(lk.LOOKUP_SQL)
_REFUSAL_PG = lk.dollar_params(lk.REFUSAL_SQL)[0]
_G2G_PG = lk.dollar_params(lk.G2G_SQL)[0]


async def run_lookup(st: State, who: Caller, req: lk.LookupRequest, channel: str) -> dict | lk.LookupRefused:
    """The answer, or the refusal (audited unless it is one of a flood being counted)."""
    checked = None
    try:
        counted = st.quota.take(who)
        if counted is not None:
            await st.pool.execute(_REFUSAL_PG, *lk.refusal_params(who, channel, counted))
        checked = lk.check_request(req, st.pseudonymizer)
        if who.lender_code is not None:
            st.give_to_get.check(await _give_to_get_row(st, who.lender_code))
        params = lk.lookup_params(who, checked, channel)
        row = await st.pool.fetchrow(_LOOKUP_PG, *[params[n] for n in _LOOKUP_NAMES])
        return lk.build_answer(row[0], row[1], row[2], *(None if v is None else json.loads(v) for v in row[3:]))
    except lk.LookupRefused as refusal:
        if refusal.attempts:
            await st.pool.execute(_REFUSAL_PG, *lk.refusal_params(who, channel, refusal, checked, req))
        return refusal


async def _give_to_get_row(st: State, lender_code: str) -> tuple | None:
    row = st.give_to_get_rows.get(lender_code)
    if row is MISSING:
        found = await st.pool.fetchrow(_G2G_PG, lender_code)
        row = None if found is None else tuple(found)
        st.give_to_get_rows.put(lender_code, row)
    return row
