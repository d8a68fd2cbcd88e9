"""ONNX bundles of the torch models: graph size and per-window CPU latency, onnxruntime against torch.

Trains mlp, cnn and cl briefly on the built-in synthetic corpus (size and latency do not depend on the
weights' values), exports each with `export_bundle` (what `serflow models export` runs), then times one
window at a time (batch 1: a 2 s log-mel crop for cnn/cl, one `functionals` vector for mlp) on one thread,
the median of --repeats calls after a warm-up, torch and onnxruntime in the same run.

  .venv/bin/python bench/onnx_latency.py [--repeats 300]   ->  bench/results/onnx_latency.json
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "onnx_latency.json"


def median_ms(call, batch, repeats: int) -> float:
    for _ in range(10):
        call(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(batch)
        times.append(time.perf_counter() - start)
    return round(1000 * float(np.median(times)), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    import torch

    from data_contracts.labels import canonical_emotion
    from ser_models.catalog import build_estimator
    from ser_models.data import class_list
    from ser_models.inference import features_of
    from ser_models.onnx_export import GRAPH, OnnxEstimator, export_bundle, load_bundle_card
    from tasks.lib.audio import load
    from tasks.lib.corpora import prepare_ravdess
    from tasks.lib.synth import synth_corpus

    torch.set_num_threads(1)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        synth_corpus(Path(tmp, "corpus"), n_speakers=4, repetitions=1)
        records = prepare_ravdess(Path(tmp, "corpus"), corpus="syn")
        data = features_of([load(r.path) for r in records], ("functionals", "logmel", "mfcc_seq"),
                           [r.speaker_id for r in records])
        data.rows["emotion"] = [canonical_emotion("ravdess", r.emotion_raw) for r in records]
        for model in ("mlp", "cnn", "cl"):
            est = build_estimator(model, max_epochs=2)
            est.fit(data, None, class_list(data.rows["emotion"]))
            card = {"name": model, "version": "bench", "model": model, "feature_sets": list(est.feature_sets),
                    "classes": est.classes, "hyperparameters": est.hyperparameters()}
            bundle = export_bundle(est, card, Path(tmp, "none"), Path(tmp, model))
            onnx = OnnxEstimator(bundle, load_bundle_card(bundle))
            batch = est.example_batch(1)
            results[model] = {
                "graph_mb": round((bundle / GRAPH).stat().st_size / 1e6, 3),
                "window": "one 2 s log-mel crop" if est.frame_level else "one functionals vector",
                "torch_ms_per_window": median_ms(est.probabilities, batch, args.repeats),
                "onnxruntime_ms_per_window": median_ms(onnx.probabilities, batch, args.repeats),
            }
            results[model]["onnx_speedup"] = round(results[model]["torch_ms_per_window"]
                                                   / results[model]["onnxruntime_ms_per_window"], 2)
            print(model, results[model], flush=True)
    report = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "threads": 1,
              "command": f"python bench/onnx_latency.py --repeats {args.repeats}", "models": results}
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
