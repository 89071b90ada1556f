"""Ingest: a lender's file is checked, pseudonymized and loaded exactly once.

One transaction per file: the submission record, the raw rows (bulk COPY) and the
problems commit together or not at all, so a crash mid-load leaves nothing half
written and a rerun loads the file once. The original is copied into the write-once
archive (keyed by SHA-256) before the commit; the landing copy is removed after it.
A submission is identified by its arrival (path, size, mtime): a rerun after a crash
resumes the same arrival instead of recording it twice.
"""

from __future__ import annotations

import datetime as dt
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg.types.json import Jsonb

from exchange.core import db
from exchange.core.errors import ExchangeError, FileRejected
from exchange.core.identifiers import load_pseudonymizer
from exchange.core.regions import load_regions
from exchange.core.registry import lender_status
from exchange.core.settings import Settings, get_settings
from exchange.core.spec import KINDS, VALIDATION_CODES
from exchange.intake.control_totals import SUFFIX as SIDECAR_SUFFIX
from exchange.intake.control_totals import (
    ControlTotals,
    ControlTotalsDiffer,
    is_sidecar,
    read_sidecar,
    reconcile,
    sidecar_of,
)
from exchange.intake.feedback import write_feedback
from exchange.intake.readers import (
    Chunk,
    FileName,
    Header,
    detect_encoding,
    open_rows,
    parse_file_name,
    sha256_of,
)
from exchange.intake.validate import Context, Validator

LOADED = "verdict in ('accepted', 'accepted_with_errors')"
EFFECTIVE = f"{LOADED} and superseded_by is null"
"""A submission whose rows count now: loaded and not replaced by a correction."""
_EFFECTIVE_LOANS = ("select {cols} from raw.loans l join control.submissions s using (submission_id)"
                    " where l.lender_code = %s and s.verdict in ('accepted', 'accepted_with_errors')"
                    " and s.superseded_by is null")
_KNOWN_LOANS = ("select coalesce(string_agg(loan_id, ''), ''), coalesce(string_agg(int4send(length(loan_id)), ''), '')"
                " from ({}) effective").format(_EFFECTIVE_LOANS.format(cols="l.loan_id"))
"""The ids end to end, and their lengths in characters as big-endian int4: both aggregates run
over the same rows in the same order, so the lengths cut the ids apart again."""
_PARTITION_ENSURE = {"raw.loan_status": "raw.ensure_loan_status_partition"}
"""Raw tables partitioned by reporting month, and the SQL function that makes a month's partition."""
_ANALYZE_AFTER_CHANGE = 0.1
"""A raw table is analyzed again once this share of its rows changed (raw.loans) or was added
(a partitioned parent) since its last ANALYZE."""
_KIND_ORDER = {"loans": 0, "loan_status": 1, "collection_actions": 2}
_TEXT_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ('"', "\\x22"))
"""COPY text format escapes, backslash first."""
UPLOADING = ".uploading"
_OUTCOME_COLUMNS = ("submission_id, lender_code, file_name, verdict, reason_code, rows_total, rows_accepted,"
                    " rows_rejected, rows_warned")


@dataclass
class Outcome:
    submission_id: int
    lender_code: str
    file_name: str
    verdict: str
    reason_code: str | None
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    rows_warned: int
    resumed: bool = False

    @property
    def changed(self) -> bool:
        """True when raw data changed (rows loaded, a period replaced)."""
        return self.verdict in ("accepted", "accepted_with_errors") and not self.resumed

    def as_dict(self) -> dict:
        return asdict(self) | {"changed": self.changed}


@dataclass
class Inspection:
    """A file that passed the file-level checks, its header read and its rows ready to stream."""

    name: FileName
    sha256: str
    fmt: str
    encoding: str | None
    header: Header
    chunks: Iterator[Chunk]


def ingest_order(path: Path) -> tuple:
    """Files of a lender load oldest period first, loans before statuses, corrections after originals."""
    try:
        n = parse_file_name(path.name)
        return (1, n.as_of.isoformat(), _KIND_ORDER[n.kind], n.seq, path.parent.name, path.name)
    except FileRejected:
        return (0, "", 0, 0, path.parent.name, path.name)


