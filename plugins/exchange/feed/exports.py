"""The export files of a version (导出): CSV and Parquet per table, manifest.json with their SHA-256.

The association's copy is exports/<version>/ (written once when the version is published); a
member's copy holds what the member views of migration 0012 show that lender (its own code,
other lenders as their category, its own alerts, no source rows) and is written on request
(`exchange feed export --lender`, the portal). Each lender is also told which of its records
are held back from members (feedback/<lender>/held_records_v<version>.csv).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from filelock import FileLock
from psycopg.rows import dict_row

from exchange.core.errors import ExchangeError
from exchange.core.settings import Settings, get_settings
from exchange.feed.tables import COLUMN_TYPES, MEMBER_VIEWS, TABLES, VERSION_TABLES

_NOT_SHOWN = ("version", "viewing_lender")
"""Columns of a member view that select its rows and are not part of the copy."""

# ---- rendering --------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A value as the export CSV writes it: empty for null, dates ISO, amounts with 2 decimals."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def render_csv(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    """The export CSV: UTF-8, header row, '\\n' line ends, empty for null, dates ISO, amounts 2 decimals."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell_text(row[c]) for c in columns])
    return buf.getvalue().encode("utf-8")


def render_parquet(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa  # heavy import, needed only when files are written
    import pyarrow.parquet as pq

    kinds = {"date": pa.date32(), "int": pa.int64(), "numeric": pa.decimal128(18, 2), "bool": pa.bool_(),
             "text": pa.string()}
    schema = pa.schema([pa.field(c, kinds[COLUMN_TYPES.get(c, "text")]) for c in columns])
    table = pa.Table.from_pydict({c: [r[c] for r in rows] for c in columns}, schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def sort_by_text(columns: list[str], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in the order of their rendered values (held records have no key of their own)."""
    return sorted(rows, key=lambda r: tuple(cell_text(r[c]) for c in columns))


# ---- reading a version --------------------------------------------------------------------------


def read_rows(conn: psycopg.Connection, name: str, version: int, *, lender: str | None = None,
              limit: int | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) of one table of `version` (a name of VERSION_TABLES).

    Without `lender`, the association's view: the whole rows. With it, what that member sees,
    read from the member views (MEMBER_VIEWS): the one place that decides it.
    """
    table, columns, order = VERSION_TABLES[name]
    where, params = "version = %s", [version]
    if lender is None:
        select = ", ".join(columns)
    else:
        table, order, per_member = MEMBER_VIEWS[name]
        select = "*"
        if per_member:
            where += " and viewing_lender = %s"
            params.append(lender)
    sql = f"select {select} from {table} where {where} order by {order}"
    if limit is not None:
        sql += " limit %s"
        params.append(limit)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql, params).fetchall()
        shown = [c.name for c in cur.description if c.name not in _NOT_SHOWN]
    return shown, rows


def write_exports(conn: psycopg.Connection, version: int, out_dir: Path, *, lender: str | None = None) -> dict[str, Any]:
    """Write the version's tables as CSV and Parquet plus manifest.json (SHA-256 of every file).

    With `lender`, the copy is that member's view (the member views; `read_rows`).
    """
    with conn.cursor(row_factory=dict_row) as cur:
        meta = cur.execute("select as_of_date, content_sha256 from shared.feed_versions where version = %s",
                           (version,)).fetchone()
    if meta is None:
        raise ExchangeError("P_NO_VERSION", f"no feed version {version}")
    tables = {name: read_rows(conn, name, version, lender=lender) for name in TABLES}
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    for name, (columns, rows) in tables.items():
        for suffix, payload in (("csv", render_csv(columns, rows)), ("parquet", render_parquet(columns, rows))):
            path = out_dir / f"{name}.{suffix}"
            path.write_bytes(payload)
            files[path.name] = {"sha256": hashlib.sha256(payload).hexdigest(), "bytes": len(payload),
                                "rows": len(rows), "table": name}
    manifest = {
        "version": version,
        "as_of_date": cell_text(meta["as_of_date"]),
        "content_sha256": meta["content_sha256"].strip(),
        "view": f"lender {lender}" if lender else "association",
        "columns": {name: cols for name, (cols, _) in tables.items()},
        "files": files,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def build_exports(conn: psycopg.Connection, version: int, target: Path, *, lender: str | None = None,
                  settings: Settings | None = None) -> Path:
    """`target` holding the version's export files (write_exports), built once.

    The files are written into a new folder beside `target` and renamed into place: a reader sees
    no folder or a complete one, never a folder being written, and a complete one is never
    deleted or rewritten under it. A file lock makes concurrent builders (threads, portal workers,
    a publish rerun) wait for the first, which finds the folder already there afterwards. The
    lock files live in the state directory, so that the export folders hold exports only.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(_lock_path(settings or get_settings(), target)):
        row = conn.execute("select content_sha256 from shared.feed_versions where version = %s", (version,)).fetchone()
        if row is None:
            raise ExchangeError("P_NO_VERSION", f"no feed version {version}")
        if _manifest_content(target) == row[0].strip():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            write_exports(conn, version, tmp, lender=lender)
            if target.exists():  # unfinished, or left by another database's version of this number
                stale = Path(tempfile.mkdtemp(prefix=f".{target.name}-stale-", dir=target.parent))
                target.rename(stale / target.name)
                shutil.rmtree(stale)
            tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def _lock_path(settings: Settings, target: Path) -> Path:
    """One lock file per export folder, named by a digest of its path, under .exchange/locks/."""
    locks = settings.state_dir / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    return locks / f"export-{hashlib.sha256(str(target.resolve()).encode()).hexdigest()[:16]}.lock"


def _manifest_content(folder: Path) -> str | None:
    """The content fingerprint a complete export folder was built from; None when it is incomplete."""
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("content_sha256")
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None


def held_feedback(conn: psycopg.Connection, settings: Settings, version: int) -> None:
    """Tell each reporting lender which of its records are held back from members, and why (不予发布)."""
    lenders = [code for (code,) in conn.execute(
        "select distinct viewing_lender from shared.member_held_records where version = %s", (version,))]
    for lender in lenders:
        columns, rows = read_rows(conn, "held", version, lender=lender)
        target = settings.feedback / lender
        target.mkdir(parents=True, exist_ok=True)
        (target / f"held_records_v{version}.csv").write_bytes(render_csv(columns, sort_by_text(columns, rows)))
