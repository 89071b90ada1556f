"""Collection actions (催收记录): the calls and messages a lender's collectors make on delinquent loans.

Calls are attempts, most unanswered; a contacted debtor may promise to pay, and a loan that pays
this month was usually promised a few days before. Each lender collects in its own way (Conduct):
most follow the self-regulation rules, some call at night, let an agency call on top of their own
calls, or turn to the debtor's contacts, which is what the exchange's conduct rules look for.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from exchange_tools.synthetic.loans import Loan
from exchange_tools.synthetic.values import iso, money


@dataclass(frozen=True)
class Conduct:
    """How a lender collects (催收): most follow the self-regulation rules, some break one of them."""

    p_day: float           # chance that a delinquent loan is worked on a given day
    night: float           # share of calls placed between 22:00 and 08:00 (rule: none)
    overlap: float         # share of worked days on which an agency calls the same debtor too
    third_party: float     # share of calls aimed at emergency contacts or others (rule: re-establish contact only)
    zone: str              # how its system writes the time zone: "+08:00", "+0800" or "Z" (UTC)
    agency: str            # code of the collection agency it engages for deep arrears


CONDUCTS = (
    Conduct(0.55, 0.0, 0.35, 0.01, "+08:00", "CS3301"),   # agency and in-house both call: > 3 connected a day
    Conduct(0.3, 0.1, 0.0, 0.01, "+0800", "CS4401"),      # calls at night
    Conduct(0.25, 0.0, 0.0, 0.0, "+08:00", "CS5101"),     # clean
    Conduct(0.3, 0.0, 0.0, 0.2, "Z", "CS3302"),           # collects from contacts and others
    Conduct(0.25, 0.0, 0.0, 0.005, "+08:00", "CS3201"),   # clean
)
_CONNECTED = ("contacted", "promise_to_pay", "refused")


class Collector:
    """A lender's collection desk: its Conduct, and the lender's collection stream of random draws."""

    def __init__(self, rng: random.Random, conduct: Conduct):
        self.rng, self.conduct = rng, conduct

    def collect(self, loans: list[Loan], rows: list[list[str]], overdue_before: list[bool], rejected: set[int],
                t: dt.date, prev: dt.date) -> tuple[list[list[str]], list[Loan]]:
        """This month's actions on every loan delinquent during it, in time order; (rows, their loans).

        `rows` are the loans' status rows as reported (rows of `rejected` loans are skipped): a loan
        is worked from its first day overdue, or the first of the month, until it pays or the month ends.
        """
        rng, c = self.rng, self.conduct
        out: list[tuple[str, str, list[str], Loan]] = []
        for loan, row, before in zip(loans, rows, overdue_before, strict=True):
            if id(loan) in rejected or row[2] == "written_off" or not (before or row[2] == "overdue"):
                continue
            start = prev + dt.timedelta(days=1)
            if not before:
                start = max(start, (loan.since or t) + dt.timedelta(days=1))
            paid = loan.lp_date if loan.lp_date is not None and prev < loan.lp_date <= t else None
            end = paid if paid is not None and row[2] != "overdue" else t
            dpd_at_start = (start - loan.since).days if loan.since else 1
            day = start
            while day <= end:
                if rng.random() < c.p_day or day == paid:
                    late = dpd_at_start + (day - start).days > 60
                    actors = ["in_house"] + ([c.agency] if late and rng.random() < c.overlap else [])
                    for actor in actors:
                        for action in self._day_actions(loan, day, actor, paid):
                            out.append((action[1], loan.lid, action, loan))
                day += dt.timedelta(days=1)
        out.sort(key=lambda a: (a[0], a[1]))
        return [a[2] for a in out], [a[3] for a in out]

    def _day_actions(self, loan: Loan, day: dt.date, actor: str, paid: dt.date | None) -> list[list[str]]:
        rng, c = self.rng, self.conduct
        actions = []
        if actor == "in_house" and rng.random() < 0.3:
            actions.append(self._action(loan, day, "sms", actor, "borrower", "contacted", self._hour(False)))
        calls = rng.choice((1, 1, 2, 3)) if actor == "in_house" else rng.choice((2, 3))
        hours = sorted(self._hour(rng.random() < c.night) for _ in range(calls))
        for hour in hours:
            party = "borrower"
            u = rng.random()
            if u < c.third_party:
                party = "emergency_contact" if rng.random() < 0.7 else "other"
            elif loan.gtype == "guarantee" and u < c.third_party + 0.05:
                party = "guarantor"
            if paid == day and party == "borrower" and actor == "in_house":
                outcome = "paid"
            elif rng.random() < (0.45 if actor == "in_house" else 0.3):
                outcome = "no_answer"
            else:
                outcome = rng.choices(_CONNECTED, (50, 30, 20))[0]
            promise = ("", "")
            if outcome == "promise_to_pay":
                if paid is not None and day < paid:
                    when = paid + dt.timedelta(days=rng.randint(0, 2))
                    amount = loan.lp_amt or 100_00
                else:
                    when = day + dt.timedelta(days=rng.randint(3, 10))
                    amount = max(100_00, loan.installment(max(1, loan.paid + 1)))
                promise = (iso(when), money(amount))
            actions.append(self._action(loan, day, "call", actor, party, outcome, hour, promise))
        return actions

    def _hour(self, night: bool) -> int:
        """Seconds after local midnight: daytime 08:30-21:30, night 22:00-23:59 or 06:00-07:59."""
        rng = self.rng
        if night:
            return rng.choice((rng.randint(22 * 3600, 24 * 3600 - 1), rng.randint(6 * 3600, 8 * 3600 - 1)))
        return rng.randint(8 * 3600 + 1800, 21 * 3600 + 1800)

    def _action(self, loan: Loan, day: dt.date, channel: str, actor: str, party: str, outcome: str, seconds: int,
                promise: tuple[str, str] = ("", "")) -> list[str]:
        return [loan.lid, self._timestamp(day, seconds), channel, actor, party, outcome, *promise]

    def _timestamp(self, day: dt.date, seconds: int) -> str:
        """Local Asia/Shanghai time written the way this lender's system writes it."""
        local = dt.datetime(day.year, day.month, day.day) + dt.timedelta(seconds=seconds)
        zone = self.conduct.zone
        if zone == "Z":
            return f"{local - dt.timedelta(hours=8):%Y-%m-%dT%H:%M:%S}Z"
        sep = " " if zone == "+0800" else "T"
        return f"{local:%Y-%m-%d}{sep}{local:%H:%M:%S}{zone}"