def landing_files(settings: Settings | None = None) -> list[Path]:
    """Files waiting under landing/<lender_code>/, except uploads still being written and control-totals
    sidecars (read with their file)."""
    root = (settings or get_settings()).landing
    if not root.exists():
        return []
    found = [p for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
             for p in d.iterdir() if p.is_file() and not _in_progress(p.name) and not is_sidecar(p)]
    return sorted(found, key=ingest_order)


def landing_lenders(settings: Settings | None = None) -> list[str]:
    """The lenders with files waiting in the landing zone: one ingest task each."""
    return sorted({p.parent.name for p in landing_files(settings)})


def ingest_lender(lender_code: str, settings: Settings | None = None) -> list[Outcome]:
    """Ingest every file waiting under landing/<lender_code>/, in ingest order (a month's loans
    before its statuses). Lenders may run in parallel: each file loads in one transaction holding
    the lender's advisory lock, and nothing else is shared between lenders but sequences and the
    write-once archive (unique temporary names). Safe to call again: a file loads once."""
    settings = settings or get_settings()
    return [_ingest_one(path, settings) for path in landing_files(settings) if path.parent.name == lender_code]


def _in_progress(name: str) -> bool:
    """`submit` writes `.<name>.<random>.uploading` and renames it when complete."""
    return name.startswith(".") and name.endswith(UPLOADING)


def inspect(conn: psycopg.Connection, path: Path, lender_code: str, sha: str, settings: Settings) -> Inspection:
    """The file-level checks, cheapest first; raise FileRejected with the spec's code."""
    name = parse_file_name(path.name)
    if name.lender_code != lender_code:
        raise FileRejected("F_LENDER_MISMATCH", f"file names lender {name.lender_code}, submitted by {lender_code}")
    try:
        status = lender_status(conn, lender_code)
    except ExchangeError as exc:  # L_UNKNOWN: at the door it is the spec's file-level code
        raise FileRejected("F_LENDER_UNKNOWN", f"lender {lender_code} is not registered") from exc
    if status != "active":
        raise FileRejected("F_LENDER_SUSPENDED", f"lender {lender_code} is suspended")
    size = path.stat().st_size
    if size == 0:
        raise FileRejected("F_EMPTY", "the file is empty")
    if size > settings.max_file_bytes:
        raise FileRejected("F_SIZE", f"{size} bytes exceeds the limit of {settings.max_file_bytes}")
    dup = conn.execute(f"select submission_id from control.submissions where sha256 = %s and {LOADED}",
                       (sha,)).fetchone()
    if dup:
        raise FileRejected("F_DUPLICATE", f"these bytes were already received as submission {dup[0]}")
    latest = conn.execute(
        f"select max(seq) from control.submissions where lender_code = %s and kind = %s and as_of_date = %s and {EFFECTIVE}",
        (lender_code, name.kind, name.as_of)).fetchone()[0]
    if latest is not None and name.seq <= latest:
        raise FileRejected("F_SEQ_NOT_NEWER", f"seq {name.seq} does not replace the accepted seq {latest}")
    encoding = None if name.ext == "xlsx" else detect_encoding(path)
    header, chunks = open_rows(path, name.ext, encoding, KINDS[name.kind], settings)
    return Inspection(name, sha, name.ext, encoding, header, chunks)


def ingest_path(path: Path, settings: Settings | None = None) -> Outcome:
    """Ingest one landed file; safe to call again for the same file (it resumes, never reloads).

    A lender's files must load in order (a month's loans before its statuses) however the
    scheduler orders the tasks, so every earlier file of the same lender still waiting
    is ingested first. The task that was meant for such a file then finds it gone and
    reports the submission it became.
    """
    settings = settings or get_settings()
    for earlier in [p for p in landing_files(settings) if p.parent == path.parent and ingest_order(p) < ingest_order(path)]:
        _ingest_one(earlier, settings)
    return _ingest_one(path, settings)


