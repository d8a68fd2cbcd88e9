"""Stage train: plan speaker folds (and check them), train one fold, train the final model and register it."""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NONE as NO_CACHE
from prefect.logging import get_run_logger

from data_contracts.labels import parse_label_map
from ser_models import registry
from ser_models.calibration import cross_fitted_calibration
from ser_models.catalog import DEFAULT_MEMBERS, build_estimator
from ser_models.data import FeatureData, class_list, load_feature_data
from ser_models.diarization import SpeakerSpace
from ser_models.domain import NARROWBAND_RATE, DomainGuard
from ser_models.estimator import Estimator
from ser_models.evaluation import (
    CVPlan,
    Fold,
    check_fold,
    fold_indices,
    make_folds,
    metrics,
    plot_confusion,
    validation_split,
)
from ser_models.speaker_norm import served_predictions
from tasks.lib.audio import AudioDecodeError, noise_floor_db
from tasks.lib.audio_cache import AudioCache
from tasks.lib.augment import NO_AUGMENTATION, AugmentationRequest, adds_noise, reaches_phone_band
from tasks.lib.feature_sets import get_feature_set
from tasks.lib.store import InvalidName, Store, checked_name
from tasks.lib.tables import read_manifest

SERVED_PER_FILE = "per-file"  # each test file alone, as `serflow predict` and one call segment see it
SERVED_IN_CONTEXT = "per-speaker context"  # normalised with the test speaker's own unlabelled audio


class TrainError(ValueError):
    """A training request the user must fix (unknown model, bad --cv, no features, one class)."""


@dataclass
class TrainSummary:
    name: str
    version: str
    folder: str
    cv_label: str
    table: pd.DataFrame
    calibration: dict = field(default_factory=dict)
    domain_guard: dict = field(default_factory=dict)

    @classmethod
    def of(cls, ref: registry.ModelRef, plan: CVPlan, results: list[FoldResult], classes: list[str]) -> TrainSummary:
        card = ref.card
        return cls(ref.name, ref.version, ref.url, plan.label, metrics_table(results, classes, plan.label)[0],
                   card["calibration"], card["domain_guard"])

    def lines(self) -> list[str]:
        shown = self.table[["fold", "test_speakers", "serving", "n", "ua", "wa", "macro_f1"]].round(3)
        c, g = self.calibration, self.domain_guard
        return [f"registered {self.name}:{self.version} at {self.folder}", f"cross-validation: {self.cv_label}",
                shown.to_string(index=False),
                f"calibration: temperature {c['temperature']:.2f}, ECE {c['ece_before']:.3f} -> {c['ece_after']:.3f} "
                "(speaker-disjoint CV predictions, cross-fitted)"
                + ("" if c.get("applied", True) else f"; not served: scaling by {c['fitted_temperature']:.2f} raised it"),
                f"out of domain: domain_score > {g['threshold']:.3f} ({g['threshold_method']})"
                + (f", or more than {g['max_clipped_share']:.1%} of samples clipped" if "max_clipped_share" in g else "")
                + (", or narrowband (a phone line: training heard none)" if g.get("narrowband_seen") is False else "")
                + (f", or a noise floor above {g['max_noise_floor_db']:.0f} dB" if g.get("max_noise_floor_db") is not None else "")]


def feature_sets_for(model: str, feature_set: str | None, members: list[str] | None) -> tuple[str, ...]:
    """What the model reads, from a throwaway instance of it (so the catalog stays the one source)."""
    try:
        return build_estimator(model, feature_set, 0, tuple(members or DEFAULT_MEMBERS)).feature_sets
    except (ValueError, KeyError) as exc:
        raise TrainError(str(exc)) from exc


def parse_labels(labels: str | None) -> dict[str, str]:
    """The --labels option as a label map, or a TrainError saying what is wrong with it."""
    try:
        return parse_label_map(labels)
    except ValueError as exc:
        raise TrainError(str(exc)) from exc


@dataclass(frozen=True)
class TrainRequest:
    model: str
    feature_sets: tuple[str, ...]
    feature_set: str | None
    corpora: tuple[str, ...]
    cv: str
    label_map: dict[str, str]
    augment: tuple[str, ...]
    store: Store
    seed: int = 0
    members: tuple[str, ...] = DEFAULT_MEMBERS
    name: str | None = None
    max_epochs: int | None = None
    speaker_norm: bool = False
    device: str = "auto"  # where torch models train: cpu, cuda, auto

    @property
    def registry_name(self) -> str:
        return self.name or self.model

    def estimator(self):
        return build_estimator(self.model, self.feature_set, self.seed, self.members, self.max_epochs,
                               self.speaker_norm, self.device)


