"""The feature store's rows: what to compute (work items, cost-balanced batches), computing a batch and
writing its parts under the contract."""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from data_contracts import schemas
from data_contracts.reasons import Reason
from data_contracts.suites import validate_feature_part
from tasks.lib.audio import TARGET_SR, AudioDecodeError, load
from tasks.lib.audio_cache import AudioCache, recording_key
from tasks.lib.augment import NO_AUGMENTATION, AugmentationRequest, augment
from tasks.lib.feature_sets import FeatureSet, get_feature_set
from tasks.lib.store import Store

ALL_SPEAKERS = "all"
BATCHES_PER_WORKER = 2  # a few per worker: cost balance keeps the tail short, and each batch has a fixed cost
# Each batch has a fixed cost (Prefect starting the task, its contract check, the server recording it), so
# batches are big; docs/benchmarks.md has the measured split.
MAX_BATCH_FILES = 1024
# A file's fixed work counts as this much audio (a least-squares fit, docs/benchmarks.md).
FILE_COST_S = 2.4
# Clips extracted in one call: a set with a batched model (GE2E's LSTM) runs their windows together, 1.3x
# faster than clip by clip (docs/benchmarks.md); a few dozen clips of audio held at once is little memory.
CLIPS_PER_EXTRACT = 32


@dataclass(frozen=True)
class WorkItem:
    utterance_id: str
    corpus: str
    speaker_id: str
    path: str
    augmentation: str
    duration_s: float = 0.0
    audio_key: str | None = None  # its entry in the audio cache

    @property
    def cost_s(self) -> float:
        """Estimated extraction work: audio seconds plus a fixed share per file."""
        return self.duration_s + FILE_COST_S


class Batch:
    """Items of one task, from one or more corpora (each corpus gets its own part).

    Not a dataclass: Prefect walks a dataclass parameter field by field looking for futures, and Dask
    tokenizes it item by item, which costs the flow process time per batch submitted; a batch holds no
    futures, and its part name already identifies it.
    """

    __slots__ = ("items",)

    def __init__(self, items: list[WorkItem]) -> None:
        self.items = items

    @property
    def part_name(self) -> str:
        """Deterministic in the batch's keys, so a retried batch overwrites its own part."""
        keys = "\n".join(sorted(f"{i.utterance_id}|{i.augmentation}" for i in self.items))
        return f"part-{hashlib.sha256(keys.encode()).hexdigest()[:16]}.parquet"

    def __dask_tokenize__(self) -> str:
        return self.part_name


def existing_keys(store: Store, feature_set: str, corpus: str, config_hash: str) -> set[tuple[str, str]]:
    """(utterance_id, augmentation) already stored, or already quarantined, for this config."""
    keys: set[tuple[str, str]] = set()
    where = (ds.field("corpus") == corpus) & (ds.field("config_hash") == config_hash)
    for spec, extra in ((schemas.feature_table(feature_set), None),
                        (schemas.FEATURE_FAILURES_TABLE, ds.field("feature_set") == feature_set)):
        frame = store.read(spec, filter=where if extra is None else where & extra,
                           columns=["utterance_id", "augmentation"])
        keys |= set(zip(frame["utterance_id"], frame["augmentation"]))
    return keys


def wanted_items(manifest: pd.DataFrame, requests: list[AugmentationRequest],
                 augmentable: set[str]) -> list[WorkItem]:
    """Every utterance once as recorded, plus augmented copies for augmentable speakers only."""
    items = []
    for row in manifest.itertuples(index=False):
        augmentations = [NO_AUGMENTATION]
        if row.speaker_id in augmentable:
            augmentations += [key for r in requests for key in r.keys()]
        audio_key = recording_key(row)
        items += [WorkItem(row.utterance_id, row.corpus, row.speaker_id, row.path, a, row.duration_s, audio_key)
                  for a in augmentations]
    return items


def cost_s(items: list[WorkItem]) -> float:
    return sum(item.cost_s for item in items)


def balanced_batches(items: list[WorkItem], parallelism: int, max_batch_size: int) -> list[Batch]:
    """The same number of contiguous, about equal-cost batches for every worker (BATCHES_PER_WORKER,
    more where a batch would exceed max_batch_size files), biggest first, so the last to finish are the
    smallest."""
    if not items:
        return []
    workers = max(1, parallelism)
    cost = np.array([item.cost_s for item in items])
    midpoints = np.cumsum(cost) - cost / 2
    n_batches = workers * max(BATCHES_PER_WORKER, math.ceil(len(items) / (max_batch_size * workers)))
    while True:  # short files make a run of equal cost hold more files: add a round until all fit
        n = min(n_batches, len(items))
        which = np.minimum((midpoints / cost.sum() * n).astype(int), n - 1)
        if n == len(items) or np.bincount(which, minlength=n).max() <= max_batch_size:
            break
        n_batches += workers
    batches = [Batch([items[j] for j in np.flatnonzero(which == b)]) for b in range(n)]
    return sorted((b for b in batches if b.items), key=lambda b: -cost_s(b.items))


