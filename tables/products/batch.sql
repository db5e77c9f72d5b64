-- The catalogue as publish will copy it into the warehouse.
select
    product_id, title, category, category_path, top_category, brand, price, currency, in_stock,
    url
from work.stg_products;
