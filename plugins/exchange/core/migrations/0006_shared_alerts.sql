-- Early-warning alerts (风险预警) in the shared zone (DOMAIN sections 5 and 8; issue 5 item 2):
-- published with each feed version like the blacklist and the default feed (migration 0002), and
-- read by each lender for its own loans only.
--
-- One row per alert of a kept version, written once by the publication step from
-- publication.pub_lender_alerts_candidates (built on marts.mart_lender_alerts). lender_code is the
-- lender the alert is FOR; no column holds the other lender's code or loan (the evidence names
-- its category at most). As in the default feed, the contract number never reaches the shared
-- zone: loan_ref is the HMAC of lender and contract number computed by the publication step
-- (the lender's own loan_id stays in the mart and its `exchange alerts --lender` export). shared.lender_alerts reads the live version through shared.live_version,
-- so alerts switch with the blacklist and default feed in the same transaction.

create table shared.lender_alerts_versions (
    version                 bigint not null references shared.feed_versions on delete cascade,
    alert_key               char(32) not null check (alert_key ~ '^[0-9a-f]{32}$'),
    lender_code             text not null,
    alert_type              text not null check (alert_type in ('dpd_30_plus_elsewhere', 'default_elsewhere',
                                                                'blacklisted_elsewhere', 'multi_lender_surge')),
    alert_type_zh           text not null,
    borrower_key            char(64) not null check (borrower_key ~ '^[0-9a-f]{64}$'),
    loan_ref                char(64) not null check (loan_ref ~ '^[0-9a-f]{64}$'),
    loan_reference          char(32) not null check (loan_reference ~ '^[0-9a-f]{32}$'),
    first_seen_date         date not null,
    as_of_date              date not null,
    other_lender_count      int not null check (other_lender_count >= 1),
    other_lender_categories text,
    max_dpd_elsewhere       int,
    reason_codes            text,
    evidence_en             text not null,
    evidence_zh             text not null,
    primary key (version, alert_key)
);
comment on table shared.lender_alerts_versions is
    'Early-warning alerts (风险预警) of every kept version, one per lender, own loan and alert type; '
    'read shared.lender_alerts (association) or shared.v_lender_alerts (a lender, its own only).';
comment on column shared.lender_alerts_versions.lender_code is
    'The lender the alert is for (接收机构); never the lender where the event happened.';
create index lender_alerts_versions_lender on shared.lender_alerts_versions (version, lender_code);

alter table shared.feed_versions add column lender_alerts_rows int not null default 0;

create view shared.lender_alerts as
select rows.*
from shared.lender_alerts_versions as rows
join shared.live_version as live on live.version = rows.version;
comment on view shared.lender_alerts is 'The live alerts of every lender (association view).';

create view shared.v_lender_alerts as
select version, alert_key, alert_type, alert_type_zh, borrower_key, loan_ref, loan_reference, first_seen_date,
       as_of_date, other_lender_count, other_lender_categories, max_dpd_elsewhere, reason_codes, evidence_en,
       evidence_zh
from shared.lender_alerts
where lender_code = shared.viewing_lender();
comment on view shared.v_lender_alerts is 'The live alerts of the viewing lender only (its lender_<code> role).';

-- access as in 0005: the association reads all of it, a lender its own alerts through the view
grant select on shared.lender_alerts_versions, shared.lender_alerts, shared.v_lender_alerts
    to exchange_admin, association;
grant select on shared.v_lender_alerts to member_lender;
