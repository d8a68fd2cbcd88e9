"""Speaker-independent accuracy of every model on the shared corpora.

  emodb    leave-one-speaker-out (10 speakers)
  ravdess  5 folds by actor over actors 01-20 (speaker-kfold:5)

Each (corpus, model, augmentation) run trains through the train-model flow (features built once and
reused from the bench store), and its pooled UA / WA / macro-F1 and training minutes are merged into
bench/results/accuracy.json, so the benchmark can be run piecewise:

  .venv/bin/python bench/accuracy.py --corpora emodb --models mlp,svm,rf --augment none,noise
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
RESULTS = ROOT / "bench" / "results" / "accuracy.json"
CV = {"emodb": "loso", "ravdess": "speaker-kfold:5"}
MODELS = ["mlp", "svm", "svm_linear", "logreg", "rf", "cnn", "cl", "ensemble"]


def load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": {}}


def save_result(key: str, row: dict) -> None:
    results = load_results()
    results["runs"][key] = row
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def markdown(results: dict) -> str:
    lines = ["| corpus | cv | model | speaker norm | augmentation | UA | WA | macro-F1 | CV train min | final train min |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(results["runs"]):
        r = results["runs"][key]
        lines.append(f"| {r['corpus']} | {r['cv']} | {r['model']} | {'yes' if r['speaker_norm'] else 'no'} | {r['augment']} | {r['ua']:.3f} | {r['wa']:.3f} "
                     f"| {r['macro_f1']:.3f} | {r['cv_train_minutes']:.1f} | {r['final_train_minutes']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", default="emodb,ravdess")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--augment", default="none,noise", help="comma list: none and/or a preset like noise")
    parser.add_argument("--no-speaker-norm", action="store_true", help="raw features (the ablation)")
    parser.add_argument("--store", default=str(ROOT / "bench" / ".store"))
    parser.add_argument("--table", action="store_true", help="print the results table and exit")
    args = parser.parse_args()
    if args.table:
        print(markdown(load_results()))
        return
    if not CORPORA.is_dir():
        sys.exit(f"{CORPORA} not found: this benchmark needs the shared corpora")
    from flows.ingest import ingest_corpus
    from flows.train import train_model
    from ser_models import registry
    from tasks.lib.store import Store
    from tasks.lib.tables import read_manifest

    norm = not args.no_speaker_norm
    suffix = "" if norm else "-raw"
    for corpus in args.corpora.split(","):
        if read_manifest(Store(args.store), [corpus]).empty:
            ingest_corpus(kind=corpus, path=str(CORPORA / corpus), store=args.store)
        for augment in args.augment.split(","):
            for model in args.models.split(","):
                start = time.perf_counter()
                aug = [] if augment == "none" else [augment]
                summary = train_model(model=model, corpus=[corpus], cv=CV[corpus], augment=aug, store=args.store,
                                      name=f"bench-{corpus}-{model}-{augment}{suffix}", speaker_norm=norm)
                card = registry.resolve(Store(args.store), f"{summary.name}:{summary.version}").card
                pooled = card["metrics"]["pooled"]
                row = {"corpus": corpus, "cv": card["cv_label"], "model": model, "augment": augment, "speaker_norm": norm,
                       "ua": pooled["ua"], "wa": pooled["wa"], "macro_f1": pooled["macro_f1"], "n": pooled["n"],
                       "classes": card["classes"], "folds": len(card["metrics"]["folds"]),
                       "cv_train_minutes": card["train_seconds"]["folds"] / 60,
                       "final_train_minutes": card["train_seconds"]["final"] / 60,
                       "wall_minutes_incl_features": (time.perf_counter() - start) / 60,
                       "cpu_count": os.cpu_count(), "version": f"{summary.name}:{summary.version}",
                       "feature_config_hashes": card["feature_config_hashes"], "code_version": card["code_version"],
                       "command": f"python bench/accuracy.py --corpora {corpus} --models {model} --augment {augment}"
                                  + ("" if norm else " --no-speaker-norm")}
                save_result(f"{corpus}|{model}|{augment}{suffix}", row)
                print(f"{corpus} {model} {augment}: UA {row['ua']:.3f} WA {row['wa']:.3f} F1 {row['macro_f1']:.3f} "
                      f"({row['cv_train_minutes']:.1f} min CV)", flush=True)
    print(markdown(load_results()))


if __name__ == "__main__":
    main()
