"""Flow score-calls: inbox -> ledger diff -> (decode -> VAD -> windows -> features -> model) over Dask -> result tables."""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE
from prefect.logging import get_run_logger

from flows.fanout import fan_out, parallelism
from ser_models.inference import load_model
from tasks.calls import STAGES, BatchOutcome, CallFile, list_inbox, pending_calls, read_ledger, reconcile_results, score_batch
from tasks.store import Store, default_store
from tasks.vad import WindowConfig


@dataclass
class ScoreSummary:
    model: str
    inbox_files: int
    scored: int
    rejected: int
    unchanged: int
    segments: int
    audio_s: float
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_outcomes(cls, model: str, inbox_files: int, unchanged: int, outcomes: list[BatchOutcome],
                      seconds: float) -> ScoreSummary:
        """Counts and per-stage CPU-seconds summed over the batches."""
        stages: dict[str, float] = defaultdict(float)
        for o in outcomes:
            for stage in STAGES:
                stages[stage] += o.seconds.get(stage, 0.0)
        return cls(model, inbox_files, sum(o.scored for o in outcomes), sum(o.rejected for o in outcomes), unchanged,
                   sum(o.segments for o in outcomes), sum(o.audio_s for o in outcomes), seconds, dict(stages))

    def lines(self) -> list[str]:
        speed = f", {self.audio_s / self.seconds:.0f}x realtime" if self.audio_s and self.seconds else ""
        return [f"score-calls with {self.model}: {self.inbox_files} files in the inbox, {self.scored} scored, "
                f"{self.rejected} rejected, {self.unchanged} unchanged since last run; {self.segments} segments, "
                f"{self.audio_s / 60:.1f} min of audio in {self.seconds:.1f} s{speed}"]


@task(name="plan-calls", cache_policy=NO_CACHE)
def plan_calls(inbox: str, store_url: str, model: str, batch_size: int,
               workers: int) -> tuple[str, list[list[CallFile]], int, int]:
    """Resolve the model version, then only new or changed calls become batches (at least one per worker)."""
    loaded = load_model(store_url, model)
    spec = f"{loaded.ref.name}:{loaded.ref.version}"
    calls = list_inbox(inbox)
    todo = pending_calls(calls, read_ledger(Store(store_url)), loaded.ref.name, loaded.ref.version)
    todo.sort(key=lambda c: -c.size_bytes)  # long calls first keeps workers busy to the end
    size = max(1, min(batch_size, -(-len(todo) // max(1, workers))))
    batches = [todo[i:i + size] for i in range(0, len(todo), size)]
    get_run_logger().info("%s: %d files in %s, %d new or changed", spec, len(calls), inbox, len(todo))
    return spec, batches, len(calls), len(calls) - len(todo)


@flow(name="score-calls")
def score_calls(inbox: str, model: str = "mlp", store: str | None = None, workers: int | None = None,
                dask_address: str | None = None, batch_size: int = 4, min_window_s: float = 1.5,
                max_window_s: float = 4.0, window_s: float = 3.0, hop_s: float = 1.5,
                show_progress: bool = False) -> ScoreSummary:
    """Score every new or changed call in the inbox with MODEL (NAME[:VERSION]; default version: champion)."""
    logger = get_run_logger()
    store_url = store or default_store()
    cfg = WindowConfig(min_window_s=min_window_s, max_window_s=max_window_s, window_s=window_s, hop_s=hop_s)
    start = time.perf_counter()
    reconcile_results(store_url)
    spec, batches, n_files, unchanged = plan_calls(inbox, store_url, model, batch_size, parallelism(workers, dask_address))
    outcomes = []
    if batches:
        parameter_sets = [{"store_url": store_url, "calls": b, "model_spec": spec, "cfg": cfg} for b in batches]
        outcomes = fan_out(score_batch, parameter_sets, [len(b) for b in batches], workers, dask_address,
                           "score-calls", "call", show_progress,
                           lambda r: f"{r.scored} scored, {r.rejected} rejected, {r.segments} segments")
    summary = ScoreSummary.from_outcomes(spec, n_files, unchanged, outcomes, time.perf_counter() - start)
    for line in summary.lines():
        logger.info(line)
    return summary
