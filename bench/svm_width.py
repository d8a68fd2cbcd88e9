"""Does another RBF kernel width for the SVM pay? Per file, speaker-independent, on stored vectors.

The `svm` model uses scikit-learn's gamma="scale". This bench trains it (same scaling, C, calibration and
speed copies as `serflow train`'s default) at several multiples of that width. Settings:
  emodb    EMO-DB leave-one-speaker-out: each width, and one picked per outer fold by speaker-grouped inner
           folds of the training speakers only (as `logreg` picks its C), alone and in the default svm+logreg
           ensemble (mean probability)
  ravdess  fixed widths, alone and with logreg: RAVDESS 5 folds by actor, then a model trained on all of
           RAVDESS and its answers' shares over EMO-DB (the collapse of issue 16)
  loco     fixed widths, alone and with logreg: leave-one-corpus-out on bench/accuracy.py's five shared
           emotions, every training corpus weighing the same, as `serflow train` fits them

  .venv/bin/python bench/svm_width.py [--settings emodb,ravdess,loco] [--scales 0.0625,0.125,0.25,0.5,1,2,4]
      (after bench/accuracy.py has built the bench store)  ->  bench/results/svm_width.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score  # UA, as ser_models.evaluation.metrics computes it

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "svm_width.json"
STORE = ROOT / "bench" / ".store"


def load(corpora: list[str], labels: dict) -> tuple:
    """(rows, vectors, emotions, speakers, corpora) of the recordings and the copies `serflow train` adds."""
    from accuracy import default_copies  # bench/ is on sys.path when run as a script

    from ser_models.catalog import DEFAULT_VECTOR_SET
    from ser_models.data import load_feature_data
    from tasks.lib.store import Store

    data = load_feature_data(Store(str(STORE)), (DEFAULT_VECTOR_SET,), corpora, labels)
    keep = default_copies(data.rows)
    rows = data.rows.iloc[keep].reset_index(drop=True)
    return (rows, data.vectors(DEFAULT_VECTOR_SET)[keep], rows["emotion"].to_numpy(), rows["speaker_id"].to_numpy(),
            rows["corpus"].to_numpy())


def scale_unit(x_train: np.ndarray) -> float:
    """What gamma="scale" gives on the scaled training rows."""
    from sklearn.pipeline import make_pipeline

    from ser_models.classic import scaling

    scaled = make_pipeline(*scaling()).fit_transform(x_train)
    return 1.0 / (scaled.shape[1] * scaled.var())


def fixed_widths(data: tuple, train: np.ndarray, test: np.ndarray, scales: list[float]) -> tuple[dict, np.ndarray]:
    """Test-row probabilities of logreg, of the SVM at each width and of their svm+logreg votes, fitted as
    `serflow train` fits them (every corpus weighing the same when there are several)."""
    from ser_models.classic import LogRegConfig, SVMConfig, build_pipeline, fit_corpus_weighted

    _, x, y, speakers, corpus = data
    logreg = fit_corpus_weighted(build_pipeline(LogRegConfig(), speakers[train]), x[train], y[train], corpus[train])
    proba = {"logreg": logreg.predict_proba(x[test])}
    unit = scale_unit(x[train])
    for s in scales:
        svm = build_pipeline(SVMConfig()).set_params(calibratedclassifiercv__estimator__gamma=unit * s)
        proba[str(s)] = fit_corpus_weighted(svm, x[train], y[train], corpus[train]).predict_proba(x[test])
        proba[f"ensemble {s}"] = proba[str(s)] + proba["logreg"]
    return proba, logreg.classes_


def ravdess(scales: list[float]) -> dict:
    """RAVDESS 5 folds by actor at each width, then a RAVDESS model's answers over EMO-DB."""
    from ser_models.evaluation import fold_indices, make_folds
    from tasks.lib.augment import NO_AUGMENTATION

    data = load(["ravdess"], {})
    rows, _, y, _, _ = data
    truth, predicted, start = [], {}, time.time()
    for fold in make_folds(rows, "speaker-kfold:5").folds:
        train, test = fold_indices(rows, fold, speaker_independent=True)
        proba, classes = fixed_widths(data, train, test, scales)
        truth.append(y[test])
        for k, p in proba.items():
            predicted.setdefault(k, []).append(classes[p.argmax(1)])
        print(f"ravdess {fold.name}: {time.time() - start:.0f} s", flush=True)
    ua = {k: round(float(balanced_accuracy_score(np.concatenate(truth), np.concatenate(v))), 4)
          for k, v in predicted.items()}
    both = load(["ravdess", "emodb"], {})
    both_rows, _, emotion, _, corpus = both
    recording = both_rows["augmentation"].to_numpy() == NO_AUGMENTATION
    proba, classes = fixed_widths(both, np.flatnonzero(corpus == "ravdess"),
                                  np.flatnonzero((corpus == "emodb") & recording), scales)
    shares = {k: {c: round(float((classes[p.argmax(1)] == c).mean()), 4) for c in classes} for k, p in proba.items()}
    shared = set(emotion[corpus == "ravdess"]) & set(emotion[corpus == "emodb"])
    return {"ravdess_ua_per_file": ua, "emodb_shares_of_ravdess_model": shares,
            "lowest_shared_class_share": {k: min(v[c] for c in shared) for k, v in shares.items()}}


