{#- Helpers that express the exchange standard's rules in SQL. The thresholds themselves are data
    (seeds/); these macros only know how to read them. -#}

{% macro months_between(from_month, to_month) -%}
    {#- whole calendar months from the month of from_month to the month of to_month. date_part, not
        extract: extract returns numeric, and its arithmetic cost 0.2 microseconds more per call (the
        status history calls this three times per report: 1.44M calls 0.96-1.00 -> 0.64-0.71 s) -#}
    ((date_part('year', {{ to_month }}) - date_part('year', {{ from_month }})) * 12
        + date_part('month', {{ to_month }}) - date_part('month', {{ from_month }}))::integer
{%- endmacro %}

{% macro repayment_code(account_status, dpd_bucket_order, report_month, issue_date, maturity_date, repayment_method, as_of_date) -%}
    {#- the month's code in the 24-month repayment profile (the coding of Chinese credit reports):
        an overdue month is its DPD bucket's order in rule_dpd_buckets (M1 = 1, ..., M7+ = 7) -#}
    case
        when {{ account_status }} = 'settled' then 'C'
        when {{ account_status }} = 'compensated' then 'D'
        when {{ account_status }} in ('written_off', 'transferred') then 'G'
        when {{ dpd_bucket_order }} > 0 then {{ dpd_bucket_order }}::text
        when {{ report_month }} = date_trunc('month', {{ issue_date }})::date
            or ({{ repayment_method }} = 'bullet' and {{ as_of_date }} < {{ maturity_date }}) then '*'
        else 'N'
    end
{%- endmacro %}

{% macro loan_key(lender_code, loan_id) -%}
    {#- one-column key of a loan for BI tools: md5 over lender code and loan id -#}
    md5({{ lender_code }} || ':' || {{ loan_id }})
{%- endmacro %}

{% macro safe_ratio(numerator, denominator) -%}
    {#- numerator / denominator rounded to six decimals; null where the denominator is zero -#}
    round(({{ numerator }})::numeric / nullif({{ denominator }}, 0), 6)
{%- endmacro %}

{% macro purge_date(end_date) -%}
    {#- the day a negative record leaves every zone members, analysts and the data subject read:
        retention_years after the end of the bad behaviour (征信业管理条例 art. 16); null while it has
        not ended (ongoing, or written off and never repaid) -#}
    ({{ end_date }} + make_interval(years => {{ var('retention_years') }}))::date
{%- endmacro %}

{% macro dispute_covers(dispute, record) -%}
    {#- whether a dispute (异议) covers a record (a default episode or a listing reason): the same
        borrower; the lender and loan when the dispute names them; the episode it names, or else
        the episodes that began on or before the day it was opened, so that a later record of the
        same person is never covered -#}
    {{ dispute }}.borrower_key = {{ record }}.borrower_key
        and ({{ dispute }}.lender_code is null or {{ dispute }}.lender_code = {{ record }}.lender_code)
        and ({{ dispute }}.loan_id is null or {{ dispute }}.loan_id = {{ record }}.loan_id)
        and (
            {{ dispute }}.default_episode_no = {{ record }}.default_episode_no
            or ({{ dispute }}.default_episode_no is null and {{ record }}.default_date <= {{ dispute }}.opened_on)
        )
{%- endmacro %}

{% macro exchange_today() -%}
    {#- Today's date in the exchange's time zone (Beijing): deadlines are Beijing calendar days. -#}
    ((now() at time zone '{{ var("exchange_timezone") }}')::date)
{%- endmacro %}
