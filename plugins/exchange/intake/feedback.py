"""Feedback to the lender (反馈): one CSV of problems and a readable summary per submission.

Written from the database after the commit, so a resumed run writes the same files.
Messages are bilingual (Chinese first) and never echo a submitted value: a value may be
an identity, and the feedback directory is a place lenders download from.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from pathlib import Path

import psycopg

from exchange.core.settings import Settings
from exchange.core.spec import VALIDATION_CODES
from exchange.intake.control_totals import FIELDS

VERDICTS_ZH = {"accepted": "接受", "accepted_with_errors": "部分接受（错误行已剔除）", "rejected": "退回",
               "duplicate": "重复文件，未加载"}
FEEDBACK_COLUMNS = ["line", "loan_id", "field", "code", "severity", "message_zh", "message_en"]
_LENDER_DIR = re.compile(r"^[A-Z0-9]{2,16}$")


_PROBLEMS = """
select p.line, p.loan_id, p.field, p.code, p.severity, held.submission_id, held.file_name
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


def write_feedback(conn: psycopg.Connection, submission_id: int, settings: Settings) -> Path:
    sub = conn.execute(
        "select lender_code, file_name, sha256, verdict, reason_code, rows_total, rows_accepted, rows_rejected,"
        " rows_warned, duplicate_of, received_at from control.submissions where submission_id = %s",
        (submission_id,)).fetchone()
    lender, file_name, sha, verdict, reason, total, accepted, rejected, warned, dup_of, received = sub
    problems = conn.execute(_PROBLEMS, {"submission": submission_id, "lender": lender}).fetchall()
    details = _file_details(conn, submission_id, reason, rejected, total, settings)
    out = feedback_dir(settings, lender)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{submission_id:07d}_{file_name}"
    csv_path = out / f"{stem}.feedback.csv"
    # a unique temporary name: two runs resuming the same submission write its feedback at once
    fd, tmp = tempfile.mkstemp(prefix=f".{csv_path.name}.", suffix=".tmp", dir=out)
    with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as fh:  # BOM: Excel then shows the Chinese correctly
        writer = csv.writer(fh)
        writer.writerow(FEEDBACK_COLUMNS)
        for line, loan_id, field, code, severity, held_in, held_file in problems:
            r = VALIDATION_CODES[code]
            zh, en = (f"（{details[code][0]}）", f" ({details[code][1]})") if line == 0 and code in details \
                else _held_detail(held_in, held_file)
            writer.writerow([line, loan_id or "", field or "", code, severity, r.zh + zh, r.en + en])
    os.chmod(tmp, 0o644)  # as a plain open() would have made it (mkstemp makes 0600)
    os.replace(tmp, csv_path)

    by_code: dict[str, int] = {}
    held: dict[tuple[int, str], int] = {}
    for _line, _loan, _field, code, _sev, held_in, held_file in problems:
        by_code[code] = by_code.get(code, 0) + 1
        if held_in is not None:
            held[(held_in, held_file)] = held.get((held_in, held_file), 0) + 1
    lines = [
        "报送反馈 Submission feedback",
        f"文件 File: {file_name}",
        f"提交编号 Submission: {submission_id}    接收时间 Received: {received:%Y-%m-%d %H:%M:%S %Z}",
        f"SHA-256: {sha}",
        f"结论 Verdict: {VERDICTS_ZH[verdict]} {verdict}" + (f"  ({reason})" if reason else ""),
    ]
    lines += [f"  {zh} / {en}" for zh, en in details.values()]
    if dup_of:
        lines.append(f"与提交编号 {dup_of} 的文件完全相同 Same bytes as submission {dup_of}")
    lines += [
        f"行数 Rows: 共 {total} total, 接受 {accepted} accepted, 拒绝 {rejected} rejected, 提示 {warned} with warnings",
        "",
        "问题汇总 Problems by reason:" if by_code else "未发现问题 No problems found.",
    ]
    for code, count in sorted(by_code.items()):
        r = VALIDATION_CODES[code]
        lines.append(f"  {code:<26} {count:>8}  {r.zh} / {r.en}")
    for (held_in, held_file), count in sorted(held.items()):
        lines.append(f"  {count} 行的合同在被退回的提交 {held_in}（{held_file}）中：请更正并重新报送该文件。"
                     f" {count} rows name loans of rejected submission {held_in} ({held_file}):"
                     " correct and resend that file.")
    lines += ["", f"逐行明细见 Row details: {csv_path.name}"]
    summary = out / f"{stem}.summary.txt"
    summary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv_path
