"""Does choosing the SVM's RBF kernel width pay? EMO-DB leave-one-speaker-out, per file, on stored vectors.

The `svm` model uses scikit-learn's gamma="scale". This bench trains it (same scaling, C, calibration and
speed copies as `serflow train`'s default) at several multiples of that width, picks one per outer fold by
speaker-grouped inner folds of the training speakers only (as `logreg` picks its C), and gives the pooled UA
of each, alone and in the default svm+logreg ensemble (mean probability).

  .venv/bin/python bench/svm_width.py [--scales 0.0625,0.125,0.25,0.5,1,2,4]
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


def main() -> None:
    from accuracy import default_copies  # bench/ is on sys.path when run as a script
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from ser_models.catalog import DEFAULT_VECTOR_SET
    from ser_models.classic import LogRegConfig, SVMConfig, build_pipeline, scaling
    from ser_models.data import load_feature_data
    from ser_models.evaluation import fold_indices, make_folds
    from tasks.lib.store import Store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="0.0625,0.125,0.25,0.5,1,2,4", help="multiples of gamma='scale'")
    scales = sorted({1.0, *(float(s) for s in parser.parse_args().scales.split(","))})  # 1.0: the default, compared
    warnings.filterwarnings("ignore", category=FutureWarning)
    data = load_feature_data(Store(str(STORE)), (DEFAULT_VECTOR_SET,), ["emodb"], {})
    keep = default_copies(data.rows)
    rows = data.rows.iloc[keep].reset_index(drop=True)
    x, y = data.vectors(DEFAULT_VECTOR_SET)[keep], rows["emotion"].to_numpy()
    speakers = rows["speaker_id"].to_numpy()
    predicted: dict[str, list[np.ndarray]] = {k: [] for k in [*map(str, scales), "inner", "ensemble scale",
                                                              "ensemble inner"]}
    truth, chosen, start = [], [], time.time()
    for fold in make_folds(rows, "loso").folds:
        train, test = fold_indices(rows, fold, speaker_independent=True)
        truth.append(y[test])
        logreg = build_pipeline(LogRegConfig(), speakers[train]).fit(x[train], y[train])
        p_logreg = logreg.predict_proba(x[test])
        scaled = make_pipeline(*scaling()).fit_transform(x[train])
        unit = 1.0 / (scaled.shape[1] * scaled.var())  # what gamma="scale" gives on the scaled rows
        proba = {}
        for s in scales:
            svm = build_pipeline(SVMConfig()).set_params(calibratedclassifiercv__estimator__gamma=unit * s)
            proba[s] = svm.fit(x[train], y[train]).predict_proba(x[test])
            predicted[str(s)].append(svm.classes_[proba[s].argmax(1)])
        inner = list(GroupKFold(3).split(x[train], groups=speakers[train]))
        search = GridSearchCV(make_pipeline(*scaling(), SVC(C=SVMConfig().C, class_weight="balanced")),
                              {"svc__gamma": [unit * s for s in scales]}, cv=inner, scoring="balanced_accuracy")
        best = search.fit(x[train], y[train]).best_params_["svc__gamma"] / unit
        best = min(scales, key=lambda s: abs(s - best))
        chosen.append(best)
        classes = logreg.classes_
        predicted["inner"].append(classes[proba[best].argmax(1)])
        predicted["ensemble scale"].append(classes[(proba[1.0] + p_logreg).argmax(1)])
        predicted["ensemble inner"].append(classes[(proba[best] + p_logreg).argmax(1)])
        print(f"{fold.name}: inner folds chose {best} x scale ({time.time() - start:.0f} s)", flush=True)
    truth_all = np.concatenate(truth)
    ua = {k: round(float(balanced_accuracy_score(truth_all, np.concatenate(v))), 4) for k, v in predicted.items()}
    result = {"corpus": "emodb", "cv": "loso", "features": DEFAULT_VECTOR_SET, "augment": "speedx2",
              "scales": scales, "ua_per_file": ua, "chosen_per_fold": chosen,
              "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "minutes": (time.time() - start) / 60}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(ua, indent=2))


if __name__ == "__main__":
    main()
