"""Flow train-model: features (what is missing) -> speaker folds -> per-fold training -> final model -> registry."""
from __future__ import annotations

from prefect import flow
from prefect.logging import get_run_logger

from flows.features import build_features
from ser_models.catalog import DEFAULT_MEMBERS
from tasks.artifacts import publish_train_artifacts, tag_flow_run
from tasks.lib.store import Store
from tasks.train import (
    TrainRequest,
    TrainSummary,
    feature_sets_for,
    parse_labels,
    plan_cv,
    train_final_and_register,
    train_fold,
)


@flow(name="train-model", flow_run_name="train {model} on {corpus}")
def train_model(model: str, corpus: list[str], feature_set: str | None = None, cv: str = "loso",
                augment: list[str] | None = None, labels: str | None = None, store: str | None = None,
                seed: int = 0, members: list[str] | None = None, name: str | None = None,
                max_epochs: int | None = None, workers: int | None = None,
                dask_address: str | None = None, dashboard: str | None = None, speaker_norm: bool = False,
                device: str = "auto", show_progress: bool = False) -> TrainSummary:
    """Cross-validate speaker-independently, retrain on all speakers, register the version (device: where torch
    models train, a GPU under auto when torch sees one)."""
    handle = Store.open(store)
    tag_flow_run([f"model:{model}", *(f"corpus:{c}" for c in corpus)])
    label_map = parse_labels(labels)
    feature_sets = feature_sets_for(model, feature_set, members)
    for fs in feature_sets:  # training filters augmented copies per fold, so every speaker may have them
        build_features(feature_set=fs, corpus=corpus, augment=augment or [],
                       augment_speakers=["all"] if augment else None, store=handle.url,
                       workers=workers, dask_address=dask_address, dashboard=dashboard,
                       show_progress=show_progress)
    request = TrainRequest(model, feature_sets, feature_set, tuple(corpus), cv, label_map, tuple(augment or []),
                           handle, seed, tuple(members or DEFAULT_MEMBERS), name, max_epochs, speaker_norm, device)
    plan, classes = plan_cv(request)
    results = [train_fold(request, plan, fold, classes) for fold in plan.folds]
    ref = train_final_and_register(request, plan, results, classes)
    summary = TrainSummary.of(ref, plan, results, classes)
    publish_train_artifacts(summary, handle)
    get_run_logger().info("\n".join(summary.lines()))
    return summary