def _ingest_one(path: Path, settings: Settings) -> Outcome:
    lender_code = path.parent.name
    try:
        stat = path.stat()
        sha = sha256_of(path)
    except FileNotFoundError:  # another run ingested it (and removed the landing copy) first
        return _already_ingested(lender_code, path.name)
    arrival = f"{lender_code}/{path.name}:{stat.st_size}:{stat.st_mtime_ns}"
    try:
        with db.connect(autocommit=True) as conn:
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"exchange-lender:{lender_code}",))
                prior = conn.execute("select submission_id from control.submissions where arrival_key = %s",
                                     (arrival,)).fetchone()
                if prior is None:
                    _check_arrival(path, stat)
                    archived = archive_original(path, sha, settings)
                    submission_id = _load(conn, path, lender_code, sha, arrival, archived, settings)
            outcome = _finish(conn, prior[0] if prior else submission_id, path, stat, settings)
    except _ArrivalGone:
        return _ingest_one(path, settings)  # it became another arrival, or another run's submission
    outcome.resumed = prior is not None
    return outcome


class _ArrivalGone(Exception):
    """While this run waited for the lender's lock, the landed file was replaced (a second submit of
    the same name) or ingested and removed by another run."""


def _check_arrival(path: Path, stat: os.stat_result) -> None:
    """Raise _ArrivalGone unless `path` is still the file `stat` describes. Under the lender's lock
    only a submit can replace it (with the same bytes) and no ingest can remove it, so a file that
    passes stays readable for the load."""
    try:
        now = path.stat()
    except FileNotFoundError:
        raise _ArrivalGone from None
    if (now.st_size, now.st_mtime_ns) != (stat.st_size, stat.st_mtime_ns):
        raise _ArrivalGone


def _already_ingested(lender_code: str, file_name: str) -> Outcome:
    with db.connect() as conn:
        row = conn.execute(f"select {_OUTCOME_COLUMNS} from control.submissions where lender_code = %s"
                           " and file_name = %s order by submission_id desc limit 1", (lender_code, file_name)).fetchone()
    if row is None:
        raise ExchangeError("I_MISSING", f"{lender_code}/{file_name} is neither in the landing zone nor ingested")
    return Outcome(*row, resumed=True)


class _TooManyBadRows(Exception):
    """Raised inside the data savepoint so the rows roll back while the verdict is kept."""


