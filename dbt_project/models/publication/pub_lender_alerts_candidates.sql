{# Early-warning alert candidates (风险预警候选): the alerts of marts.mart_lender_alerts as they are
   published with each feed version into shared.lender_alerts_versions. lender_code is the lender
   the alert is for; no column names the other lender (its category at most). #}

select
    alert_key,
    lender_code,
    alert_type,
    alert_type_zh,
    borrower_key,
    loan_id,
    loan_reference,
    first_seen_date,
    as_of_date,
    other_lender_count,
    other_lender_categories,
    max_dpd_elsewhere,
    reason_codes,
    evidence_en,
    evidence_zh
from {{ ref('mart_lender_alerts') }}
