"""The command line answers fast: help and argument errors come before any heavy import or Prefect server."""
import subprocess
import sys
import time

import pytest

from ser_models import registry
from tasks.lib.store import Store


def serflow(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, timeout=120)
    return done, time.perf_counter() - start


def test_help_is_fast():
    done, seconds = serflow("--help")
    assert done.returncode == 0 and "score-calls" in done.stdout and "synth-calls" in done.stdout
    assert seconds < 2.0, f"serflow --help took {seconds:.1f} s"


def test_wrong_model_fails_fast_in_one_line(tmp_path):
    done, seconds = serflow("score-calls", str(tmp_path), "--model", "nope", "--store", str(tmp_path / "store"))
    assert done.returncode == 2 and seconds < 5.0, f"{seconds:.1f} s"
    assert done.stderr.strip().count("\n") == 0 and "no model 'nope'" in done.stderr
    assert "Traceback" not in done.stderr and "Prefect" not in done.stderr  # no server was started


def test_unknown_model_or_member_to_train_fails_fast(tmp_path):
    for args in (["--model", "nope"], ["--model", "ensemble", "--members", "svm,nope"]):
        done, seconds = serflow("train", *args, "--corpus", "syn", "--store", str(tmp_path))
        assert done.returncode == 2 and seconds < 5.0, f"{args}: {seconds:.1f} s"
        assert "unknown model 'nope'; choose from" in done.stderr and "Traceback" not in done.stderr


def test_corpus_never_ingested_fails_fast_naming_the_ingested_ones(trained_store):
    for command in (["train", "--model", "svm"], ["features"]):
        done, seconds = serflow(*command, "--corpus", "nope", "--store", trained_store)
        assert done.returncode == 2 and seconds < 5.0, f"{command}: {seconds:.1f} s"
        assert "corpora ['nope']" in done.stderr and "ingested: ['syn']" in done.stderr
        assert "Traceback" not in done.stderr


def test_predict_without_model_names_the_choices(tmp_path):
    done, _ = serflow("predict", "x.wav", "--store", str(tmp_path))
    assert done.returncode == 2 and "no model is registered" in done.stderr and "--model NAME" in done.stderr


def test_default_model_is_the_most_recently_promoted(trained_store):
    store = Store(trained_store)
    assert registry.default_model(store) == "ser"  # the only model registered
    registry.promote(store, "ser", "v0001")
    assert registry.resolve(store, None).name == "ser"


def test_train_adds_speed_copies_unless_told_otherwise():
    """`serflow train` without --augment trains with speed-perturbed copies; `--augment none` with none."""
    from flows.cli import train_augmentation

    assert train_augmentation(None) == ["speedx2"]
    assert train_augmentation(["none"]) == []
    assert train_augmentation(["noisex2", "telephone"]) == ["noisex2", "telephone"]


def test_cuda_training_without_a_gpu_fails_fast():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU, so --device cuda is valid here")
    done, seconds = serflow("train", "--model", "cnn", "--corpus", "syn", "--device", "cuda")
    assert done.returncode == 2 and seconds < 10.0, f"{seconds:.1f} s"
    assert "no CUDA GPU" in done.stderr and "Traceback" not in done.stderr and "Prefect" not in done.stderr
