"""Flow score-calls: inbox -> ledger diff -> (decode -> VAD -> windows -> features -> model) over Dask -> result tables -> day report."""
from __future__ import annotations

import time
from typing import Literal

from prefect import flow
from prefect.logging import get_run_logger

from flows.fanout import Cluster, FanOut, fan_out
from tasks.artifacts import publish_score_artifacts, tag_flow_run
from tasks.lib.lock import store_lock
from tasks.lib.store import Store
from tasks.lib.vad import WindowConfig
from tasks.report import write_day_report
from tasks.score import ScoreSummary, plan_calls, reconcile_results, score_batch


@flow(name="score-calls", flow_run_name="score-calls {inbox}")
def score_calls(inbox: str, model: str | None = None, store: str | None = None, workers: int | None = None,
                dask_address: str | None = None, dashboard: str | None = None, batch_size: int = 4,
                min_window_s: float = 1.5, max_window_s: float = 4.0, window_s: float = 3.0, hop_s: float = 1.5,
                agent_channel: Literal[0, 1] = 0, vad_sample_rate: Literal[8000, 16000] = 8000,
                show_progress: bool = False) -> ScoreSummary:
    """Score every new or changed call in the inbox with MODEL (NAME[:VERSION]; default version: champion; no MODEL:
    the most recently promoted); in stereo calls the agent speaks on agent_channel, the customer on the other;
    silero's 8 kHz or 16 kHz model finds the speech (vad_sample_rate)."""
    handle, cluster = Store.open(store), Cluster(workers, dask_address, dashboard)
    cfg = WindowConfig(min_window_s=min_window_s, max_window_s=max_window_s, window_s=window_s, hop_s=hop_s,
                       vad_sample_rate=vad_sample_rate)
    start = time.perf_counter()
    with store_lock(handle, "score-calls"):  # reconciliation must never see another run's uncommitted files
        reconcile_results(handle)
        plan = plan_calls(inbox, handle, model, batch_size, cluster.parallelism())
        tag_flow_run([f"model:{plan.model_spec}"])
        outcomes = fan_out(FanOut(score_batch, plan.parameter_sets(handle, cfg, agent_channel), plan.sizes, "score-calls", "call"),
                           cluster, show_progress)
    seconds = time.perf_counter() - start
    # nothing new: today's report and its tables stand as they are (rewriting reads every call row of the day)
    report = write_day_report(handle, plan.model_spec) if plan.batches else None
    summary = ScoreSummary.of(plan, outcomes, seconds, report)
    publish_score_artifacts(summary)
    get_run_logger().info("\n".join(summary.lines()))
    return summary
