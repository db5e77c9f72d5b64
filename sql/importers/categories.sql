-- An item → category map (two columns, e.g. DIGINETICA product-categories.csv `itemId;categoryId`).
create or replace temp table imp_categories as
select
    kalido_text(column0) as product_id,
    'Category ' || kalido_text(column1) as category_path
from
    read_csv(
        $path, header = false, skip = 1, all_varchar = true, auto_detect = true,
        encoding = $encoding
    )
where kalido_text(column0) is not null and kalido_text(column1) is not null
qualify row_number() over (partition by kalido_text(column0) order by kalido_text(column1)) = 1;
