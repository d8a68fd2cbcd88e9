"""Would other ensemble members close the robust-recognition gaps? Per-file UA of every soft vote, on stored vectors.

Each scikit-learn model `serflow train` offers (svm, logreg, svm_linear, rf; the configs the catalog builds,
speed copies of the training speakers included) is fitted once per split; every combination of them is then
scored as `ensemble` votes (mean probability), each test file alone. Two settings:
  emodb    EMO-DB leave-one-speaker-out, 7 classes (the default ensemble is svm+logreg)
  loco     leave-one-corpus-out over ravdess, emodb, casia on bench/accuracy.py's five shared emotions
--select K keeps, after scaling, only the K features of highest ANOVA F on each split's training rows.
--tta averages each test file's probabilities with those of its two stored speed copies (test-time
augmentation: still each file alone, at three times the feature cost).
--corpus-balanced weights each training row by 1 / its corpus's row count, so every training corpus counts
the same (on top of the members' balanced class weights), as `serflow train` does since this bench showed it
helps; without it, the members are fitted unweighted, as before.

  .venv/bin/python bench/members.py [--settings emodb,loco] [--members svm,logreg] [--select 600] [--tta] [--corpus-balanced]
      (after bench/accuracy.py has built the bench store)  ->  bench/results/members.json
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score  # UA, as ser_models.evaluation.metrics computes it

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "members.json"
STORE = ROOT / "bench" / ".store"
MEMBERS = ("svm", "logreg", "svm_linear", "rf")


def soft_votes(truth: np.ndarray, classes: np.ndarray, proba: dict[str, np.ndarray]) -> dict[str, float]:
    """UA of every non-empty combination of members: the argmax of their summed (so also mean) probabilities."""
    return {"+".join(combo): round(float(balanced_accuracy_score(truth, classes[sum(proba[m] for m in combo).argmax(1)])), 4)
            for r in range(1, len(proba) + 1) for combo in itertools.combinations(proba, r)}


def member_pipeline(member: str, speakers: np.ndarray, select: int | None):
    """The pipeline `serflow train` fits for this member; with select, ANOVA F selection before the classifier."""
    from sklearn.feature_selection import SelectKBest, f_classif

    from ser_models.catalog import build_estimator
    from ser_models.classic import build_pipeline

    pipeline = build_pipeline(build_estimator(member).config, speakers)
    if select:
        pipeline.steps.insert(len(pipeline.steps) - 1, ("select", SelectKBest(f_classif, k=select)))
    return pipeline


def splits(setting: str, rows) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, train rows, test rows): test rows are recordings only, train rows keep their speakers' speed copies."""
    from accuracy import loco_splits  # bench/ is on sys.path when run as a script

    from ser_models.evaluation import fold_indices, make_folds

    if setting == "emodb":
        return [(f.name, *fold_indices(rows, f, speaker_independent=True)) for f in make_folds(rows, "loso").folds]
    return loco_splits(rows)


def held_out_proba(model, x: np.ndarray, test: np.ndarray, copies: list[np.ndarray] | None) -> np.ndarray:
    """Probabilities of the test files; with copies (each row's own and its speed copies' rows), each test
    file's the mean over itself and its copies."""
    if copies is None:
        return model.predict_proba(x[test])
    return np.stack([model.predict_proba(x[copies[i]]).mean(axis=0) for i in test])


def run(setting: str, members: list[str], select: int | None, tta: bool, corpus_balanced: bool) -> dict:
    from accuracy import LOCO_LABELS, default_copies  # bench/ is on sys.path when run as a script

    from data_contracts.labels import parse_label_map
    from ser_models.catalog import DEFAULT_VECTOR_SET
    from ser_models.classic import fit_corpus_weighted
    from ser_models.data import load_feature_data
    from tasks.lib.store import Store

    corpora, labels = (["emodb"], {}) if setting == "emodb" else (["ravdess", "emodb", "casia"], parse_label_map(LOCO_LABELS))
    data = load_feature_data(Store(str(STORE)), (DEFAULT_VECTOR_SET,), corpora, labels)
    keep = default_copies(data.rows)
    rows = data.rows.iloc[keep].reset_index(drop=True)
    x, y, speakers = data.vectors(DEFAULT_VECTOR_SET)[keep], rows["emotion"].to_numpy(), rows["speaker_id"].to_numpy()
    row_corpus = rows["corpus"].to_numpy()
    by_utterance = rows.groupby("utterance_id").indices
    copies = [by_utterance[u] for u in rows["utterance_id"]] if tta else None
    truth, proba, start = {}, {}, time.time()
    for name, train, test in splits(setting, rows):
        truth[name] = y[test]
        for member in members:
            model = member_pipeline(member, speakers[train], select)
            if corpus_balanced:
                fit_corpus_weighted(model, x[train], y[train], row_corpus[train])
            else:
                model.fit(x[train], y[train])
            proba.setdefault(name, {})[member] = held_out_proba(model, x, test, copies)
        classes = model.classes_
        print(f"{setting} {name}: {time.time() - start:.0f} s", flush=True)
    if setting == "emodb":  # pooled over the speakers' folds
        pooled = {m: np.concatenate([proba[f][m] for f in truth]) for m in members}
        ua = {"emodb": soft_votes(np.concatenate(list(truth.values())), classes, pooled)}
    else:
        ua = {held: soft_votes(truth[held], classes, proba[held]) for held in truth}
    return {"ua_per_file": ua, "minutes": round((time.time() - start) / 60, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="emodb,loco", help="emodb, loco or both")
    parser.add_argument("--members", default=",".join(MEMBERS), help=f"some of {','.join(MEMBERS)}")
    parser.add_argument("--select", type=int, help="keep the K features of highest ANOVA F (training rows only)")
    parser.add_argument("--tta", action="store_true", help="average each test file with its stored speed copies")
    parser.add_argument("--corpus-balanced", action="store_true", help="every training corpus weighs the same")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    result = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for setting in args.settings.split(","):
        key = (setting + (f"-select{args.select}" if args.select else "") + ("-tta" if args.tta else "")
               + ("-corpus-balanced" if args.corpus_balanced else ""))
        result[key] = {**run(setting, args.members.split(","), args.select, args.tta, args.corpus_balanced),
                       "features": "functionals_ge2e", "augment": "speedx2", "select": args.select, "tta": args.tta,
                       "corpus_balanced": args.corpus_balanced,
                       "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result[key]["ua_per_file"], indent=1), flush=True)


if __name__ == "__main__":
    main()
