"""GB/T 2260 administrative division codes (行政区划代码) shipped with the package.

The validator checks `region_code` against this list and the generator draws borrowers'
regions and resident-ID prefixes from it, so both agree on what a valid code is. The data
is a plain CSV (`data/regions.csv`) so an operator can read and update it without code.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

REGIONS_CSV = Path(__file__).with_name("data") / "regions.csv"


@functools.cache
def _regions() -> tuple[tuple[str, str], ...]:
    with REGIONS_CSV.open(encoding="utf-8", newline="") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return tuple((row["code"], row["name"]) for row in rows)


def load_regions() -> dict[str, str]:
    """Six-digit county-level code -> name, in code order (a fresh dict, safe to change)."""
    return dict(_regions())
