"""Ads: pseudonymous advertising profiles and segments (issue 27), and the ad server's export.

Once per run, over every shard (a cookie is decided over everyone's events), after `recommend`
and before `subject_access` (access exports show the person's ad profile), `validate` and
`publish` (warehouse tables ad_profiles and ad_segments, exports/ad_segments/dt=D/):

- gate: a cookie whose latest ad_profiling choice is a grant, within the first_ad_grant period of
  the policy's retention rules (13 months from its first grant, not renewed by visits), never
  one logged in as a minor, and none whose customer objected to ad profiling, restricted,
  erased or withdrew ad_profiling in the account (sql/ads/gate_ad_cookies.sql);
- profile: the cookie's browsing while it was granted, through the personalisation interests'
  own query (sql/ads/ad_signals.sql, features/interests.sql), demographics only for a cookie of
  one adult customer who granted ad_profiling too, keyed by the ad pseudonym;
- segments: the rules of kalido/ad_segments.yaml; exact sizes; a segment under the policy's
  segment_min_size is neither published nor exported (sql/ads/ad_profiles.sql).
"""

from __future__ import annotations

import logging
from datetime import date

import pyarrow as pa

from kalido.ad_segments import as_table
from kalido.config import Settings
from kalido.db import IDENTIFIER, connect, run_sql
from kalido.features.params import interest_params
from kalido.policy import Policy
from kalido.pseudonyms import ad_key, ad_pseudonyms
from kalido.stores.staged import open_staged_browsing
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)


def ads(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    """Build gate_ad_cookies, feat_ad_profiles, feat_ad_segments and feat_ad_memberships in the
    work database; returns their counts."""
    layout = settings.layout
    timezone = policy.business_timezone
    cutoff = day_end_utc(logical_date, timezone)
    period = policy.ad_cookie_lifetime()
    ad = policy.ad_profiling
    with connect(layout.work_db, timezone=timezone) as con:
        open_staged_browsing(con, layout, logical_date, cutoff)
        run_sql(
            con,
            "ads/gate_ad_cookies",
            {
                "ad_purpose": ad.purpose,
                "timezone": timezone,
                "logical_date": logical_date,
                "lifetime_years": period.years,
                "lifetime_months": period.months,
                "lifetime_days": period.days,
            },
        )
        work = con.execute("select current_database()").fetchone()[0]
        if not IDENTIFIER.match(work):
            raise ValueError("the work database must have a plain name")
        con.execute("attach ':memory:' as ad_signals")
        run_sql(con, "ads/ad_signals", {"max_views": policy.profiling.max_recent_views_per_user})
        # The interests' query reads unqualified names: run it inside the scratch catalog.
        con.execute("use ad_signals")
        run_sql(
            con,
            "features/interests",
            interest_params(policy, cutoff),
            identifiers={"table": "feat_ad_interests", "dimension": "category_path"},
        )
        con.execute(f"use {work}")
        cookies = con.execute(
            "select cookie_pid from gate_ad_cookies where may_profile order by cookie_pid"
        ).fetchall()
        cookie_pids = [row[0] for row in cookies]
        pid_map = pa.table(
            {
                "cookie_pid": pa.array(cookie_pids, pa.string()),
                "ad_pid": pa.array(ad_pseudonyms(ad_key(settings.key), cookie_pids), pa.string()),
            }
        )
        con.register("ad_pid_map", pid_map)
        con.register("ad_segment_rules", as_table(ad.segments))
        run_sql(
            con,
            "ads/ad_profiles",
            {
                "interests_per_profile": ad.interests_per_profile,
                "segment_min_size": ad.segment_min_size,
            },
        )
        con.unregister("ad_pid_map")
        con.unregister("ad_segment_rules")
        con.execute("detach ad_signals")
        cursor = run_sql(con, "ads/ad_counts")
        names = [column[0] for column in cursor.description]
        counts = dict(zip(names, cursor.fetchone(), strict=True))
    counts["ad_segment_min_size"] = ad.segment_min_size
    log.info("ad profiles: %s", counts)
    return counts
