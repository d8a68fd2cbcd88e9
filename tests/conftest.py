"""Shared fixtures: one Prefect test server per session, synthetic audio made on the spot."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


@pytest.fixture(scope="session", autouse=True)
def prefect_server() -> str:
    """All flow runs in the test session report to one temporary Prefect server, as the CLI runs them."""
    from flows.settings import session_server

    with session_server() as api_url:
        yield api_url


@pytest.fixture(scope="session")
def dask_address(prefect_server: str) -> str:
    """One warm 2-worker Dask cluster shared by the flow tests (the --dask-address path)."""
    from flows.fanout import standing_cluster

    with standing_cluster(2, prefect_server) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    """4 synthetic speakers x 8 emotions, one repetition (120 files), shared read-only by tests."""
    from tasks.lib.synth import synth_corpus

    root = tmp_path_factory.mktemp("synthetic") / "corpus"
    synth_corpus(root, n_speakers=4, repetitions=1)
    return root


@pytest.fixture(scope="session")
def trained_store(small_corpus, tmp_path_factory, dask_address) -> str:
    """A store with the synthetic corpus ingested as `syn` and an svm registered as `ser` (copy it to score)."""
    from flows.ingest import ingest_corpus
    from flows.train import train_model

    root = str(tmp_path_factory.mktemp("trained-store"))
    ingest_corpus(kind="ravdess", path=str(small_corpus), name="syn", store=root)
    train_model(model="svm", corpus=["syn"], cv="holdout:syn:04", augment=["telephone"], store=root, name="ser",
                dask_address=dask_address)
    return root


CHANCE = 1 / 8  # eight emotions in the synthetic corpus


@pytest.fixture(scope="session")
def data(small_corpus):
    """Features computed in memory for the 120 synthetic clips (4 speakers)."""
    import pandas as pd

    from data_contracts.labels import canonical_emotion
    from ser_models.data import FeatureData
    from tasks.lib.audio import load
    from tasks.lib.corpora import prepare_ravdess
    from tasks.lib.feature_sets import get_feature_set

    records = prepare_ravdess(small_corpus, corpus="syn")
    clips = [load(r.path) for r in records]
    rows = pd.DataFrame({"utterance_id": [r.utterance_id for r in records], "augmentation": "none",
                         "speaker_id": [r.speaker_id for r in records], "corpus": "syn",
                         "emotion": [canonical_emotion("ravdess", r.emotion_raw) for r in records]})
    sets = ("functionals", "logmel", "mfcc_seq")
    return FeatureData(rows, {k: [get_feature_set(k).extract(c) for c in clips] for k in sets})


def split(data, test_speaker: str = "syn:04"):
    """Training rows and the rows of one held-out speaker."""
    test = data.rows["speaker_id"].eq(test_speaker).to_numpy()
    return data.subset(np.flatnonzero(~test)), data.subset(np.flatnonzero(test))


def tone(seconds: float = 1.0, sr: int = 16_000, freq: float = 220.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def requires_shared(name: str) -> Path:
    path = SHARED_CORPORA / name
    if not path.is_dir():
        pytest.skip(f"{path} is not present")
    return path
