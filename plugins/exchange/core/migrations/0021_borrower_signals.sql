-- Borrower signals in the look-up (issue 16): the fraud and multi-lending signals (欺诈与共债信号)
-- are published with each feed version, like the blacklist, the default feed and the alerts
-- (migrations 0002, 0006, 0010), and the look-up counts inquiry velocity (查询频次) from its audit.
--
-- 1. shared.borrower_signal_rows: one row per borrower key of a kept version, written once by the
--    publication step from publication.pub_borrower_signals_candidates (the latest signal date of
--    marts.mart_borrower_signals). Counts and flags only: no lender code, no phone or name hash, no
--    other key. Members never read it: a member gets one key's row in a look-up answer
--    (exchange.access.lookup reads the live version), the association reads it all. It switches
--    with the version (shared.live_version), so a look-up never shows an older version's signals.
-- 2. shared.signal_rule_rows: the fraud-signal rules in force (rules.rule_fraud_signals) published
--    with each version; the look-up reads the inquiry windows and the thresholds it names there.
-- 3. The index for inquiry velocity: the look-ups of one key over the longest window, with who asked,
--    why and how it ended, read from the index alone where the visibility map allows. It replaces
--    the plain (borrower_key, at) index of migration 0004, which served the data-subject report and
--    still does, so a look-up maintains no more audit indexes than before.

-- ---- 1. the signals of every kept version ---------------------------------------------------------

create table shared.borrower_signal_rows (
    version                       bigint not null references shared.feed_versions on delete cascade,
    borrower_key                  char(64) not null check (borrower_key ~ '^[0-9a-f]{64}$'),
    signal_date                   date not null,
    phones_1m                     int not null check (phones_1m >= 0),
    phones_3m                     int not null check (phones_3m >= 0),
    phones_6m                     int not null check (phones_6m >= 0),
    phones_12m                    int not null check (phones_12m >= 0),
    keys_per_phone_1m             int not null check (keys_per_phone_1m >= 0),
    keys_per_phone_3m             int not null check (keys_per_phone_3m >= 0),
    keys_per_phone_6m             int not null check (keys_per_phone_6m >= 0),
    keys_per_phone_12m            int not null check (keys_per_phone_12m >= 0),
    days_since_link_change        int check (days_since_link_change >= 0),
    is_phone_shared               boolean not null,
    name_hashes                   int not null check (name_hashes >= 0),
    is_identity_mismatch          boolean not null,
    stacking_lenders              int not null check (stacking_lenders >= 0),
    stacking_new_principal        numeric(18, 2) not null check (stacking_new_principal >= 0),
    is_loan_stacking              boolean not null,
    surge_lenders                 int not null check (surge_lenders >= 0),
    first_payment_default_lenders int not null check (first_payment_default_lenders >= 0),
    is_bust_out                   boolean not null,
    open_lenders                  int not null check (open_lenders >= 0),
    total_outstanding             numeric(18, 2) not null check (total_outstanding >= 0),
    overdue_lenders_6m            int not null check (overdue_lenders_6m >= 0),
    is_phone_link_disputed        boolean not null default false,
    primary key (version, borrower_key)
);
comment on table shared.borrower_signal_rows is
    'Fraud and multi-lending signals (欺诈与共债信号) of every kept version, one row per borrower key with a '
    'flag or a multi-lender/phone/key count; read by the look-up (one key of the live version) and the '
    'association (shared.borrower_signals), never by a member directly.';

alter table shared.feed_versions add column borrower_signals_rows int not null default 0;

create view shared.borrower_signals as
select rows.*
from shared.borrower_signal_rows as rows
join shared.live_version as live on live.version = rows.version;
comment on view shared.borrower_signals is 'The live version''s borrower signals (association view).';

-- ---- 2. the signal rules of every kept version ------------------------------------------------

create table shared.signal_rule_rows (
    version       bigint not null references shared.feed_versions on delete cascade,
    parameter     text not null,
    rules_version text not null,
    value         int not null,
    unit          text,
    primary key (version, parameter)
);
comment on table shared.signal_rule_rows is
    'The fraud-signal rules (rules.rule_fraud_signals) in force for each kept version: the windows and '
    'thresholds the look-up counts inquiry velocity with and names in its labels.';

grant select on shared.borrower_signal_rows, shared.borrower_signals, shared.signal_rule_rows
    to exchange_admin, association;

-- ---- 3. inquiry velocity ----------------------------------------------------------------------

drop index control.lookup_audit_borrower;
create index lookup_audit_borrower on control.lookup_audit (borrower_key, at)
    include (party, outcome, lender_code, purpose);
