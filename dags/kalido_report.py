"""
### kalido_report

The DPO's evidence for the month just ended (issue 29): `report.html` (one offline page, charts
inline) and `report.json` (the same facts) under `reports/dpo/<from>_<to>/` of KALIDO_HOME. They
hold request pseudonyms and aggregates only: the record of processing generated from the policy
file, the month's data-subject requests (failed, overdue and late first), retention executed per
store against its limit, consent and eligibility per day, what was shared, data-quality incidents,
and the run ids and policy hash they were built from. Open `report.html` in any browser.

Wiring only: one call to `kalido.pipelines.report.write_report`, the code `kalido report --from
--to` runs. It reads the stores without writing to them. Scheduled on the 1st at 06:00 UTC for
the month of its data interval, after the nightly run (00:00) and the retention DAG (04:00); its
task shares their one-slot pool `kalido`, so Airflow never starts it beside one of their tasks,
and while a CLI run holds the home it is retried with backoff (task defaults and the failure
alert, connection `kalido_alerts`, are the nightly DAG's: `kalido/orchestration.py`).
Re-running it for a month rewrites the same report (only `generated_at` moves); the params
`date_from` and `date_to` (YYYY-MM-DD) report another period.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import task

from kalido.orchestration import call, date_param, kalido_dag


@task(task_id="report")
def report(params: dict | None = None, data_interval_start=None, data_interval_end=None) -> dict:
    """Airflow passes the run's params and data interval by name."""
    from kalido.pipelines.report import parse_period, write_report

    params = params or {}
    # The month of the data interval: its first day to the day before the interval's end.
    start = params.get("date_from") or data_interval_start.date().isoformat()
    end = params.get("date_to") or (data_interval_end - timedelta(days=1)).date().isoformat()
    return call(lambda: write_report(*parse_period(start, end)))


@kalido_dag(
    "kalido_report",
    "0 6 1 * *",
    __doc__,
    tags=["kalido", "privacy"],
    params={
        "date_from": date_param("first day, YYYY-MM-DD"),
        "date_to": date_param("last day, YYYY-MM-DD"),
    },
)
def kalido_report():
    report()


kalido_report()
