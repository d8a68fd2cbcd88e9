"""Which feature groups carry the shift between corpora: a diagnostic on the stored `functionals_ge2e` vectors.

Two questions, answered with a plain logistic regression (the `logreg` model's scaling, C fixed at 0.03 so
each fit is one fit) on the vectors bench/accuracy.py stored, originals and speed copies:
  loco     leave-one-corpus-out UA on the five shared emotions (bench/accuracy.py's label map), with all
           features and with each group left out in turn
  angry    a model trained on RAVDESS alone (8 classes), on one group at a time: how many EMO-DB neutral
           files it calls angry, and its share of angry answers over EMO-DB (the collapse of issue 16)

  .venv/bin/python bench/feature_groups.py     (after bench/accuracy.py has built the bench store)
      ->  bench/results/feature_groups.json
"""
from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score  # UA, as ser_models.evaluation.metrics computes it

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "feature_groups.json"
STORE = ROOT / "bench" / ".store"
CORPORA = ["ravdess", "emodb", "casia"]
SHAPE = ("zcr", "rms", "centroid", "bandwidth", "rolloff", "flatness")


def groups(names: list[str]) -> np.ndarray:
    """The descriptor family of each feature name: mfcc, d (deltas), dd, chroma, contrast, mel, shape, f0, ge2e."""
    def family(name: str) -> str:
        head = name.split("__")[0].split("_")[0]
        if name.startswith(("f0", "voiced")):
            return "f0"
        return "shape" if head in SHAPE else head.rstrip("0123456789")
    return np.array([family(n) for n in names])


def fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from ser_models.classic import scaling

    model = make_pipeline(*scaling(), LogisticRegression(C=0.03, class_weight="balanced", max_iter=2000))
    return model.fit(x_train, y_train).predict(x_test)


def loco(rows, x: np.ndarray, keep: np.ndarray) -> dict[str, float]:
    corpus, original = rows["corpus"].to_numpy(), rows["augmentation"].to_numpy() == "none"
    y = rows["emotion"].to_numpy()
    out = {}
    for held in CORPORA:
        train, test = corpus != held, (corpus == held) & original
        out[held] = round(balanced_accuracy_score(y[test], fit_predict(x[train][:, keep], y[train], x[test][:, keep])), 3)
    return out


def main() -> None:
    from accuracy import LOCO_LABELS  # bench/ is on sys.path when run as a script

    from data_contracts.labels import parse_label_map
    from ser_models.data import load_feature_data
    from tasks.lib.feature_sets import get_feature_set
    from tasks.lib.store import Store

    warnings.filterwarnings("ignore", category=FutureWarning)
    names = get_feature_set("functionals_ge2e").names()
    family = groups(names)
    result: dict = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "command": "python bench/feature_groups.py", "loco_without": {}, "ravdess_on_emodb_alone": {}}
    shared = load_feature_data(Store(str(STORE)), ("functionals_ge2e",), CORPORA, parse_label_map(LOCO_LABELS))
    x = shared.vectors("functionals_ge2e")
    result["loco_all"] = loco(shared.rows, x, np.ones(len(names), bool))
    print("all features", result["loco_all"], flush=True)
    for g in sorted(set(family)):
        result["loco_without"][g] = loco(shared.rows, x, family != g)
        print("without", g, result["loco_without"][g], flush=True)

    both = load_feature_data(Store(str(STORE)), ("functionals_ge2e",), ["ravdess", "emodb"], {})
    x, rows = both.vectors("functionals_ge2e"), both.rows
    train = (rows["corpus"] == "ravdess").to_numpy()
    test = ((rows["corpus"] == "emodb") & (rows["augmentation"] == "none")).to_numpy()
    y = rows["emotion"].to_numpy()
    neutral = y[test] == "neutral"
    for g in sorted(set(family)):
        pred = fit_predict(x[train][:, family == g], y[train], x[test][:, family == g])
        called = f"{int((pred[neutral] == 'angry').sum())}/{int(neutral.sum())}"
        result["ravdess_on_emodb_alone"][g] = {"neutral_called_angry": called,
                                               "angry_share": round(float((pred == "angry").mean()), 3)}
        print(g, "alone:", result["ravdess_on_emodb_alone"][g], flush=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
