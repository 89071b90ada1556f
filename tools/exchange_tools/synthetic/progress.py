"""The generator as the `generate` and `demo` commands run it: a progress bar, a default period."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from exchange_tools.synthetic.generate import GenerateResult, generate


def last_month_end(today: dt.date | None = None) -> dt.date:
    """The default last reporting date: the month end before today."""
    return (today or dt.date.today()).replace(day=1) - dt.timedelta(days=1)


def generate_with_progress(console: Console, out: Path, n_lenders: int, months: int, loans: int, seed: int,
                           error_rate: float, end: dt.date) -> GenerateResult:
    """The generator with a progress bar on `console` (gone when done)."""
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("生成 generating", total=None)
        return generate(out, lenders=n_lenders, months=months, loans=loans, seed=seed, error_rate=error_rate,
                        end=end, progress=lambda done, total: progress.update(bar, completed=done, total=total))
