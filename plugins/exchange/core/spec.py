"""Submission spec v1 (报送规范 v1): the one declarative definition of what lenders send.

Fields, types, Chinese aliases, cross-field rules and reason codes live here as data.
The validator interprets it, `docs/submission-spec.md` and the template files are
rendered from it, and the generator writes files that follow it. Change the spec here
and all of them follow.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

SPEC_VERSION = "v1"
FILE_NAME_RE = re.compile(
    r"^(?P<lender>[A-Z0-9]{2,16})_(?P<kind>[a-z_]+)_(?P<date>[0-9]{8})(?:_(?P<seq>[0-9]{1,3}))?\.(?P<ext>csv|xlsx)$"
)
"""ASCII digits only: Python's \\d also matches full-width and other scripts' digits, which int() reads."""
FILE_NAME_PATTERN = "{lender_code}_{kind}_{YYYYMMDD}[_{seq}].{csv|xlsx}"
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")

Severity = Literal["file", "error", "warning"]


@dataclass(frozen=True)
class ValidationCode:
    """A validation (reason) code: `file` rejects the whole file, `error` rejects the row, `warning` keeps it."""

    code: str
    severity: Severity
    zh: str
    en: str


_CODES = [
    # file level: the whole file is rejected (文件级: 整个文件退回)
    ValidationCode("F_NAME", "file", "文件名不符合规范 {lender_code}_{kind}_{YYYYMMDD}[_{seq}].csv|xlsx",
           "file name does not follow {lender_code}_{kind}_{YYYYMMDD}[_{seq}].csv|xlsx"),
    ValidationCode("F_PATH", "file", "文件名含路径或非法字符", "file name contains a path or unsafe characters"),
    ValidationCode("F_LENDER_UNKNOWN", "file", "机构代码未在平台登记", "lender code is not registered with the exchange"),
    ValidationCode("F_LENDER_SUSPENDED", "file", "机构已被暂停报送", "lender is suspended"),
    ValidationCode("F_LENDER_MISMATCH", "file", "文件名中的机构代码与报送机构不一致",
           "lender code in the file name differs from the submitting lender"),
    ValidationCode("F_DATE", "file", "文件名中的数据日期无效或晚于今天", "reporting date in the file name is invalid or in the future"),
    ValidationCode("F_EMPTY", "file", "文件为空", "file is empty"),
    ValidationCode("F_SIZE", "file", "文件超过大小上限", "file exceeds the size limit"),
    ValidationCode("F_ENCODING", "file", "文件编码无法识别（仅接受 UTF-8、带 BOM 的 UTF-8、GB18030/GBK）",
           "encoding not recognised (only UTF-8, UTF-8 with BOM, GB18030/GBK are accepted)"),
    ValidationCode("F_FORMAT", "file", "文件格式损坏或不是 CSV/xlsx", "file is damaged or not a CSV/xlsx file"),
    ValidationCode("F_NOT_FOUND", "file", "找不到要提交的文件（路径不存在或是目录）",
           "no file to submit at that path (it does not exist or is a directory)"),
    ValidationCode("F_HEADER", "file", "表头缺失、重复或缺少必填列", "header row missing, duplicated or lacking required columns"),
    ValidationCode("F_DELIMITER", "file", "分隔符错误（应为英文逗号）", "wrong delimiter (a comma is required)"),
    ValidationCode("F_FIELD_TOO_LARGE", "file", "单个字段超过长度上限", "a single field exceeds the size limit"),
    ValidationCode("F_TOO_MANY_COLUMNS", "file", "表头列数超过上限", "the header has more columns than the limit"),
    ValidationCode("F_HEADER_TOO_LARGE", "file", "表头行超过长度上限（表头须在文件开头的限定字节数内结束）",
           "the header row does not end within the size limit at the start of the file"),
    ValidationCode("F_LINE_TOO_LONG", "file", "某一行超过长度上限（字段过多或过长）",
           "a line is longer than any row of the header's width can be (too many or too large fields)"),
    ValidationCode("F_UNPACKED_SIZE", "file", "xlsx 工作簿解压后超过大小上限（请改用 CSV 或拆分文件）",
           "the xlsx workbook unpacks beyond the size limit (send CSV, or split the file)"),
    ValidationCode("F_ARCHIVE_ENTRIES", "file", "xlsx 工作簿内部文件数超过上限", "the xlsx workbook holds more parts than the limit"),
    ValidationCode("F_COMPRESSION_RATIO", "file", "xlsx 工作簿压缩比异常（疑似压缩炸弹）",
           "an xlsx workbook part is compressed beyond the allowed ratio (looks like a zip bomb)"),
    ValidationCode("F_NO_ROWS", "file", "文件只有表头没有数据行", "file has a header but no data rows"),
    ValidationCode("F_DUPLICATE", "file", "相同内容的文件已报送过", "a file with exactly these bytes was already received"),
    ValidationCode("F_SEQ_NOT_NEWER", "file", "更正文件序号必须大于已接收文件的序号",
           "a correction must carry a higher seq than the file it replaces"),
    ValidationCode("F_ERROR_RATE", "file", "错误行占比超过阈值，整个文件退回",
           "share of bad rows exceeds the threshold; the whole file is rejected"),
    ValidationCode("F_CONTROL_FORMAT", "file", "控制总数文件（.ctl）格式错误",
           "the control-totals sidecar (.ctl) is malformed"),
    ValidationCode("F_CONTROL_TOTALS", "file", "文件与控制总数不符（记录数或金额合计），整个文件退回",
           "the file disagrees with its control totals (row count or sums); the whole file is rejected"),
    # row level errors: the row is rejected (行级错误: 该行不入库)
    ValidationCode("R_COLUMNS", "error", "该行字段数与表头不一致", "row has a different number of fields than the header"),
    ValidationCode("R_REQUIRED", "error", "必填字段为空", "required field is empty"),
    ValidationCode("R_TOO_LONG", "error", "字段超过最大长度", "value is longer than allowed"),
    ValidationCode("R_FORMULA", "error", "字段以 = + - @ 开头，疑似表格公式注入",
           "value starts with = + - @ and looks like a spreadsheet formula"),
    ValidationCode("R_ENUM", "error", "取值不在允许范围内", "value is not one of the accepted values"),
    ValidationCode("R_DATE", "error", "日期无效（应为 YYYY-MM-DD）", "not a valid date (YYYY-MM-DD expected)"),
    ValidationCode("R_NUMBER", "error", "数值格式无效或小数位过多", "not a valid number, or too many decimals"),
    ValidationCode("R_INTEGER", "error", "应为整数", "not a whole number"),
    ValidationCode("R_RANGE", "error", "数值超出允许范围", "number out of the allowed range"),
    ValidationCode("R_ID_FORMAT", "error", "证件号码格式错误（数字须为 0-9）", "identifier has the wrong format (digits must be 0-9)"),
    ValidationCode("R_ID_CHECKSUM", "error", "证件号码校验位错误", "identifier check character is wrong"),
    ValidationCode("R_ID_TYPE", "error", "证件类型与借款人类型不匹配", "identifier type does not fit the borrower type"),
    ValidationCode("R_PHONE", "error", "手机号码应为以 1 开头的 11 位数字（0-9）", "mobile number must be 11 digits (0-9) starting with 1"),
    ValidationCode("R_REGION", "error", "行政区划代码不是有效的 GB/T 2260 代码", "region code is not a valid GB/T 2260 code"),
    ValidationCode("R_DATE_ORDER", "error", "日期先后顺序错误", "dates are in the wrong order"),
    ValidationCode("R_FUTURE_DATE", "error", "日期晚于数据日期", "date is after the reporting date"),
    ValidationCode("R_AS_OF_MISMATCH", "error", "数据日期与文件名日期不一致", "as_of_date differs from the date in the file name"),
    ValidationCode("R_OVERDUE_GT_OUTSTANDING", "error", "逾期本金大于剩余本金", "overdue principal exceeds outstanding principal"),
    ValidationCode("R_OVERDUE_SINCE_MISSING", "error", "存在逾期金额但缺少最早未还应还日",
           "overdue amounts without overdue_since"),
    ValidationCode("R_STATUS_AMOUNTS", "error", "账户状态与金额矛盾", "account status contradicts the amounts"),
    ValidationCode("R_DUPLICATE_KEY", "error", "同一文件中合同编号重复", "loan_id appears more than once in the file"),
    ValidationCode("R_UNKNOWN_LOAN", "error", "合同编号未在借款合同信息中报送过", "loan_id was never reported in a loans file"),
    ValidationCode("R_TIMESTAMP", "error", "时间无效（应为 YYYY-MM-DDTHH:MM:SS+08:00）",
           "not a valid timestamp (YYYY-MM-DDTHH:MM:SS+08:00 expected)"),
    ValidationCode("R_TIMEZONE", "error", "时间缺少时区或时区偏移无效（应带 +08:00 等 UTC 偏移）",
           "timestamp without a time zone, or with an invalid UTC offset (+08:00 expected)"),
    ValidationCode("R_PROMISE_MISSING", "error", "承诺还款记录缺少承诺还款日期或金额",
           "promise_to_pay outcome without promise_date or promise_amount"),
    # warnings: the row is kept (提示: 该行入库)
    ValidationCode("W_RATE_HIGH", "warning", "年化利率超过 24%", "annual rate above 24%"),
    ValidationCode("W_PRINCIPAL_CAP", "warning", "网络小贷个人贷款金额超过 20 万元",
           "online microloan to an individual above CNY 200,000"),
    ValidationCode("W_GUARANTOR_MISSING", "warning", "保证担保但未填写担保机构代码",
           "guarantee without guarantor_id"),
    ValidationCode("W_DPD_MISMATCH", "warning", "报送的逾期天数与最早未还应还日不符",
           "reported days past due disagree with overdue_since"),
    ValidationCode("W_NOTICE_MISSING", "warning", "不良信息未填写告知日期，黑名单将暂缓发布",
           "negative data without notice_date; any listing is held back"),
    ValidationCode("W_NAME_CONFLICT", "warning", "同一证件号码报送了不同的姓名", "same identifier reported with a different name"),
    ValidationCode("W_COLUMN_IGNORED", "warning", "无法识别的列已忽略", "unrecognised column ignored"),
    ValidationCode("W_PARTIAL_MONTH", "warning",
                   "部分报送：本文件覆盖的存续借款少于上一完整文件的阈值比例；数据已保存，但在该月收到完整文件前不计入统计、名单和预警",
                   "partial file: it reports fewer of the loans active in your last complete file than the threshold;"
                   " kept, but counted in no figure, list or alert until a complete file of the month arrives"),
]
VALIDATION_CODES: dict[str, ValidationCode] = {r.code: r for r in _CODES}
"""Every code the validation of a submission can give (file, row error, row warning), by code."""


@dataclass(frozen=True)
class Choice:
    """An accepted enum value with its Chinese label (the label is accepted as input too)."""

    value: str
    zh: str
    aliases: tuple[str, ...] = ()


FieldType = Literal["text", "enum", "decimal", "integer", "date", "timestamp", "bool", "identifier", "phone",
                    "region", "uscc", "risk_class"]
Storage = Literal["clear", "borrower_key", "name_hash", "phone_hash", "org_key"]


@dataclass(frozen=True)
class Field:
    name: str
    zh: str
    type: FieldType
    required: bool
    rule_en: str = ""
    rule_zh: str = ""
    max_length: int | None = None
    choices: tuple[Choice, ...] = ()
    minimum: Decimal | None = None
    minimum_exclusive: bool = False
    maximum: Decimal | None = None
    scale: int = 2
    default: str | None = None
    storage: Storage = "clear"
    aliases: tuple[str, ...] = ()
    example: str = ""

    @property
    def column(self) -> str:
        """Column in the raw table; identities are replaced by keys under another name."""
        return {"clear": self.name, "borrower_key": "borrower_key", "name_hash": "name_hash",
                "phone_hash": "phone_hash", "org_key": "guarantor_key"}[self.storage]

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.name, self.zh, *self.aliases)


# ---- conditions and cross-field rules: data the validator interprets --------------------


@dataclass(frozen=True)
class When:
    """True where `field` holds one of `values` (canonical form)."""

    field: str
    values: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.field} in ({', '.join(self.values)})"


@dataclass(frozen=True)
class SumPositive:
    """True where the sum of the numeric `fields` is above zero."""

    fields: tuple[str, ...]

    def describe(self) -> str:
        return " + ".join(self.fields) + " > 0"


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[When | SumPositive, ...]

    def describe(self) -> str:
        return " or ".join(c.describe() for c in self.conditions)


@dataclass(frozen=True)
class AllOf:
    conditions: tuple[When | SumPositive, ...]

    def describe(self) -> str:
        return " and ".join(c.describe() for c in self.conditions)


Condition = When | SumPositive | AnyOf | AllOf
FILE_DATE = "<file date>"


@dataclass(frozen=True)
class Rule:
    """A cross-field rule. `check` names how the validator evaluates it:

    - not_after: `field` <= `other` (another date field, or FILE_DATE)
    - equals_file_date: `field` == the file's reporting date
    - not_greater: `field` <= `other` (numbers)
    - required_when / recommended_when: `field` present where `when` holds
    - zero_when: `field` == 0 where `when` holds
    - positive_when: sum of `fields` > 0 where `when` holds
    - above: `field` > `threshold` (where `when` holds, if given)
    - allowed_pairs: (`field`, `other`) is one of `pairs`
    - days_since: `field` == `at` - `other` in days, where `field` is given
    - unique: `field` occurs once in the file
    - known_loan: `field` names a loan this lender reported in a loans file
    """

    code: str
    check: str
    field: str
    en: str
    zh: str
    other: str | None = None
    when: Condition | None = None
    threshold: Decimal | None = None
    pairs: tuple[tuple[str, str], ...] = ()
    fields: tuple[str, ...] = ()
    at: str | None = None


@dataclass(frozen=True)
class Kind:
    name: str
    zh: str
    description_en: str
    description_zh: str
    fields: tuple[Field, ...]
    rules: tuple[Rule, ...]
    raw_table: str

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    @property
    def required(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.required)


def _enum(*items: tuple[str, str] | tuple[str, str, tuple[str, ...]]) -> tuple[Choice, ...]:
    return tuple(Choice(*item) for item in items)


BORROWER_TYPES = _enum(("individual", "个人", ("自然人",)), ("enterprise", "企业", ("法人", "机构")))
ID_TYPES = _enum(("RESIDENT_ID", "居民身份证", ("身份证",)), ("USCC", "统一社会信用代码", ()), ("PASSPORT", "护照", ()))
PRODUCT_TYPES = _enum(("guaranteed_microloan", "小额担保贷款"), ("online_microloan", "网络小额贷款"),
                      ("business_loan", "经营贷"), ("consumer_loan", "消费贷"))
GUARANTEE_TYPES = _enum(("credit", "信用"), ("guarantee", "保证"), ("mortgage", "抵押"), ("pledge", "质押"))
REPAYMENT_METHODS = _enum(("equal_installment", "等额本息"), ("equal_principal", "等额本金"),
                          ("interest_first", "先息后本"), ("bullet", "到期一次还本付息"))
ACCOUNT_STATUSES = _enum(("normal", "正常"), ("overdue", "逾期"), ("settled", "结清"), ("compensated", "担保代偿"),
                         ("written_off", "核销"), ("transferred", "转出"), ("restructured", "重组"))
LEGAL_STATUSES = _enum(("none", "无"), ("filed", "起诉"), ("judgment", "判决"), ("enforcement", "执行"),
                       ("dishonest", "失信被执行人"))
RISK_CLASSES = _enum(("1", "正常", ("normal",)), ("2", "关注", ("special_mention",)), ("3", "次级", ("substandard",)),
                     ("4", "可疑", ("doubtful",)), ("5", "损失", ("loss",)))
CURRENCIES = _enum(*[(c, c) for c in (
    "CNY", "HKD", "MOP", "TWD", "USD", "EUR", "JPY", "GBP", "AUD", "CAD", "CHF", "SGD", "KRW", "NZD", "THB",
    "MYR", "RUB", "INR", "IDR", "PHP", "VND", "AED", "SAR", "SEK", "NOK", "DKK", "BRL", "ZAR", "MXN", "TRY")])

NEGATIVE = AnyOf((
    SumPositive(("overdue_principal", "overdue_interest")),
    When("account_status", ("overdue", "compensated", "written_off")),
    When("legal_status", ("filed", "judgment", "enforcement", "dishonest")),
    When("fraud_flag", ("true",)),
))
"""Negative data (不良信息): what must be told to the borrower before it is reported."""

LOANS = Kind(
    name="loans",
    zh="借款合同信息",
    description_en="One row per loan. A later row for the same loan_id supersedes an earlier one.",
    description_zh="每笔借款一行；同一合同编号的后报记录覆盖先报记录。",
    raw_table="raw.loans",
    fields=(
        Field("loan_id", "合同编号", "text", True, "unique per lender", "机构内唯一", max_length=64,
              aliases=("借款合同编号",), example="L2025010001"),
        Field("borrower_type", "借款人类型", "enum", True, choices=BORROWER_TYPES, example="individual"),
        Field("id_type", "证件类型", "enum", True, "individual: RESIDENT_ID or PASSPORT; enterprise: USCC",
              "个人：居民身份证或护照；企业：统一社会信用代码", choices=ID_TYPES, example="RESIDENT_ID"),
        Field("id_number", "证件号码", "identifier", True,
              "checked per GB 11643 / GB 32100; stored only as a keyed hash (borrower key)",
              "按 GB 11643 / GB 32100 校验；平台只保存加密键值", max_length=32, storage="borrower_key",
              example="11010519491231002X"),
        Field("borrower_name", "借款人名称", "text", True, "never stored in clear; a keyed hash only",
              "不以明文保存，仅保存加密散列", max_length=100, storage="name_hash",
              aliases=("借款人姓名", "姓名"), example="张三"),
        Field("phone", "手机号码", "phone", False, "11 digits starting with 1; keyed hash only",
              "以 1 开头的 11 位数字，仅保存加密散列", storage="phone_hash", example="13800138000"),
        Field("region_code", "行政区划代码", "region", True, "6-digit GB/T 2260 code", "6 位 GB/T 2260 代码",
              example="110105"),
        Field("product_type", "产品类型", "enum", True, choices=PRODUCT_TYPES, example="online_microloan"),
        Field("guarantee_type", "担保方式", "enum", True, choices=GUARANTEE_TYPES, example="credit"),
        Field("guarantor_id", "担保机构代码", "uscc", False, "USCC of the guarantor; recommended for guarantee",
              "保证担保时建议填写担保机构统一社会信用代码", storage="org_key", example=""),
        Field("principal", "合同金额", "decimal", True, "> 0, yuan, 2 decimals", "大于 0，单位元，两位小数",
              minimum=Decimal(0), minimum_exclusive=True, maximum=Decimal("9999999999999999.99"),
              aliases=("合同金额(元)",), example="50000.00"),
        Field("currency", "币种", "enum", False, "ISO 4217, default CNY", "ISO 4217，默认人民币 CNY",
              choices=CURRENCIES, default="CNY", example="CNY"),
        Field("annual_rate", "年化利率", "decimal", True, "0..1 (0.18 = 18%)", "0 到 1 之间（0.18 即 18%）",
              minimum=Decimal(0), maximum=Decimal(1), scale=6, example="0.180000"),
        Field("issue_date", "放款日期", "date", True, "not after the reporting date", "不晚于数据日期",
              example="2025-01-15"),
        Field("maturity_date", "到期日期", "date", True, ">= issue_date", "不早于放款日期", example="2026-01-15"),
        Field("repayment_method", "还款方式", "enum", True, choices=REPAYMENT_METHODS, example="equal_installment"),
        Field("installments", "期数", "integer", True, ">= 1", "不小于 1", minimum=Decimal(1),
              maximum=Decimal(1200), example="12"),
        Field("consent_ref", "信息报送授权书编号", "text", True,
              "reference of the borrower's written consent to be reported (征信业管理条例 art. 29)",
              "借款人书面授权报送的授权书编号（征信业管理条例第二十九条）", max_length=64,
              aliases=("授权书编号",), example="AUTH-2025-0001"),
    ),
    rules=(
        Rule("R_DUPLICATE_KEY", "unique", "loan_id", "loan_id once per file", "同一文件中合同编号唯一"),
        Rule("R_ID_TYPE", "allowed_pairs", "borrower_type", "individual: RESIDENT_ID or PASSPORT; enterprise: USCC",
             "个人：居民身份证或护照；企业：统一社会信用代码", other="id_type",
             pairs=(("individual", "RESIDENT_ID"), ("individual", "PASSPORT"), ("enterprise", "USCC"))),
        Rule("R_FUTURE_DATE", "not_after", "issue_date", "issue_date not after the reporting date",
             "放款日期不晚于数据日期", other=FILE_DATE),
        Rule("R_DATE_ORDER", "not_after", "issue_date", "maturity_date on or after issue_date",
             "到期日期不早于放款日期", other="maturity_date"),
        Rule("W_RATE_HIGH", "above", "annual_rate", "warn above 0.24", "年化利率超过 24% 时提示",
             threshold=Decimal("0.24")),
        Rule("W_PRINCIPAL_CAP", "above", "principal",
             "warn when an online microloan to an individual exceeds CNY 200,000",
             "网络小贷个人贷款超过 20 万元时提示", threshold=Decimal(200000),
             when=AllOf((When("product_type", ("online_microloan",)), When("borrower_type", ("individual",))))),
        Rule("W_GUARANTOR_MISSING", "recommended_when", "guarantor_id", "guarantor_id recommended for guarantee",
             "保证担保时建议填写担保机构代码", when=When("guarantee_type", ("guarantee",))),
        Rule("W_NAME_CONFLICT", "name_consistent", "borrower_name",
             "the same identifier should carry the same name in this lender's reports",
             "同一证件号码在本机构报送中应对应同一姓名"),
    ),
)

LOAN_STATUS = Kind(
    name="loan_status",
    zh="账户状态",
    description_en="One row per loan per reporting date (month end; daily allowed).",
    description_zh="每笔借款每个数据日期一行（月末报送，也可按日报送）。",
    raw_table="raw.loan_status",
    fields=(
        Field("as_of_date", "数据日期", "date", True, "equals the date in the file name", "与文件名中的日期一致",
              example="2025-01-31"),
        Field("loan_id", "合同编号", "text", True, "a loan this lender reported in a loans file",
              "须为本机构已报送的借款合同", max_length=64, aliases=("借款合同编号",), example="L2025010001"),
        Field("account_status", "账户状态", "enum", True, choices=ACCOUNT_STATUSES, example="normal"),
        Field("outstanding_principal", "剩余本金", "decimal", True, ">= 0", "不小于 0", minimum=Decimal(0),
              maximum=Decimal("9999999999999999.99"), example="45000.00"),
        Field("overdue_principal", "逾期本金", "decimal", True, ">= 0 and <= outstanding", "不小于 0 且不大于剩余本金",
              minimum=Decimal(0), maximum=Decimal("9999999999999999.99"), example="0.00"),
        Field("overdue_interest", "逾期利息", "decimal", True, ">= 0", "不小于 0", minimum=Decimal(0),
              maximum=Decimal("9999999999999999.99"), example="0.00"),
        Field("overdue_since", "最早未还应还日", "date", False, "required when anything is overdue; <= as_of_date",
              "有逾期金额时必填，不晚于数据日期", example=""),
        Field("dpd_reported", "逾期天数", "integer", False, "cross-checked against overdue_since",
              "与最早未还应还日交叉核对", minimum=Decimal(0), maximum=Decimal(36500), example="0"),
        Field("last_payment_date", "最近一次还款日期", "date", False, "<= as_of_date", "不晚于数据日期",
              example="2025-01-15"),
        Field("last_payment_amount", "最近一次还款金额", "decimal", False, ">= 0", "不小于 0", minimum=Decimal(0),
              maximum=Decimal("9999999999999999.99"), example="4600.00"),
        Field("lender_risk_class", "机构五级分类", "risk_class", False, "正常/关注/次级/可疑/损失 or 1..5",
              "正常/关注/次级/可疑/损失 或 1 至 5", choices=RISK_CLASSES, aliases=("五级分类",), example="正常"),
        Field("notice_date", "不良信息告知日期", "date", False,
              "date the borrower was told of negative data (征信业管理条例 art. 15); <= as_of_date",
              "告知借款人不良信息的日期（征信业管理条例第十五条），不晚于数据日期", example=""),
        Field("legal_status", "诉讼状态", "enum", False, choices=LEGAL_STATUSES, default="none", example="none"),
        Field("fraud_flag", "欺诈标识", "bool", False, "true / false", "是 / 否", default="false", example="false"),
    ),
    rules=(
        Rule("R_DUPLICATE_KEY", "unique", "loan_id", "loan_id once per file", "同一文件中合同编号唯一"),
        Rule("R_AS_OF_MISMATCH", "equals_file_date", "as_of_date", "as_of_date equals the file's date",
             "数据日期与文件名日期一致"),
        Rule("R_OVERDUE_GT_OUTSTANDING", "not_greater", "overdue_principal", "overdue_principal <= outstanding",
             "逾期本金不大于剩余本金", other="outstanding_principal"),
        Rule("R_OVERDUE_SINCE_MISSING", "required_when", "overdue_since",
             "overdue_since required when overdue amounts > 0", "有逾期金额时必须填写最早未还应还日",
             when=SumPositive(("overdue_principal", "overdue_interest"))),
        Rule("R_DATE_ORDER", "not_after", "overdue_since", "overdue_since <= as_of_date", "最早未还应还日不晚于数据日期",
             other="as_of_date"),
        Rule("R_DATE_ORDER", "not_after", "last_payment_date", "last_payment_date <= as_of_date",
             "最近一次还款日期不晚于数据日期", other="as_of_date"),
        Rule("R_DATE_ORDER", "not_after", "notice_date", "notice_date <= as_of_date", "告知日期不晚于数据日期",
             other="as_of_date"),
        Rule("R_STATUS_AMOUNTS", "zero_when", "outstanding_principal", "a settled loan has no outstanding principal",
             "结清账户剩余本金应为 0", when=When("account_status", ("settled",))),
        Rule("R_STATUS_AMOUNTS", "positive_when", "overdue_principal",
             "an overdue loan has overdue principal or interest", "逾期账户应有逾期本金或利息",
             fields=("overdue_principal", "overdue_interest"), when=When("account_status", ("overdue",))),
        Rule("W_DPD_MISMATCH", "days_since", "dpd_reported", "dpd_reported = as_of_date - overdue_since",
             "逾期天数 = 数据日期 - 最早未还应还日", other="overdue_since", at="as_of_date"),
        Rule("W_NOTICE_MISSING", "recommended_when", "notice_date",
             "negative data carries the date the borrower was told", "不良信息应填写告知借款人的日期",
             when=NEGATIVE),
        Rule("R_UNKNOWN_LOAN", "known_loan", "loan_id", "loan reported in a loans file first",
             "须先在借款合同信息中报送该笔借款"),
    ),
)

CHANNELS = _enum(("sms", "短信"), ("call", "电话"), ("visit", "上门"), ("letter", "信函"), ("agency", "委外"),
                 ("legal", "法务", ("诉讼",)))
CONTACTED_PARTIES = _enum(("borrower", "借款人", ("本人",)), ("guarantor", "担保人"),
                          ("emergency_contact", "紧急联系人"), ("other", "其他"))
OUTCOMES = _enum(("no_answer", "未接通"), ("contacted", "已接通"), ("promise_to_pay", "承诺还款"),
                 ("refused", "拒绝还款"), ("paid", "已还款"))

COLLECTION_ACTIONS = Kind(
    name="collection_actions",
    zh="催收记录",
    description_en="One row per contact attempt (call, message, visit, letter, agency or legal step) on a loan, "
                   "by the lender or an agency it engaged; the file's date is the last day the file covers.",
    description_zh="每次催收联系一行（电话、短信、上门、信函、委外、法务），含机构自身及其委托的催收机构；"
                   "文件日期为所含记录的截止日期。",
    raw_table="raw.collection_actions",
    fields=(
        Field("loan_id", "合同编号", "text", True, "a loan this lender reported in a loans file",
              "须为本机构已报送的借款合同", max_length=64, aliases=("借款合同编号",), example="L2025010001"),
        Field("action_time", "催收时间", "timestamp", True,
              "ISO 8601 with UTC offset, e.g. 2025-01-15T10:30:00+08:00; not after the file's date",
              "ISO 8601 格式并带 UTC 偏移，如 2025-01-15T10:30:00+08:00；不晚于文件日期",
              aliases=("联系时间",), example="2025-01-15T10:30:00+08:00"),
        Field("channel", "催收方式", "enum", True, choices=CHANNELS, example="call"),
        Field("actor", "催收主体", "text", True, "in_house, or the code of the collection agency engaged",
              "in_house（机构自催）或委托催收机构代码", max_length=64, aliases=("催收机构",), example="in_house"),
        Field("contacted_party", "联系对象", "enum", True, choices=CONTACTED_PARTIES, example="borrower"),
        Field("outcome", "催收结果", "enum", True, choices=OUTCOMES, example="contacted"),
        Field("promise_date", "承诺还款日期", "date", False, "required when outcome is promise_to_pay",
              "催收结果为承诺还款时必填", example=""),
        Field("promise_amount", "承诺还款金额", "decimal", False, "> 0; required when outcome is promise_to_pay",
              "大于 0；催收结果为承诺还款时必填", minimum=Decimal(0), minimum_exclusive=True,
              maximum=Decimal("9999999999999999.99"), example=""),
    ),
    rules=(
        Rule("R_FUTURE_DATE", "not_after", "action_time", "action_time not after the file's date (Asia/Shanghai)",
             "催收时间不晚于文件日期（北京时间）", other=FILE_DATE),
        Rule("R_PROMISE_MISSING", "required_when", "promise_date", "promise_date required for promise_to_pay",
             "承诺还款时必须填写承诺还款日期", when=When("outcome", ("promise_to_pay",))),
        Rule("R_PROMISE_MISSING", "required_when", "promise_amount", "promise_amount required for promise_to_pay",
             "承诺还款时必须填写承诺还款金额", when=When("outcome", ("promise_to_pay",))),
        Rule("R_UNKNOWN_LOAN", "known_loan", "loan_id", "loan reported in a loans file first",
             "须先在借款合同信息中报送该笔借款"),
    ),
)

KINDS: dict[str, Kind] = {k.name: k for k in (LOANS, LOAN_STATUS, COLLECTION_ACTIONS)}


def header_key(text: str) -> str:
    """How header cells are compared: NFKC, lower case, no spaces, no unit in brackets."""
    text = unicodedata.normalize("NFKC", text).strip().lstrip("\ufeff").lower()
    text = re.sub(r"\s+", "", text)
    return re.sub(r"\((元|%|cny|yuan)\)$", "", text)


def header_map(kind: Kind) -> dict[str, str]:
    """Every accepted header spelling (canonical, Chinese, aliases) -> canonical field name."""
    out: dict[str, str] = {}
    for f in kind.fields:
        for h in f.headers:
            out[header_key(h)] = f.name
    return out


def choice_map(f: Field) -> dict[str, str]:
    """Every accepted spelling of an enum value -> its canonical value."""
    out: dict[str, str] = {}
    for c in f.choices:
        for spelling in (c.value, c.zh, *c.aliases):
            out[spelling] = c.value
            out[spelling.lower()] = c.value
    return out
