"""Speaker-independent accuracy of every model on the shared corpora, reported as served (per file).

  emodb    leave-one-speaker-out (10 speakers)
  ravdess  5 folds by actor over actors 01-20 (speaker-kfold:5)
  casia    4 folds by speaker
  --loco   leave one corpus out: train on the others, test on every recording of the held-out one

UA per file is each test file scored alone, the way `serflow predict` and one call segment see it. With
--speaker-norm the table also gives UA with speaker context (each test speaker normalised by its own
unlabelled test audio), which is transductive and never the headline.

Each (corpus, model, augmentation) run trains through the train-model flow (features built once and
reused from the bench store), and its pooled UA / WA / macro-F1 and training minutes are merged into
bench/results/accuracy.json, so the benchmark can be run piecewise:

  .venv/bin/python bench/accuracy.py --corpora emodb --models mlp,svm,rf --augment none,noise
  .venv/bin/python bench/accuracy.py --loco --corpora ravdess,emodb,casia --models logreg --augment none
  .venv/bin/python bench/accuracy.py --corpora ravdess --models svm --labels calm=neutral --shares-on emodb
  .venv/bin/python bench/accuracy.py --corpora emodb --models cnn,cl --device cuda   (a GPU: rows cnn@cuda, cl@cuda)
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ser_models.inference import LoadedModel

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
RESULTS = ROOT / "bench" / "results" / "accuracy.json"
CV = {"emodb": "loso", "ravdess": "speaker-kfold:5", "casia": "speaker-kfold:4"}
MODELS = ["mlp", "svm", "svm_linear", "logreg", "rf", "cnn", "cl", "ensemble"]
# Leave-one-corpus-out keeps the five emotions all three shared corpora have; calm folds into neutral.
LOCO_LABELS = "calm=neutral,disgust=,surprised=,boredom="


def default_keys() -> list[str]:
    """The `augmentation` keys of a recording and of the copies `serflow train` adds by default
    (`TRAIN_DEFAULT`), in order: ['none', 'speed#0', 'speed#1']."""
    from tasks.lib.augment import NO_AUGMENTATION, TRAIN_DEFAULT, AugmentationRequest

    return [NO_AUGMENTATION, *(key for spec in TRAIN_DEFAULT for key in AugmentationRequest.parse(spec).keys())]


def default_copies(rows) -> np.ndarray:
    """Row indices of the recordings and the copies `serflow train` adds by default: the benches on stored
    vectors train on the same rows."""
    return np.flatnonzero(rows["augmentation"].isin(default_keys()).to_numpy())


def loco_splits(rows) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(held-out corpus, train rows, test rows) per corpus in `rows`: train on the others with their copies,
    test on the held-out corpus's recordings."""
    from tasks.lib.augment import NO_AUGMENTATION

    corpus, original = rows["corpus"].to_numpy(), rows["augmentation"].to_numpy() == NO_AUGMENTATION
    return [(held, np.flatnonzero(corpus != held), np.flatnonzero((corpus == held) & original))
            for held in dict.fromkeys(corpus)]


def load_results(path: Path = RESULTS, section: str = "runs") -> dict:
    return json.loads(path.read_text()) if path.exists() else {section: {}}


def save_result(key: str, row: dict, path: Path = RESULTS, section: str = "runs") -> None:
    """Merge one row into a results file (bench/references.py shares this), so a benchmark runs piecewise."""
    results = load_results(path, section)
    results[section][key] = row
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def ensure_ingested(store: str, corpora: list[str]) -> None:
    """Ingest each shared corpus the bench store does not hold yet (bench/references.py shares this)."""
    from flows.ingest import ingest_corpus
    from tasks.lib.store import Store
    from tasks.lib.tables import read_manifest

    for corpus in corpora:
        if read_manifest(Store(store), [corpus]).empty:
            ingest_corpus(kind=corpus, path=str(CORPORA / corpus), store=store)


