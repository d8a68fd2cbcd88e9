"""Flow train-model: features (what is missing) -> speaker folds -> per-fold training -> final model -> registry."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from prefect import flow
from prefect.logging import get_run_logger

from data_contracts.labels import parse_label_map
from flows.features import build_features
from ser_models.catalog import DEFAULT_MEMBERS
from tasks.store import default_store
from tasks.train import TrainError, TrainRequest, metrics_table, plan_cv, train_final_and_register, train_fold


@dataclass
class TrainSummary:
    name: str
    version: str
    folder: str
    cv_label: str
    table: pd.DataFrame

    def lines(self) -> list[str]:
        shown = self.table[["fold", "test_speakers", "n", "ua", "wa", "macro_f1"]].round(3)
        return [f"registered {self.name}:{self.version} at {self.folder}", f"cross-validation: {self.cv_label}",
                shown.to_string(index=False)]


def feature_sets_for(model: str, feature_set: str | None, members: list[str] | None) -> tuple[str, ...]:
    """What the model reads, from a throwaway instance of it (so the catalog stays the one source)."""
    from ser_models.catalog import build_estimator

    try:
        return build_estimator(model, feature_set, 0, tuple(members or DEFAULT_MEMBERS)).feature_sets
    except (ValueError, KeyError) as exc:
        raise TrainError(str(exc)) from exc


@flow(name="train-model")
def train_model(model: str, corpus: list[str], feature_set: str | None = None, cv: str = "loso",
                augment: list[str] | None = None, labels: str | None = None, store: str | None = None,
                seed: int = 0, members: list[str] | None = None, name: str | None = None,
                max_epochs: int | None = None, workers: int | None = None,
                dask_address: str | None = None, speaker_norm: bool = False) -> TrainSummary:
    """Cross-validate speaker-independently, retrain on all speakers, register the version."""
    logger = get_run_logger()
    store_url = store or default_store()
    try:
        label_map = parse_label_map(labels)
    except ValueError as exc:
        raise TrainError(str(exc)) from exc
    feature_sets = feature_sets_for(model, feature_set, members)
    for fs in feature_sets:
        build_features(feature_set=fs, corpus=corpus, augment=augment or [],
                       augment_speakers=["all"] if augment else None, store=store_url,
                       workers=workers, dask_address=dask_address)
    request = TrainRequest(model, feature_sets, feature_set, tuple(corpus), cv, label_map, tuple(augment or []),
                           store_url, seed, tuple(members or DEFAULT_MEMBERS), name, max_epochs, speaker_norm)
    plan, classes = plan_cv(request)
    results = [train_fold(request, plan, fold, classes) for fold in plan.folds]
    ref = train_final_and_register(request, plan, results, classes)
    table, _ = metrics_table(results, classes, plan.label)
    summary = TrainSummary(ref.name, ref.version, str(ref.folder), plan.label, table)
    for line in summary.lines():
        logger.info(line)
    return summary
