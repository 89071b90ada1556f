{# Borrower signal candidates (借款人风险信号候选): the fraud and multi-lending signals of
   mart_borrower_signals on the latest signal date, one row per borrower key, published with each
   feed version (shared.borrower_signal_rows) for the look-up only: members never read the table,
   they get one key's row in a look-up answer.

   A key is published when it has something worth showing beyond one loan at one lender: a flag
   raised, or a count that involves a second lender, phone or key (phones, keys per phone,
   stacking, surge or open lenders of two or more), or a lender that reported it overdue within
   the co-debt lookback. Every other key (one lender, one phone, never overdue) has no row, and its
   look-up answer shows no signal. The counts themselves are what the mart holds: negative data
   (overdue, first-payment default) only from publishable loans (macro publishable_loans), keys
   only from loans retention has not de-keyed (stg_raw__loans). No column names a lender, a phone
   hash, a name hash or another key; the phone cluster stays with the association. A phone link
   under an open dispute (异议) marks the row (is_phone_link_disputed), so the look-up shows its
   phone figures as disputed; an upheld link counts in none of them already. #}

with

signals as not materialized (
    select * from {{ ref('mart_borrower_signals') }}
),

latest as (
    select max(signal_date) as signal_date
    from signals
),

final as (
    select
        signals.signal_date,
        signals.borrower_key,
        signals.phones_1m,
        signals.phones_3m,
        signals.phones_6m,
        signals.phones_12m,
        signals.keys_per_phone_1m,
        signals.keys_per_phone_3m,
        signals.keys_per_phone_6m,
        signals.keys_per_phone_12m,
        signals.days_since_link_change,
        signals.is_phone_shared,
        signals.name_hashes,
        signals.is_identity_mismatch,
        signals.stacking_lenders,
        signals.stacking_new_principal,
        signals.is_loan_stacking,
        signals.surge_lenders,
        signals.first_payment_default_lenders,
        signals.is_bust_out,
        signals.open_lenders,
        signals.total_outstanding,
        signals.overdue_lenders_6m,
        signals.is_phone_link_disputed
    from signals
    inner join latest
        on latest.signal_date = signals.signal_date
    where signals.is_phone_shared
        or signals.is_identity_mismatch
        or signals.is_loan_stacking
        or signals.is_bust_out
        or signals.phones_12m >= 2
        or signals.keys_per_phone_12m >= 2
        or signals.stacking_lenders >= 2
        or signals.surge_lenders >= 2
        or signals.open_lenders >= 2
        or signals.overdue_lenders_6m >= 1
)

select * from final