def _load(conn: psycopg.Connection, path: Path, lender_code: str, sha: str, arrival: str, archived: Path,
          settings: Settings) -> int:
    submission_id = conn.execute(
        "insert into control.submissions (lender_code, file_name, sha256, size_bytes, arrival_key, archive_path,"
        " verdict) values (%s, %s, %s, %s, %s, %s, 'rejected') returning submission_id",
        (lender_code, path.name, sha, path.stat().st_size, arrival, str(archived.relative_to(settings.home)))).fetchone()[0]
    problems: list[pd.DataFrame] = []
    counts = {"rows_total": 0, "rows_accepted": 0, "rows_rejected": 0, "rows_warned": 0}
    loan_ids: list[pa.Array] = []
    totals_found: ControlTotals | None = None
    verdict, reason = "rejected", None
    try:
        found = inspect(conn, path, lender_code, sha, settings)
        conn.execute("update control.submissions set kind = %s, as_of_date = %s, seq = %s, file_format = %s,"
                     " encoding = %s where submission_id = %s",
                     (found.name.kind, found.name.as_of, found.name.seq, found.fmt, found.encoding, submission_id))
        declared = _declared_totals(conn, path, found.name.kind, submission_id)
        if found.header.ignored:
            problems.append(pd.DataFrame({"line": 1, "loan_id": None, "field": list(found.header.ignored),
                                          "code": "W_COLUMN_IGNORED", "severity": "warning"}))
        try:
            with conn.transaction():
                _copy_rows(conn, found, lender_code, submission_id, settings, problems, counts, loan_ids)
                if counts["rows_total"] == 0:
                    raise FileRejected("F_NO_ROWS", "the file has a header but no data rows")
                if counts["rows_rejected"] > settings.bad_row_threshold * counts["rows_total"]:
                    raise _TooManyBadRows
                if declared is not None:
                    totals_found = reconcile(conn, KINDS[found.name.kind].raw_table, submission_id,
                                             counts["rows_total"], counts["rows_rejected"], declared)
        except _TooManyBadRows:
            reason = "F_ERROR_RATE"
            counts["rows_accepted"] = 0
            _copy_rejected_loans(conn, submission_id, lender_code, loan_ids)
        else:
            verdict = "accepted_with_errors" if counts["rows_rejected"] else "accepted"
            # a partial status file replaces nothing: the period's complete file stays in force
            if not (found.name.kind == "loan_status" and _is_partial(conn, submission_id, settings, problems)):
                conn.execute(
                    f"update control.submissions set superseded_by = %s where lender_code = %s and kind = %s"
                    f" and as_of_date = %s and submission_id <> %s and {EFFECTIVE}",
                    (submission_id, lender_code, found.name.kind, found.name.as_of, submission_id))
    except FileRejected as exc:
        reason = exc.code
        verdict = "duplicate" if exc.code == "F_DUPLICATE" else "rejected"
        counts["rows_accepted"] = 0  # whatever had loaded rolled back with the file
        if isinstance(exc, ControlTotalsDiffer):
            totals_found = exc.found
        problems.append(pd.DataFrame({"line": [exc.line or 0], "loan_id": [None], "field": [exc.field],
                                      "code": [exc.code], "severity": ["file"]}))
        if exc.code == "F_DUPLICATE":
            conn.execute("update control.submissions set duplicate_of = (select min(submission_id) from"
                         " control.submissions where sha256 = %s and submission_id <> %s) where submission_id = %s",
                         (sha, submission_id, submission_id))
    if reason == "F_ERROR_RATE":
        problems.append(pd.DataFrame({"line": [0], "loan_id": [None], "field": [None], "code": [reason],
                                      "severity": ["file"]}))
    _copy_problems(conn, submission_id, problems)
    if totals_found is not None:
        conn.execute("update control.submissions set control_found = %s where submission_id = %s",
                     (Jsonb(totals_found.as_json()), submission_id))
    conn.execute("update control.submissions set verdict = %s, reason_code = %s, rows_total = %s, rows_accepted = %s,"
                 " rows_rejected = %s, rows_warned = %s, processed_at = now() where submission_id = %s",
                 (verdict, reason, counts["rows_total"], counts["rows_accepted"], counts["rows_rejected"],
                  counts["rows_warned"], submission_id))
    return submission_id


def _copy_rows(conn: psycopg.Connection, found: Inspection, lender_code: str, submission_id: int,
               settings: Settings, problems: list[pd.DataFrame], counts: dict[str, int],
               loan_ids: list[pa.Array]) -> None:
    """Validate the file chunk by chunk and COPY the accepted rows; `loan_ids` collects the
    accepted rows' loan ids of a loans file, kept only if the file is then rejected whole."""
    kind = KINDS[found.name.kind]
    ctx = Context(kind=kind, file_date=found.name.as_of, pseudonymizer=load_pseudonymizer(settings.state_dir),
                  regions=load_regions())
    if any(r.check == "known_loan" for r in kind.rules):
        # fetched on a connection of its own while the first chunk is read and its fields checked
        fetcher = ThreadPoolExecutor(1, thread_name_prefix="known-loans")
        ctx.known_loans = fetcher.submit(_fetch_known_loans, lender_code)
        fetcher.shutdown(wait=False)
    if any(r.check == "name_consistent" for r in kind.rules):
        for key, name in conn.execute(_EFFECTIVE_LOANS.format(cols="distinct l.borrower_key, l.name_hash"),
                                      (lender_code,)):
            ctx.prior_names.setdefault(key, set()).add(name)
    validator = Validator(ctx)
    # every raw row carries its submission, lender and the file's reporting date
    tags = {"submission_id": str(submission_id), "lender_code": lender_code, "as_of_date": found.name.as_of.isoformat()}
    tags = {k: v for k, v in tags.items() if k not in {f.column for f in kind.fields}}
    columns = [*tags, "line", *[f.column for f in kind.fields]]
    free_text = [f.column for f in kind.fields if f.type == "text" and f.storage == "clear"]
    _ensure_partition(kind.raw_table, found.name.as_of)
    with conn.cursor() as cur, cur.copy(
            f"copy {kind.raw_table} ({', '.join(columns)}) from stdin with (format text, null '')") as copy, \
            _CopyFeeder(copy, lambda table: _copy_text(table, tags, columns, free_text)) as feed:
        for chunk in _read_ahead(found.chunks):
            result = validator.validate(chunk)
            problems.append(result.problems)
            accepted = result.accepted
            counts["rows_total"] += len(chunk.lines) + len(chunk.bad_width)
            counts["rows_rejected"] += result.rejected_lines
            counts["rows_accepted"] += accepted.num_rows
            warned = result.problems.loc[result.problems.severity == "warning", "line"]
            counts["rows_warned"] += pc.sum(pc.is_in(accepted["line"], value_set=pa.array(warned, pa.int64()))).as_py() or 0
            if accepted.num_rows:
                feed.write(accepted)
                if kind.name == "loans":
                    loan_ids.append(accepted.column("loan_id"))


