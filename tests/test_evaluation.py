"""Fold construction: speaker-independent by construction, and the contract catches a leak."""
import numpy as np
import pandas as pd
import pytest

from data_contracts.suites import ContractViolation
from ser_models.evaluation import (
    Fold,
    check_fold,
    diarization_error,
    fold_indices,
    make_folds,
    metrics,
    segment_level_metrics,
    validation_split,
)


def rows(n_speakers: int = 6, per_speaker: int = 5, copies: int = 1) -> pd.DataFrame:
    out = []
    for s in range(n_speakers):
        for u in range(per_speaker):
            for a in ["none", *[f"noise#{c}" for c in range(copies)]]:
                out.append({"utterance_id": f"c/s{s}/u{u}", "speaker_id": f"c:{s}", "augmentation": a,
                            "emotion": ["sad", "angry"][u % 2]})
    return pd.DataFrame(out)


@pytest.mark.parametrize("spec,n_folds", [("loso", 6), ("speaker-kfold:3", 3), ("holdout:c:1,c:4", 1)])
def test_folds_never_share_speakers(spec, n_folds):
    frame = rows()
    plan = make_folds(frame, spec)
    assert plan.speaker_independent and len(plan.folds) == n_folds
    tested = []
    for fold in plan.folds:
        train, test = fold_indices(frame, fold, True)
        train_speakers, test_speakers = set(frame.iloc[train].speaker_id), set(frame.iloc[test].speaker_id)
        assert not train_speakers & test_speakers
        assert (frame.iloc[test].augmentation == "none").all()  # augmented copies are never tested on
        assert set(frame.iloc[train].query("augmentation != 'none'").speaker_id) <= train_speakers
        check_fold(frame, fold, train, test, True)
        fit, val = validation_split(frame, train, True)
        assert not set(frame.iloc[fit].speaker_id) & set(frame.iloc[val].speaker_id)
        assert (frame.iloc[val].augmentation == "none").all()
        tested += sorted(test_speakers)
    if spec != "holdout:c:1,c:4":
        assert sorted(tested) == sorted(frame.speaker_id.unique())  # every speaker tested exactly once


def test_contract_fails_on_a_leaky_fold():
    frame = rows()
    leaky = Fold("leaky", ("c:0", "c:1", "c:2"), ("c:2", "c:3"))
    train, test = fold_indices(frame, leaky, True)
    with pytest.raises(ContractViolation, match="speaker_in_test"):
        check_fold(frame, leaky, train, test, True)


def test_random_split_is_labelled_and_keeps_copies_of_test_utterances_out():
    frame = rows()
    plan = make_folds(frame, "random:0.2")
    assert not plan.speaker_independent and "SPEAKER-DEPENDENT" in plan.label
    train, test = fold_indices(frame, plan.folds[0], False)
    assert not set(frame.iloc[train].utterance_id) & set(frame.iloc[test].utterance_id)
    check_fold(frame, plan.folds[0], train, test, False)


def test_bad_cv_specs_are_refused():
    for spec in ("speaker-kfold:99", "holdout:nobody", "bootstrap"):
        with pytest.raises(ValueError):
            make_folds(rows(), spec)


def test_metrics_ua_is_balanced_accuracy():
    y_true = np.array([0, 0, 0, 0, 1])
    m = metrics(y_true, np.zeros(5, int), ["a", "b"])
    assert m["wa"] == 0.8 and m["ua"] == 0.5 and m["confusion"] == [[4, 0], [1, 0]]


def test_diarization_error_counts_missed_false_alarm_and_confusion_under_the_best_mapping():
    truth = pd.DataFrame({"call_id": "c", "channel": 0, "speaker": ["agent", "customer", "agent"],
                          "start_s": [0.0, 3.0, 7.0], "end_s": [2.0, 5.0, 8.0]})
    hyp = pd.DataFrame({"call_id": "c", "channel": 0, "speaker": ["spk1", "spk1", "spk0", "spk0"],
                        "start_s": [0.0, 3.0, 4.0, 5.0], "end_s": [2.0, 4.0, 5.0, 6.0]})
    error = diarization_error(hyp, truth)  # 5 s of speech: 1 s missed (7-8), 1 s extra (5-6), 1 s confused (3-4)
    assert error["missed"] == pytest.approx(0.2) and error["false_alarm"] == pytest.approx(0.2)
    assert error["confusion"] == pytest.approx(0.2) and error["der"] == pytest.approx(0.6)
    # a 0.25 s collar leaves 3.5 s scored: 0.5 s missed, 0.7 s extra, 0.7 s confused
    collared = diarization_error(hyp, truth, collar_s=0.25)
    assert [collared[k] for k in ("missed", "false_alarm", "confusion")] == pytest.approx([5 / 35, 7 / 35, 7 / 35])


def test_span_metrics_match_each_span_to_the_utterance_covering_most_of_it():
    labels = pd.DataFrame({"call_id": "c", "channel": 0, "start_s": [0.0, 4.0], "end_s": [4.0, 8.0],
                           "emotion": ["angry", "sad"]})
    # turns (no segment_index): 0-3.5 angry (right), 3.8-8 sad (right), 7.9-12 (mostly unlabelled: left out)
    turns = pd.DataFrame({"call_id": "c", "channel": 0, "turn_index": [0, 1, 2], "start_s": [0.0, 3.8, 7.9],
                          "end_s": [3.5, 8.0, 12.0], "emotion": ["angry", "sad", "angry"]})
    assert segment_level_metrics(turns, labels, ["angry", "sad"])["ua"] == pytest.approx(1.0)
    # windows over both utterances: 2-5 s is mostly the angry one, and is called sad
    windows = turns.drop(columns="turn_index").assign(segment_index=[0, 1, 2], start_s=[0.0, 2.0, 5.0],
                                                      end_s=[3.0, 5.0, 8.0], emotion=["angry", "sad", "sad"])
    assert segment_level_metrics(windows, labels, ["angry", "sad"])["ua"] == pytest.approx(0.75)
