"""Synthetic lenders (模拟报送机构): realistic submission files with every deliberate problem listed.

Why it exists: the exchange needs data for demos and benchmarks and, above all, a way to measure the
validator. Every problem the generator puts into the files on purpose is listed in `truth.csv`
(file, line, field, reason code, cause), so a validation run can be scored exactly: each listed
problem must be found (recall) and nothing else may be flagged (false positives). That only works
if an injected row carries exactly one problem, so each injection keeps the rest of its row valid,
and the warnings a realistic portfolio produces by itself (negative data without a notice date) are
listed as `natural`; the status rows of a rejected loans row are listed as `consequence`.

The portfolio behaves like one: a shared borrower pool (the same person borrows at several
lenders), products by lender category, a monthly roll of delinquency with cures, restructurings,
write-offs, guarantor compensation, transfers and early payoffs, a small fraud ring that stops
paying everywhere at once and ends up in court, and lenders whose files differ in encoding, header
language, enum labels, line ends and format (CSV or xlsx).

Same arguments, same bytes: all randomness comes from `random.Random` instances seeded with strings
derived from `seed` (str seeds go through SHA-512, not Python's salted hash), nothing iterates over a
set, no timestamp is written, and xlsx files carry a fixed creation date and xlsxwriter's fixed zip
entry dates. Each lender draws from three streams of its own (simulation, injection, collection), so
the order of draws within a stream is what fixes the bytes. Lenders are simulated one after another,
month by month, and each month's files are written before the next month starts: memory grows with
the number of loans and borrowers, never with the rows already written.

Modules, in the order they build on each other: values (how dates, money and rates are written),
identities (people and companies), lenders (who reports and how its files look), loans (terms and
the monthly life of a loan), portfolio (one lender's book), files (a file being assembled),
collection (collection actions), inject (the deliberate problems), write (CSV, xlsx, truth file),
simulate (the month loop), generate (the entry point) and progress (the generator on the console).
"""