def _ensure_partition(raw_table: str, as_of: dt.date) -> None:
    """Make the partition a file's rows go to, when `raw_table` is partitioned by reporting month.

    raw.loan_status has one partition per month (migration 0014) and no default one, so the month
    must exist before the COPY. Made on a connection of its own that commits at once: inside the
    file's transaction the new partition would stay invisible, and the lock that makes it held,
    until the whole load committed, and another lender loading the same new month would wait for
    it. A load that fails afterwards leaves an empty partition, which the next load of that month uses.
    """
    ensure = _PARTITION_ENSURE.get(raw_table)
    if ensure is not None:
        with db.connect(autocommit=True) as own:
            own.execute(f"select {ensure}(%s)", (as_of,))


def _analyze_loaded(conn: psycopg.Connection, submission_id: int) -> None:
    """ANALYZE where a loaded file's rows went: the month's partition of a partitioned raw table,
    or an unpartitioned one (raw.loans) once a tenth of its rows changed since its last ANALYZE
    (or it never had one). Autovacuum comes round later, and the quality gate and the transform
    query the rows right away: without statistics the planner guesses, badly at a province's
    scale (raw.loans never analyzed after a million rows: 25 scans of it in a nested loop, 105 s
    for a model that takes 10). Sampling costs well under a second for a month's partition, a few
    seconds for raw.loans at a million loans, and the threshold spares most loans files that.

    A month's partition also gets its BRIN summaries (_summarize_brin)."""
    kind, as_of, verdict = conn.execute("select kind, as_of_date, verdict from control.submissions"
                                        " where submission_id = %s", (submission_id,)).fetchone()
    if kind not in KINDS or verdict not in ("accepted", "accepted_with_errors"):
        return
    raw_table = KINDS[kind].raw_table
    ensure = _PARTITION_ENSURE.get(raw_table)
    if ensure is not None:
        partition = conn.execute(f"select {ensure}(%s)::text", (as_of,)).fetchone()[0]
        conn.execute(f"analyze {partition}")
        _summarize_brin(conn, partition)
        _analyze_grown_parent(conn, raw_table)
        return
    stale = conn.execute("select coalesce(stats.n_mod_since_analyze, 0) > %s * tables.reltuples"
                         " from pg_class as tables left join pg_stat_user_tables as stats on stats.relid = tables.oid"
                         " where tables.oid = %s::regclass", (_ANALYZE_AFTER_CHANGE, raw_table)).fetchone()[0]
    if stale:
        conn.execute(f"analyze {raw_table}")


def _analyze_grown_parent(conn: psycopg.Connection, table: str) -> None:
    """ANALYZE the partitioned `table` itself once its partitions hold a tenth more rows than when
    it was last analyzed (or it never was): autovacuum analyzes partitions, never their parent.

    A query on the parent is planned with the parent's own statistics. Without them the planner
    takes 200 distinct values for every column: joined to the loans on (lender_code, loan_id), the
    status rows were estimated at a 200th of their number, and the history's classification joined
    its rule tables by sorting every row twice on disk (380 MB each at 200k loans x 24 months)
    instead of hashing them. The parent's reltuples is what its last ANALYZE counted, so the test
    is cheap; ANALYZE of the parent samples every partition, seconds at a million loans, and with
    a tenth's growth as threshold a long history pays it rarely (not in a month that adds a
    24th)."""
    grown = conn.execute(
        "select parent.reltuples <= 0 or sum(greatest(child.reltuples, 0)) > (1 + %s) * parent.reltuples"
        " from pg_class as parent"
        " join pg_inherits as inherits on inherits.inhparent = parent.oid"
        " join pg_class as child on child.oid = inherits.inhrelid"
        " where parent.oid = %s::regclass group by parent.reltuples",
        (_ANALYZE_AFTER_CHANGE, table),
    ).fetchone()
    if grown and grown[0]:
        conn.execute(f"analyze {table}")


