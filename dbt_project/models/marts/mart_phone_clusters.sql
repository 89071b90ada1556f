{# Phone clusters (关联团伙) for the association: one row per connected group of borrower keys
   linked through shared phone hashes as of the latest signal date, with its size and how many of
   its keys carry each other signal on that date. #}

with

clusters as (
    select * from {{ ref('int_phone_clusters') }}
),

signals as (
    select * from {{ ref('mart_borrower_signals') }}
),

final as (
    select
        clusters.cluster_id,
        clusters.signal_date,
        min(clusters.cluster_size) as cluster_size,
        count(*) filter (where signals.is_identity_mismatch) as keys_identity_mismatch,
        count(*) filter (where signals.is_loan_stacking) as keys_loan_stacking,
        count(*) filter (where signals.is_bust_out) as keys_bust_out,
        count(*) filter (where signals.overdue_lenders_6m > 0) as keys_overdue_6m,
        coalesce(sum(signals.total_outstanding), 0) as total_outstanding
    from clusters
    left join signals
        on signals.borrower_key = clusters.borrower_key
        and signals.signal_date = clusters.signal_date
    group by clusters.cluster_id, clusters.signal_date
)

select * from final
