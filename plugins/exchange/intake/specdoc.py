"""Renders the lender-facing spec document and template files from `spec` (never by hand)."""

from __future__ import annotations

import csv
import io

from exchange.core.settings import DEFAULTS
from exchange.core.spec import FILE_NAME_PATTERN, KINDS, SPEC_VERSION, VALIDATION_CODES, Field, Kind

_TYPE_ZH = {"text": "文本", "enum": "枚举", "decimal": "数值", "integer": "整数", "date": "日期", "timestamp": "时间", "bool": "是/否",
            "identifier": "证件号码", "phone": "手机号码", "region": "区划代码", "uscc": "统一社会信用代码",
            "risk_class": "五级分类"}


def _values(f: Field) -> str:
    if not f.choices:
        return ""
    return "; ".join(f"`{c.value}` {c.zh}" if c.zh != c.value else f"`{c.value}`" for c in f.choices)


def _kind_section(kind: Kind) -> list[str]:
    out = [f"## `{kind.name}` {kind.zh}", "", f"{kind.description_zh}  ", kind.description_en, "",
           "| 字段 field | 中文表头 Chinese header | 类型 type | 必填 required | 取值 values | 规则 rule |",
           "|---|---|---|---|---|---|"]
    for f in kind.fields:
        rule = " / ".join(x for x in (f.rule_zh, f.rule_en) if x)
        if f.max_length:
            rule += f" (max {f.max_length})"
        if f.default:
            rule += f" (default `{f.default}`)"
        out.append(f"| `{f.name}` | {f.zh} | {_TYPE_ZH[f.type]} {f.type} | {'是 Y' if f.required else '否 N'} |"
                   f" {_values(f)} | {rule.strip()} |")
    out += ["", "交叉校验 Cross-field rules:", "", "| 代码 code | 规则 rule |", "|---|---|"]
    out += [f"| `{r.code}` | {r.zh} / {r.en} |" for r in kind.rules]
    return [*out, ""]


def _limit_lines() -> list[str]:
    """The file limits at their defaults (the exchange may configure others; the refusal names the limit)."""
    d = DEFAULTS
    return [
        f"- 文件大小上限 Size limit: {d['EXCHANGE_MAX_FILE_MB']} MB (`F_SIZE`); 单个字段 a field at most"
        f" {d['EXCHANGE_MAX_FIELD_BYTES']} characters (`F_FIELD_TOO_LARGE`).",
        f"- CSV 表头最多 {d['EXCHANGE_MAX_COLUMNS']} 列 (`F_TOO_MANY_COLUMNS`)，并须在文件开头"
        f" {d['EXCHANGE_MAX_HEADER_BYTES']} 字节内结束 (`F_HEADER_TOO_LARGE`) The header has at most"
        f" {d['EXCHANGE_MAX_COLUMNS']} columns and ends within the first {d['EXCHANGE_MAX_HEADER_BYTES']} bytes.",
        f"- xlsx 工作簿解压后合计不超过 {d['EXCHANGE_MAX_UNPACKED_MB']} MB (`F_UNPACKED_SIZE`)，内部文件不超过"
        f" {d['EXCHANGE_MAX_ARCHIVE_ENTRIES']} 个 (`F_ARCHIVE_ENTRIES`)，单个部件压缩比不超过"
        f" {d['EXCHANGE_MAX_COMPRESSION_RATIO']}:1 (`F_COMPRESSION_RATIO`)；更大的数据请用 CSV 报送"
        f" An xlsx workbook unpacks to at most {d['EXCHANGE_MAX_UNPACKED_MB']} MB in all, holds at most"
        f" {d['EXCHANGE_MAX_ARCHIVE_ENTRIES']} parts, and no part above 1 MB unpacks more than"
        f" {d['EXCHANGE_MAX_COMPRESSION_RATIO']} times its packed size; send larger data as CSV.",
    ]


