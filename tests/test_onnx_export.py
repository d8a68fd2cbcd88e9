"""ONNX export: onnxruntime serves the exported graph with the torch model's probabilities (within 1e-4),
through the same crops and windows; a bundle predicts files like its registered version."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ser_models import registry
from ser_models.calibration import apply_temperature
from ser_models.catalog import build_estimator
from ser_models.data import FeatureData, class_list
from ser_models.inference import features_of, load_bundle, predict_files
from ser_models.onnx_export import OnnxEstimator, export_bundle, load_bundle_card
from tasks.lib.audio import load
from tasks.lib.feature_sets import get_feature_set
from tasks.lib.store import Store
from tests.conftest import split, tone


def card_of(est, model: str) -> dict:
    """What the registry's card holds that a bundle needs."""
    return {"name": f"tiny-{model}", "version": "v0001", "model": model, "feature_sets": list(est.feature_sets),
            "classes": est.classes, "hyperparameters": est.hyperparameters(),
            "feature_config_hashes": {k: get_feature_set(k).config_hash for k in est.feature_sets},
            "calibration": {"temperature": 1.5}}


@pytest.fixture(scope="module")
def exported(data, tmp_path_factory):
    """exported(model) -> (torch estimator, bundle folder), each trained for two epochs."""
    train, _ = split(data)
    cache = {}

    def export(model: str):
        if model not in cache:
            est = build_estimator(model, max_epochs=2)
            est.fit(train, None, class_list(data.rows["emotion"]))
            folder = tmp_path_factory.mktemp(f"onnx-{model}")
            cache[model] = est, export_bundle(est, card_of(est, model), folder / "no-guard", folder / "bundle")
        return cache[model]

    return export


@pytest.mark.parametrize("model", ["mlp", "cnn", "cl"])
def test_onnx_probabilities_match_torch(model, data, exported):
    _, test = split(data)
    est, bundle = exported(model)
    onnx = OnnxEstimator(bundle, load_bundle_card(bundle))
    # and rows longer than one crop: several windows, averaged the same way
    if est.frame_level:
        long = {k: [np.vstack(test.inputs[k][:4])] + list(test.inputs[k][1:]) for k in est.feature_sets}
        test = FeatureData(test.rows, long)
    difference = np.abs(onnx.predict_proba(test) - est.predict_proba(test)).max()
    assert difference < 1e-4, f"{model}: torch and onnxruntime differ by {difference:.2e}"


def test_bundle_predicts_files_with_its_cards_calibration(exported, tmp_path):
    est, bundle = exported("mlp")
    paths = []
    for i, freq in enumerate((180.0, 260.0)):
        paths.append(str(tmp_path / f"clip{i}.wav"))
        sf.write(paths[-1], tone(2.0, freq=freq, amp=0.2), 16_000)
    results = predict_files(load_bundle(bundle), paths)
    assert [r["model"] for r in results] == ["tiny-mlp:v0001"] * 2
    served = np.array([[r["probabilities"][c] for c in est.classes] for r in results])
    torch_calibrated = apply_temperature(est.predict_proba(features_of([load(p) for p in paths], est.feature_sets)), 1.5)
    assert np.allclose(served, torch_calibrated, atol=1e-3)  # served probabilities are rounded to 4 places


def test_a_folder_without_a_graph_is_refused_in_one_line(tmp_path):
    done = serflow("predict", "x.wav", "--onnx", str(tmp_path))
    assert done.returncode == 2 and "is not an ONNX bundle" in done.stderr and "Traceback" not in done.stderr


def test_cli_exports_a_registered_torch_model_and_predicts_with_the_bundle(exported, trained_store, tmp_path):
    est, _ = exported("mlp")
    store = Store(str(tmp_path / "store"))
    card = {k: v for k, v in card_of(est, "mlp").items() if k not in ("name", "version")}
    registry.register(store, "tiny", est, card, pd.DataFrame({"ua": [0.5]}), None)
    sf.write(tmp_path / "clip.wav", tone(2.0, amp=0.2), 16_000)
    done = serflow("models", "export", "tiny", "--onnx", str(tmp_path / "bundle"), "--store", store.url)
    assert done.returncode == 0 and "tiny:v0001 ->" in done.stdout and "MB graph" in done.stdout, done.stderr
    done = serflow("predict", str(tmp_path / "clip.wav"), "--onnx", str(tmp_path / "bundle"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["model"] == "tiny:v0001"
    refused = serflow("models", "export", "ser", "--onnx", str(tmp_path / "svm"), "--store", trained_store)
    assert refused.returncode == 2 and "only mlp, cnn and cl export" in refused.stderr


def serflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, timeout=120)
