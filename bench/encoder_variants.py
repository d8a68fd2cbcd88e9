"""Variants of the `ge2e_layers` extraction, each judged against today's code by a rule fixed before its run.

Each variant's rows sit in a bench store of their own, built with the variant's code; the recordings and
speed copies are the same as in the bench store, and only the `ge2e_layers` code differs:
  voice_level  (rule committed in 3552388) `ge2e_layers` brings each clip to -30 dBFS over the whole clip,
               pauses included, as resemblyzer does, then trims long pauses. RAVDESS's files are half
               silence, so their speech reaches the encoder about 2.6 dB louder than EMO-DB's and CASIA's,
               and louder than a call segment's, which VAD has already cut to speech. The variant levels the
               trimmed clip, the voice, to -30 dBFS.
  real_frames  a clip shorter than the encoder's 1.6 s partial is zero-padded, as resemblyzer pads it, and the
               layer statistics average the padded frames in; its embedding is read after them. The variant
               takes the statistics over the real frames only and reads the embedding at the last real frame
               (the LSTM runs forward, so the real frames' outputs do not depend on the padding). CASIA's
               trimmed clips are the shortest (median 1.50 s against 1.80 and 1.92; 10.5% of their partials'
               frames are padding, against 2.6% and 4.5%): the variant was suggested by CASIA's unlabelled audio.

Each store is judged with a plain logistic regression on its stored rows (bench/feature_groups.py's
`fitted`, C = 0.01, corpora weighted as `serflow train` weights them), trained on recordings and speed
copies, tested per file on recordings:
  within     EMO-DB LOSO and RAVDESS 5 folds by actor (the bench's folds), each corpus's own labels
  transfer   RAVDESS -> EMO-DB and EMO-DB -> RAVDESS on LOCO_LABELS (English <-> German)
  loco       each of the three corpora held out, trained on the other two (reported, not used to decide)

Decision, the same for every variant: it is adopted iff neither the mean of the two `within` UAs nor the mean
of the two `transfer` UAs falls by more than 0.005 against today's code. CASIA never decides.

A variant's store, from the bench store (bench/accuracy.py builds it) and the variant's code, kept here as a
patch against tasks/lib/feature_sets/voice.py:
  git apply bench/encoder_variants/NAME.patch
  mkdir PATH && cp -r bench/.store/{audio_cache,manifests,validation} PATH
  .venv/bin/serflow features --store PATH --feature-set ge2e_layers --augment speedx2 --augment-speakers all
  git checkout tasks/lib/feature_sets/voice.py
  .venv/bin/python bench/encoder_variants.py --variant NAME --variant-store PATH
      ->  bench/results/encoder_variants.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from feature_groups import fitted, stored_rows  # bench/ is on sys.path when run as a script
from sklearn.metrics import balanced_accuracy_score  # UA, as ser_models.evaluation.metrics computes it

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "encoder_variants.json"
VARIANTS = ("voice_level", "real_frames")
FEATURES = "ge2e_layers"
C = 0.01


def ua(rows, x: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    """Per-file UA on `test` of the plain logistic regression fitted on `train`."""
    from ser_models.data import corpus_weights

    y = rows["emotion"].to_numpy()
    model = fitted(x[train], y[train], C, corpus_weights(rows["corpus"].to_numpy()[train]))
    return round(float(balanced_accuracy_score(y[test], model.predict(x[test]))), 4)


def within(store: str, corpus: str) -> float:
    """Per-file UA pooled over the bench's speaker folds of one corpus."""
    from accuracy import CV

    from ser_models.evaluation import fold_indices, make_folds

    data = stored_rows(FEATURES, [corpus], None, store)
    plan, x, y = make_folds(data.rows, CV[corpus]), data.vectors(FEATURES), data.rows["emotion"].to_numpy()
    truth, predicted = [], []
    for fold in plan.folds:
        train, test = fold_indices(data.rows, fold, plan.speaker_independent)
        model = fitted(x[train], y[train], C)
        truth.append(y[test])
        predicted.append(model.predict(x[test]))
    return round(float(balanced_accuracy_score(np.concatenate(truth), np.concatenate(predicted))), 4)


def held_out(store: str, corpora: list[str]) -> dict[str, float]:
    """Per-file UA on each of `corpora` held out, trained on the others (bench/accuracy.py's `loco_splits`)."""
    from accuracy import LOCO_LABELS, loco_splits

    data = stored_rows(FEATURES, corpora, LOCO_LABELS, store)
    x = data.vectors(FEATURES)  # stacked once for every split
    return {held: ua(data.rows, x, train, test) for held, train, test in loco_splits(data.rows)}


def judged(store: str) -> dict:
    transfer = held_out(store, ["ravdess", "emodb"])  # one corpus trains, the other is held out
    out = {"within": {c: within(store, c) for c in ("emodb", "ravdess")},
           "transfer": {"ravdess->emodb": transfer["emodb"], "emodb->ravdess": transfer["ravdess"]},
           "loco": held_out(store, ["ravdess", "emodb", "casia"])}
    for part in ("within", "transfer"):
        out[f"{part}_mean"] = round(float(np.mean(list(out[part].values()))), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    parser.add_argument("--variant-store", required=True)
    parser.add_argument("--store", default=str(ROOT / "bench" / ".store"), help="today's code's rows")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    result = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "C": C}
    for side, store in (("today", args.store), ("variant", args.variant_store)):
        result[side] = judged(store)
        print(side, json.dumps(result[side]), flush=True)
    result["adopt"] = all(result["variant"][f"{p}_mean"] >= result["today"][f"{p}_mean"] - 0.005
                          for p in ("within", "transfer"))
    print(f"adopt {args.variant}:", result["adopt"], flush=True)
    everything = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**everything, args.variant: result}, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
