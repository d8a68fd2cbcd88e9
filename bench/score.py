"""End-to-end call scoring speed: minutes of calls scored, x realtime overall and per stage, on this machine.

Builds its own small model (synthetic corpus, SVM on the default feature set or --feature-set, with
telephone augmentation), writes long synthetic calls (stereo 8 kHz mu-law, mono 16 kHz, stereo FLAC, mono
8 kHz A-law), then runs the score-calls flow on 2 Dask workers. Stage times are summed over workers (CPU-seconds per stage);
the mono calls (two synthetic voices each) are diarized, and their diarization error rate is reported.

The warm run is repeated --rounds times on the same standing cluster, each on a fresh store; the median
round is reported beside every round's rate. This VM's speed drifts by half from one hour to the next, so
the same calls also go through bench/features.py's plain loop (librosa.load + MFCC-40) in 2 single-threaded
processes before and after the warm rounds, as a record of the machine's speed at the time. It does not
rescale the scoring rate: the two move differently (docs/benchmarks.md).

Usage: .venv/bin/python bench/score.py [--calls 8] [--turns 40] [--rounds 3] [--feature-set functionals]
       ->  bench/results/score.json (score-functionals.json with --feature-set functionals)
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "score.json"


def warm_worker(store: str, spec: str) -> None:
    """Imports, the VAD session and the model, as a long-lived worker would already have them."""
    import numpy as np

    from ser_models.inference import features_of
    from tasks.lib.store import Store
    from tasks.lib.vad import WindowConfig, speech_regions
    from tasks.score import cached_model

    model = cached_model(Store(store), spec)
    clip = np.random.default_rng(0).normal(0, 0.1, 48_000).astype(np.float32)
    speech_regions(clip, WindowConfig())
    model.estimator.predict_proba(features_of([clip], model.estimator.feature_sets))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--turns", type=int, default=40, help="utterance turns per call (~5 s each)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="warm runs, each on a fresh store (median reported)")
    parser.add_argument("--feature-set", help="what the SVM reads (default: the model's default, ser_models.catalog.DEFAULT_VECTOR_SET)")
    args = parser.parse_args()
    import shutil

    import pandas as pd
    from dask.distributed import Client
    from features import plain_loop_2proc  # bench/ is on sys.path when run as a script

    from flows.fanout import standing_cluster
    from flows.ingest import ingest_corpus
    from flows.score import score_calls
    from flows.settings import session_server
    from flows.train import train_model
    from ser_models import registry
    from ser_models.evaluation import diarization_error, segment_level_metrics
    from tasks.lib.inbox import list_inbox
    from tasks.lib.store import Store
    from tasks.lib.synth import synth_calls, synth_corpus

    with tempfile.TemporaryDirectory() as tmp, session_server() as api_url:
        store = f"{tmp}/store"
        synth_corpus(Path(tmp, "corpus"), n_speakers=6, repetitions=1)
        ingest_corpus(kind="ravdess", path=f"{tmp}/corpus", name="syn", store=store)
        train_model(model="svm", corpus=["syn"], cv="speaker-kfold:3", augment=["telephone", "noise"], store=store,
                    name="bench", feature_set=args.feature_set)
        labels = pd.DataFrame(synth_calls(Path(tmp, "inbox"), n_calls=args.calls, turns=args.turns))
        start = time.perf_counter()
        summary = score_calls(inbox=f"{tmp}/inbox", model="bench", store=store, workers=args.workers)
        wall = time.perf_counter() - start
        spec = f"bench:{registry.resolve(Store(store), 'bench').version}"
        synth_calls(Path(tmp, "warm-inbox"), n_calls=4, turns=2, seed=1)
        calls = [call.path for call in list_inbox(f"{tmp}/inbox")]  # the files the flow scores
        plain = [plain_loop_2proc(calls)]
        warm_runs = []
        with standing_cluster(args.workers, api_url) as lc, Client(lc) as client:
            for round_ in range(args.rounds):  # each round a fresh store, so every call is new to it
                warm_store = f"{tmp}/warm-store{round_}"
                shutil.copytree(f"{store}/models", f"{warm_store}/models")
                client.run(warm_worker, warm_store, spec)
                # a standing cluster has scored before: its workers hold the contract suite and report code too
                score_calls(inbox=f"{tmp}/warm-inbox", model="bench", store=warm_store,
                            dask_address=lc.scheduler_address, batch_size=1)
                start = time.perf_counter()
                warm = score_calls(inbox=f"{tmp}/inbox", model="bench", store=warm_store,
                                   dask_address=lc.scheduler_address)
                warm_runs.append((time.perf_counter() - start, warm))
        warm_wall, warm = sorted(warm_runs, key=lambda run: run[0])[len(warm_runs) // 2]  # the median round
        plain.append(plain_loop_2proc(calls))
        import duckdb

        segments, turns = (duckdb.sql(f"select * from read_parquet('{store}/results/{table}/**/*.parquet', "
                                      f"hive_partitioning=true)").df() for table in ("segments", "turns"))
        card = registry.resolve(Store(store), "bench").card
        seg = segment_level_metrics(segments, labels, card["classes"])
        mono = labels.groupby("call_id").filter(lambda turns: turns["channel"].max() == 0)
        der, der_windows = diarization_error(turns, mono), diarization_error(segments, mono)
    stage_total = sum(summary.stage_seconds.values())
    result = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "calls": args.calls, "audio_minutes": round(summary.audio_s / 60, 1), "workers": args.workers,
        "cpu_count": os.cpu_count(), "wall_seconds": round(wall, 1),
        "x_realtime_end_to_end": round(summary.audio_s / wall, 1),
        "warm_wall_seconds": round(warm_wall, 1),
        "x_realtime_end_to_end_warm_workers": round(warm.audio_s / warm_wall, 1),
        "warm_rounds_x_realtime": [round(run.audio_s / seconds, 1) for seconds, run in warm_runs],
        # the same calls' audio per second of the plain loop on both cores, before and after the warm rounds
        "plain_loop_x_realtime_before_after": [round(run["audio_s"] / run["seconds"], 1) for run in plain],
        "stages_cpu_seconds": {k: round(v, 2) for k, v in summary.stage_seconds.items()},
        "warm_stages_cpu_seconds": {k: round(v, 2) for k, v in warm.stage_seconds.items()},
        "stages_x_realtime_per_core": {k: round(summary.audio_s / v, 1) for k, v in summary.stage_seconds.items() if v},
        "stage_share": {k: round(v / stage_total, 3) for k, v in summary.stage_seconds.items()},
        "segments": summary.segments,
        "segment_level_ua": round(seg["ua"], 3),
        "turn_level_ua": round(segment_level_metrics(turns, labels, card["classes"])["ua"], 3),
        "utterance_level_ua_cv": round(card["metrics"]["pooled"]["ua"], 3),
        "mono_calls": int(mono["call_id"].nunique()),
        # who spoke when: the turns table; the scored windows (short turns grown to 1.5 s) beside it
        "diarization_synthetic_mono": {k: round(float(v), 3) for k, v in der.items()},
        "diarization_synthetic_mono_windows": {k: round(float(v), 3) for k, v in der_windows.items()},
        "command": f"python bench/score.py --calls {args.calls} --turns {args.turns} --workers {args.workers}"
                   f" --rounds {args.rounds}"
                   + (f" --feature-set {args.feature_set}" if args.feature_set else ""),
    }
    print(json.dumps(result, indent=2))
    out = RESULTS.with_name(f"score-{args.feature_set}.json") if args.feature_set else RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
