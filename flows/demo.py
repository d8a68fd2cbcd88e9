"""Flow demo: the whole chain on built-in synthetic data — corpus, ingest, features, train, calls, scores."""
from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.ingest import ingest_corpus
from flows.score import score_calls
from flows.train import train_model
from tasks.demo import DEMO_MODEL, DEMO_SPEAKERS, DemoResult, synth_calls_task, synth_corpus_task
from tasks.lib.synth import call_labels_path


@flow(name="demo")
def demo(data_dir: str = "demo-data", store: str = "serflow-store", n_calls: int = 4) -> DemoResult:
    """Synthesize a corpus, ingest it, train an SVM with telephone/noise augmentation, score synthetic calls."""
    corpus_dir, calls_dir = Path(data_dir) / "corpus", Path(data_dir) / "calls"
    synth_corpus_task(corpus_dir, n_speakers=DEMO_SPEAKERS)
    ingest_corpus(kind="ravdess", path=str(corpus_dir), name="synthetic", store=store)
    trained = train_model(model="svm", corpus=["synthetic"], cv="speaker-kfold:4", augment=["telephone", "noise"],
                          store=store, name=DEMO_MODEL, show_progress=True)
    synth_calls_task(calls_dir, n_calls=n_calls)
    scored = score_calls(inbox=str(calls_dir), model=DEMO_MODEL, store=store, show_progress=True)
    return DemoResult(store, trained, scored, str(call_labels_path(calls_dir)))
