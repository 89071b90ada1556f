{% macro tune_session() -%}
    {#- Settings for the model's own transaction (pre-hook): sort and hash memory from
        var('exchange_work_mem'), and no JIT compilation (its cost outweighs its gain here). -#}
    {%- set work_mem = var('exchange_work_mem') | string | trim -%}
    {%- if not modules.re.match('^[0-9]+(kB|MB|GB)$', work_mem) -%}
        {{ exceptions.raise_compiler_error("var('exchange_work_mem') must look like 256MB, got '" ~ work_mem ~ "'") }}
    {%- endif -%}
    set local work_mem = '{{ work_mem }}'; set local jit = off
{%- endmacro %}