def compute_batch(batch: Batch, feature_set: str, cache: AudioCache | None = None) -> tuple[list[dict], list[dict]]:
    """Feature rows and failure rows for one batch; a bad file never raises."""
    fs = get_feature_set(feature_set)
    now = pd.Timestamp(datetime.now(UTC))
    rows, failures = [], []
    for start in range(0, len(batch.items), CLIPS_PER_EXTRACT):
        loaded = []  # (item, audio, augmentation parameters)
        for item in batch.items[start:start + CLIPS_PER_EXTRACT]:
            try:
                y = cache.load(item.audio_key, item.path) if cache else load(item.path, sr=TARGET_SR)
            except AudioDecodeError as exc:
                failures.append(_failure(item, Reason.UNDECODABLE, str(exc), now))
                continue
            try:
                y, params = augment(y, TARGET_SR, item.utterance_id, item.augmentation) \
                    if item.augmentation != NO_AUGMENTATION else (y, "{}")
            except Exception as exc:  # noqa: BLE001 - an augmentation failure is quarantined, not fatal
                failures.append(_failure(item, Reason.FEATURE_FAILED, f"{type(exc).__name__}: {exc}", now))
                continue
            loaded.append((item, y, params))
        for (item, y, params), x in zip(loaded, _extract_each(fs, [y for _, y, _ in loaded])):
            if isinstance(x, Exception):
                failures.append(_failure(item, Reason.FEATURE_FAILED, f"{type(x).__name__}: {x}", now))
                continue
            rows.append({"utterance_id": item.utterance_id, "corpus": item.corpus, "speaker_id": item.speaker_id,
                         "augmentation": item.augmentation, "aug_params": params,
                         "duration_s": len(y) / TARGET_SR, "n_frames": x.shape[0], "n_bins": x.shape[1],
                         "features": x.reshape(-1), "computed_at": now})
    return rows, failures


def _extract_each(fs: FeatureSet, clips: list[np.ndarray]) -> list[np.ndarray | Exception]:
    """All clips in one call (a batched model shares its passes); if that fails, each clip alone, so a bad
    clip fails only itself."""
    try:
        return fs.extract_many(clips)
    except Exception:  # noqa: BLE001 - retried clip by clip below to find the culprit
        out: list[np.ndarray | Exception] = []
        for y in clips:
            try:
                out.append(fs.extract(y))
            except Exception as exc:  # noqa: BLE001 - any extractor failure is quarantined, not fatal
                out.append(exc)
        return out


def _failure(item: WorkItem, reason: Reason, detail: str, now: pd.Timestamp) -> dict:
    return {**_key(item), "reason": str(reason), "detail": detail, "failed_at": now}


def _key(item: WorkItem) -> dict:
    return {"utterance_id": item.utterance_id, "corpus": item.corpus, "augmentation": item.augmentation,
            "path": item.path}


def write_batch(store: Store, batch: Batch, feature_set: str, config_hash: str, rows: list[dict],
                failures: list[dict], augmentable_speakers: set[str]) -> list[str]:
    """Check the rows of all parts (one per corpus) against the part contract first, in one GX run (a
    run's cost hardly depends on its rows), then write features and failures atomically: a contract
    failure writes nothing."""
    fs = get_feature_set(feature_set)
    features = pd.DataFrame(rows)
    if rows:
        validate_feature_part(features, fs.n_bins, fs.frame_level, augmentable_speakers).raise_on_failure()
    written = [store.write_partition(schemas.feature_table(feature_set), frame,
                                     {"corpus": corpus, "config_hash": config_hash}, batch.part_name)
               for corpus, frame in _by_corpus(features).items()]
    for corpus, frame in _by_corpus(pd.DataFrame(failures)).items():
        store.write_partition(schemas.FEATURE_FAILURES_TABLE, frame,
                              {"feature_set": feature_set, "corpus": corpus, "config_hash": config_hash},
                              batch.part_name)
    return written


def _by_corpus(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return dict(list(frame.groupby("corpus"))) if len(frame) else {}
