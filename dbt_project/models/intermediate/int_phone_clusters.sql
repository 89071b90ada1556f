{# Clusters of borrower keys linked through shared phone hashes (关联团伙), as of the latest signal
   date: one row per key that shares a phone hash with another key within cluster_window_days.
   Connected components by a recursive walk over key-to-key edges, bounded two ways
   (rule_fraud_signals): a phone reported for more than cluster_max_phone_keys keys (a
   switchboard or placeholder number) links nobody, and the walk follows at most
   cluster_max_depth hops. Every key of a group whose diameter is within that depth gets the same
   cluster; a longer chain may split into overlapping groups.
   Built from int_borrower_identity_reports (retention applied): a link whose
   phone-link dispute was upheld links nobody; a cluster one of whose links is under an open
   dispute is marked (is_link_disputed, 异议标注). #}

with

reports as (
    select * from {{ ref('int_borrower_identity_reports') }}
    where phone_hash is not null
),

latest_date as (
    select * from {{ ref('int_fraud_signal_dates') }}
    order by signal_date desc
    limit 1
),

links as (
    select
        reports.borrower_key,
        reports.phone_hash,
        bool_or(coalesce(reports.is_phone_link_disputed, false)) as is_disputed
    from reports
    cross join latest_date
    where reports.reported_date <= latest_date.signal_date
        and reports.reported_date > latest_date.signal_date - latest_date.cluster_window_days
    group by reports.borrower_key, reports.phone_hash
),

linking_phones as (
    select links.phone_hash
    from links
    cross join latest_date
    group by links.phone_hash, latest_date.cluster_max_phone_keys
    having count(*) between 2 and latest_date.cluster_max_phone_keys
),

edges as materialized (
    select distinct from_links.borrower_key as from_key, to_links.borrower_key as to_key
    from linking_phones
    inner join links as from_links
        on from_links.phone_hash = linking_phones.phone_hash
    inner join links as to_links
        on to_links.phone_hash = linking_phones.phone_hash
        and to_links.borrower_key <> from_links.borrower_key
),

walk as (
    {# recursive term: one more hop from the keys reached at the previous depth #}
    with recursive steps (root_key, borrower_key, depth) as (
        select distinct from_key, from_key, 0
        from edges
        union
        select steps.root_key, edges.to_key, steps.depth + 1
        from steps
        inner join edges
            on edges.from_key = steps.borrower_key
        cross join latest_date
        where steps.depth < latest_date.cluster_max_depth
    )
    select root_key, borrower_key from steps
),

disputed_keys as (
    -- keys with a disputed link on a phone that links them to others
    select distinct links.borrower_key
    from links
    inner join linking_phones
        on linking_phones.phone_hash = links.phone_hash
    where links.is_disputed
),

reached as (
    select
        walk.root_key as borrower_key,
        min(walk.borrower_key) as anchor_key,
        bool_or(disputed_keys.borrower_key is not null) as reaches_disputed_link
    from walk
    left join disputed_keys
        on disputed_keys.borrower_key = walk.borrower_key
    group by walk.root_key
),

final as (
    select
        reached.borrower_key,
        latest_date.signal_date,
        md5('cluster:' || reached.anchor_key) as cluster_id,
        count(*) over (partition by reached.anchor_key) as cluster_size,
        bool_or(reached.reaches_disputed_link) over (partition by reached.anchor_key) as is_link_disputed
    from reached
    cross join latest_date
)

select * from final
