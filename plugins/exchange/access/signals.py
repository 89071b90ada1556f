"""The signals section of a look-up answer (风险信号): what the published borrower signals and the
look-up audit say about the applicant, as counts and flags with their labels.

Two sources, both read by the look-up's one statement (exchange.access.lookup.LOOKUP_SQL):

- the borrower signals of the live feed version (shared.borrower_signal_rows, published from
  publication.pub_borrower_signals_candidates on the latest signal date): phone sharing, identity
  mismatch, loan stacking, bust-out, co-debt. A key without a published row (one lender, one
  phone, never overdue) shows none of them;
- inquiry velocity (查询频次), counted at look-up time from control.lookup_audit: the distinct
  members whose look-ups of the key were answered within the short and the long window, overall
  and per purpose. The asking member's own earlier look-ups count like any other member's; the
  look-up being answered does not count itself; the association's look-ups are not a member's.

Every window and threshold comes from the rules published with the version
(shared.signal_rule_rows, from the seed rule_fraud_signals): the labels name them from there, and
none is written here. No item names a lender, a phone or name hash, or another key.
"""

from __future__ import annotations

from typing import Any

SIGNAL_LABELS: dict[str, tuple[str, str]] = {
    # flags: the name, then the rule that raises it (its parameters in braces)
    "phone_sharing": ("共用手机号", "phone sharing"),
    "phone_sharing.rule": ("近{phone_window_3m_days}天内同一手机号关联{phone_shared_min_keys}个及以上借款人",
                           "{phone_shared_min_keys} or more borrowers on one phone within {phone_window_3m_days} days"),
    "identity_mismatch": ("身份信息不一致", "identity mismatch"),
    "identity_mismatch.rule": ("不同机构为该证件报送了不同姓名", "lenders reported different names for this ID"),
    "loan_stacking": ("叠贷", "loan stacking"),
    "loan_stacking.rule": ("近{stacking_window_days}天内在{stacking_min_lenders}家及以上机构新增借款",
                           "new loans at {stacking_min_lenders} or more lenders within {stacking_window_days} days"),
    "bust_out": ("撸贷迹象", "bust-out"),
    "bust_out.rule": ("近{bust_out_surge_window_days}天内在{bust_out_min_lenders}家及以上机构借款，"
                      "其中{bust_out_min_fpd_lenders}家及以上当月首期逾期",
                      "loans at {bust_out_min_lenders} or more lenders within {bust_out_surge_window_days} days, "
                      "first-payment default at {bust_out_min_fpd_lenders} or more of them in the same month"),
    # figures of the published row
    "phones_1m": ("近{phone_window_1m_days}天内报送的手机号数", "phone numbers reported within {phone_window_1m_days} days"),
    "phones_3m": ("近{phone_window_3m_days}天内报送的手机号数", "phone numbers reported within {phone_window_3m_days} days"),
    "phones_6m": ("近{phone_window_6m_days}天内报送的手机号数", "phone numbers reported within {phone_window_6m_days} days"),
    "phones_12m": ("近{phone_window_12m_days}天内报送的手机号数",
                   "phone numbers reported within {phone_window_12m_days} days"),
    "keys_per_phone_1m": ("近{phone_window_1m_days}天内共用其手机号的借款人数（含本人，取最多的号码）",
                          "borrowers on its most shared phone within {phone_window_1m_days} days (itself included)"),
    "keys_per_phone_3m": ("近{phone_window_3m_days}天内共用其手机号的借款人数（含本人，取最多的号码）",
                          "borrowers on its most shared phone within {phone_window_3m_days} days (itself included)"),
    "keys_per_phone_6m": ("近{phone_window_6m_days}天内共用其手机号的借款人数（含本人，取最多的号码）",
                          "borrowers on its most shared phone within {phone_window_6m_days} days (itself included)"),
    "keys_per_phone_12m": ("近{phone_window_12m_days}天内共用其手机号的借款人数（含本人，取最多的号码）",
                           "borrowers on its most shared phone within {phone_window_12m_days} days (itself included)"),
    "days_since_link_change": ("距手机号关联最近一次变化的天数", "days since a phone link last changed"),
    "name_hashes": ("各机构报送的不同姓名数", "different names the lenders reported"),
    "stacking_lenders": ("近{stacking_window_days}天内新增借款的机构数", "lenders with a new loan within {stacking_window_days} days"),
    "stacking_new_principal": ("近{stacking_window_days}天内新增借款本金（元）",
                               "new principal within {stacking_window_days} days (CNY)"),
    "surge_lenders": ("近{bust_out_surge_window_days}天内新增借款的机构数",
                      "lenders with a new loan within {bust_out_surge_window_days} days"),
    "first_payment_default_lenders": ("其中当月报送首期逾期的机构数",
                                      "of those, lenders reporting a first-payment default in the signal month"),
    "open_lenders": ("有未结清借款的机构数（共债机构数）", "lenders with an open loan (co-debt lenders)"),
    "total_outstanding": ("各机构未结清借款本金合计（元）", "outstanding principal at those lenders (CNY)"),
    "overdue_lenders_6m": ("近{co_debt_overdue_lookback_days}天内报送其逾期的机构数",
                           "lenders that reported it overdue within {co_debt_overdue_lookback_days} days"),
    # inquiry velocity, counted at look-up time
    "inquiry_members": ("近{days}天内查询过该借款人的机构数", "members that looked this applicant up within {days} days"),
    # a phone link counted in the phone figures is under an open dispute
    "phone_link_disputed": ("其中手机号关联异议处理中", "a phone link they count is under dispute"),
    # the section's one-line summary
    "none": ("无风险信号", "no signals"),
    "counts_only": ("未触发风险标识，仅有计数", "no flag raised; counts only"),
    "some": ("风险信号：", "signals: "),
}
"""The one table of the signals section's labels, Chinese first and English beside; the portal,
the CLI and the API show these texts (carried in the answer), and the lender guide explains each."""