@dataclass
class FoldResult:
    fold: str
    test_speakers: tuple[str, ...]
    y_true: np.ndarray
    y_pred: np.ndarray  # per file, as served: each test file alone
    seconds: float
    history: dict = field(default_factory=dict)
    y_pred_speaker: np.ndarray | None = None  # with the test speaker's own unlabelled audio as context
    y_proba: np.ndarray | None = None  # per-file probabilities, what calibration is fitted on


def load_data(req: TrainRequest) -> FeatureData:
    """Recordings plus exactly the augmented copies this request asked for."""
    data = load_feature_data(req.store, req.feature_sets, list(req.corpora), req.label_map)
    wanted = {NO_AUGMENTATION} | {k for a in req.augment for k in AugmentationRequest.parse(a).keys()}
    keep = np.flatnonzero(data.rows["augmentation"].isin(wanted).to_numpy())
    if not len(keep):
        raise TrainError(f"no {req.feature_sets} features for corpora {list(req.corpora)} in {req.store}")
    return data.subset(keep)


def recordings(store: Store, rows: pd.DataFrame) -> pd.DataFrame:
    """The manifest rows of the recordings that feature rows come from."""
    manifest = read_manifest(store, list(rows["corpus"].unique()))
    return manifest[manifest["utterance_id"].isin(rows["utterance_id"])]


def heard_phone_lines(recorded: pd.DataFrame, rows: pd.DataFrame) -> bool:
    """Whether training heard narrowband audio: copies from a preset with the phone band, or recordings sampled
    at a phone line's rate, so the guard does not call such audio out of domain."""
    return (any(reaches_phone_band(a) for a in rows["augmentation"].unique())
            or bool((recorded["sample_rate"] < NARROWBAND_RATE).any()))


