-- RetailRocket item_properties_part*.csv: timestamp (ms), itemid, property, value, one row per
-- property per weekly snapshot. An item's category is its earliest `categoryid`: the catalogue as
-- first seen, so a later re-categorisation cannot leak into an evaluation split before it.
create or replace temp table imp_categories as
select
    kalido_text(itemid) as product_id,
    'Category ' || kalido_text(value) as category_path
from read_csv($path, header = true, all_varchar = true, delim = ',', encoding = $encoding)
where
    lower(kalido_text(property)) = 'categoryid'
    and kalido_text(itemid) is not null and kalido_text(value) is not null
qualify row_number() over (
    partition by kalido_text(itemid)
    order by try_cast(kalido_text("timestamp") as bigint) nulls last, kalido_text(value)
) = 1;
