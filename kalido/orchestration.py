"""What kalido's Airflow DAGs share, so that `dags/` only wires tasks: the DAG settings and task
defaults (retries with exponential backoff, timeouts), the one-slot pool of the nightly and
retention DAGs, the Assets publish updates, the date, run and key a task works with, and the
failure callbacks (run record, alert).

Imported by the DAG files only: nothing else in the package needs Airflow.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pendulum
from airflow.sdk import Asset, BaseHook, BaseNotifier, Param, Variable, dag, get_current_context
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException
from airflow.timetables.interval import CronDataIntervalTimetable

log = logging.getLogger(__name__)

# One slot shared by kalido_nightly and kalido_retention: their tasks never run at the same
# time (both write the same stores). Created once per Airflow installation:
#   airflow pools set kalido 1 "kalido: nightly and retention never run together"
POOL = "kalido"
POOL_SLOTS = 1
# The Airflow connection failure alerts go through: an SMTP connection (extra `to`, and
# `from_email`), or a Slack webhook connection with apache-airflow-providers-slack installed.
ALERT_CONN_ID = "kalido_alerts"

# What publish updates, relative to KALIDO_HOME (docs/feed.md). A DAG scheduled on FEED_ASSET runs
# once a nightly run has published a complete feed (see dags/kalido_feed_consumer.py).
WAREHOUSE_ASSET = Asset(
    name="kalido_warehouse", uri="kalido://warehouse/analytics.duckdb", group="kalido"
)
FEED_ASSET = Asset(
    name="kalido_email_feed", uri="kalido://exports/email_recommendations", group="kalido"
)

# A stage of the M bench takes about a minute, of L (10M events a day) at most a few: two hours
# means a stuck task, not a slow night. A nightly run must end before the next one is due.
TASK_TIMEOUT = timedelta(hours=2)
NIGHTLY_RUN_TIMEOUT = timedelta(hours=12)
RETENTION_RUN_TIMEOUT = timedelta(hours=3)


class NoRunDate(AirflowFailException):
    """The run says no date to work on; retrying would not give it one."""


def run_date(context) -> date:
    """The logical date a task works on: the run's `date` param when given (YYYY-MM-DD), else
    the first day of its data interval (scheduled runs and backfills), else the day of its
    logical date (a manual run: `airflow dags test kalido_nightly D` works on D, as `kalido run
    --date D` does). NoRunDate, with what to do, when the run has none of them."""
    given = (context.get("params") or {}).get("date")
    if given:
        try:
            return date.fromisoformat(str(given))
        except ValueError:
            raise NoRunDate(f"the date param must read YYYY-MM-DD, not {given!r}") from None
    run_type = str(getattr(context.get("dag_run"), "run_type", "") or "")
    start, logical = context.get("data_interval_start"), context.get("logical_date")
    if start is not None and run_type in ("scheduled", "backfill"):
        return _utc_day(start)
    if logical is not None:
        return _utc_day(logical)
    if start is not None:
        return _utc_day(start)
    raise NoRunDate(
        "this run has no logical date and no data interval (a manual trigger without one): "
        'give the day to process, e.g. airflow dags trigger kalido_nightly -c \'{"date": '
        '"2026-11-24"}\''
    )


def _utc_day(instant) -> date:
    return pendulum.instance(instant).in_timezone("UTC").date()


def call(fn, *args, **kwargs):
    """Call into the package from a task. A failure that no retry can mend (configuration, a
    critical quality expectation, requests needing a person) fails the task at once; anything
    else (another run holding the home, a full disk, a lost worker) is retried with backoff."""
    from kalido.config import ConfigError, RunInProgress
    from kalido.pipelines.requests import RequestsNeedAttention
    from kalido.pipelines.validate import QualityGateFailed

    try:
        return fn(*args, **kwargs)
    except (QualityGateFailed, RequestsNeedAttention) as exc:
        raise AirflowFailException(
            getattr(exc, "safe_message", None) or type(exc).__name__
        ) from exc
    except RunInProgress:
        raise  # another run holds the home: the retry comes after it
    except ConfigError as exc:
        raise AirflowFailException(f"configuration error: {exc}") from exc


def call_for_run(fn, *args, **kwargs):
    """call(fn, *args, day, run_id, key=key, **kwargs) from a task of a nightly or retention run:
    the day it works on (run_date), its run id, and the pseudonym key of the Airflow Variable
    `kalido_pseudonym_key` (or a secrets backend behind it; without one the package reads
    KALIDO_PSEUDONYM_KEY)."""
    context = get_current_context()
    key = Variable.get("kalido_pseudonym_key", default=None)
    return call(fn, *args, run_date(context), context["run_id"], key=key, **kwargs)


def _cause(exc: BaseException | None) -> BaseException | None:
    """The package's exception behind call()'s AirflowFailException."""
    return exc.__cause__ if isinstance(exc, AirflowFailException) and exc.__cause__ else exc


def record_failure(context) -> None:
    """on_failure_callback of the nightly tasks: the run record says the run failed (and at
    which stage), as `kalido run` records it."""
    from kalido.pipelines.nightly import record_failure as record

    try:
        day = run_date(context)
    except NoRunDate:
        return  # no run was started without a date
    exc = _cause(context.get("exception")) or RuntimeError("task failed")
    record(day, context["run_id"], context["ti"].task_id, exc)


def _safe_reason(exc: BaseException | None) -> str:
    """What an alert may say of a failure: the exception's type, or a message written to hold
    no personal data (an exception's own message can quote a row)."""
    exc = _cause(exc)
    if exc is None:
        return "unknown"
    return getattr(exc, "safe_message", None) or type(exc).__name__


class FailureAlert(BaseNotifier):
    """Tells someone that a kalido task failed, through the Airflow connection `conn_id`
    (default `kalido_alerts`): an email through the SMTP provider, or a Slack webhook message.
    Without that connection it logs a warning and sends nothing. The text names the DAG, task,
    run, try and the failure's type or safe message: never a value from the data."""

    def __init__(self, conn_id: str = ALERT_CONN_ID):
        super().__init__()
        self.conn_id = conn_id

    def message(self, context) -> tuple[str, str]:
        ti = context.get("ti")
        dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
        task_id = getattr(ti, "task_id", "?")
        subject = f"kalido: {dag_id}.{task_id} failed ({context.get('run_id')})"
        lines = [
            f"DAG: {dag_id}",
            f"task: {task_id}",
            f"run: {context.get('run_id')}",
            f"try: {getattr(ti, 'try_number', '?')}",
            f"failure: {_safe_reason(context.get('exception'))}",
            f"log: {getattr(ti, 'log_url', '') or 'see the Airflow UI'}",
            "The run record (KALIDO_HOME/runs/) and restricted/logs hold the details.",
        ]
        return subject, "\n".join(lines)

    def notify(self, context) -> None:
        try:
            connection = BaseHook.get_connection(self.conn_id)
        except AirflowNotFoundException:
            log.warning("no Airflow connection %r: no failure alert sent", self.conn_id)
            return
        subject, text = self.message(context)
        extra = connection.extra_dejson
        if connection.conn_type in ("smtp", "email"):
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            SmtpNotifier(
                to=extra.get("to") or connection.login,
                from_email=extra.get("from_email"),
                smtp_conn_id=self.conn_id,
                subject=subject,
                html_content=f"<pre>{text}</pre>",
            ).notify(context)
        elif connection.conn_type == "slackwebhook":
            from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

            SlackWebhookNotifier(slack_webhook_conn_id=self.conn_id, text=text).notify(context)
        else:
            log.error("connection %r: alerts need an smtp or slackwebhook connection", self.conn_id)


def default_args(record_failures: bool = False) -> dict:
    """Every kalido task's defaults: retries with exponential backoff (5, 10, 20 min), a
    timeout, the shared pool, and the failure callbacks (with `record_failures`, the run record
    first; then the alert)."""
    callbacks = [record_failure] if record_failures else []
    return {
        "owner": "kalido",
        "retries": 3,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
        "execution_timeout": TASK_TIMEOUT,
        "pool": POOL,
        "pool_slots": POOL_SLOTS,
        "on_failure_callback": [*callbacks, FailureAlert()],
    }


def date_param(description: str) -> Param:
    """A DAG param holding an optional day, YYYY-MM-DD."""
    return Param(None, type=["null", "string"], format="date", description=description)


def kalido_dag(
    dag_id: str,
    cron: str,
    doc: str,
    tags: list[str],
    params: dict,
    run_timeout: timedelta | None = None,
    record_failures: bool = False,
):
    """The @dag of a kalido DAG: scheduled by `cron` in UTC over data intervals from 2026-01-01,
    no catch-up, one run at a time (every run writes the same stores), default_args() for its
    tasks."""
    return dag(
        dag_id=dag_id,
        schedule=CronDataIntervalTimetable(cron, timezone="UTC"),
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        default_args=default_args(record_failures=record_failures),
        dagrun_timeout=run_timeout,
        params=params,
        tags=tags,
        doc_md=doc,
    )
