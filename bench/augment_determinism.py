"""Are stored augmented copies the ones their seeds give? Recomputes each copy's parameters in one process.

  --build   first ingest EMO-DB into a fresh temporary store and build `mfcc40_mean` with one
            `noise+pitch` copy of every utterance over 2 Dask workers (the path a training run takes)
  --store   or check an existing store's feature set as it is (e.g. bench/.store, functionals)

Usage: .venv/bin/python bench/augment_determinism.py --build
       .venv/bin/python bench/augment_determinism.py --store bench/.store --feature-set functionals
"""
from __future__ import annotations

import argparse
import tempfile
from functools import lru_cache
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
EMODB = ROOT.parent / "shared" / "corpora" / "emodb"


def build(store: str) -> None:
    from flows.features import build_features
    from flows.ingest import ingest_corpus
    from tasks.lib.feature_store import ALL_SPEAKERS

    ingest_corpus("emodb", str(EMODB), store=store)
    build_features(feature_set="mfcc40_mean", augment=["noise+pitch"], augment_speakers=[ALL_SPEAKERS],
                   store=store, workers=2)


def check(store: str, feature_set: str) -> None:
    from tasks.lib.audio import TARGET_SR, load
    from tasks.lib.augment import augment

    decoded = lru_cache(maxsize=1)(load)  # rows come ordered by file: each file is decoded once
    rows = duckdb.sql(
        f"select f.config_hash, u.utterance_id, u.path, f.augmentation, f.aug_params "
        f"from read_parquet('{store}/features/{feature_set}/**/*.parquet', hive_partitioning=true) f "
        f"join read_parquet('{store}/manifests/utterances/**/*.parquet') u using (utterance_id) "
        f"where f.augmentation <> 'none' order by u.path, f.config_hash, f.augmentation").fetchall()
    differ: dict[str, list[int]] = {}
    for config_hash, utterance_id, path, augmentation, params in rows:
        counts = differ.setdefault(config_hash, [0, 0])
        counts[0] += augment(decoded(path), TARGET_SR, utterance_id, augmentation)[1] != params
        counts[1] += 1
    for config_hash, (bad, total) in sorted(differ.items()):
        print(f"{feature_set} {config_hash}: {bad} of {total} augmented rows differ from their seed's parameters")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--store")
    parser.add_argument("--feature-set", default="mfcc40_mean")
    args = parser.parse_args()
    if args.build:
        with tempfile.TemporaryDirectory() as store:
            build(store)
            check(store, "mfcc40_mean")
    else:
        check(args.store, args.feature_set)


if __name__ == "__main__":
    main()
