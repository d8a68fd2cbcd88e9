"""Flow build-features: utterances manifest -> (augment) -> features, fanned out over Dask."""
from __future__ import annotations

import time
from dataclasses import dataclass

from prefect import flow
from prefect.logging import get_run_logger

from flows.fanout import fan_out, parallelism
from tasks.features.build import MAX_BATCH_FILES, build_feature_batch, plan_features
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
    from_cache: int  # files read from the audio cache instead of decoded

    def lines(self) -> list[str]:
        rate = f"{self.computed_rows / self.seconds:.1f} rows/s, {self.audio_s / self.seconds:.0f}x realtime" \
            if self.computed_rows and self.seconds else "nothing to compute"
        lines = [f"features {self.feature_set} (config {self.config_hash}): {self.computed_rows} computed, "
                 f"{self.failed} quarantined, {self.already_present} already present; {rate}"]
        if self.computed_rows + self.failed:
            lines.append(f"  audio: {self.from_cache} files from the audio cache, "
                         f"{self.computed_rows + self.failed - self.from_cache} decoded")
        return lines


@flow(name="build-features")
def build_features(feature_set: str = "functionals", corpus: list[str] | None = None,
                   augment: list[str] | None = None, augment_speakers: list[str] | None = None,
                   store: str | None = None, workers: int | None = None, dask_address: str | None = None,
                   batch_size: int = MAX_BATCH_FILES, show_progress: bool = False) -> FeatureSummary:
    """Compute only the missing (utterance, augmentation, config) rows of one feature set."""
    logger = get_run_logger()
    store_url = store or default_store()
    plan = plan_features(store_url, feature_set, corpus, augment or [], augment_speakers, batch_size,
                         parallelism(workers, dask_address))
    logger.info("%s: %d rows to compute in %d batches, %d already present", feature_set, plan.n_items,
                len(plan.batches), plan.already_present)
    start = time.perf_counter()
    results = []
    if plan.batches:
        parameter_sets = [{"store_url": store_url, "batch": b, "feature_set": feature_set,
                           "config_hash": plan.config_hash, "augmentable_speakers": plan.augmentable_speakers}
                          for b in plan.batches]
        results = fan_out(build_feature_batch, parameter_sets, [len(b.items) for b in plan.batches], workers,
                          dask_address, feature_set, "file", show_progress, lambda r: f"{r.rows} rows, {r.failures} failed")
    summary = FeatureSummary(feature_set, plan.config_hash, sum(r.rows for r in results),
                             sum(r.failures for r in results), plan.already_present,
                             sum(r.audio_s for r in results), time.perf_counter() - start,
                             sum(r.from_cache for r in results))
    for line in summary.lines():
        logger.info(line)
    return summary
