{{ config(tags=['cross_model']) }}

-- Data tests run with the models' sort memory (macros/session_settings.sql, postgres__get_test_sql),
-- not at the server's default: returns the setting when it differs. It reads no model, so
-- exchange_transform runs it with the tests between models (tag cross_model, cross_model_tests):
-- Cosmos renders a test in the task of the model it tests, and this one has none.

select current_setting('work_mem') as work_mem
where pg_size_bytes(current_setting('work_mem')) <> pg_size_bytes('{{ var("exchange_work_mem") }}')
