"""Valid rows of each kind, built from the spec's own rules, for tests to start from and break."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from exchange.core.identifiers import resident_id_check_char
from exchange.core.spec import KINDS


def resident_id(n: int, region: str = "110105") -> str:
    first17 = f"{region}{1970 + n % 30:04d}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def loan_row(n: int, issue: str = "2025-01-10", **overrides: str) -> dict[str, str]:
    row = {
        "loan_id": f"L{n:06d}", "borrower_type": "individual", "id_type": "RESIDENT_ID", "id_number": resident_id(n),
        "borrower_name": f"测试{n}", "phone": f"138{n:08d}", "region_code": "110105",
        "product_type": "online_microloan", "guarantee_type": "credit", "guarantor_id": "", "principal": "5000.00",
        "currency": "CNY", "annual_rate": "0.18", "issue_date": issue, "maturity_date": "2026-01-10",
        "repayment_method": "equal_installment", "installments": "12", "consent_ref": f"AUTH{n}",
    }
    return row | overrides


def status_row(n: int, as_of: str = "2025-01-31", **overrides: str) -> dict[str, str]:
    row = {
        "as_of_date": as_of, "loan_id": f"L{n:06d}", "account_status": "normal", "outstanding_principal": "4600.00",
        "overdue_principal": "0", "overdue_interest": "0", "overdue_since": "", "dpd_reported": "0",
        "last_payment_date": "2025-01-10", "last_payment_amount": "460.00", "lender_risk_class": "正常",
        "notice_date": "", "legal_status": "none", "fraud_flag": "false",
    }
    return row | overrides


def csv_text(rows: list[dict[str, str]], kind: str = "loans", chinese: bool = False) -> str:
    spec_kind = KINDS[kind]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([f.zh if chinese else f.name for f in spec_kind.fields])
    for row in rows:
        writer.writerow([row[f.name] for f in spec_kind.fields])
    return buf.getvalue()


def write_xlsx(path: Path, rows: list[dict[str, str]], kind: str = "loans") -> None:
    import xlsxwriter

    spec_kind = KINDS[kind]
    wb = xlsxwriter.Workbook(str(path))
    wb.set_properties({"created": dt.datetime(2025, 1, 1)})
    ws = wb.add_worksheet()
    ws.write_row(0, 0, [f.name for f in spec_kind.fields])
    for i, row in enumerate(rows, start=1):
        ws.write_row(i, 0, [row[f.name] for f in spec_kind.fields])
    wb.close()


def land(home: Path, lender: str, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    """Put a file into landing/<lender>/ as an upload would."""
    path = home / "landing" / lender / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode(encoding)
    path.write_bytes(content)
    return path
