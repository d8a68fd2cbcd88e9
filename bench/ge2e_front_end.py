"""The GE2E encoder's front end, resemblyzer's own against serflow's: pause trimming and mel frames per clip.

Cuts 3 s clips from the bench's synthetic calls (as scoring windows are cut), brings each to the encoder's
level, then times resemblyzer's trim_long_silences + wav_to_mel_spectrogram against
tasks.lib.feature_sets.voice's on the same clips, in interleaved rounds on one thread; reports each side's
fastest round and checks the two give the same samples and (within float32 rounding) the same mel frames.

  .venv/bin/python bench/ge2e_front_end.py [--clips 200] [--rounds 3]   ->  bench/results/ge2e_front_end.json
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
RESULTS = ROOT / "bench" / "results" / "ge2e_front_end.json"


def clips(n: int) -> list[np.ndarray]:
    """n 3 s clips of the synthetic calls' first channels, at the encoder's level as voice.py brings them."""
    from resemblyzer.audio import normalize_volume

    from tasks.lib.audio import iter_blocks
    from tasks.lib.synth import synth_calls

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        synth_calls(Path(tmp), n_calls=4, turns=40)
        for path in sorted(Path(tmp).glob("call*")):
            for _, block in iter_blocks(str(path), 600.0):
                y = block[0]
                out += [np.clip(normalize_volume(y[i:i + 48_000].astype(np.float64), -30.0), -1, 1)
                        for i in range(0, len(y) - 48_000, 48_000)]
    return out[:n]


def relative_difference(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Largest |ours - theirs| relative to theirs (plus a floor for the near-zero cells)."""
    return float(np.max(np.abs(ours - theirs) / (np.abs(theirs) + 1e-3)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import torch
    from resemblyzer import audio

    from tasks.lib.feature_sets import voice

    torch.set_num_threads(1)  # as a Dask worker runs it
    data = clips(args.clips)
    sides = {"resemblyzer": (audio.trim_long_silences, audio.wav_to_mel_spectrogram),
             "serflow": (voice.trim_long_silences, voice.mel_spectrogram)}
    rounds: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, (trim, mel) in sides.items():
            start = time.perf_counter()
            for y in data:
                mel(trim(y).astype(np.float32))
            rounds[name].append((time.perf_counter() - start) / len(data) * 1000)
    same_samples = all(np.array_equal(audio.trim_long_silences(y), voice.trim_long_silences(y)) for y in data)
    mel_error = max(relative_difference(voice.mel_spectrogram(y.astype(np.float32)), audio.wav_to_mel_spectrogram(y))
                    for y in data[:20])
    result = {"clips": len(data), "clip_s": 3.0, "ms_per_clip_rounds": {k: [round(v, 3) for v in r] for k, r in rounds.items()},
              "ms_per_clip_fastest": {k: round(min(r), 3) for k, r in rounds.items()},
              "speedup_fastest": round(min(rounds["resemblyzer"]) / min(rounds["serflow"]), 2),
              "same_trimmed_samples": same_samples, "max_relative_mel_difference": round(mel_error, 6),
              "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": f"python bench/ge2e_front_end.py --clips {args.clips} --rounds {args.rounds}"}
    print(json.dumps(result, indent=2))
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
