"""dbt invocations for the dbt tests, against a database from tests/databases.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from exchange.transform import run_dbt


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def dbt(url: str, work_dir: Path, *args: str) -> None:
    """Run dbt against `url`, keeping its target and logs in `work_dir` (not in the checkout)."""
    with environment(EXCHANGE_DB_URL=url):
        run_dbt([*args, "--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs")])
