"""What `ToneContour`'s missing anti-aliasing filter costs: its copies against anti-aliased ones.

`ToneContour.apply` reads the input by linear interpolation at up to 2^(9/12) = 1.68 samples per output sample,
so energy above 16 kHz / 2 / rate folds back down. The anti-aliased copy reads, for each output sample, a
version of the input low-passed below that sample's own Nyquist frequency (one version per semitone of
speed-up, an order-16 Butterworth run forward and back), along the very same contour. For EMO-DB recordings:
  alias_db   the error energy above 4 kHz against the anti-aliased copy's energy there
  features   the mean |difference| of the `ge2e_layers` vectors, in units of each column's standard deviation
             over the recordings and both copies: aliased vs anti-aliased, and recording vs anti-aliased copy

  .venv/bin/python bench/tone_alias.py [--files 20]  ->  bench/results/tone_alias.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpora" / "emodb"
RESULTS = ROOT / "bench" / "results" / "tone_alias.json"
SR = 16_000


def antialiased(contour, y: np.ndarray) -> np.ndarray:
    """`contour`'s copy of y (parameters drawn) with each output sample read from y low-passed below its Nyquist."""
    from scipy.signal import butter, sosfiltfilt

    semitones = contour.parameters["semitones"]
    out = contour.apply(y, SR)  # samples read at or below the recorded rate need no filter
    knots = np.arange(len(semitones)) * contour.knot_s
    speed_up = np.ceil(np.interp(np.arange(len(out)) / SR, knots, semitones)).astype(int)
    for k in np.unique(speed_up[speed_up > 0]):
        low = sosfiltfilt(butter(16, 0.98 * SR / 2 / 2 ** (k / 12), fs=SR, output="sos"), y).astype(np.float32)
        out[speed_up == k] = contour.apply(low, SR)[speed_up == k]
    return out


def main() -> None:
    import soundfile as sf

    from tasks.lib.augment import ToneContour, augment, presets
    from tasks.lib.feature_sets import get_feature_set

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    args = parser.parse_args()
    spec = {k: v for k, v in presets()["tone"][0].items() if k != "type"}
    files = sorted(CORPUS.glob("*.ogg"))
    clips, alias_db = [], []
    for path in files[:: max(1, len(files) // args.files)][: args.files]:
        y = sf.read(path, dtype="float32")[0]
        aliased, drawn = augment(y, SR, path.name, "tone#0")  # the copy `--augment tone` stores
        contour = ToneContour(**spec)
        contour.parameters["semitones"] = np.array(json.loads(drawn)[0]["semitones"])
        clean = antialiased(contour, y)
        above = np.fft.rfftfreq(len(clean), 1 / SR) > 4000
        error, reference = (np.abs(np.fft.rfft(z))[above] ** 2 for z in (aliased - clean, clean))
        alias_db.append(10 * np.log10(error.sum() / reference.sum()))
        clips += [y, aliased, clean]
    vectors = get_feature_set("ge2e_layers").extract_many(clips)
    x = np.stack([v.ravel() for v in vectors]).reshape(len(clips) // 3, 3, -1)
    sd = x.reshape(-1, x.shape[-1]).std(axis=0) + 1e-9
    result = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "files": len(alias_db),
              "alias_db_median": round(float(np.median(alias_db)), 1),
              "alias_db_range": [round(float(min(alias_db)), 1), round(float(max(alias_db)), 1)],
              "features_aliased_vs_antialiased": round(float(np.abs((x[:, 1] - x[:, 2]) / sd).mean()), 4),
              "features_recording_vs_antialiased": round(float(np.abs((x[:, 0] - x[:, 2]) / sd).mean()), 4)}
    print(json.dumps(result, indent=2), flush=True)
    RESULTS.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
