"""Where things live and the knobs an operator may turn, read from the environment.

One place decides paths so the CLI, the DAGs, dbt and the tests agree. Everything
defaults to the current directory (the project checkout), which is what `make demo`
uses; a deployment points EXCHANGE_HOME at its volume.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The checkout that holds dags/, dbt_project/ and expectations/."""


@dataclass(frozen=True)
class Settings:
    home: Path
    max_file_bytes: int
    max_field_bytes: int
    bad_row_threshold: float

    @property
    def state_dir(self) -> Path:
        """Private local state: embedded database, secret, Airflow home (never committed)."""
        return self.home / ".exchange"

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def feedback(self) -> Path:
        return self.home / "feedback"

    @property
    def exports(self) -> Path:
        return self.home / "exports"


def get_settings() -> Settings:
    """Read the settings now (not at import), so tests and commands can set the environment first."""
    return Settings(
        home=Path(os.environ.get("EXCHANGE_HOME", os.getcwd())).resolve(),
        max_file_bytes=int(float(os.environ.get("EXCHANGE_MAX_FILE_MB", "256")) * 1024 * 1024),
        max_field_bytes=int(os.environ.get("EXCHANGE_MAX_FIELD_BYTES", "4096")),
        bad_row_threshold=float(os.environ.get("EXCHANGE_BAD_ROW_THRESHOLD", "0.05")),
    )


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for a block, then restore them: how tests and benchmarks point
    the exchange's own functions (which read their settings from the environment) at a scratch
    database and home."""
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
