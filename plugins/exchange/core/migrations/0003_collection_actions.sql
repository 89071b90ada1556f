-- Collection records (催收记录): one row per contact attempt on a loan, by the lender or an
-- agency it engaged, validated like the other kinds and loaded by COPY with its submission.
-- No identity is reported in this kind: the loan_id ties each action to a loan of the lender.

create table raw.collection_actions (
    submission_id   bigint not null,
    line            int not null,
    lender_code     text not null,
    as_of_date      date not null,
    loan_id         text not null,
    action_time     timestamptz not null,
    channel         text not null,
    actor           text not null,
    contacted_party text not null,
    outcome         text not null,
    promise_date    date,
    promise_amount  numeric(18, 2),
    primary key (submission_id, line)
);
comment on table raw.collection_actions is
    'Validated collection actions (催收记录), one per contact attempt, tagged by submission.';
create index raw_collection_actions_lender_loan on raw.collection_actions (lender_code, loan_id);
