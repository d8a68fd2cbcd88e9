"""Each model learns the synthetic corpus speaker-independently, and survives a save/load round trip."""
import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from ser_models.catalog import DEFAULT_VECTOR_SET, build_estimator, load_estimator
from ser_models.data import FeatureData, class_list
from tests.conftest import CHANCE, split


@pytest.fixture(scope="module")
def fitted(data):
    """fitted(model) -> (estimator, fit info), each model trained once per module (logreg's inner CV is slow)."""
    train, _ = split(data)
    cache = {}

    def fit(model: str):
        if model not in cache:
            est = build_estimator(model, max_epochs=25)
            cache[model] = est, est.fit(train, None, class_list(data.rows["emotion"]))
        return cache[model]

    return fit


@pytest.mark.parametrize("model", ["mlp", "svm", "svm_linear", "logreg", "rf", "cnn", "cl", "ensemble"])
def test_model_learns_unseen_speaker_and_round_trips(model, data, fitted, tmp_path):
    _, test = split(data)
    classes = class_list(data.rows["emotion"])
    est, _ = fitted(model)
    proba = est.predict_proba(test)
    assert proba.shape == (30, 8) and np.allclose(proba.sum(1), 1, atol=1e-4)
    ua = balanced_accuracy_score(est.labels(test), proba.argmax(1))
    assert ua >= 3 * CHANCE, f"{model}: UA {ua:.3f}"
    est.save(tmp_path)
    loaded = load_estimator(tmp_path, est.kind, list(est.feature_sets), classes, est.hyperparameters())
    assert np.allclose(loaded.predict_proba(test), proba, atol=1e-5)


def test_logreg_picks_C_on_speaker_grouped_inner_folds(data, fitted):
    from ser_models.classic import LogRegConfig

    train, _ = split(data)
    est, info = fitted("logreg")
    speakers = train.rows["speaker_id"].to_numpy()
    folds = est.pipeline.named_steps["logisticregressioncv"].cv
    assert info["chosen_C"] in LogRegConfig().Cs and len(folds) == 3
    for inner_train, inner_test in folds:  # a held-out inner speaker is never also trained on
        assert not set(speakers[inner_train]) & set(speakers[inner_test])


