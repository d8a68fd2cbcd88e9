"""Stage report: the day's HTML report for analysts, rewritten at the end of each score-calls run."""
from __future__ import annotations

from dataclasses import replace

from prefect import task
from prefect.cache_policies import NONE as NO_CACHE
from prefect.tasks import exponential_backoff

from tasks.lib.day import today
from tasks.lib.report import DayData, DayReport, write_day_page
from tasks.lib.store import Store


# Object storage can fail transiently; a retry rewrites the same files atomically.
@task(name="write-day-report", retries=2, retry_delay_seconds=exponential_backoff(backoff_factor=2), cache_policy=NO_CACHE)
def write_day_report(store: Store, model: str) -> DayReport:
    """Today's overview page (each score batch wrote its calls' pages), with the figures the run's artifact
    shows, so the day's rows are read once."""
    report = write_day_page(store, DayData.load(store, today(), model))
    return replace(report, path=store.url_of(report.path))
