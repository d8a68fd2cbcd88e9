"""Stage features: plan the missing (utterance, augmentation) rows, compute and write one batch per task."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from prefect import task
from prefect.cache_policies import NONE as NO_CACHE
from prefect.logging import get_run_logger
from prefect.tasks import exponential_backoff

from tasks.lib.audio_cache import AudioCache
from tasks.lib.augment import AugmentationRequest
from tasks.lib.feature_sets import get_feature_set
from tasks.lib.feature_store import (
    ALL_SPEAKERS,
    Batch,
    balanced_batches,
    compute_batch,
    existing_keys,
    wanted_items,
    write_batch,
)
from tasks.lib.store import Store
from tasks.lib.tables import read_manifest


class FeatureError(ValueError):
    """A request the user must fix (unknown set or preset, augmentation without speakers, no manifest)."""


@dataclass
class FeaturePlan:
    feature_set: str
    config_hash: str
    batches: list[Batch]
    already_present: int
    augmentable_speakers: list[str]

    @property
    def n_items(self) -> int:
        return sum(len(b.items) for b in self.batches)

    @property
    def sizes(self) -> list[int]:
        """Files per batch, for progress."""
        return [len(b.items) for b in self.batches]

    def parameter_sets(self, store: Store) -> list[dict[str, Any]]:
        """One build_feature_batch call per batch."""
        return [{"store": store, "batch": b, "feature_set": self.feature_set, "config_hash": self.config_hash,
                 "augmentable_speakers": self.augmentable_speakers} for b in self.batches]


@dataclass
class BatchResult:
    rows: int
    failures: int
    audio_s: float
    seconds: float
    from_cache: int = 0  # files whose audio was read from the audio cache rather than decoded
    parts: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.rows} rows, {self.failures} failed"


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

    @classmethod
    def of(cls, plan: FeaturePlan, results: list[BatchResult], seconds: float) -> FeatureSummary:
        """Counts summed over the batches of one run."""
        return cls(plan.feature_set, plan.config_hash, sum(r.rows for r in results), sum(r.failures for r in results),
                   plan.already_present, sum(r.audio_s for r in results), seconds, sum(r.from_cache for r in results))

    def lines(self) -> list[str]:
        rate = f"{self.computed_rows / self.seconds:.1f} rows/s, {self.audio_s / self.seconds:.0f}x realtime" \
            if self.computed_rows and self.seconds else "nothing to compute"
        lines = [f"features {self.feature_set} (config {self.config_hash}): {self.computed_rows} computed, "
                 f"{self.failed} quarantined, {self.already_present} already present; {rate}"]
        if self.computed_rows + self.failed:
            lines.append(f"  audio: {self.from_cache} files from the audio cache, "
                         f"{self.computed_rows + self.failed - self.from_cache} decoded")
        return lines


@task(name="plan-features", cache_policy=NO_CACHE)
def plan_features(store: Store, feature_set: str, corpora: list[str] | None, augment: list[str],
                  augment_speakers: list[str] | None, max_batch_size: int, parallelism: int) -> FeaturePlan:
    """Diff wanted rows against the store; only missing rows become batches, a few per worker."""
    fs = _feature_set(feature_set)
    try:
        requests = [AugmentationRequest.parse(a) for a in augment]
    except ValueError as exc:
        raise FeatureError(str(exc)) from exc
    if requests and not augment_speakers:
        raise FeatureError("augmentation needs the speakers it may touch: --augment-speakers a,b,… "
                           "(training speakers only), or 'all' when training filters copies per fold")
    manifest = read_manifest(store, corpora)
    if manifest.empty:
        raise FeatureError(f"no ingested utterances for corpora {corpora or 'any'} in {store}; run `serflow ingest` first")
    speakers = set(manifest["speaker_id"])
    augmentable = speakers if augment_speakers == [ALL_SPEAKERS] else set(augment_speakers or []) & speakers
    store.write_json({**fs.describe(), "config_hash": fs.config_hash, "feature_names": fs.names()},
                     f"features/{feature_set}/_configs/{fs.config_hash}.json")
    todo, present = [], 0
    for corpus, rows in manifest.groupby("corpus", sort=True):
        done = existing_keys(store, feature_set, corpus, fs.config_hash)
        todo += [i for i in wanted_items(rows, requests, augmentable) if (i.utterance_id, i.augmentation) not in done]
        present += len(done)
    plan = FeaturePlan(feature_set, fs.config_hash, balanced_batches(todo, parallelism, max_batch_size), present,
                       sorted(augmentable))
    get_run_logger().info("%s: %d rows to compute in %d batches, %d already present", feature_set, plan.n_items,
                          len(plan.batches), plan.already_present)
    return plan


def _feature_set(name: str):
    try:
        return get_feature_set(name)
    except ValueError as exc:
        raise FeatureError(str(exc)) from exc


@task(name="feature-batch", retries=2, retry_delay_seconds=exponential_backoff(backoff_factor=2), cache_policy=NO_CACHE)
def build_feature_batch(store: Store, batch: Batch, feature_set: str, config_hash: str,
                        augmentable_speakers: list[str]) -> BatchResult:
    """Compute and write one batch; a retry rewrites the same part name, so rows never double."""
    start = time.perf_counter()
    cache = AudioCache(store)
    rows, failures = compute_batch(batch, feature_set, cache)
    parts = write_batch(store, batch, feature_set, config_hash, rows, failures, set(augmentable_speakers))
    result = BatchResult(len(rows), len(failures), float(sum(r["duration_s"] for r in rows)),
                         time.perf_counter() - start, cache.hits, parts, [f["utterance_id"] for f in failures])
    get_run_logger().info("%s: %d rows, %d failed in %.1f s (%d files from the audio cache)", batch.part_name,
                          result.rows, result.failures, result.seconds, result.from_cache)
    return result
