"""The exchange's clock: dates a person reads or a rule judges are Beijing dates (北京时间).

Lenders name files by their reporting date in Asia/Shanghai (UTC+8, no daylight saving). A server
running in UTC would call a file dated today in Beijing "in the future" until 08:00 Beijing time, so
every "today" in the exchange comes from here.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

EXCHANGE_TZ = ZoneInfo("Asia/Shanghai")


def local_today() -> dt.date:
    """Today's date in Beijing."""
    return dt.datetime.now(EXCHANGE_TZ).date()