def markdown(results: dict) -> str:
    lines = ["| corpus | cv | model | features | speaker norm | augmentation | UA per file (as served) "
             "| UA with speaker context | WA | macro-F1 | chance | CV train min |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(results["runs"]):
        r = results["runs"][key]
        if "ua_per_file" not in r:  # rows of an older feature version, kept in the JSON for the record
            continue
        context = f"{r['ua_speaker_context']:.3f}" if r.get("ua_speaker_context") is not None else "–"
        features = "+".join(r["feature_config_hashes"])
        lines.append(f"| {r['corpus']} | {r['cv']} | {r['model']} | {features} | {'yes' if r['speaker_norm'] else 'no'} | {r['augment']} "
                     f"| **{r['ua_per_file']:.3f}** | {context} | {r['wa']:.3f} | {r['macro_f1']:.3f} "
                     f"| {1 / len(r['classes']):.3f} | {r['cv_train_minutes']:.1f} |")
    return "\n".join(lines)


def record(key: str, corpus: str, cv: str, model: str, augment: str, norm: bool, pooled: dict,
           context: dict | None, card: dict, start: float, command: str, shares: dict | None = None) -> None:
    """One result row, per-file UA first, merged into accuracy.json."""
    row = {"corpus": corpus, "cv": cv, "model": model, "augment": augment, "speaker_norm": norm,
           "serving": "per-file", "ua_per_file": pooled["ua"], "ua": pooled["ua"], "wa": pooled["wa"],
           "macro_f1": pooled["macro_f1"], "n": pooled["n"],
           "ua_speaker_context": context["ua"] if context else None, "classes": card["classes"],
           "cv_train_minutes": card["train_seconds"]["folds"] / 60,
           "final_train_minutes": card["train_seconds"]["final"] / 60,
           "wall_minutes_incl_features": (time.perf_counter() - start) / 60, "cpu_count": os.cpu_count(),
           "version": f"{card['name']}:{card['version']}", "feature_config_hashes": card["feature_config_hashes"],
           "code_version": card["code_version"], "command": command,
           "calibration": card.get("calibration"), "domain_guard": card.get("domain_guard"),
           "predicted_shares": shares, "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    save_result(key, row)
    print(f"{corpus} {cv} {model} {augment}: UA per file {row['ua_per_file']:.3f}"
          + (f", with speaker context {row['ua_speaker_context']:.3f}" if context else "")
          + f" (chance {1 / len(card['classes']):.3f}); ECE on training-corpus CV {card['calibration']['ece_before']:.3f}"
          f" -> {card['calibration']['ece_after']:.3f}" + ("" if card["calibration"].get("applied", True) else " (not served)")
          + (f"; predicted shares on {shares['corpus']}: {shares['shares']}" if shares else "")
          + (f", with speaker context {shares['shares_speaker_context']}" if shares and norm else ""), flush=True)


def held_out_metrics(store: str, model: LoadedModel, corpus: str, label_map: dict, norm: bool) -> tuple[dict, dict | None]:
    """Score a held-out corpus with a loaded registered model: per file, and per speaker when it normalises."""
    from ser_models.data import load_feature_data
    from ser_models.evaluation import metrics
    from ser_models.speaker_norm import served_predictions
    from tasks.lib.store import Store

    data = load_feature_data(Store(store), model.estimator.feature_sets, [corpus], label_map)
    data = data.subset(data.original)
    data = data.subset(data.rows["emotion"].isin(model.classes).to_numpy().nonzero()[0])
    y_true = model.estimator.labels(data)
    proba, y_context = served_predictions(model.estimator, data, norm)
    per_file = metrics(y_true, proba.argmax(1), model.classes)
    return per_file, metrics(y_true, y_context, model.classes) if norm else None


def predicted_shares(store: str, spec: str, corpus: str, norm: bool) -> dict:
    """Share of each predicted class over every recording of `corpus`, each file scored alone (as served): a
    model that collapses on unfamiliar audio gives one class nearly every file. A model that normalises per
    speaker also gives the shares with each speaker's own recordings as context (`serflow predict --group-by`)."""
    from ser_models.data import load_feature_data
    from ser_models.inference import load_model
    from ser_models.speaker_norm import served_predictions
    from tasks.lib.store import Store

    model = load_model(Store(store), spec)
    data = load_feature_data(Store(store), model.estimator.feature_sets, [corpus], {})
    data = data.subset(data.original)
    proba, y_context = served_predictions(model.estimator, data, norm)

    def shares(labels: np.ndarray) -> dict[str, float]:
        counts = np.bincount(labels, minlength=len(model.classes))
        return {c: round(float(n / len(data)), 4) for c, n in zip(model.classes, counts)}

    return {"corpus": corpus, "shares": shares(proba.argmax(axis=1)),
            **({"shares_speaker_context": shares(y_context)} if norm else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", default="emodb,ravdess")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--augment", default="speedx2", help="comma list of runs: none, or presets like speedx2 (the train default); one run "
                             "may take several, space-separated ('speedx2 tone')")
    parser.add_argument("--members", help="ensemble members (default: the catalog's)")
    parser.add_argument("--speaker-norm", action="store_true", help="per-speaker normalisation (reported both ways)")
    parser.add_argument("--loco", action="store_true", help="leave one corpus out over --corpora, on LOCO_LABELS "
                        "(or --labels)")
    parser.add_argument("--store", default=str(ROOT / "bench" / ".store"))
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where torch models train; cuda rows are recorded apart, as MODEL@cuda")
    parser.add_argument("--shares-on", metavar="CORPUS",
                        help="also score every file of CORPUS with each model trained on another corpus and record "
                             "the share of each predicted class (the collapse check)")
    parser.add_argument("--labels", metavar="MAP",
                        help="a label map, as serflow train --labels (e.g. calm=neutral): for within-corpus runs, "
                             "or with --loco instead of LOCO_LABELS; rows keyed with it")
    parser.add_argument("--table", action="store_true", help="print the results table and exit")
    args = parser.parse_args()
    if args.table:
        print(markdown(load_results()))
        return
    if not CORPORA.is_dir():
        sys.exit(f"{CORPORA} not found: this benchmark needs the shared corpora")
    from flows.settings import apply_settings, without_heartbeats

    apply_settings()  # before Prefect is imported: its settings are read once
    corpora = args.corpora.split(",")
    ensure_ingested(args.store, corpora + ([args.shares_on] if args.shares_on else []))
    with without_heartbeats():
        for augment in args.augment.split(","):
            for model in args.models.split(","):
                if args.loco:
                    for held in corpora:
                        run_loco(args, held, [c for c in corpora if c != held], model, augment)
                else:
                    for corpus in corpora:
                        run_within(args, corpus, model, augment)
    print(markdown(load_results()))


def presets_of(augment: str) -> list[str]:
    """One run's --augment item as `serflow train` takes it: 'speedx2 tone' -> two presets, 'none' -> none."""
    return [] if augment == "none" else augment.split()


def members_of(model: str, members: str | None) -> list[str] | None:
    return members.split(",") if model == "ensemble" and members else None


def run_flags(args: argparse.Namespace, model: str) -> str:
    """The options of this run that a row's command repeats."""
    return ((" --speaker-norm" if args.speaker_norm else "") + (" --device cuda" if args.device == "cuda" else "")
            + (f" --members {args.members}" if members_of(model, args.members) else "")
            + (f" --labels {args.labels}" if args.labels else ""))


def model_label(model: str, members: str | None, device: str = "cpu") -> str:
    """The model as rows name it: an ensemble with its members, e.g. ensemble(svm+logreg); cnn@cuda when trained
    on a GPU."""
    chosen = members_of(model, members)
    return (f"{model}({'+'.join(chosen)})" if chosen else model) + ("@cuda" if device == "cuda" else "")


def relabelled(label: str, labels: str | None) -> tuple[str, str]:
    """A row's model label with the run's label map, e.g. 'logreg [calm=neutral]', and the registry name's
    suffix for it, '-calm-neutral' (both unchanged without a map)."""
    return (f"{label} [{labels}]", "-" + safe(labels)) if labels else (label, "")


def safe(label: str) -> str:
    """A registry name part for a row label or label map: ensemble(svm+logreg) -> ensemble-svm-logreg,
    cnn@cuda -> cnn-cuda, calm=neutral -> calm-neutral."""
    return re.sub(r"[^a-z0-9_]+", "-", label.lower()).strip("-")


def run_within(args: argparse.Namespace, corpus: str, model: str, augment: str) -> None:
    """Speaker-independent CV inside one corpus, through the train-model flow."""
    from flows.features import build_features
    from flows.train import train_model
    from ser_models import registry
    from tasks.lib.store import Store

    start, norm = time.perf_counter(), args.speaker_norm
    suffix = "-norm" if norm else ""
    label = model_label(model, args.members, args.device)
    shown, relabel = relabelled(label, args.labels)
    summary = train_model(model=model, corpus=[corpus], cv=CV[corpus], augment=presets_of(augment),
                          store=args.store, name=f"bench-{corpus}-{safe(label)}-{safe(augment)}{suffix}{relabel}",
                          speaker_norm=norm, members=members_of(model, args.members), device=args.device,
                          labels=args.labels)
    spec = f"{summary.name}:{summary.version}"
    card = registry.resolve(Store(args.store), spec).card
    command = (f"python bench/accuracy.py --corpora {corpus} --models {model} --augment {shlex.quote(augment)}"
               + run_flags(args, model))
    shares = None
    if args.shares_on and args.shares_on != corpus:
        build_features(feature_set=card["feature_sets"][0], corpus=[args.shares_on], store=args.store)
        shares = predicted_shares(args.store, spec, args.shares_on, norm)
        command += f" --shares-on {args.shares_on}"
    record(f"{corpus}|{shown}|{augment}{suffix}", corpus, card["cv_label"], shown, augment, norm,
           card["metrics"]["pooled"], card["metrics"].get("pooled_speaker_context"), card, start, command, shares)


def hold_out(store: str, held: str, train_on: list[str], model: str, augment: str, labels: str, name: str,
             norm: bool = False, members: list[str] | None = None, device: str = "cpu") -> tuple[dict, dict | None, dict]:
    """Train `model` on `train_on` (5 speaker folds across several corpora, one corpus's own bench folds) through
    the train-model flow and score every recording of `held`: per-file metrics, metrics with speaker context (None
    without --speaker-norm), the card (bench/loco_select.py shares this)."""
    from data_contracts.labels import parse_label_map
    from flows.train import train_model
    from ser_models.inference import load_model
    from tasks.lib.store import Store

    cv = CV[train_on[0]] if len(train_on) == 1 else "speaker-kfold:5"  # CASIA alone has four speakers
    summary = train_model(model=model, corpus=train_on, cv=cv, labels=labels,
                          augment=presets_of(augment), store=store, name=name, speaker_norm=norm, members=members,
                          device=device)
    trained = load_model(Store(store), f"{summary.name}:{summary.version}")
    return *held_out_metrics(store, trained, held, parse_label_map(labels), norm), trained.card


def loco_key(held: str, train_on: list[str], shown: str, augment: str, norm: bool = False) -> str:
    """accuracy.json's key of a leave-one-corpus-out row, e.g. 'loco:casia<ravdess+emodb|logreg|speedx2': a run
    over two corpora keeps the rows of one over three (bench/loco_select.py reads rows by it)."""
    return f"loco:{held}<{'+'.join(train_on)}|{shown}|{augment}" + ("-norm" if norm else "")


def run_loco(args: argparse.Namespace, held: str, train_on: list[str], model: str, augment: str) -> None:
    """Train on the other corpora (speaker folds across them), test on every recording of the held-out one."""
    start, norm = time.perf_counter(), args.speaker_norm
    label = model_label(model, args.members, args.device)
    shown, relabel = relabelled(label, args.labels)
    name = f"loco-{held}-{safe(label)}-{safe(augment)}" + ("-norm" if norm else "") + relabel
    per_file, context, card = hold_out(args.store, held, train_on, model, augment, args.labels or LOCO_LABELS,
                                       name, norm, members_of(model, args.members), args.device)
    command = (f"python bench/accuracy.py --loco --corpora {args.corpora} --models {model} --augment {shlex.quote(augment)}"
               + run_flags(args, model))
    record(loco_key(held, train_on, shown, augment, norm), held,
           f"leave-one-corpus-out (trained on {'+'.join(train_on)})", shown, augment, norm, per_file, context,
           card, start, command)


if __name__ == "__main__":
    main()
