{{
    config(
        indexes=[
            {'columns': ['borrower_key', 'signal_date'], 'unique': True},
            {'columns': ['signal_date']},
        ],
    )
}}

{# Identity-fraud and multi-lending signals (欺诈与共债信号) for the association: one row per
   borrower key and signal date on which any signal model has a row for the key. On keys and
   hashes only; no column names another lender. Clusters are computed as of the latest signal
   date only and show on that date's rows. What may reach other members only (DOMAIN section 5):
   negative data (first-payment defaults, overdue reports) from publishable loans only (macro
   publishable_loans: noticed, not unreported); rows de-keyed by retention are gone everywhere;
   a phone link whose dispute was upheld counts nowhere, one under an open dispute marks the
   phone figures and the cluster (is_phone_link_disputed, 异议标注). #}

with

phone_links as not materialized (
    select * from {{ ref('int_phone_link_signals') }}
),

identity as not materialized (
    select * from {{ ref('int_identity_mismatch_signals') }}
),

stacking as not materialized (
    select * from {{ ref('int_loan_stacking_signals') }}
),

bust_out as not materialized (
    select * from {{ ref('int_bust_out_signals') }}
),

co_debt as not materialized (
    select * from {{ ref('int_co_debt_signals') }}
),

clusters as (
    select * from {{ ref('int_phone_clusters') }}
),

keys as (
    select signal_date, borrower_key from phone_links
    union
    select signal_date, borrower_key from identity
    union
    select signal_date, borrower_key from stacking
    union
    select signal_date, borrower_key from bust_out
    union
    select signal_date, borrower_key from co_debt
),

final as (
    select
        keys.signal_date,
        keys.borrower_key,
        coalesce(phone_links.phones_1m, 0) as phones_1m,
        coalesce(phone_links.phones_3m, 0) as phones_3m,
        coalesce(phone_links.phones_6m, 0) as phones_6m,
        coalesce(phone_links.phones_12m, 0) as phones_12m,
        coalesce(phone_links.keys_per_phone_1m, 0) as keys_per_phone_1m,
        coalesce(phone_links.keys_per_phone_3m, 0) as keys_per_phone_3m,
        coalesce(phone_links.keys_per_phone_6m, 0) as keys_per_phone_6m,
        coalesce(phone_links.keys_per_phone_12m, 0) as keys_per_phone_12m,
        phone_links.days_since_link_change,
        coalesce(phone_links.is_phone_shared, false) as is_phone_shared,
        coalesce(identity.name_hashes, 0) as name_hashes,
        coalesce(identity.is_identity_mismatch, false) as is_identity_mismatch,
        coalesce(stacking.stacking_lenders, 0) as stacking_lenders,
        coalesce(stacking.stacking_new_principal, 0) as stacking_new_principal,
        coalesce(stacking.is_loan_stacking, false) as is_loan_stacking,
        coalesce(bust_out.surge_lenders, 0) as surge_lenders,
        coalesce(bust_out.first_payment_default_lenders, 0) as first_payment_default_lenders,
        coalesce(bust_out.is_bust_out, false) as is_bust_out,
        coalesce(co_debt.open_lenders, 0) as open_lenders,
        coalesce(co_debt.total_outstanding, 0) as total_outstanding,
        coalesce(co_debt.overdue_lenders_6m, 0) as overdue_lenders_6m,
        clusters.cluster_id,
        clusters.cluster_size,
        coalesce(phone_links.is_phone_link_disputed, false) or coalesce(clusters.is_link_disputed, false)
            as is_phone_link_disputed
    from keys
    left join phone_links
        on phone_links.signal_date = keys.signal_date
        and phone_links.borrower_key = keys.borrower_key
    left join identity
        on identity.signal_date = keys.signal_date
        and identity.borrower_key = keys.borrower_key
    left join stacking
        on stacking.signal_date = keys.signal_date
        and stacking.borrower_key = keys.borrower_key
    left join bust_out
        on bust_out.signal_date = keys.signal_date
        and bust_out.borrower_key = keys.borrower_key
    left join co_debt
        on co_debt.signal_date = keys.signal_date
        and co_debt.borrower_key = keys.borrower_key
    left join clusters
        on clusters.signal_date = keys.signal_date
        and clusters.borrower_key = keys.borrower_key
)

select * from final
