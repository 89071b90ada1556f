{#- Models whose incremental rows depend on rule seeds beyond the rules versions (config
    rebuild_rules: the collection parameters, the segment rules) record a fingerprint of those
    seeds when built (record_rebuild_state) and rebuild every month when it no longer matches:
    a seed changed since. -#}

{% macro rules_fingerprint(seeds) -%}
    md5(concat_ws('|'
        {%- for seed in seeds %},
        (select string_agg(rules::text, ';' order by rules::text) from {{ ref(seed) }} as rules)
        {%- endfor %}
    ))
{%- endmacro %}

{% macro rules_changed(seeds) -%}
    {#- true when this model was built with other contents of `seeds` (or never recorded) -#}
    ((
        select built.fingerprint from exchange_state.rules_built as built
        where built.model = '{{ this.identifier }}'
    ) is distinct from {{ rules_fingerprint(seeds) }})
{%- endmacro %}
