select day, page_views, product_views, visits, visitors, returning_visitors
from work.feat_audience_daily;
