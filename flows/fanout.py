"""Fanning batches out over Dask: where they run (a Cluster), what runs (a FanOut), progress as they finish."""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dask
from prefect import Task
from prefect.client.orchestration import get_client
from prefect.futures import PrefectFuture, as_completed
from prefect.logging import get_run_logger
from prefect_dask import DaskTaskRunner

# Settings of the Dask clusters serflow starts (their worker processes inherit them):
# - Dask's nanny starts every worker with MALLOC_TRIM_THRESHOLD_=65536, which also freezes glibc's mmap
#   threshold: each spectrogram-sized array becomes a fresh mmap with page faults; workers keep glibc's
#   defaults instead.
# - Dask's own monitoring (stack sampling, a fast event-loop tick, the system monitor) shares the cores
#   with the work and feeds only the dashboard, which serflow serves only when asked (`--dashboard`).
# - The scheduler hands a worker its next batch only when the worker is free, so a small last batch never
#   waits behind a big one while another worker idles: batches go out biggest first.
# Measured effects are in docs/benchmarks.md.
# Every Dask comm keeps its last 1,000 messages under 1 MB for debugging, and with them each batch's task
# call (Prefect's context and the batch's parameters, alive in the flow process until 1,000 later batches).
# CLIENT_CONFIG keeps none, in the flow's client and in the clusters serflow starts.
CLIENT_CONFIG = {"distributed.admin.low-level-log-length": 0}
LOCAL_CLUSTER_CONFIG = CLIENT_CONFIG | {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.scheduler.worker-saturation": 1.0,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
}
# The stage modules whose tasks run on workers, imported when a worker starts (`dask worker --preload`):
# importing them (librosa, torch, Great Expectations) takes a fresh worker ~3 s, which a standing cluster
# then pays once, not at the start of each worker's first batch (docs/benchmarks.md).
WORKER_PRELOAD = ("tasks.features", "tasks.score")


@dataclass(frozen=True)
class Cluster:
    """Where batches run: a LocalCluster of `workers` processes, or the scheduler at `dask_address`;
    `dashboard` ("host:port", ":0" for any free port) serves the LocalCluster's Dask dashboard."""

    workers: int | None = None
    dask_address: str | None = None
    dashboard: str | None = None

    def parallelism(self) -> int:
        """Worker threads the fan-out will have, so plans can cut a few batches per worker."""
        if self.dask_address:
            from distributed import Client

            with Client(self.dask_address, timeout=30, set_as_default=False) as client:
                return max(1, sum(client.nthreads().values()))
        return self.workers or os.cpu_count() or 1

    @contextmanager
    def task_runner(self) -> Iterator[DaskTaskRunner]:
        """An existing scheduler when given, else a LocalCluster reporting to this run's Prefect server."""
        logging.getLogger("distributed").setLevel(logging.WARNING)
        # Without --dashboard no Dask dashboard is served (its port is only bound), and at the end of a run the
        # nanny kills workers slower than 4 s to exit, as designed: neither line is something a user can act on.
        logging.getLogger("prefect.task_runner.dask").setLevel(logging.WARNING)
        logging.getLogger("distributed.nanny").setLevel(logging.ERROR)
        if self.dask_address:
            with dask.config.set(CLIENT_CONFIG), DaskTaskRunner(address=self.dask_address) as runner:
                self._announce_dashboard(runner)
                yield runner
            return
        with get_client(sync_client=True) as client:
            api_url = str(client.api_url)
        kwargs = local_cluster_kwargs(self.workers, api_url, self.dashboard)
        with dask.config.set(LOCAL_CLUSTER_CONFIG), DaskTaskRunner(cluster_kwargs=kwargs) as runner:
            self._announce_dashboard(runner)
            yield runner

    def _announce_dashboard(self, runner: DaskTaskRunner) -> None:
        """Say where the dashboard is, when one was asked for (a scheduler started elsewhere serves its own)."""
        if self.dashboard is not None and runner.client.dashboard_link:
            get_run_logger().info("Dask dashboard: %s", runner.client.dashboard_link)


def local_cluster_kwargs(workers: int | None, api_url: str, dashboard: str | None = None) -> dict[str, Any]:
    """Single-threaded worker processes that report task runs to the Prefect server at api_url
    (without it each worker process would start a temporary server of its own)."""
    # The scheduler's HTTP server (health and metrics routes) starts even without a dashboard, on 8787 unless
    # told otherwise, so a second cluster on the machine warned that the port was taken: take a free one.
    return {"n_workers": workers or os.cpu_count() or 1, "threads_per_worker": 1, "processes": True,
            "dashboard_address": dashboard or ":0", "scheduler_kwargs": {"dashboard": dashboard is not None},
            "silence_logs": logging.WARNING, "preload": list(WORKER_PRELOAD),
            "env": {"PREFECT_API_URL": api_url}}


@contextmanager
def standing_cluster(workers: int | None, api_url: str) -> Iterator[Any]:
    """A LocalCluster with serflow's settings that outlives flow runs (tests, benches): its workers stay warm."""
    from distributed import LocalCluster

    with dask.config.set(LOCAL_CLUSTER_CONFIG), LocalCluster(**local_cluster_kwargs(workers, api_url)) as cluster:
        yield cluster


@dataclass(frozen=True)
class FanOut:
    """One run of `task` per parameter set; `sizes` (files or calls per set) drive the progress bar."""

    task: Task
    parameter_sets: Sequence[dict[str, Any]]
    sizes: Sequence[int]
    label: str
    unit: str


def fan_out(spec: FanOut, cluster: Cluster, show_progress: bool = False) -> list[Any]:
    """Run every parameter set on Dask, inside the calling flow run; results in completion order.

    The runner is used as a context manager (Prefect 3's documented use) rather than through a subflow:
    a subflow would carry every batch in its parameters, which Prefect stores and ships with each task.
    Each result must have a describe() for the log line of its batch.
    """
    if not spec.parameter_sets:
        return []
    with cluster.task_runner() as runner:
        futures = [runner.submit(spec.task, parameters) for parameters in spec.parameter_sets]
        return _collect(futures, spec, show_progress)


def _collect(futures: Sequence[PrefectFuture], spec: FanOut, show_progress: bool) -> list[Any]:
    """Results as they finish, logging each batch and drawing a progress bar when asked."""
    logger = get_run_logger()
    size_of = {f.task_run_id: n for f, n in zip(futures, spec.sizes)}
    total = sum(spec.sizes)
    bar = None
    if show_progress:
        from tqdm import tqdm
        bar = tqdm(total=total, unit=spec.unit, desc=spec.label)
    results, done = [], 0
    for future in as_completed(list(futures)):
        result = future.result()
        results.append(result)
        done += size_of[future.task_run_id]
        logger.info("%s: batch %d/%d finished: %s (%d/%d %ss)", spec.label, len(results), len(futures),
                    result.describe(), done, total, spec.unit)
        if bar:
            bar.update(size_of[future.task_run_id])
    if bar:
        bar.close()
    return results
