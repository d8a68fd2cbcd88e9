"""Shared fixtures: one Prefect test server per session, synthetic audio made on the spot."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
SHARED_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


@pytest.fixture(scope="session", autouse=True)
def prefect_server() -> str:
    """All flow runs in the test session report to one temporary Prefect server, as the CLI runs them."""
    from flows import session_server

    with session_server() as api_url:
        yield api_url


@pytest.fixture(scope="session")
def dask_address(prefect_server: str) -> str:
    """One warm 2-worker Dask cluster shared by the flow tests (the --dask-address path)."""
    from dask.distributed import LocalCluster

    from flows.fanout import local_cluster_kwargs

    with LocalCluster(**local_cluster_kwargs(2, prefect_server)) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    """4 synthetic speakers x 8 emotions, one repetition (120 files), shared read-only by tests."""
    from tasks.synth import synth_corpus

    root = tmp_path_factory.mktemp("synthetic") / "corpus"
    synth_corpus(root, n_speakers=4, repetitions=1)
    return root


def tone(seconds: float = 1.0, sr: int = 16_000, freq: float = 220.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def requires_shared(name: str) -> Path:
    path = SHARED_CORPORA / name
    if not path.is_dir():
        pytest.skip(f"{path} is not present")
    return path