def test_long_input_is_windowed_and_averaged(data):
    train, test = split(data)
    est = build_estimator("cnn", max_epochs=2, speaker_norm=False)
    est.fit(train, None, class_list(data.rows["emotion"]))
    long = FeatureData(test.rows.head(2), {"logmel": [test.inputs["logmel"][0], np.vstack(test.inputs["logmel"][:4])]})
    rows, starts = est._windows(long)
    crop = est.train_cfg.crop_frames
    lengths = [len(a) for a in long.inputs["logmel"]]
    assert rows.tolist().count(1) >= 2 * rows.tolist().count(0) >= 2
    for i, length in enumerate(lengths):  # windows overlap by half, the last one ends with the clip
        s = starts[rows == i]
        assert s[0] == 0 and (s[-1] + crop == length or length <= crop) and np.all(np.diff(s) <= crop // 2)
    proba = est.predict_proba(long)
    assert np.allclose(proba.sum(1), 1, atol=1e-5)


@pytest.mark.parametrize("branches", ["logmel+logmel", "mfcc_seq+mfcc_seq", "mfcc_seq+logmel"])
def test_cl_control_groups_read_the_inputs_they_name(branches, data, tmp_path):
    """The reference's control groups: both branches on one input type, or swapped; a card rebuilds them."""
    train, test = split(data)
    classes = class_list(data.rows["emotion"])
    cnn_input, lstm_input = branches.split("+")
    est = build_estimator("cl", branches, max_epochs=2)
    assert est.feature_sets == tuple(dict.fromkeys([cnn_input, lstm_input]))
    est.fit(train, None, classes)
    assert est.net.lstm.input_size == test.inputs[lstm_input][0].shape[1]
    only = FeatureData(test.rows, {k: test.inputs[k] for k in est.feature_sets})  # nothing else is read
    proba = est.predict_proba(only)
    est.save(tmp_path)
    loaded = load_estimator(tmp_path, "cl", list(est.feature_sets), classes, est.hyperparameters())
    assert np.allclose(loaded.predict_proba(only), proba, atol=1e-5)
    with pytest.raises(ValueError, match="CNN_INPUT\\+LSTM_INPUT"):
        build_estimator("cl", "functionals+logmel")


@pytest.mark.parametrize("model", ["mlp", "rf", "cnn", "cl"])
def test_training_twice_gives_the_same_model(model, data):
    """Every random draw in training is seeded: the same command gives the same numbers twice."""
    train, test = split(data)
    classes = class_list(data.rows["emotion"])
    probas = []
    for _ in range(2):
        est = build_estimator(model, max_epochs=4)
        est.fit(train, None, classes)
        probas.append(est.predict_proba(test))
    assert np.allclose(probas[0], probas[1], atol=1e-6)


@pytest.fixture(scope="module")
def call_trained_data(data, small_corpus):
    """The training speakers' recordings plus two `call` copies of each, extracted once for both models."""
    import pandas as pd

    from ser_models.inference import features_of
    from tasks.lib.audio import load
    from tasks.lib.augment import augment
    from tasks.lib.corpora import prepare_ravdess

    train, _ = split(data)
    records = {r.utterance_id: r for r in prepare_ravdess(small_corpus, corpus="syn")}
    copies = [augment(load(records[u].path), 16_000, u, f"call#{i}")[0] for u in train.rows["utterance_id"] for i in (0, 1)]
    rows = pd.concat([train.rows.assign(augmentation=f"call#{i}") for i in (0, 1)]).sort_index(kind="stable")
    augmented = FeatureData(rows.reset_index(drop=True), features_of(copies, (DEFAULT_VECTOR_SET,)).inputs)
    both = FeatureData(pd.concat([train.rows, augmented.rows], ignore_index=True),
                       {DEFAULT_VECTOR_SET: train.inputs[DEFAULT_VECTOR_SET] + augmented.inputs[DEFAULT_VECTOR_SET]})
    held_out = [load(r.path) for r in records.values() if r.speaker_id == "syn:04"]
    return both, held_out


@pytest.mark.parametrize("model", ["svm", "logreg"])
def test_call_trained_model_does_not_collapse_on_shifted_unseen_speaker(model, data, call_trained_data):
    """Trained with the `call` preset, a model gives louder, noisier or telephone copies of held-out audio
    varied answers, one file at a time."""
    from ser_models.domain import dominant_share
    from ser_models.inference import features_of
    from tests.shifts import SHIFTS

    both, clips = call_trained_data
    est = build_estimator(model)
    est.fit(both, None, class_list(data.rows["emotion"]))
    for name in ("clipped_gain_x20", "noise_floor_15db", "telephone"):
        labels = [est.classes[i] for i in est.predict_proba(features_of([SHIFTS[name](y) for y in clips],
                                                                        est.feature_sets)).argmax(1)]
        top, share = dominant_share(labels)
        # The call-scoring bound (no class above 60%), on 15 clips; the collapse this guards against gave 100%.
        assert share <= 0.6 and len(set(labels)) >= 4, f"{model} on {name}: {share:.0%} {top!r}"


def plant_exec(path, code: str) -> None:
    """Rewrite a saved pipeline so loading it would call builtins.exec(code), as an attacker's file would."""
    import json
    import zipfile

    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    schema = json.loads(files["schema.json"])

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "payload":
                    node[key] = {"__class__": "exec", "__module__": "builtins",
                                 "__loader__": "ConstructorFromReduceNode", "content": value}
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    files["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)


def test_planted_skops_payload_is_refused_and_never_runs(fitted, tmp_path):
    import copy

    import skops.io as sio

    est = copy.deepcopy(fitted("logreg")[0])  # the payload is planted in a copy: other tests share the fit
    marker = tmp_path / "pwned"
    est.pipeline.steps[0][1].payload = (f"open({str(marker)!r}, 'w').write('x')",)
    sio.dump(est.pipeline, tmp_path / "model.skops")
    plant_exec(tmp_path / "model.skops", est.pipeline.steps[0][1].payload[0])
    assert "builtins.exec" in sio.get_untrusted_types(file=tmp_path / "model.skops")
    with pytest.raises(ValueError, match=r"refused unloaded: \["):
        load_estimator(tmp_path, "logreg", [DEFAULT_VECTOR_SET], est.classes, est.hyperparameters())
    assert not marker.exists()


def test_torch_weights_with_pickled_objects_are_refused_with_serflow_advice(tmp_path):
    import torch

    class Payload:
        def __reduce__(self):
            return (print, ("payload ran",))

    est = build_estimator("mlp")
    torch.save({"weights": Payload()}, tmp_path / "model.pt")
    with pytest.raises(ValueError, match="refused unloaded; retrain") as info:
        est.load_weights(tmp_path, ["angry", "sad"], {"config": {"feature_set": "functionals", "n_inputs": 4,
                                                                 "n_classes": 2}})
    assert "weights_only=False" not in str(info.value)