FLAGS = {"is_phone_shared": "phone_sharing", "is_identity_mismatch": "identity_mismatch",
         "is_loan_stacking": "loan_stacking", "is_bust_out": "bust_out"}
"""Flag column of shared.borrower_signal_rows -> the flag's code in the answer."""
FIGURES = ("keys_per_phone_1m", "keys_per_phone_3m", "keys_per_phone_6m", "keys_per_phone_12m", "phones_1m",
           "phones_3m", "phones_6m", "phones_12m", "days_since_link_change", "name_hashes", "stacking_lenders",
           "stacking_new_principal", "surge_lenders", "first_payment_default_lenders", "open_lenders",
           "total_outstanding", "overdue_lenders_6m")
"""The counts of a published row, in the order the answer lists them."""
INQUIRY_WINDOWS = ("inquiry_window_short_days", "inquiry_window_long_days")
"""The rule parameters of the inquiry windows, short first (the look-up's SQL reads the same names)."""


def _label(code: str, rules: dict[str, Any], **extra: Any) -> dict[str, str]:
    zh, en = SIGNAL_LABELS[code]
    return {"label_zh": zh.format(**rules, **extra), "label_en": en.format(**rules, **extra)}


def build_section(row: dict[str, Any] | None, rules: dict[str, Any] | None, inquiries: list[dict[str, Any]] | None,
                  purposes: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """The answer's `signals`: the key's published row (or none), the rules published with it, and
    the inquiry counts per purpose (purpose None: every purpose) as the look-up's SQL returns them.

    Without rules (the statement sends none when there is nothing to show, and a version published
    before the signals has none) nothing is shown: no label could name its window. Zero inquiry
    counts are left out, so a key nobody asked about and without a published row has an empty section.
    """
    rules = rules or {}
    if not rules:
        row, inquiries = None, None
    flags = []
    disputed = bool(row and row["is_phone_link_disputed"])
    for column, code in FLAGS.items():
        if row and row[column]:
            rule = _label(f"{code}.rule", rules)
            flags.append({"code": code, **_label(code, rules), "rule_zh": rule["label_zh"], "rule_en": rule["label_en"],
                          "disputed": disputed and code == "phone_sharing"})
    figures = [{"code": column, "value": row[column], **_label(column, rules)}
               for column in FIGURES if row and row[column] is not None]
    counted = []
    for found in sorted(inquiries or [], key=lambda r: (r["purpose"] is not None, r["purpose"] or "")):
        for parameter, column in zip(INQUIRY_WINDOWS, ("members_short", "members_long"), strict=True):
            if not found[column]:
                continue
            days = rules[parameter]
            purpose = found["purpose"]
            label = _label("inquiry_members", rules, days=days)
            if purpose is not None:
                zh, en = purposes.get(purpose, (purpose, purpose))
                label = {"label_zh": f"{label['label_zh']}（{zh}）", "label_en": f"{label['label_en']} ({en})"}
            counted.append({"code": "inquiry_members", "window_days": days, "purpose": purpose,
                            "value": found[column], **label})
    if flags:
        message_zh = SIGNAL_LABELS["some"][0] + "、".join(f["label_zh"] for f in flags)
        message_en = SIGNAL_LABELS["some"][1] + ", ".join(f["label_en"] for f in flags)
    else:
        message_zh, message_en = SIGNAL_LABELS["counts_only" if figures or counted else "none"]
    if disputed:
        zh, en = SIGNAL_LABELS["phone_link_disputed"]
        message_zh, message_en = f"{message_zh}（{zh}）", f"{message_en} ({en})"
    return {"signal_date": row["signal_date"] if row else None, "flags": flags, "figures": figures,
            "inquiries": counted, "phone_link_disputed": disputed, "message_zh": message_zh, "message_en": message_en}
