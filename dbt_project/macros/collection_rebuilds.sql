{#- How the collection models (催收记录: int_collection_actions and the models that read it) rebuild
    only what changed, per lender from a first action month (their rebuild window, incremental.sql).

    int_collection_actions (config rebuild_collection_files) rebuilds, per lender, every action
    month from the earliest of:
      - the first action month of a collection file in force that it does not hold yet (a new
        file, or a correction);
      - the first action month it holds of a file that a correction has replaced since;
      - the first action month of a loan whose borrower key (or another attribute) changed, or
        that left int_loans_latest (a replaced loans file, a loan de-keyed by retention), as
        int_loans_latest logged it (loan_log.sql);
      - every month when the collection parameters changed (rebuild_rules).
    It logs that window for the models that read it. It does not read the status history: a
    full build runs it beside int_loan_status_history, the build's longest serial step (at a
    million loans the history ran alone on one core for 99 s with the actions waiting on it).
    The models that judge actions on the status reports (first contacts, promises, the conduct
    mart) read both logs (rebuild_producer, a list): the months int_loan_status_history rebuilt
    (a new status month, a corrected one, a loan whose attributes changed, a new rules version)
    change their verdicts though the actions stay the same. Those look further back (config
    rebuild_lookback_days, a parameter of rule_collection_parameters): a collection episode's cure
    and a promise's keeping are judged on the reports up to that many days after it, and whether
    either can be judged yet on the lender's latest reporting date, which moves with each month;
    a lender's first status file makes all its actions before it judgeable, from the first. -#}

{% macro collection_months_to_rebuild() -%}
    {#- (lender_code, rebuild_month) from the collection files and the loans that changed since
        the last run -#}
    select changed.lender_code, min(changed.action_month) as rebuild_month
    from (
        -- files in force not held yet: the month of their earliest action. Each file probed on
        -- its own, through the model's (submission_id, line) index and then the raw table's
        -- primary key (offset 0: the files held are not read): planned as joins, both tables were
        -- read whole every month (1.2 GB at 200k loans)
        select
            unheld.lender_code,
            date_trunc('month', min(first_action.action_time) at time zone '{{ var("exchange_timezone") }}')::date
                as action_month
        from (
            select files.lender_code, files.submission_id
            from {{ ref('int_submissions_effective') }} as files
            where files.kind = 'collection_actions'
                and files.is_effective
                and not exists (
                    select 1 from {{ this }} as built
                    where built.submission_id = files.submission_id
                )
            offset 0
        ) as unheld
        cross join lateral (
            select min(actions.action_time) as action_time
            from {{ ref('stg_raw__collection_actions') }} as actions
            where actions.submission_id = unheld.submission_id
        ) as first_action
        where first_action.action_time is not null
        group by unheld.lender_code

        union all

        -- files held that are no longer in force, probed one by one as above
        select files.lender_code, held.first_month
        from {{ ref('int_submissions_effective') }} as files
        cross join lateral (
            select min(built.action_month) as first_month
            from {{ this }} as built
            where built.submission_id = files.submission_id
        ) as held
        where files.kind = 'collection_actions'
            and not files.is_effective
            and held.first_month is not null

        union all

        -- actions of loans gone from int_loans_latest (de-keyed by retention, their loans file
        -- replaced) or whose attributes (the borrower key among them) changed, as it logged them
        -- since this model last ran (loan_log.sql), from the loan's first action: the status
        -- history's rebuild starts at the loan's first report, and an action may be older. A hash
        -- join with the actions, only in a run with such loans (an uncorrelated exists is a
        -- one-time filter: nothing is scanned in a month without them).
        select built.lender_code, min(built.action_month)
        from {{ this }} as built
        inner join ({{ changed_loans() }}) as changed
            on changed.lender_code = built.lender_code
            and changed.loan_id = built.loan_id
        where exists (select 1 from ({{ changed_loans() }}) as any_changed)
        group by built.lender_code

        union all

        -- every loan (int_loans_latest was built from scratch): every month
        select distinct files.lender_code, date '0001-01-01'
        from {{ ref('int_submissions_effective') }} as files
        where {{ every_loan_changed() }}
    ) as changed
    group by changed.lender_code
{%- endmacro %}

{% macro collection_lookback(window, days_parameter) -%}
    {#- (lender_code, rebuild_month): each `window` lender's first month, taken `days_parameter`
        days before the earlier of that month and the lender's latest reporting date before it
        (the date that decided, in the rows built, what could be judged yet). A lender with no
        reporting date before it has no first contact or promise built before it (they wait for
        one), however old its actions: from its first action month -#}
    select
        shifted.lender_code,
        date_trunc(
            'month',
            least(
                shifted.rebuild_month,
                coalesce(
                    {{ lender_latest_date('shifted.lender_code', before_month='shifted.rebuild_month') }},
                    -- through the (lender_code, action_month) index
                    (
                        select min(actions.action_month) from {{ ref('int_collection_actions') }} as actions
                        where actions.lender_code = shifted.lender_code
                    )
                )
            ) - make_interval(days => parameters.{{ days_parameter }})
        )::date as rebuild_month
    from ({{ window }}) as shifted
    cross join ({{ collection_parameters() }}) as parameters
{%- endmacro %}

{% macro collection_rows_from(model, window, month_column='action_month', first_month=none) -%}
    {#- the rows of the collection model `model` dated (by `month_column`) from each `window`
        lender's `first_month` (SQL; default its rebuild_month) on, through the model's
        (lender_code, month) index -#}
    select rows_from.*
    from {{ window }}
    cross join lateral (
        -- per lender, offset 0: joined to the window, the planner merged on the lender over the
        -- whole index and filtered the months (int_collection_debtor_days: 8.6M rows read for
        -- the 1.6M of the window at a million loans)
        select *
        from {{ ref(model) }} as lender_rows
        where lender_rows.lender_code = {{ window }}.lender_code
            and lender_rows.{{ month_column }} >= {{ first_month or window ~ '.rebuild_month' }}
        offset 0
    ) as rows_from
{%- endmacro %}

{% macro read_by_rebuilds(model) -%}
    {#- true when another model of the project reads `model`'s rebuild log (one of its rebuild_producer) -#}
    {%- for node in graph.nodes.values() if node.resource_type == 'model'
            and model in rebuild_producers(node.config) -%}
        {{ return(true) }}
    {%- endfor -%}
    {{ return(false) }}
{%- endmacro %}
