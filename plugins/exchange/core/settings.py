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

PROJECT_ROOT = Path(__file__).resolve().parents[3]
"""The checkout that holds dags/, dbt_project/ and expectations/."""

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
"""The dbt project: the transform runs it, retention reads its vars (the retention period)."""


@dataclass(frozen=True)
class Settings:
    home: Path
    max_file_bytes: int
    max_field_bytes: int
    bad_row_threshold: float
    complete_share: float
    """A loan_status file reporting less than this share of the lender's book is partial (migration 0017)."""
    max_columns: int
    """A CSV header or sheet row with more columns is refused before its cells are made."""
    max_header_bytes: int
    """The CSV header (blank lines before it included) must end within this many bytes."""
    max_unpacked_bytes: int
    """An xlsx workbook whose parts declare more bytes in total is refused before it is opened:
    openpyxl reads sharedStrings.xml whole, at up to five times its unpacked size in memory
    (measured: 93 MB of distinct strings took 440 MB), and the part holding them can be named
    anything, so the total is what bounds it."""
    max_archive_entries: int
    max_compression_ratio: float
    """Unpacked / packed size above which an xlsx part is taken for a zip bomb."""

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

    @property
    def dbt_docs(self) -> Path:
        """The dbt docs site (index.html, manifest.json, catalog.json): `exchange docs build` writes
        it, the portal serves it."""
        return self.state_dir / "docs" / "dbt"


DEFAULTS = {
    "EXCHANGE_MAX_FILE_MB": "256",
    "EXCHANGE_MAX_FIELD_BYTES": "4096",
    "EXCHANGE_BAD_ROW_THRESHOLD": "0.05",
    "EXCHANGE_COMPLETE_SHARE": "0.95",
    "EXCHANGE_MAX_COLUMNS": "256",
    "EXCHANGE_MAX_HEADER_BYTES": "65536",
    "EXCHANGE_MAX_UNPACKED_MB": "100",
    "EXCHANGE_MAX_ARCHIVE_ENTRIES": "10000",
    "EXCHANGE_MAX_COMPRESSION_RATIO": "100",
}
"""The file limits' defaults, in one place: the settings and the lenders' spec document read them."""


def _env(name: str) -> str:
    return os.environ.get(name, DEFAULTS[name])


def get_settings() -> Settings:
    """Read the settings now (not at import), so tests and commands can set the environment first."""
    return Settings(
        home=Path(os.environ.get("EXCHANGE_HOME", os.getcwd())).resolve(),
        max_file_bytes=int(float(_env("EXCHANGE_MAX_FILE_MB")) * 1024 * 1024),
        max_field_bytes=int(_env("EXCHANGE_MAX_FIELD_BYTES")),
        bad_row_threshold=float(_env("EXCHANGE_BAD_ROW_THRESHOLD")),
        complete_share=float(_env("EXCHANGE_COMPLETE_SHARE")),
        max_columns=int(_env("EXCHANGE_MAX_COLUMNS")),
        max_header_bytes=int(_env("EXCHANGE_MAX_HEADER_BYTES")),
        max_unpacked_bytes=int(float(_env("EXCHANGE_MAX_UNPACKED_MB")) * 1024 * 1024),
        max_archive_entries=int(_env("EXCHANGE_MAX_ARCHIVE_ENTRIES")),
        max_compression_ratio=float(_env("EXCHANGE_MAX_COMPRESSION_RATIO")),
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