def _summarize_brin(conn: psycopg.Connection, table: str) -> None:
    """Summarize the block ranges a load filled in `table`'s BRIN indexes (raw.loan_status's
    submission_id index, migration 0014).

    A range filled by COPY stays unsummarized until a VACUUM reaches the table, and a BRIN scan
    reads every unsummarized range: reading one file's rows by submission_id (the ingest's
    coverage check against the previous file, the staging view's monthly tests, the quality
    gate's batch) read every month's partition whole. At a million loans x 24 months the
    coverage check alone read 1.9 GB in 9.1 s, more with each month. Summarizing reads the
    pages just written, still in memory. Only the index's owner may summarize; for another role
    autovacuum's VACUUM does it later."""
    conn.execute(
        "select brin_summarize_new_values(indexes.indexrelid)"
        " from pg_index as indexes"
        " join pg_class as index_class on index_class.oid = indexes.indexrelid"
        " join pg_am as methods on methods.oid = index_class.relam"
        " where indexes.indrelid = %s::regclass and methods.amname = 'brin'"
        " and pg_has_role(index_class.relowner, 'USAGE')",
        (table,),
    )


def _read_ahead(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    """The chunks, each next one read in a worker thread while the current one is validated.

    Arrow's CSV parser runs without the GIL, so reading overlaps validation; one chunk at
    most is read ahead, so memory stays flat.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="read-ahead") as pool:
        pending = pool.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = pool.submit(next, chunks, None)
            yield chunk


def _fetch_known_loans(lender_code: str) -> pa.Array:
    """_known_loans on a new connection. The caller holds the lender's ingest lock, so no other
    ingest changes the lender's loans meanwhile, and this ingest's own rows are not loans."""
    with db.connect() as conn:
        return _known_loans(conn, lender_code)


def _known_loans(conn: psycopg.Connection, lender_code: str) -> pa.Array:
    """The lender's effective loan ids as one Arrow array, built from two aggregated strings.

    A million ids fetched as rows cost a second of Python objects, and COPY TO sends one
    message per row; the ids end to end plus where each ends are Arrow's string layout
    already. A loan in several loans files comes more than once, harmless for membership.
    """
    text, lengths = conn.execute(_KNOWN_LOANS, (lender_code,), binary=True).fetchone()
    data = text.encode("utf-8")
    offsets = np.concatenate([[0], np.cumsum(np.frombuffer(lengths, dtype=">i4"), dtype=np.int64)])
    if len(data) != len(text):  # not all ASCII: character offsets to byte offsets
        starts = np.flatnonzero((np.frombuffer(data, dtype=np.uint8) & 0xC0) != 0x80)
        offsets = np.append(starts, len(data))[offsets]
    return pa.StringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))


def _copy_text(table: pa.Table, tags: dict[str, str], columns: list[str], free_text: list[str]) -> memoryview:
    """The chunk in COPY's text format, written by Arrow: tab-separated, NULL as an empty field.

    The server parses text format faster than CSV. Only free text can hold a tab, line break,
    backslash or quote; there they are escaped (a quote as \\x22, as Arrow writes none unquoted).
    """
    n = table.num_rows
    arrays = [pa.repeat(pa.scalar(v, pa.string()), n) for v in tags.values()]
    arrays += [_escaped(table.column(c)) if c in free_text else table.column(c) for c in columns[len(tags):]]
    sink = pa.BufferOutputStream()
    pacsv.write_csv(pa.table(arrays, names=columns), sink,
                    pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none", batch_size=n or 1))
    return memoryview(sink.getvalue())


def _escaped(text: pa.ChunkedArray) -> pa.ChunkedArray:
    if not pc.any(pc.match_substring_regex(text, r'[\\\t\n\r"]')).as_py():
        return text
    for char, escape in _TEXT_ESCAPES:
        text = pc.replace_substring(text, char, escape)
    return text


class _CopyFeeder:
    """Renders and sends COPY data from a worker thread, so the server parses one chunk while
    the next is validated.

    The machine's second core runs PostgreSQL's side of the COPY; rendering and writing from
    the main thread would leave one side idle while the other works (Arrow's CSV writer runs
    without the GIL). At most one chunk waits in the queue, so memory stays flat however far
    validation runs ahead of the server.
    """

    def __init__(self, copy: psycopg.Copy, render: Callable[[pa.Table], memoryview]):
        self._copy = copy
        self._render = render
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._send, name="copy-feeder", daemon=True)

    def __enter__(self) -> _CopyFeeder:
        self._worker.start()
        return self

    def _send(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._copy.write(self._render(data))
                except BaseException as exc:  # handed to the main thread, which owns the transaction
                    self._error = exc

    def write(self, data: pa.Table) -> None:
        self._raise_error()
        self._queue.put(data)

    def __exit__(self, *exc_info) -> None:
        self._queue.put(None)
        self._worker.join()
        if exc_info[0] is None:
            self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error


def _declared_totals(conn: psycopg.Connection, path: Path, kind: str, submission_id: int) -> ControlTotals | None:
    """The file's control-totals sidecar in landing, if the lender sent one (recorded as declared;
    the found figures are recorded after the load, whatever its outcome)."""
    sidecar = sidecar_of(path)
    if not sidecar.is_file():
        return None
    declared = read_sidecar(sidecar, kind)
    conn.execute("update control.submissions set control_declared = %s where submission_id = %s",
                 (Jsonb(declared.as_json()), submission_id))
    return declared


def _is_partial(conn: psycopg.Connection, submission_id: int, settings: Settings,
                problems: list[pd.DataFrame]) -> bool:
    """Judge a loaded status file against the lender's book (control.compute_status_coverage);
    a partial one is marked, and its feedback gets a W_PARTIAL_MONTH line with the counts."""
    row = conn.execute("select previous_active, covered from control.compute_status_coverage(%s)",
                       (submission_id,)).fetchone()
    if row is None or row[1] >= settings.complete_share * row[0]:
        return False
    conn.execute("update control.submissions set is_partial = true where submission_id = %s", (submission_id,))
    problems.append(pd.DataFrame({"line": [0], "loan_id": [None], "field": [None], "code": ["W_PARTIAL_MONTH"],
                                  "severity": ["warning"]}))
    return True


def _copy_rejected_loans(conn: psycopg.Connection, submission_id: int, lender_code: str,
                         loan_ids: list[pa.Array]) -> None:
    """Keep the loan ids of a loans file rejected whole (see migration 0016)."""
    with conn.cursor() as cur, cur.copy("copy control.rejected_loans (submission_id, lender_code, loan_id)"
                                        " from stdin") as copy:
        for chunk in loan_ids:
            for loan_id in chunk.to_pylist():
                copy.write_row((submission_id, lender_code, loan_id))


def _copy_problems(conn: psycopg.Connection, submission_id: int, problems: list[pd.DataFrame]) -> None:
    frames = [p for p in problems if len(p)]
    if not frames:
        return
    with conn.cursor() as cur, cur.copy("copy control.row_problems (submission_id, line, loan_id, field, code, severity,"
                                        " value) from stdin") as copy:
        for frame in frames:
            columns = frame.reindex(columns=["line", "loan_id", "field", "code", "severity", "value"])
            for line, loan_id, field_name, code, severity, value in columns.itertuples(index=False):
                copy.write_row((submission_id, int(line), None if pd.isna(loan_id) else loan_id,
                                None if pd.isna(field_name) else field_name, code,
                                severity if isinstance(severity, str) else VALIDATION_CODES[code].severity,
                                None if pd.isna(value) else value))


def archive_original(path: Path, sha: str, settings: Settings) -> Path:
    """Copy into archive/<sha[:2]>/<sha>.<ext>, read-only; an existing copy is never rewritten."""
    ext = path.suffix.lower().lstrip(".") or "bin"
    target = settings.archive / sha[:2] / f"{sha}.{ext if ext in ('csv', 'xlsx') else 'bin'}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy_into_place(path, target, suffix=".tmp", mode=0o444)
    return target


def _copy_into_place(source: Path, target: Path, *, suffix: str, mode: int = 0o644) -> None:
    """Copy under a unique hidden name beside `target`, then rename: a reader sees the whole file or
    none, and concurrent copies of the same file (two submits, two ingest processes) never share a
    temporary name."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _finish(conn: psycopg.Connection, submission_id: int, path: Path, stat: os.stat_result,
            settings: Settings) -> Outcome:
    """After the commit: fresh statistics for the month's partition, feedback for the lender, and
    the landing copy removed (same arrival only)."""
    _analyze_loaded(conn, submission_id)
    feedback_path = write_feedback(conn, submission_id, settings)
    with conn.transaction():
        conn.execute("update control.submissions set feedback_path = %s where submission_id = %s",
                     (str(feedback_path.relative_to(settings.home)), submission_id))
    try:
        now = path.stat()
        if (now.st_size, now.st_mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            path.unlink()
            sidecar_of(path).unlink(missing_ok=True)  # its figures are in control.submissions
    except FileNotFoundError:
        pass
    row = conn.execute(f"select {_OUTCOME_COLUMNS} from control.submissions where submission_id = %s",
                       (submission_id,)).fetchone()
    return Outcome(*row)


def _submit_sidecar(lender_code: str, path: Path, settings: Settings) -> SubmitResult:
    """Check a control-totals sidecar (its file's name, its figures) and put it into landing."""
    name = parse_file_name(path.name.removesuffix(SIDECAR_SUFFIX))
    if name.lender_code != lender_code:
        raise FileRejected("F_LENDER_MISMATCH", f"file names lender {name.lender_code}, submitted by {lender_code}")
    read_sidecar(path, name.kind)
    target = settings.landing / lender_code / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy_into_place(path, target, suffix=UPLOADING)
    return SubmitResult(path.name, True, None, "控制总数已接收 control totals queued with their file",
                        str(target.relative_to(settings.home)))


def _waiting_sha(target: Path) -> str | None:
    """The SHA-256 of the file waiting under this name, None when there is none (an ingest may
    remove it at any moment)."""
    try:
        return sha256_of(target)
    except FileNotFoundError:
        return None


@dataclass
class SubmitResult:
    file: str
    accepted_for_processing: bool
    code: str | None
    message: str
    landing_path: str | None = None


def submit(lender_code: str, paths: list[Path], settings: Settings | None = None) -> list[SubmitResult]:
    """Check each file at the door and copy it into landing/<lender_code>/ for the next ingest run."""
    settings = settings or get_settings()
    results = []
    with db.connect(autocommit=True) as conn:
        # sidecars first: a file must not reach an ingest run before its control totals
        for path in sorted(paths, key=lambda p: not is_sidecar(p)):
            try:
                if not path.is_file():  # a mistyped path is not a damaged file
                    raise FileRejected("F_NOT_FOUND", "a directory" if path.is_dir() else "does not exist")
                if is_sidecar(path):
                    results.append(_submit_sidecar(lender_code, path, settings))
                    continue
                sha = sha256_of(path)
                found = inspect(conn, path, lender_code, sha, settings)
                found.chunks.close()
                target = settings.landing / lender_code / path.name
                if _waiting_sha(target) not in (None, sha):
                    raise FileRejected("F_SEQ_NOT_NEWER", "a different file with this name is already waiting;"
                                                          " send a correction with a higher seq")
                target.parent.mkdir(parents=True, exist_ok=True)
                _copy_into_place(path, target, suffix=UPLOADING)
                results.append(SubmitResult(path.name, True, None, "queued for ingest 已进入待处理区",
                                            str(target.relative_to(settings.home))))
            except FileRejected as exc:
                r = VALIDATION_CODES.get(exc.code)
                results.append(SubmitResult(path.name, False, exc.code,
                                            f"{r.zh if r else ''} / {exc.message}" + (f" (line {exc.line})" if exc.line else "")))
    return results
