"""The generator's entry point: check the arguments, simulate every lender, add the re-sends, list the truth."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from exchange.core.errors import ExchangeError
from exchange_tools.synthetic.lenders import Lender
from exchange_tools.synthetic.simulate import LenderRun, Run
from exchange_tools.synthetic.write import write_lenders, write_readme, write_signal_truth, write_truth


@dataclass
class GenerateResult:
    """What was written. `files` is the order in which the files are to be submitted."""

    out: Path
    lenders: list[Lender]
    files: list[Path]
    correction: Path              # the `_2` re-send of one loan_status period
    duplicate: Path               # byte-identical re-send (under <lender>/resend/), expected F_DUPLICATE
    duplicate_of: Path
    truth: Path
    rows: int                     # data rows in the submitted files, the duplicate not counted
    injected: int                 # truth rows by cause
    consequences: int
    natural: int
    codes: dict[str, int]         # truth rows per reason code
    signals: Path                 # signals.csv: the loans rows of the injected fraud patterns
    signal_rows: dict[str, int]   # its rows per signal


def generate(out: Path, *, lenders: int = 5, months: int = 13, loans: int = 2000, seed: int = 1,
             error_rate: float = 0.01, end: dt.date,
             progress: Callable[[int, int], None] | None = None) -> GenerateResult:
    """Write `lenders` synthetic lenders' monthly files for the `months` month ends up to `end`.

    `loans` is per lender: the book it holds at the first reporting date plus the loans it issues
    over the months. `error_rate` is the share of rows per file given one deliberate problem.
    `out` must be empty or absent, so truth.csv never describes files from another run.
    """
    if lenders < 1 or months < 1 or loans < 2 * months:
        raise ExchangeError("G_ARGS", "need lenders >= 1, months >= 1 and loans >= 2 * months")
    if not 0 <= error_rate <= 0.5:
        raise ExchangeError("G_ARGS", "error_rate must be between 0 and 0.5")
    if (end + dt.timedelta(days=1)).day != 1:
        raise ExchangeError("G_ARGS", f"end must be a month end, not {end}")
    if out.exists() and any(out.iterdir()):
        raise ExchangeError("G_OUT_NOT_EMPTY", f"{out} is not empty: generate into a new or empty directory")
    out.mkdir(parents=True, exist_ok=True)

    run = Run(out, lenders, months, loans, seed, error_rate, end)
    total = 3 * lenders * months + 2
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    rows = 0
    for index in range(lenders):
        lender_run = LenderRun(run, index)
        lender_run.simulate(step)
        rows += lender_run.writer.rows

    correction = next(p for p in run.groups[run.correction_at[1], run.correction_at[0]] if p.stem.endswith("_2"))
    dup_lender, dup_month = run.duplicate_at
    original = run.groups[dup_month, dup_lender][0]
    duplicate = out / run.lenders[dup_lender].code / "resend" / original.name
    duplicate.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(original, duplicate)
    step()
    after = (min(dup_month + 1, months - 1), dup_lender)
    files: list[Path] = []
    for mi in range(months):
        for li in range(lenders):
            files.extend(run.groups[mi, li])
            if (mi, li) == after:
                files.append(duplicate)

    truth_path = out / "truth.csv"
    counts, codes = write_truth(truth_path, [p for p in files if p != duplicate], run.truth)
    signals_path = out / "signals.csv"
    signal_rows = write_signal_truth(signals_path, [p for p in files if p != duplicate], run.signal_truth)
    write_lenders(out / "lenders.csv", run.lenders)
    write_readme(out, files, correction, duplicate, lenders=lenders, months=months, end=end, loans=loans, seed=seed,
                 rate=error_rate)
    return GenerateResult(out=out, lenders=run.lenders, files=files, correction=correction, duplicate=duplicate,
                          duplicate_of=original, truth=truth_path, rows=rows, injected=counts["injected"],
                          consequences=counts["consequence"], natural=counts["natural"], codes=codes,
                          signals=signals_path, signal_rows=signal_rows)
