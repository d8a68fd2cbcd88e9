"""Fanning batches out over Dask: the task runner, submission, and progress as batches finish."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import dask
from prefect import Task
from prefect.client.orchestration import get_client
from prefect.futures import PrefectFuture, as_completed
from prefect.logging import get_run_logger
from prefect_dask import DaskTaskRunner

# Settings of the Dask clusters started from this process (their workers inherit the process's config).
# Dask's nanny starts every worker with MALLOC_TRIM_THRESHOLD_=65536, which also freezes glibc's mmap
# threshold: each spectrogram-sized array becomes a fresh mmap with page faults, and a feature batch ran
# 1.7x slower (36 vs 21 ms per file). Workers of clusters started from this process keep glibc's defaults.
# Dask's own monitoring shares the cores with the work and feeds only the dashboard, which serflow does
# not serve: the workers' stack sampling (every 10 ms), the event-loop tick (20 ms) and the scheduler's
# system monitor (0.5 s) cost ~9% of the workers' CPU time and a third of the flow process's.
# The scheduler hands a worker its next batch only when the worker is free (by default it queues
# ceil(1.1 x threads) = 2 on a single-threaded worker, so a small last batch could wait behind a big one
# while another worker idled): batches go out biggest first to whichever worker frees up first.
LOCAL_CLUSTER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.scheduler.worker-saturation": 1.0,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
}
dask.config.set(LOCAL_CLUSTER_CONFIG)


def local_cluster_kwargs(workers: int | None, api_url: str) -> dict[str, Any]:
    """Single-threaded worker processes that report task runs to the Prefect server at api_url
    (without it each worker process would start a temporary server of its own)."""
    return {"n_workers": workers or os.cpu_count() or 1, "threads_per_worker": 1, "processes": True,
            "dashboard_address": None, "silence_logs": logging.WARNING,
            "env": {"PREFECT_API_URL": api_url, "GX_ANALYTICS_ENABLED": "false"}}


def _dask_task_runner(workers: int | None, dask_address: str | None) -> DaskTaskRunner:
    """An existing scheduler when given, else a LocalCluster reporting to this run's Prefect server."""
    logging.getLogger("distributed").setLevel(logging.WARNING)
    if dask_address:
        return DaskTaskRunner(address=dask_address)
    with get_client(sync_client=True) as client:
        api_url = str(client.api_url)
    return DaskTaskRunner(cluster_kwargs=local_cluster_kwargs(workers, api_url))


def parallelism(workers: int | None, dask_address: str | None) -> int:
    """Worker threads the fan-out will have, so plans can cut a few batches per worker."""
    if dask_address:
        from distributed import Client

        with Client(dask_address, timeout=30, set_as_default=False) as client:
            return max(1, sum(client.nthreads().values()))
    return workers or os.cpu_count() or 1


def fan_out(task: Task, parameter_sets: Sequence[dict[str, Any]], sizes: Sequence[int], workers: int | None,
            dask_address: str | None, label: str, unit: str, show_progress: bool,
            describe: Callable[[Any], str]) -> list[Any]:
    """One run of `task` per parameter set on Dask, inside the calling flow run; results as they finish.

    The runner is used as a context manager (Prefect 3's documented use) rather than through a subflow:
    a subflow would carry every batch in its parameters, which Prefect stores and ships with each task.
    """
    with _dask_task_runner(workers, dask_address) as runner:
        futures = [runner.submit(task, parameters) for parameters in parameter_sets]
        return _collect(futures, sizes, label, unit, show_progress, describe)


def _collect(futures: Sequence[PrefectFuture], sizes: Sequence[int], label: str, unit: str,
            show_progress: bool, describe: Callable[[Any], str]) -> list[Any]:
    """Results in completion order, logging each batch and drawing a progress bar when asked."""
    logger = get_run_logger()
    size_of = {f.task_run_id: n for f, n in zip(futures, sizes)}
    total = sum(sizes)
    bar = None
    if show_progress:
        from tqdm import tqdm
        bar = tqdm(total=total, unit=unit, desc=label)
    results, done = [], 0
    for future in as_completed(list(futures)):
        result = future.result()
        results.append(result)
        done += size_of[future.task_run_id]
        logger.info("%s: batch %d/%d finished: %s (%d/%d %ss)", label, len(results), len(futures),
                    describe(result), done, total, unit)
        if bar:
            bar.update(size_of[future.task_run_id])
    if bar:
        bar.close()
    return results
