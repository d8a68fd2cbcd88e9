"""Which feature groups carry the shift between corpora: a diagnostic on the stored `functionals_ge2e` vectors.

Two questions, answered with a plain logistic regression (the `logreg` model's scaling, C fixed at 0.03 so
each fit is one fit) on the vectors bench/accuracy.py stored, originals and speed copies:
  loco     leave-one-corpus-out UA on the five shared emotions (bench/accuracy.py's label map), with all
           features and with each group left out in turn
  angry    a model trained on RAVDESS alone (8 classes), on one group at a time: how many EMO-DB neutral
           files it calls angry, and its share of angry answers over EMO-DB (the collapse of issue 16)
  invariant  leave-one-corpus-out keeping only the features that least tell the two training corpora apart
           (between-corpus over within-corpus variance, training corpora only): 100, 75, 50 and 25% of them

  .venv/bin/python bench/feature_groups.py [--parts loco,angry,invariant]
      (after bench/accuracy.py has built the bench store)  ->  bench/results/feature_groups.json
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


def fitted(x_train: np.ndarray, y_train: np.ndarray, C: float = 0.03, weights: np.ndarray | None = None):
    """The `logreg` model's scaling and a logistic regression at a fixed C, fitted (bench/loco_variants.py
    shares it)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from ser_models.classic import scaling

    model = make_pipeline(*scaling(), LogisticRegression(C=C, class_weight="balanced", max_iter=2000))
    return model.fit(x_train, y_train, logisticregression__sample_weight=weights)


def fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    return fitted(x_train, y_train).predict(x_test)


def loco(rows, x: np.ndarray, keep: np.ndarray) -> dict[str, float]:
    from accuracy import loco_splits

    y, out = rows["emotion"].to_numpy(), {}
    for held, train, test in loco_splits(rows):
        out[held] = round(balanced_accuracy_score(y[test], fit_predict(x[train][:, keep], y[train], x[test][:, keep])), 3)
    return out


def invariant(rows, x: np.ndarray) -> dict[str, dict[str, float]]:
    """Leave-one-corpus-out UA with the least corpus-dependent features kept, judged on the training corpora."""
    from accuracy import loco_splits

    corpus, y, out = rows["corpus"].to_numpy(), rows["emotion"].to_numpy(), {}
    for held, train, test in loco_splits(rows):
        xt, trained_on = x[train], np.unique(corpus[train])
        between = np.stack([xt[corpus[train] == c].mean(axis=0) for c in trained_on]).var(axis=0)
        within = np.mean([xt[corpus[train] == c].var(axis=0) for c in trained_on], axis=0)
        order = np.argsort(between / (within + 1e-12))  # the most corpus-invariant first
        out[held] = {}
        for share in (1.0, 0.75, 0.5, 0.25):
            cols = order[:int(share * len(order))]
            out[held][f"{share:.0%}"] = round(balanced_accuracy_score(y[test], fit_predict(xt[:, cols], y[train],
                                                                                         x[test][:, cols])), 3)
        print("invariant features kept,", held, "held out:", out[held], flush=True)
    return out


def stored_rows(feature_set: str, corpora: list[str], labels: str | None, store: Path = STORE):
    """A bench store's rows of `corpora` under a label map (None: each corpus's own labels), recordings and the
    copies `serflow train` adds by default (bench/encoder_variants.py shares it)."""
    from accuracy import default_copies  # bench/ is on sys.path when run as a script

    from data_contracts.labels import parse_label_map
    from ser_models.data import load_feature_data
    from tasks.lib.store import Store

    data = load_feature_data(Store(str(store)), (feature_set,), corpora, parse_label_map(labels) if labels else {})
    return data.subset(default_copies(data.rows))


def loco_data(feature_set: str):
    """The bench store's rows of the three corpora on the five shared emotions (bench/loco_variants.py shares it)."""
    from accuracy import LOCO_LABELS

    return stored_rows(feature_set, CORPORA, LOCO_LABELS)


def main() -> None:
    from tasks.lib.feature_sets import get_feature_set

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="loco,angry,invariant", help="which questions to answer (see above)")
    parts = parser.parse_args().parts.split(",")
    warnings.filterwarnings("ignore", category=FutureWarning)
    names = get_feature_set("functionals_ge2e").names()
    family = groups(names)
    result: dict = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    stamp = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             "command": "python bench/feature_groups.py --parts " + ",".join(parts)}
    shared = loco_data("functionals_ge2e")
    x = shared.vectors("functionals_ge2e")
    if "invariant" in parts:
        result["invariant_kept"] = {**stamp, **invariant(shared.rows, x)}
    if "loco" in parts:
        result.update(stamp, loco_without={})
        result["loco_all"] = loco(shared.rows, x, np.ones(len(names), bool))
        print("all features", result["loco_all"], flush=True)
        for g in sorted(set(family)):
            result["loco_without"][g] = loco(shared.rows, x, family != g)
            print("without", g, result["loco_without"][g], flush=True)
    if "angry" in parts:
        result["ravdess_on_emodb_alone"] = angry_alone(family)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


def angry_alone(family: np.ndarray) -> dict:
    """A RAVDESS-only model on one feature group at a time, scored on EMO-DB (the collapse of issue 16)."""
    from ser_models.data import load_feature_data
    from tasks.lib.store import Store

    out = {}
    both = load_feature_data(Store(str(STORE)), ("functionals_ge2e",), ["ravdess", "emodb"], {})
    x, rows = both.vectors("functionals_ge2e"), both.rows
    train = (rows["corpus"] == "ravdess").to_numpy()
    test = ((rows["corpus"] == "emodb") & (rows["augmentation"] == "none")).to_numpy()
    y = rows["emotion"].to_numpy()
    neutral = y[test] == "neutral"
    for g in sorted(set(family)):
        pred = fit_predict(x[train][:, family == g], y[train], x[test][:, family == g])
        called = f"{int((pred[neutral] == 'angry').sum())}/{int(neutral.sum())}"
        out[g] = {"neutral_called_angry": called, "angry_share": round(float((pred == "angry").mean()), 3)}
        print(g, "alone:", out[g], flush=True)
    return out


if __name__ == "__main__":
    main()