def render_markdown() -> str:
    """docs/submission-spec.md; a test keeps the committed file equal to this."""
    lines = [
        f"# 报送规范 Submission spec {SPEC_VERSION}",
        "",
        "<!-- Generated from plugins/exchange/core/spec.py by `exchange spec doc`; do not edit by hand. -->",
        "",
        "本文件说明会员机构向平台报送数据的格式。This document tells participating lenders what to send.",
        "",
        "## 文件 Files",
        "",
        f"- 文件名 Name: `{FILE_NAME_PATTERN}`; 日期为数据日期 the date is the reporting (as-of) date.",
        "  序号 `seq` 更大的同名文件为更正文件，替换该期数据 A higher seq for the same lender, kind and date is a"
        " correction that replaces that period; the replaced rows stay in history.",
        "- 格式 Format: CSV（UTF-8、带 BOM 的 UTF-8 或 GB18030/GBK，自动识别 detected）或 .xlsx（第一个工作表 first sheet）。",
        "- 表头 Header row required: 英文字段名或中文表头均可 canonical English or Chinese names.",
        "- 同一文件（SHA-256 相同）重复报送不会重复加载 The same bytes twice are a duplicate and never loaded twice.",
        "- 错误行超过 5% 时整个文件退回 A file whose bad-row share exceeds 5% is rejected whole.",
        "- 日期只接受 `YYYY-MM-DD`（如 `2026-11-03`）；`2026/11/03`、`20261103`、`2026-11-3` 等写法按 `R_DATE` 拒收该行"
        " Dates are `YYYY-MM-DD` only; any other spelling rejects the row under `R_DATE`. 文件名中的日期按北京时间判断是否"
        "晚于今天 A file's date is judged against today in Beijing (Asia/Shanghai).",
        "- 完整报送 Complete files: 账户状态文件应覆盖上一完整文件中全部存续借款；覆盖不足 95%（`EXCHANGE_COMPLETE_SHARE`）的文件"
        "作为部分报送接收（`W_PARTIAL_MONTH`，反馈给出覆盖数），不替换任何文件，在该月收到日期更晚的完整文件之前不计入任何统计、"
        "名单或预警 A loan_status file should report every loan active in your last complete file; one reporting less"
        " than 95% of them is kept as partial (`W_PARTIAL_MONTH`, with the counts), replaces nothing, and counts in no"
        " figure, list or alert until a complete file of that month with a later date arrives. 更正文件与其替换的文件比较"
        " A correction is compared with the file it replaces.",
        "- 控制总数（可选）Control totals (optional): 与文件同名加 `.ctl` 的小 CSV（如 `XD01_loan_status_20250131.csv.ctl`），"
        "表头 `rows,outstanding_principal,overdue_principal`（或 `记录数,剩余本金合计,逾期本金合计`），一行数字；金额合计只用于"
        "账户状态文件。平台按已加载的数据核对，不符则整个文件退回（`F_CONTROL_TOTALS`，反馈给出申报与实际数字）；有错误行时只核对记录数"
        " A small CSV named like the file plus `.ctl`, header `rows,outstanding_principal,overdue_principal`, one line of"
        " figures (sums for loan_status only). The exchange counts the same on what it loaded; any difference rejects the"
        " file whole (`F_CONTROL_TOTALS`, both sets of figures in the feedback). With rejected rows only the row count is"
        " compared. Send the sidecar with or before its file.",
        "- 证件号码、姓名、手机号码只以加密键值保存 ID numbers, names and phones are kept only as keyed hashes.",
        "- 数字只接受 0-9 Digits are ASCII 0-9 only: 证件号码、手机号码、区划代码、日期、时间和金额中的全角数字（如 `２０２５`）"
        "按 NFKC 折算为半角后接受，其他文字的数字（如阿拉伯-印度数字 `٢٠٢٥`）按该字段的原因代码拒收"
        " full-width digits in IDs, phones, region codes, dates, times and amounts are folded to ASCII (NFKC) and"
        " accepted; digits of other scripts (e.g. Arabic-Indic) reject the row under the field's own code."
        " 文件名中的日期和序号必须是 0-9，否则整个文件退回 (`F_NAME`) The date and seq in a file name must be 0-9,"
        " else the file is refused (`F_NAME`).",
        *_limit_lines(),
        "",
    ]
    for kind in KINDS.values():
        lines += _kind_section(kind)
    lines += ["## 原因代码 Reason codes", "",
              "`file`: 整个文件退回 whole file rejected; `error`: 该行不入库 row rejected; `warning`: 提示，该行入库 row kept.",
              "", "| 代码 code | 级别 severity | 中文 | English |", "|---|---|---|---|"]
    lines += [f"| `{r.code}` | {r.severity} | {r.zh} | {r.en} |" for r in VALIDATION_CODES.values()]
    return "\n".join(lines) + "\n"


def render_template(kind: Kind, chinese: bool) -> str:
    """A CSV template: the header (English or Chinese names) and one example row."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([f.zh if chinese else f.name for f in kind.fields])
    writer.writerow([f.example for f in kind.fields])
    return buf.getvalue()


def template_files() -> dict[str, str]:
    """docs/templates/<file name> -> content, for every kind in English and Chinese headers."""
    out = {}
    for kind in KINDS.values():
        out[f"{kind.name}_template.csv"] = render_template(kind, chinese=False)
        out[f"{kind.name}_template_zh.csv"] = render_template(kind, chinese=True)
    return out
