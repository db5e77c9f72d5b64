-- Every rule names what it guards; values never appear in a reason. $pii is the quality
-- suites' personal-data patterns in one: a free-text field that leaves the restricted zone
-- and matches it is quarantined here, before anything is written outside restricted/.
create or replace temp table validated as
with typed as (
    select
        _row,
        kalido_text(product_id) as product_id,
        kalido_text(title) as title,
        kalido_text(category_path) as category_path,
        kalido_text(brand) as brand,
        try_cast(kalido_text(price) as decimal(12, 2)) as price,
        upper(kalido_text(currency)) as currency,
        kalido_text(in_stock) as in_stock_text,
        case
            when lower(kalido_text(in_stock)) in ('true', 't', '1', 'yes', 'y') then true
            when lower(kalido_text(in_stock)) in ('false', 'f', '0', 'no', 'n') then false
        end as in_stock,
        kalido_text(url) as url,
        kalido_text(updated_at) as updated_at_text,
        kalido_ts(updated_at) as updated_at,
        _card
    from landed
)
select
    * exclude (_card, in_stock_text, updated_at_text),
    case
        when _card then 'card number in row'
        when product_id is null then 'missing required field product_id'
        when not regexp_matches(product_id, $plain_id) then 'product_id is not a plain identifier'
        when category_path is null then 'missing required field category_path'
        when in_stock_text is null then 'missing required field in_stock'
        when in_stock is null then 'in_stock is not a boolean'
        when price is not null and price < 0 then 'negative price'
        when updated_at_text is not null and updated_at is null
            then 'unparseable timestamp in updated_at'
        when updated_at not between $records_since and $until
            then 'implausible timestamp in updated_at'
        when regexp_matches(concat_ws(chr(31), product_id, title, category_path, brand, url), $pii)
            then 'personal data pattern in the catalogue row'
    end as _reason
from typed;
