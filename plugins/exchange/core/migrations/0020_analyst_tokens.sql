-- Portal tokens for analysts (分析人员): an analyst logs in to the portal's dashboards and the
-- model documentation, which draw the marts (what the analyst group reads), and nothing else: no
-- API, no look-up, no feed, no console (exchange.web.auth and the portal refuse the rest).
alter table control.api_tokens drop constraint api_tokens_party_check;
alter table control.api_tokens add constraint api_tokens_party_check
    check (party in ('lender', 'association', 'analyst'));
comment on column control.api_tokens.party is
    'lender (with its lender_code), association, or analyst (portal dashboards and docs only).';
