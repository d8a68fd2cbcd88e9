"""Flow build-features: utterances manifest -> (augment) -> features, fanned out over Dask."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.futures import as_completed
from prefect.logging import get_run_logger
from prefect_dask import DaskTaskRunner

from tasks.features.build import BatchResult, FeaturePlan, build_feature_batch, plan_features
from tasks.store import default_store


@dataclass
class FeatureSummary:
    feature_set: str
    config_hash: str
    computed_rows: int
    failed: int
    already_present: int
    audio_s: float
    seconds: float

    def lines(self) -> list[str]:
        rate = f"{self.computed_rows / self.seconds:.1f} rows/s, {self.audio_s / self.seconds:.0f}x realtime" \
            if self.computed_rows and self.seconds else "nothing to compute"
        return [f"features {self.feature_set} (config {self.config_hash}): {self.computed_rows} computed, "
                f"{self.failed} quarantined, {self.already_present} already present; {rate}"]


def dask_task_runner(workers: int | None, dask_address: str | None) -> DaskTaskRunner:
    """An existing scheduler when given, else a LocalCluster of single-threaded worker processes.

    Local workers get this run's Prefect API URL, so their task runs report to the same server
    (without it each worker process would start a temporary server of its own).
    """
    logging.getLogger("distributed").setLevel(logging.WARNING)
    if dask_address:
        return DaskTaskRunner(address=dask_address)
    with get_client(sync_client=True) as client:
        api_url = str(client.api_url)
    return DaskTaskRunner(cluster_kwargs={
        "n_workers": workers or os.cpu_count() or 1, "threads_per_worker": 1, "processes": True,
        "dashboard_address": None, "silence_logs": logging.WARNING,
        "env": {"PREFECT_API_URL": api_url, "GX_ANALYTICS_ENABLED": "false"},
    })


@flow(name="extract-feature-batches")
def extract_batches(plan: FeaturePlan, store_url: str, show_progress: bool = False) -> list[BatchResult]:
    """Submit every batch to the task runner; log (and draw) progress as batches finish."""
    logger = get_run_logger()
    futures = [build_feature_batch.submit(store_url, b, plan.feature_set, plan.config_hash, plan.augmentable_speakers)
               for b in plan.batches]
    bar = None
    if show_progress:
        from tqdm import tqdm
        bar = tqdm(total=plan.n_items, unit="file", desc=plan.feature_set)
    results, done = [], 0
    for future in as_completed(futures):
        result = future.result()
        results.append(result)
        done += result.rows + result.failures
        logger.info("batch %d/%d finished: %d rows, %d failed (%d/%d items)", len(results), len(futures),
                    result.rows, result.failures, done, plan.n_items)
        if bar:
            bar.update(result.rows + result.failures)
    if bar:
        bar.close()
    return results


@flow(name="build-features")
def build_features(feature_set: str = "functionals", corpus: list[str] | None = None,
                   augment: list[str] | None = None, augment_speakers: list[str] | None = None,
                   store: str | None = None, workers: int | None = None, dask_address: str | None = None,
                   batch_size: int = 64, show_progress: bool = False) -> FeatureSummary:
    """Compute only the missing (utterance, augmentation, config) rows of one feature set."""
    logger = get_run_logger()
    store_url = store or default_store()
    plan = plan_features(store_url, feature_set, corpus, augment or [], augment_speakers, batch_size)
    logger.info("%s: %d rows to compute in %d batches, %d already present", feature_set, plan.n_items,
                len(plan.batches), plan.already_present)
    start = time.perf_counter()
    results = []
    if plan.batches:
        runner = dask_task_runner(workers, dask_address)
        results = extract_batches.with_options(task_runner=runner)(plan, store_url, show_progress)
    summary = FeatureSummary(feature_set, plan.config_hash, sum(r.rows for r in results),
                             sum(r.failures for r in results), plan.already_present,
                             sum(r.audio_s for r in results), time.perf_counter() - start)
    for line in summary.lines():
        logger.info(line)
    return summary
