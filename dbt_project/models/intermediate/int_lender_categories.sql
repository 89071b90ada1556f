{# What other members are shown in place of a lender's code (DOMAIN section 5): its category
   (机构类别) where at least var('category_min_members') members share it, so that the category
   does not single the lender out; otherwise 'member' (会员机构). #}

with

lenders as (
    select * from {{ ref('stg_control__lenders') }}
),

category_sizes as (
    select lender_category, count(*) as members_in_category
    from lenders
    group by lender_category
),

final as (
    select
        lenders.lender_code,
        lenders.lender_category,
        category_sizes.members_in_category,
        case
            when category_sizes.members_in_category >= {{ var('category_min_members') }} then lenders.lender_category
            else 'member'
        end as shown_category
    from lenders
    inner join category_sizes
        on category_sizes.lender_category = lenders.lender_category
)

select * from final
