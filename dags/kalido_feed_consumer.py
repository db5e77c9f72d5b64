"""
### kalido_feed_consumer

An example of a DAG downstream of kalido_nightly: scheduled on the Asset `kalido_email_feed`
(`kalido://exports/email_recommendations`, relative to KALIDO_HOME), which the nightly `publish`
task updates, it runs once a new feed is out and checks it as the email platform would (see
`docs/feed.md`): the date `LATEST` names, then the size and sha256 of `recommendations.csv`,
`recipients.csv` and `removals.csv` against `manifest.json`. Put the hand-off to the email
platform after it (an upload, an API call); the Asset `kalido_warehouse` serves analysts' DAGs the
same way.

Wiring only: one call to `kalido.stores.email_feed.verify_latest`. It reads the exports and writes
nothing, so it needs neither the run lock nor the `kalido` pool.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from kalido.orchestration import FEED_ASSET


@task(task_id="check_latest_feed", retries=2, execution_timeout=pendulum.duration(minutes=30))
def check_latest_feed() -> dict:
    from kalido.config import Layout, default_home
    from kalido.stores.email_feed import verify_latest

    return verify_latest(Layout(default_home()).email_feed)


@dag(
    dag_id="kalido_feed_consumer",
    schedule=[FEED_ASSET],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["kalido", "example"],
    doc_md=__doc__,
)
def kalido_feed_consumer():
    check_latest_feed()


kalido_feed_consumer()
