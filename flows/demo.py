"""Flow demo: the whole chain on built-in synthetic data — corpus, ingest, features, train, calls, scores."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import flow

from flows.ingest import ingest_corpus
from flows.score import ScoreSummary, score_calls
from flows.train import TrainSummary, train_model
from tasks.synth import call_labels_path, synth_calls_task, synth_corpus_task

DEMO_SPEAKERS = 8
DEMO_MODEL = "demo"


@dataclass
class DemoResult:
    store: str
    train: TrainSummary
    score: ScoreSummary
    labels_csv: str


@flow(name="demo")
def demo(data_dir: str = "demo-data", store: str = "serflow-store", n_calls: int = 4) -> DemoResult:
    """Synthesize a corpus, ingest it, train an SVM with telephone/noise augmentation, score synthetic calls."""
    corpus_dir, calls_dir = Path(data_dir) / "corpus", Path(data_dir) / "calls"
    synth_corpus_task(corpus_dir, n_speakers=DEMO_SPEAKERS)
    ingest_corpus(kind="ravdess", path=str(corpus_dir), name="synthetic", store=store)
    trained = train_model(model="svm", corpus=["synthetic"], cv="speaker-kfold:4", augment=["telephone", "noise"],
                          store=store, name=DEMO_MODEL)
    synth_calls_task(calls_dir, n_calls=n_calls)
    scored = score_calls(inbox=str(calls_dir), model=DEMO_MODEL, store=store)
    return DemoResult(store, trained, scored, str(call_labels_path(calls_dir)))


def report(result: DemoResult) -> str:
    """What an analyst sees: DuckDB over the result tables, and how the scoring path compares with CV."""
    import duckdb
    import pandas as pd

    from ser_models import registry
    from ser_models.evaluation import segment_level_metrics

    results = f"{result.store}/results"
    card = registry.resolve(result.store, DEMO_MODEL).card
    calls = duckdb.sql(
        f"select call_id, channel, round(speech_s, 1) as speech_s, dominant_emotion, "
        f"round(negative_share, 2) as negative_share, round(escalation, 2) as escalation, "
        f"round(peak_negative_start_s, 1) as peak_negative_start_s "
        f"from read_parquet('{results}/calls/**/*.parquet', hive_partitioning=true) "
        f"where model = '{DEMO_MODEL}' and model_version = '{card['version']}' order by call_id, channel")
    segments = duckdb.sql(f"select * from read_parquet('{results}/segments/**/*.parquet', hive_partitioning=true) "
                          f"where model = '{DEMO_MODEL}' and model_version = '{card['version']}'").df()
    seg = segment_level_metrics(segments, pd.read_csv(result.labels_csv), card["classes"])
    utt = card["metrics"]["pooled"]
    return "\n".join([
        *result.train.lines(), "", *result.score.lines(), "", str(calls),
        f"scoring path vs cross-validation ({card['name']}:{card['version']}):",
        f"  utterance-level UA {utt['ua']:.3f} ({card['cv_label']})",
        f"  segment-level UA   {seg['ua']:.3f} on {seg['n']} VAD windows of the synthetic calls "
        f"(8 kHz mu/A-law and 16 kHz, stereo and mono, unseen voices)",
    ])
