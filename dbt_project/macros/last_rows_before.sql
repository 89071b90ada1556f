{% macro last_rows_before_window(loans, columns) -%}
    {#- A select of each `loans` row's (lender_code, loan_id) last row in this model before its
        lender's rebuild window (CTE `rebuild`): `columns` (SQL, of the alias `previous`) and the
        row's as_of_date as anchor_as_of_date.
        The model is ordered by month on disk and most loans were reported in the month before
        the window: that month is read as one range of the (lender_code, report_month) index and
        hashed, and the unique (lender_code, loan_id, as_of_date) index is probed only for the
        other loans (new loans, loans that skipped a month). A probe for every loan read the
        index at random: 423k blocks for the 351k loans of a month at a million loans. -#}
    with previous_month as (
        select distinct on (month_rows.lender_code, month_rows.loan_id) month_rows.*
        from rebuild
        cross join lateral (
            -- per lender, offset 0: joined to the window, the planner merged on the lender over
            -- the whole index and read the whole table (3.4M blocks at a million loans)
            select {{ columns }}, previous.as_of_date as anchor_as_of_date
            from {{ this }} as previous
            where previous.lender_code = rebuild.lender_code
                and previous.report_month = (rebuild.rebuild_month - interval '1 month')::date
            offset 0
        ) as month_rows
        order by month_rows.lender_code, month_rows.loan_id, month_rows.anchor_as_of_date desc
    )

    select previous_month.*
    from {{ loans }} as loans
    inner join previous_month
        on previous_month.lender_code = loans.lender_code
        and previous_month.loan_id = loans.loan_id

    union all

    select earlier.*
    from {{ loans }} as loans
    inner join rebuild
        on rebuild.lender_code = loans.lender_code
    cross join lateral (
        select {{ columns }}, previous.as_of_date as anchor_as_of_date
        from {{ this }} as previous
        where previous.lender_code = loans.lender_code
            and previous.loan_id = loans.loan_id
            and previous.as_of_date < rebuild.rebuild_month
        order by previous.as_of_date desc
        limit 1
    ) as earlier
    where not exists (
        select 1 from previous_month
        where previous_month.lender_code = loans.lender_code
            and previous_month.loan_id = loans.loan_id
    )
{%- endmacro %}
