create table audience_daily as
select day, page_views, product_views, visits, visitors, returning_visitors
from work.feat_audience_daily
order by day;
