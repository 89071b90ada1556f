"""Feedback to the lender (反馈): per submission a CSV of problems, a text summary and an HTML
report readable in a browser, all from the same rows.

Written from the database after the commit, so a resumed run writes the same files.
Messages are bilingual (Chinese first). A submitted value is shown only where it cannot be an
identity (control.row_problems.value, see intake.validate.echoable): the feedback directory is a
place lenders download from. Times are Beijing times.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import jinja2
import psycopg

from exchange.core.clock import EXCHANGE_TZ
from exchange.core.settings import Settings
from exchange.core.spec import VALIDATION_CODES
from exchange.intake.control_totals import FIELDS

VERDICTS_ZH = {"accepted": "接受", "accepted_with_errors": "部分接受（错误行已剔除）", "rejected": "退回",
               "duplicate": "重复文件，未加载"}
FEEDBACK_COLUMNS = ["line", "loan_id", "field", "value", "code", "severity", "message_zh", "message_en"]
REPORT_ROWS = 500
"""Problems listed in the HTML report; the CSV has them all."""
_LENDER_DIR = re.compile(r"^[A-Z0-9]{2,16}$")


_PROBLEMS = """
select p.line, p.loan_id, p.field, p.value, p.code, p.severity, held.submission_id, held.file_name
from control.row_problems p
left join lateral (
    -- an unknown loan that was in a loans file rejected whole: the feedback names that file
    select r.submission_id, s.file_name
    from control.rejected_loans r
    join control.submissions s on s.submission_id = r.submission_id
    where p.code = 'R_UNKNOWN_LOAN' and r.lender_code = %(lender)s and r.loan_id = p.loan_id
    order by r.submission_id desc
    limit 1
) held on true
where p.submission_id = %(submission)s
order by p.line, p.code, p.field
"""


def _file_details(conn: psycopg.Connection, submission_id: int, reason: str | None, rejected: int, total: int,
                  settings: Settings) -> dict[str, tuple[str, str]]:
    """The figures behind the whole-file findings, by code (Chinese, English): for F_ERROR_RATE the
    share of bad rows beside the threshold; for F_CONTROL_TOTALS the figures declared beside those
    found; for a partial status file (W_PARTIAL_MONTH) the loans of the book it reports beside the
    complete share."""
    details = {}
    if reason == "F_ERROR_RATE" and total:
        share, limit = rejected / total, settings.bad_row_threshold
        details[reason] = (f"错误行 {rejected:,}/{total:,}，占 {share:.1%}，超过阈值 {limit:.1%}",
                           f"{rejected:,} of {total:,} rows bad, {share:.1%}, above the threshold of {limit:.1%}")
    declared, found = conn.execute("select control_declared, control_found from control.submissions"
                                   " where submission_id = %s", (submission_id,)).fetchone()
    if reason == "F_CONTROL_TOTALS" and declared and found:
        shown = [k for k in FIELDS if declared.get(k) is not None]
        details[reason] = ("申报 " + "，".join(f"{FIELDS[k]} {declared[k]}" for k in shown)
                           + "；实际 " + "，".join(f"{FIELDS[k]} {found[k]}" for k in shown),
                           "declared " + ", ".join(f"{k} {declared[k]}" for k in shown)
                           + "; found " + ", ".join(f"{k} {found[k]}" for k in shown))
    partial = conn.execute(
        "select c.previous_active, c.covered from control.status_coverage c join control.submissions s"
        " using (submission_id) where c.submission_id = %s and s.is_partial", (submission_id,)).fetchone()
    if partial:
        active, covered = partial
        share, limit = covered / active, settings.complete_share
        details["W_PARTIAL_MONTH"] = (
            f"覆盖上一完整文件存续借款 {covered:,}/{active:,}，占 {share:.1%}，低于完整阈值 {limit:.0%}",
            f"reports {covered:,} of the {active:,} loans active in your last complete file, {share:.1%},"
            f" below the complete share of {limit:.0%}")
    return details


def _held_detail(held_in: int | None, held_file: str | None) -> tuple[str, str]:
    """For R_UNKNOWN_LOAN, the rejected loans file that held the loan, if one did."""
    if held_in is None:
        return "", ""
    return (f"；该合同在被退回的提交 {held_in}（{held_file}）中，请更正后重新报送该文件",
            f"; the loan was in rejected submission {held_in} ({held_file}): correct and resend that file")


def feedback_dir(settings: Settings, lender_code: str) -> Path:
    """feedback/<lender_code>/; files from a folder that is no lender code go to _unidentified/."""
    return settings.feedback / (lender_code if _LENDER_DIR.match(lender_code) else "_unidentified")


@dataclass
class _Problem:
    line: int
    loan_id: str | None
    field: str | None
    value: str | None
    code: str
    severity: str
    message_zh: str
    message_en: str

    def cells(self) -> list:
        return [self.line, self.loan_id or "", self.field or "", self.value or "", self.code, self.severity,
                self.message_zh, self.message_en]


def write_feedback(conn: psycopg.Connection, submission_id: int, settings: Settings) -> Path:
    """Write the submission's feedback files; return the CSV's path."""
    sub = conn.execute(
        "select lender_code, file_name, sha256, verdict, reason_code, rows_total, rows_accepted, rows_rejected,"
        " rows_warned, duplicate_of, received_at from control.submissions where submission_id = %s",
        (submission_id,)).fetchone()
    lender, file_name, sha, verdict, reason, total, accepted, rejected, warned, dup_of, received = sub
    details = _file_details(conn, submission_id, reason, rejected, total, settings)
    problems, held = [], Counter()
    for line, loan_id, field, value, code, severity, held_in, held_file in conn.execute(
            _PROBLEMS, {"submission": submission_id, "lender": lender}):
        r = VALIDATION_CODES[code]
        zh, en = (f"（{details[code][0]}）", f" ({details[code][1]})") if line == 0 and code in details \
            else _held_detail(held_in, held_file)
        problems.append(_Problem(line, loan_id, field, value, code, severity, r.zh + zh, r.en + en))
        if held_in is not None:
            held[(held_in, held_file)] += 1
    by_code = Counter(p.code for p in problems)
    out = feedback_dir(settings, lender)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{submission_id:07d}_{file_name}"
    csv_path = out / f"{stem}.feedback.csv"
    with _replacing(csv_path, encoding="utf-8-sig", newline="") as fh:  # BOM: Excel shows the Chinese correctly
        writer = csv.writer(fh)
        writer.writerow(FEEDBACK_COLUMNS)
        writer.writerows(p.cells() for p in problems)

    received_local = received.astimezone(EXCHANGE_TZ)
    lines = [
        "报送反馈 Submission feedback",
        f"文件 File: {file_name}",
        f"提交编号 Submission: {submission_id}    接收时间 Received: {received_local:%Y-%m-%d %H:%M:%S} (北京时间 Beijing)",
        f"SHA-256: {sha}",
        f"结论 Verdict: {VERDICTS_ZH[verdict]} {verdict}" + (f"  ({reason})" if reason else ""),
    ]
    lines += [f"  {zh} / {en}" for zh, en in details.values()]
    if dup_of:
        lines.append(f"与提交编号 {dup_of} 的文件完全相同 Same bytes as submission {dup_of}")
    lines += [
        f"行数 Rows: 共 {total:,} total, 接受 {accepted:,} accepted, 拒绝 {rejected:,} rejected,"
        f" 提示 {warned:,} with warnings",
        "",
        "问题汇总 Problems by reason:" if by_code else "未发现问题 No problems found.",
    ]
    for code, count in sorted(by_code.items()):
        r = VALIDATION_CODES[code]
        lines.append(f"  {code:<26} {count:>8}  {r.zh} / {r.en}")
    held_lines = [(f"{count} 行的合同在被退回的提交 {held_in}（{held_file}）中：请更正并重新报送该文件。",
                   f"{count} rows name loans of rejected submission {held_in} ({held_file}): correct and resend that file.")
                  for (held_in, held_file), count in sorted(held.items())]
    lines += [f"  {zh} {en}" for zh, en in held_lines]
    lines += ["", f"逐行明细见 Row details: {csv_path.name}; 网页报告 Report: {stem}.report.html"]
    with _replacing(out / f"{stem}.summary.txt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")

    html = _TEMPLATES.get_template("feedback_report.html").render(
        file_name=file_name, submission_id=submission_id, received=f"{received_local:%Y-%m-%d %H:%M:%S}", sha=sha,
        verdict=verdict, verdict_zh=VERDICTS_ZH[verdict], reason=reason, details=list(details.values()),
        duplicate_of=dup_of, total=total, accepted=accepted, rejected=rejected, warned=warned,
        by_code=[(code, count, VALIDATION_CODES[code]) for code, count in sorted(by_code.items())],
        held=held_lines, problems=problems[:REPORT_ROWS], more=max(len(problems) - REPORT_ROWS, 0),
        csv_name=csv_path.name)
    with _replacing(out / f"{stem}.report.html", encoding="utf-8") as fh:
        fh.write(html)
    return csv_path


_TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("exchange.intake", "templates"),
                                autoescape=True, undefined=jinja2.StrictUndefined)
"""The feedback report's template (a file the lender opens offline: inline CSS, no script)."""


@contextmanager
def _replacing(path: Path, **open_args: str) -> Iterator[TextIO]:
    """Write a file under a unique temporary name and move it into place: two runs resuming the same
    submission may write its feedback at once, and a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", **open_args) as fh:
            yield fh
    except BaseException:
        os.unlink(tmp)
        raise
    os.chmod(tmp, 0o644)  # as a plain open() would have made it (mkstemp makes 0600)
    os.replace(tmp, path)
