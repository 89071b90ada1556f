{# Collection-conduct findings (催收行为问题清单) per lender and month: every metric of
    mart_collection_conduct above the threshold of a rule in seed rule_conduct_findings, with the
    rule, its source and the figures it rests on. #}

with

conduct as (
    select * from {{ ref('mart_collection_conduct') }}
),

rules as (
    select * from {{ ref('rule_conduct_findings') }}
),

metrics as (
    select
        conduct.lender_code,
        conduct.report_month,
        conduct.actions,
        metric.metric,
        metric.metric_value,
        metric.affected_count
    from conduct
    cross join lateral (
        values
            ('night_actions', conduct.night_actions::numeric, conduct.night_actions),
            ('debtor_days_over_call_limit', conduct.debtor_days_over_call_limit::numeric,
                conduct.debtors_over_call_limit),
            ('third_party_share', conduct.third_party_share, conduct.third_party_actions),
            ('contact_frequency_vs_median', conduct.contact_frequency_vs_median, conduct.loans_contacted)
    ) as metric (metric, metric_value, affected_count)
),

final as (
    select
        md5(metrics.lender_code || ':' || metrics.report_month || ':' || rules.rule_code) as finding_key,
        metrics.lender_code,
        metrics.report_month,
        rules.rule_code,
        rules.severity,
        rules.metric,
        metrics.metric_value,
        rules.threshold,
        metrics.affected_count,
        metrics.actions,
        rules.description_en,
        rules.description_zh,
        rules.source
    from metrics
    inner join rules
        on rules.metric = metrics.metric
    where metrics.metric_value > rules.threshold
)

select * from final
