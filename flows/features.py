"""Flow build-features: utterances manifest -> (augment) -> features, fanned out over Dask."""
from __future__ import annotations

import time

from prefect import flow
from prefect.logging import get_run_logger

from flows.fanout import Cluster, FanOut, fan_out
from ser_models.catalog import DEFAULT_VECTOR_SET
from tasks.artifacts import publish_feature_artifacts, tag_flow_run
from tasks.features import FeatureSummary, build_feature_batch, plan_features
from tasks.lib.feature_store import MAX_BATCH_FILES
from tasks.lib.store import Store


@flow(name="build-features", flow_run_name="features {feature_set}")
def build_features(feature_set: str = DEFAULT_VECTOR_SET, corpus: list[str] | None = None,
                   augment: list[str] | None = None, augment_speakers: list[str] | None = None,
                   store: str | None = None, workers: int | None = None, dask_address: str | None = None,
                   dashboard: str | None = None, batch_size: int = MAX_BATCH_FILES,
                   show_progress: bool = False) -> FeatureSummary:
    """Compute only the missing (utterance, augmentation, config) rows of one feature set."""
    handle, cluster = Store.open(store), Cluster(workers, dask_address, dashboard)
    tag_flow_run([f"feature-set:{feature_set}", *(f"corpus:{c}" for c in corpus or [])])
    plan = plan_features(handle, feature_set, corpus, augment or [], augment_speakers, batch_size,
                         cluster.parallelism())
    start = time.perf_counter()
    results = fan_out(FanOut(build_feature_batch, plan.parameter_sets(handle), plan.sizes, feature_set, "file"),
                      cluster, show_progress)
    summary = FeatureSummary.of(plan, results, time.perf_counter() - start)
    publish_feature_artifacts(summary)
    get_run_logger().info("\n".join(summary.lines()))
    return summary
