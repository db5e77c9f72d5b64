-- What an ad profile is built from: the browsing of each cookie that may be profiled, from its
-- first grant on and only while its latest ad choice at the time was a grant (events of a
-- withdrawn spell never count, even after a new grant). Browsing only: orders belong to
-- accounts, and the policy builds ad profiles from the cookie and its browsing.
--
-- Written into the scratch catalog ad_signals under the names features/interests.sql reads
-- (the cookie in the user_pid column), so that ad interests are computed by the very query and
-- weights of the personalisation interests, never a copy of their maths.
create or replace temp table ad_events as
select b.cookie_pid, b.event_id, b.event_time, b.event_type, b.product_id
from stg_browsing as b
semi join gate_ad_cookies as g on g.cookie_pid = b.cookie_pid and g.may_profile
-- The cookie's latest choice at the event's time (an equi-join plus one inequality: DuckDB's
-- ASOF join, no nested loop); events before the first choice have none and drop out.
asof inner join ad_cookie_choices as c
    on c.cookie_pid = b.cookie_pid and c.recorded_at <= b.event_time
where c.granted and b.event_type in ('product_view', 'add_to_cart') and b.product_id is not null;

-- The most recent views of each cookie, at most $max_views (the personalisation window).
create or replace table ad_signals.feat_views_recent as
select cookie_pid as user_pid, product_id, event_time as viewed_at
from ad_events
where event_type = 'product_view'
qualify row_number() over (
    partition by cookie_pid order by event_time desc, product_id, event_id
) <= $max_views;

create or replace table ad_signals.gated_events as
select cookie_pid as user_pid, event_id, event_time, event_type, product_id
from ad_events
where event_type = 'add_to_cart';

-- No order line feeds an ad profile: the table is empty, with the columns the query reads.
create or replace table ad_signals.gated_orders as
select o.customer_pid as user_pid, o.product_id, o.ordered_at, o.quantity, o.status
from stg_orders as o
limit 0;

create or replace table ad_signals.stg_products as
select product_id, category_path
from stg_products;
