-- Data tests run with the models' sort memory (macros/session_settings.sql, postgres__get_test_sql),
-- not at the server's default: returns the setting when it differs.

select current_setting('work_mem') as work_mem
where pg_size_bytes(current_setting('work_mem')) <> pg_size_bytes('{{ var("exchange_work_mem") }}')