def recorded_noise_floors(store: Store, recorded: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray | None:
    """noise_floor_db of every training recording (from ingestion's audio cache where it holds them), or None
    when training heard copies with added noise: then the guard judges no floor."""
    if any(adds_noise(a) for a in rows["augmentation"].unique()):
        return None
    cache, floors = AudioCache(store), []
    for r in recorded.itertuples():
        try:
            floors.append(noise_floor_db(cache.load_recording(r)))
        except AudioDecodeError:  # moved or damaged since ingestion: the others still describe the corpus
            continue
    return np.array(floors)


@task(name="plan-cv", cache_policy=NO_CACHE)
def plan_cv(req: TrainRequest) -> tuple[CVPlan, list[str]]:
    """Folds from speaker groups; every fold passes the leak contract before any training starts."""
    try:
        checked_name(req.registry_name, "model")
    except InvalidName as exc:
        raise TrainError(str(exc)) from exc
    data = load_data(req)
    classes = class_list(data.rows["emotion"])
    if len(classes) < 2:
        raise TrainError(f"need at least two emotions, found {classes}")
    try:
        plan = make_folds(data.rows, req.cv, req.seed)
    except ValueError as exc:
        raise TrainError(str(exc)) from exc
    for fold in plan.folds:
        train, test = fold_indices(data.rows, fold, plan.speaker_independent)
        check_fold(data.rows, fold, train, test, plan.speaker_independent)
    get_run_logger().info("%d rows, %d speakers, classes %s; %d folds, %s", len(data),
                          data.rows["speaker_id"].nunique(), classes, len(plan.folds), plan.label)
    return plan, classes


def split_validation(est: Estimator, rows: pd.DataFrame, train: np.ndarray, plan: CVPlan,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) rows: held-out training speakers for a model that stops early, none for the others."""
    if not est.stops_early:
        return train, train[:0]
    return validation_split(rows, train, plan.speaker_independent, seed=seed)


@task(name="train-fold", cache_policy=NO_CACHE)
def train_fold(req: TrainRequest, plan: CVPlan, fold: Fold, classes: list[str]) -> FoldResult:
    """Train on the fold's training speakers (early stopping on held-out training speakers), test on the rest;
    plan_cv has already checked this fold against the leak contract."""
    start = time.perf_counter()
    data = load_data(req)
    train, test = fold_indices(data.rows, fold, plan.speaker_independent)
    est = req.estimator()
    fit, val = split_validation(est, data.rows, train, plan, req.seed)
    history = est.fit(data.subset(fit), data.subset(val), classes)
    test_data = data.subset(test)
    proba, y_speaker = served_predictions(est, test_data, req.speaker_norm)
    result = FoldResult(fold.name, fold.test_speakers, est.labels(test_data), proba.argmax(axis=1),
                        time.perf_counter() - start, history, y_speaker, proba)
    m = metrics(result.y_true, result.y_pred, classes)
    get_run_logger().info("fold %s: UA %.3f WA %.3f F1 %.3f (n=%d, %.0f s)", fold.name, m["ua"], m["wa"],
                          m["macro_f1"], m["n"], result.seconds)
    return result


def metrics_table(results: list[FoldResult], classes: list[str], cv_label: str) -> tuple[pd.DataFrame, dict]:
    """Per-fold rows plus the pooled row (all folds' predictions together)."""
    folds = [{"fold": r.fold, "test_speakers": ",".join(r.test_speakers), **metrics(r.y_true, r.y_pred, classes)}
             for r in results]
    y_true = np.concatenate([r.y_true for r in results])
    pooled = metrics(y_true, np.concatenate([r.y_pred for r in results]), classes)
    columns = ("n", "ua", "wa", "macro_f1")
    table = pd.DataFrame([{k: f[k] for k in ("fold", "test_speakers", *columns)} for f in folds]
                         + [{"fold": "pooled", "test_speakers": "", **{k: pooled[k] for k in columns}}])
    table["serving"] = SERVED_PER_FILE
    detail = {"folds": folds, "pooled": pooled, "serving": SERVED_PER_FILE}
    if results and results[0].y_pred_speaker is not None:
        context = metrics(y_true, np.concatenate([r.y_pred_speaker for r in results]), classes)
        detail["pooled_speaker_context"] = context
        table = pd.concat([table, pd.DataFrame([{"fold": "pooled-in-context", "test_speakers": "", "serving": SERVED_IN_CONTEXT,
                                                 **{k: context[k] for k in columns}}])], ignore_index=True)
    table["cv"] = cv_label
    return table, detail


@task(name="train-final-and-register", cache_policy=NO_CACHE)
def train_final_and_register(req: TrainRequest, plan: CVPlan, results: list[FoldResult],
                             classes: list[str]) -> registry.ModelRef:
    """Retrain on every speaker (early stopping on held-out speakers) and register with the CV metrics."""
    start = time.perf_counter()
    data = load_data(req)
    est = req.estimator()
    fit, val = split_validation(est, data.rows, np.arange(len(data)), plan, req.seed)
    history = est.fit(data.subset(fit), data.subset(val), classes)
    recorded = recordings(req.store, data.rows)
    guard = DomainGuard.fit(data, req.feature_sets[0], heard_phone_lines(recorded, data.rows),
                            recorded_noise_floors(req.store, recorded, data.rows))
    speaker_space = SpeakerSpace.fit(data, req.feature_sets[0])
    table, detail = metrics_table(results, classes, plan.label)
    card = {
        "model": req.model, "feature_sets": list(req.feature_sets),
        "feature_config_hashes": {k: get_feature_set(k).config_hash for k in req.feature_sets},
        "classes": classes, "label_map": req.label_map, "corpora": list(req.corpora),
        "speakers": sorted(data.rows["speaker_id"].unique()), "augment": list(req.augment),
        "speaker_norm": req.speaker_norm, "cv": req.cv, "cv_label": plan.label, "speaker_independent": plan.speaker_independent,
        "metrics": detail, "domain_guard": guard.describe(),
        "speaker_space": speaker_space.describe() if speaker_space else None,
        "calibration": cross_fitted_calibration([(r.y_proba, r.y_true) for r in results]), "hyperparameters": est.hyperparameters(),
        "final_training": history,
        "train_seconds": {"folds": sum(r.seconds for r in results), "final": time.perf_counter() - start},
    }
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "confusion.png"
        plot_confusion(detail["pooled"]["confusion"], classes,
                       f"{req.registry_name} pooled {plan.label}\nUA {detail['pooled']['ua']:.3f}", str(png))
        return registry.register(req.store, req.registry_name, est, card, table, png, (guard, speaker_space))
