"""Prefect artifacts: each flow run's outcome as markdown and table artifacts, keyed so the UI keeps a history."""
from __future__ import annotations

import re

import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE as NO_CACHE
from prefect.client.orchestration import get_client

from ser_models import registry
from tasks.features import FeatureSummary
from tasks.ingest import IngestSummary
from tasks.lib.day import today
from tasks.lib.store import Store
from tasks.score import ScoreSummary
from tasks.train import TrainSummary


def artifact_key(*parts: str) -> str:
    """Prefect keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


def _records(frame: pd.DataFrame) -> list[dict]:
    """JSON-safe rows: NaN becomes null."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _bullets(pairs: dict[str, object]) -> str:
    return "\n".join(f"- **{k}**: {v}" for k, v in pairs.items())


# The API can be briefly unreachable (a restarting server); a tag is worth two retries, never a failed run.
@task(name="tag-flow-run", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5])
def tag_flow_run(tags: list[str]) -> None:
    """Add tags (e.g. corpus:ravdess, model:svm:v0003) to the running flow run, for filtering in the UI."""
    from prefect.runtime import flow_run

    with get_client(sync_client=True) as client:
        client.update_flow_run(flow_run.id, tags=sorted(set(flow_run.tags) | set(tags)))


@task(name="publish-ingest-artifacts", cache_policy=NO_CACHE)
def publish_ingest_artifacts(summary: IngestSummary, quarantine: pd.DataFrame) -> None:
    """Accepted and quarantined counts by reason, and the quarantine rows."""
    key = artifact_key("ingest", summary.corpus)
    reasons = "\n".join(f"| {r} | {n} |" for r, n in sorted(summary.quarantined.items())) or "| (none) | 0 |"
    create_markdown_artifact(key=key, description=f"ingest of {summary.corpus}", markdown=(
        f"# Ingest of `{summary.corpus}`\n\n" + _bullets({
            "accepted": summary.accepted, "quarantined": sum(summary.quarantined.values()),
            "speakers": summary.speakers, "contract": "passed" if summary.contract_passed else "FAILED",
            "validation report": f"`{summary.validation_report}`"})
        + f"\n\n| reason | files |\n|---|---|\n{reasons}\n"))
    shown = quarantine[[c for c in ("path", "reason", "detail") if c in quarantine.columns]].head(500)
    create_table_artifact(key=f"{key}-quarantine", table=_records(shown),
                          description=f"quarantined files of {summary.corpus} (first 500)")


@task(name="publish-feature-artifacts", cache_policy=NO_CACHE)
def publish_feature_artifacts(summary: FeatureSummary) -> None:
    """Rows computed and reused, audio-cache hits, failures."""
    create_markdown_artifact(key=artifact_key("features", summary.feature_set),
                             description=f"feature build of {summary.feature_set}", markdown=(
        f"# Features `{summary.feature_set}` (config {summary.config_hash})\n\n" + _bullets({
            "rows computed": summary.computed_rows, "rows already present (reused)": summary.already_present,
            "files read from the audio cache": summary.from_cache, "failures (quarantined)": summary.failed,
            "audio": f"{summary.audio_s / 60:.1f} min in {summary.seconds:.1f} s"})))


@task(name="publish-train-artifacts", cache_policy=NO_CACHE)
def publish_train_artifacts(summary: TrainSummary, store: Store) -> None:
    """Metrics per fold and pooled, per-class recall, the confusion matrix, the version and the champion."""
    ref = registry.resolve(store, f"{summary.name}:{summary.version}")
    pooled = ref.card["metrics"]["pooled"]
    classes, champion = ref.card["classes"], registry.champion(store, summary.name)
    key = artifact_key("train", summary.name)
    confusion = "\n".join(f"| **{c}** | " + " | ".join(map(str, row)) + " |"
                          for c, row in zip(classes, pooled["confusion"]))
    recall = "\n".join(f"| {c} | {v['recall']:.3f} | {v['support']} |" for c, v in pooled["per_class"].items())
    status = ("this version is the champion" if champion == summary.version else
              f"champion: {champion or 'none'}; promote with `serflow models promote {summary.name} {summary.version}`")
    create_markdown_artifact(key=key, description=f"training of {summary.name}:{summary.version}", markdown=(
        f"# {summary.name}:{summary.version}\n\n" + _bullets({
            "cross-validation": summary.cv_label, "pooled UA (per file, as served)": f"{pooled['ua']:.3f}",
            "registered at": f"`{summary.folder}`", "champion": status})
        + f"\n\n## Recall per class (pooled)\n\n| class | recall | files |\n|---|---|---|\n{recall}\n"
        + "\n## Confusion matrix (rows: true, columns: predicted)\n\n| | " + " | ".join(classes) + " |\n|"
        + "---|" * (len(classes) + 1) + f"\n{confusion}\n"))
    shown = summary.table[["fold", "test_speakers", "serving", "n", "ua", "wa", "macro_f1"]].round(3)
    create_table_artifact(key=f"{key}-folds", table=_records(shown),
                          description=f"{summary.name}:{summary.version} metrics per fold and pooled")


@task(name="publish-score-artifacts", cache_policy=NO_CACHE)
def publish_score_artifacts(summary: ScoreSummary) -> None:
    """Calls scored, rejected and unchanged, audio and speed, the day's emotion shares, the calls to look at;
    a run that found nothing new (it left the day report as it was) publishes only its counts."""
    date = today()
    counts = {"inbox files": summary.inbox_files, "scored": summary.scored, "rejected": summary.rejected,
              "unchanged since last run": summary.unchanged, "segments": summary.segments}
    if summary.report is None:
        body, tops = f"Nothing new in the inbox: the report and tables of {date} are unchanged.\n", {}
    else:
        shares = summary.report.shares
        speed = f"{summary.audio_s / summary.seconds:.1f}x realtime" if summary.seconds and summary.audio_s else "n/a"
        counts["audio"] = f"{summary.audio_s / 60:.1f} min in {summary.seconds:.1f} s ({speed}, flow run only)"
        share_rows = "\n".join(f"| {e} | {100 * s:.1f}% |" for e, s in shares.items()) or "| (no speech) | |"
        body = (f"## Emotion share of speech on {date} (all runs of this model that day)\n\n"
                f"| emotion | share |\n|---|---|\n{share_rows}\n")
        tops = summary.report.top
    create_markdown_artifact(key="score-calls", description=f"score-calls with {summary.model}",
                             markdown=f"# score-calls with `{summary.model}`\n\n{_bullets(counts)}\n\n{body}")
    for column, top in tops.items():
        create_table_artifact(key=artifact_key("score-calls-top", column), table=_records(top),
                              description=f"{date}: channels with the highest {column}")
