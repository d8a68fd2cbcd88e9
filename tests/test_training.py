"""The torch training loop: where it trains, and that a trained net always comes back to the CPU."""
import pytest
import torch

from ser_models.catalog import build_estimator
from ser_models.data import class_list
from ser_models.training import resolve_device
from tests.conftest import split


@pytest.mark.parametrize("gpu", [False, True])
def test_auto_picks_a_gpu_only_when_torch_sees_one(monkeypatch, gpu):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert resolve_device("auto") == ("cuda" if gpu else "cpu")
    assert resolve_device("cpu") == "cpu"


def test_cuda_without_a_gpu_and_unknown_devices_are_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="cpu, cuda or auto"):
        resolve_device("gpu")


def test_the_card_names_the_device_and_the_net_ends_on_the_cpu(data, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    train, test = split(data)
    est = build_estimator("cnn", max_epochs=2, speaker_norm=False)
    assert est.train_cfg.device == "auto"
    est.fit(train, test, class_list(data.rows["emotion"]))
    assert est.hyperparameters()["train"]["device"] == "cpu"  # what auto resolved to, not "auto"
    assert {p.device.type for p in est.net.parameters()} == {"cpu"}
    assert est.predict_proba(test).shape == (len(test), len(est.classes))
