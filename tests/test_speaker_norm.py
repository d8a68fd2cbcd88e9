"""Per-speaker standardisation: what it removes, and that it survives a save and load."""
import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score

from ser_models.catalog import DEFAULT_VECTOR_SET, build_estimator, load_estimator
from ser_models.data import FeatureData, class_list
from ser_models.speaker_norm import group_ids
from tests.conftest import CHANCE, split


def test_speaker_norm_removes_a_speaker_offset(data, tmp_path):
    """An unseen speaker whose every feature is scaled and shifted by two training standard deviations
    (another voice, another microphone):
    per-speaker standardisation still recognises them; the raw-feature model does not."""
    train, test = split(data)
    classes = class_list(data.rows["emotion"])
    spread = np.concatenate(train.inputs[DEFAULT_VECTOR_SET]).std(axis=0)
    shifted = FeatureData(test.rows, {DEFAULT_VECTOR_SET: [1.3 * v + 2 * spread for v in test.inputs[DEFAULT_VECTOR_SET]]})
    ua = {}
    for norm in (True, False):
        est = build_estimator("svm_linear", speaker_norm=norm)
        est.fit(train, None, classes)
        ua[norm] = balanced_accuracy_score(est.labels(shifted), est.predict_proba(shifted).argmax(1))
    assert ua[True] >= 3 * CHANCE and ua[True] > ua[False] + 0.2, ua
    est = build_estimator("mlp", max_epochs=10, speaker_norm=True)
    est.fit(train, None, classes)
    est.save(tmp_path)
    loaded = load_estimator(tmp_path, est.kind, list(est.feature_sets), classes, est.hyperparameters())
    assert np.allclose(loaded.predict_proba(shifted), est.predict_proba(shifted), atol=1e-5)
    one = FeatureData(test.rows.head(1), {DEFAULT_VECTOR_SET: test.inputs[DEFAULT_VECTOR_SET][:1]})
    assert np.isfinite(est.predict_proba(one)).all()  # a one-row group leans on population statistics


def test_groups_are_speaker_and_recording_condition():
    rows = pd.DataFrame({"speaker_id": ["a:1", "a:1", "a:1", "a:1", "a:2"],
                         "augmentation": ["none", "telephone#0", "telephone#1", "noise#0", "none"]})
    ids = group_ids(rows)
    assert ids[1] == ids[2]  # copies of one preset are one condition
    assert len({ids[0], ids[1], ids[3], ids[4]}) == 4