def loco(scales: list[float]) -> dict:
    """Leave-one-corpus-out UA at each width, alone and with logreg."""
    from accuracy import LOCO_LABELS, loco_splits

    from data_contracts.labels import parse_label_map

    data, out = load(["ravdess", "emodb", "casia"], parse_label_map(LOCO_LABELS)), {}
    rows, _, y, _, _ = data
    for held, train, test in loco_splits(rows):
        proba, classes = fixed_widths(data, train, test, scales)
        out[held] = {k: round(float(balanced_accuracy_score(y[test], classes[p.argmax(1)])), 4)
                     for k, p in proba.items()}
        print(f"loco, {held} held out: {out[held]}", flush=True)
    return {"loco_ua_per_file": out}


def inner_choice(scales: list[float]) -> dict:
    """EMO-DB LOSO at each width and at the width inner speaker-grouped folds pick."""
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from ser_models.catalog import DEFAULT_VECTOR_SET
    from ser_models.classic import SVMConfig, scaling
    from ser_models.evaluation import fold_indices, make_folds

    data = load(["emodb"], {})
    rows, x, y, speakers, _ = data
    predicted: dict[str, list[np.ndarray]] = {k: [] for k in [*map(str, scales), "inner", "ensemble scale",
                                                              "ensemble inner"]}
    truth, chosen, start = [], [], time.time()
    for fold in make_folds(rows, "loso").folds:
        train, test = fold_indices(rows, fold, speaker_independent=True)
        truth.append(y[test])
        proba, classes = fixed_widths(data, train, test, scales)
        for s in scales:
            predicted[str(s)].append(classes[proba[str(s)].argmax(1)])
        unit = scale_unit(x[train])
        inner = list(GroupKFold(3).split(x[train], groups=speakers[train]))
        search = GridSearchCV(make_pipeline(*scaling(), SVC(C=SVMConfig().C, class_weight="balanced")),
                              {"svc__gamma": [unit * s for s in scales]}, cv=inner, scoring="balanced_accuracy")
        best = search.fit(x[train], y[train]).best_params_["svc__gamma"] / unit
        best = min(scales, key=lambda s: abs(s - best))
        chosen.append(best)
        predicted["inner"].append(classes[proba[str(best)].argmax(1)])
        predicted["ensemble scale"].append(classes[proba["ensemble 1.0"].argmax(1)])
        predicted["ensemble inner"].append(classes[proba[f"ensemble {best}"].argmax(1)])
        print(f"{fold.name}: inner folds chose {best} x scale ({time.time() - start:.0f} s)", flush=True)
    truth_all = np.concatenate(truth)
    ua = {k: round(float(balanced_accuracy_score(truth_all, np.concatenate(v))), 4) for k, v in predicted.items()}
    print(json.dumps(ua, indent=2))
    return {"corpus": "emodb", "cv": "loso", "features": DEFAULT_VECTOR_SET, "augment": "speedx2", "ua_per_file": ua,
            "chosen_per_fold": chosen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="emodb", help="comma list of emodb, ravdess, loco (see above)")
    parser.add_argument("--scales", default="0.0625,0.125,0.25,0.5,1,2,4", help="multiples of gamma='scale'")
    args = parser.parse_args()
    scales = sorted({1.0, *(float(s) for s in args.scales.split(","))})  # 1.0: the default, compared
    warnings.filterwarnings("ignore", category=FutureWarning)
    for setting in args.settings.split(","):
        start = time.time()
        result = {"emodb": inner_choice, "ravdess": ravdess, "loco": loco}[setting](scales)
        result.update(scales=scales, measured=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                      minutes=round((time.time() - start) / 60, 1))
        # the EMO-DB study's keys stay at the top level, where the results of 2026-12-06 04:02 put them
        saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        if setting == "emodb":
            saved.update(result)
        else:
            saved[setting] = result
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(saved, indent=2) + "\n")


if __name__ == "__main__":
    main()
