{# The blacklist reasons as members and data subjects read them, published with each version:
   every reason code of the rule table rule_listing_reasons with its text from the latest rules
   version that has it. Look-ups, exports, the portal, the CLI and the report read these texts
   from the published version, never a copy of their own. #}

with

rules as (
    select * from {{ ref('rule_listing_reasons') }}
),

versions as (
    select * from {{ ref('int_rule_versions') }}
),

final as (
    select distinct on (rules.reason_code)
        rules.reason_code,
        rules.rules_version,
        rules.reason_zh,
        rules.reason_en
    from rules
    inner join versions
        on versions.rules_version = rules.rules_version
    order by rules.reason_code, versions.effective_from desc
)

select * from final
