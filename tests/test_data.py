"""Training rows from two or more corpora: every corpus weighs the same, whatever its size."""
import numpy as np
import pandas as pd
import pytest

from ser_models.catalog import DEFAULT_VECTOR_SET, build_estimator
from ser_models.data import FeatureData, corpus_weights

# A big corpus mostly says x = +1 is angry and x = -1 sad (40 rows each, 5 of each the other way round); a
# small one says the opposite (5 and 5). Counted by rows the big corpus wins, weighed by corpus the small one.
X = np.repeat([1.0, 1.0, -1.0, -1.0, 1.0, -1.0], [40, 5, 40, 5, 5, 5]) + np.random.default_rng(0).normal(0, 0.2, 100)
EMOTION = np.repeat(["angry", "sad", "sad", "angry", "sad", "angry"], [40, 5, 40, 5, 5, 5])
CORPUS = np.repeat(["big", "small"], [90, 10])


def conflicting(corpus: np.ndarray) -> FeatureData:
    rows = pd.DataFrame({"utterance_id": [f"u{i:03d}" for i in range(len(X))], "augmentation": "none",
                         "speaker_id": "spk", "corpus": corpus, "emotion": EMOTION})
    return FeatureData(rows, {DEFAULT_VECTOR_SET: [np.array([[x]], np.float32) for x in X]})


def test_corpus_weights_give_each_corpus_the_same_total():
    weights = corpus_weights(CORPUS)
    assert weights.mean() == pytest.approx(1.0)
    assert weights[CORPUS == "big"].sum() == pytest.approx(weights[CORPUS == "small"].sum())
    assert corpus_weights(np.full(5, "emodb")) is None


@pytest.mark.parametrize("model", ["logreg", "mlp"])
def test_a_small_corpus_is_not_outvoted_by_a_big_one(model):
    """At x = +1: sad when each corpus weighs the same, angry when the same rows are one corpus."""
    angry = {}
    for name, corpus, rows in (("two", CORPUS, {"big": 90, "small": 10}), ("one", np.full(len(X), "big"), {"big": 100})):
        data, est = conflicting(corpus), build_estimator(model, max_epochs=60)
        assert est.fit(data, None, ["angry", "sad"])["rows_per_corpus"] == rows
        angry[name] = float(est.predict_proba(data.subset(np.array([0])))[0, 0])
    assert angry["two"] < 0.5 < angry["one"], angry


def test_the_svm_itself_is_fitted_weighted():
    """The SVC's own decision at x = +1 (its Platt calibration, 5 inner folds, is unstable on 10 heavy rows)."""
    sad = {}
    for name, corpus in (("two", CORPUS), ("one", np.full(len(X), "big"))):
        est = build_estimator("svm")
        est.fit(conflicting(corpus), None, ["angry", "sad"])
        svc = est.pipeline[-1].calibrated_classifiers_[0].estimator
        sad[name] = float(svc.decision_function(est.pipeline[:-1].transform(np.array([[1.0]])))[0])  # > 0: sad
    assert sad["two"] > 0 > sad["one"], sad
