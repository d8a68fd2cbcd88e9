"""The first use of librosa's numba kernels in a process runs once, under the machine-wide lock."""
import fcntl

import pytest

from tasks.lib import kernels


def test_exercise_runs_once_per_process_holding_the_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(kernels, "LOCK_FILE", tmp_path / "numba.lock")
    monkeypatch.setattr(kernels, "_warmed", set())
    seen = []

    def exercise() -> None:
        with open(kernels.LOCK_FILE, "a") as other:  # another process's attempt, as a second open file
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        seen.append(1)

    kernels.compile_once("k", exercise)
    kernels.compile_once("k", exercise)
    assert seen == [1]
    with open(kernels.LOCK_FILE, "a") as after:  # released afterwards
        fcntl.flock(after, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_failed_exercise_is_tried_again(tmp_path, monkeypatch):
    monkeypatch.setattr(kernels, "LOCK_FILE", tmp_path / "numba.lock")
    monkeypatch.setattr(kernels, "_warmed", set())
    calls = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first try fails")

    with pytest.raises(RuntimeError):
        kernels.compile_once("k", flaky)
    kernels.compile_once("k", flaky)
    assert len(calls) == 2
