"""Shared fixtures: one Prefect test server per session, synthetic audio made on the spot."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
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


def free_port() -> int:
    """A TCP port nothing listens on now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> str:
    """moto's standalone S3 server on a free loopback port, and the AWS settings every process inherits."""
    pytest.importorskip("s3fs", reason="s3fs is not installed (make test installs it)")
    port, log = free_port(), tmp_path_factory.mktemp("moto") / "server.log"
    # a log file, not a pipe: moto logs every request, and an unread pipe would stall the server once full
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=log.open("w"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except OSError:
            if server.poll() is not None:
                pytest.skip(f"moto's S3 server did not start: {log.read_text()[-300:]}")
            time.sleep(0.1)
    settings = {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1"}
    with pytest.MonkeyPatch.context() as env:
        for name, value in settings.items():
            env.setenv(name, value)
        yield url
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="session")
def separate_cluster(s3_endpoint, prefect_server, tmp_path_factory):
    """`dask scheduler` and two `dask worker` programs, started as they would be on separate machines."""
    from flows.fanout import WORKER_PRELOAD

    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "PREFECT_API_URL": prefect_server}
    quiet = {"env": env, "cwd": folder, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)], **quiet)]
    while not scheduler_file.exists():
        if procs[0].poll() is not None:
            pytest.fail("`dask scheduler` exited before writing its scheduler file")
        time.sleep(0.1)
    procs += [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                                str(scheduler_file), "--nthreads", "1", "--no-dashboard", "--name", f"w{i}",
                                "--no-nanny", *(arg for module in WORKER_PRELOAD for arg in ("--preload", module))], **quiet)
              for i in (1, 2)]
    from distributed import Client

    # not the default client: flows of later tests must not land on these workers (their cwd is not the repo)
    with Client(scheduler_file=str(scheduler_file), timeout=60, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=120)
        yield client, {f"w{i}": procs[i] for i in (1, 2)}
    for proc in reversed(procs):
        proc.terminate()
        proc.wait(30)


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
    from ser_models.catalog import DEFAULT_VECTOR_SET
    from ser_models.data import FeatureData
    from tasks.lib.audio import load
    from tasks.lib.corpora import prepare_ravdess
    from tasks.lib.feature_sets import get_feature_set

    records = prepare_ravdess(small_corpus, corpus="syn")
    clips = [load(r.path) for r in records]
    rows = pd.DataFrame({"utterance_id": [r.utterance_id for r in records], "augmentation": "none",
                         "speaker_id": [r.speaker_id for r in records], "corpus": "syn",
                         "emotion": [canonical_emotion("ravdess", r.emotion_raw) for r in records]})
    sets = (DEFAULT_VECTOR_SET, "logmel", "mfcc_seq")
    return FeatureData(rows, {k: get_feature_set(k).extract_many(clips) for k in sets})


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
