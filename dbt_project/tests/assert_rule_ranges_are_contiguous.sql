{{ config(tags=['rule_seeds']) }}

-- The DPD ranges of every rules version (buckets, and the floors of every rule set) start at 0,
-- so that every DPD falls in one range (a range runs up to the next one's min_dpd), and the
-- floors never get milder as DPD grows. Returns the offending rules.

with

buckets as (
    select rules_version, 'dpd_buckets' as rule_set, min_dpd, bucket_order as rank_value
    from {{ ref('rule_dpd_buckets') }}
),

floors as (
    select rules_version, rule_set, min_dpd, floor_class as rank_value
    from {{ ref('rule_classification_floors') }}
),

ranges as (
    select * from buckets
    union all
    select * from floors
),

ordered as (
    select
        rules_version,
        rule_set,
        min_dpd,
        rank_value,
        lag(rank_value) over (partition by rules_version, rule_set order by min_dpd) as previous_rank_value,
        min(min_dpd) over (partition by rules_version, rule_set) as lowest_min_dpd
    from ranges
)

select *
from ordered
where lowest_min_dpd <> 0
    or rank_value < previous_rank_value
