"""silero's 8 kHz model against its 16 kHz one on phone audio: agreement with studio truth, and cost.

For each shared corpus, 60 random recordings are joined with 0.5-3 s pauses; silero's 16 kHz model on the
studio audio (one stream, silero's exact output) is the reference speech mask. The same audio through a
phone line (300-3400 Hz, 8 kHz) with noise at 30 and 15 dB SNR is then run through both models the way
scoring runs them (30 s parallel streams); each mask's frame agreement with the reference and each model's
seconds per minute of audio are reported. Skips corpora missing from ../shared/corpora.

  .venv/bin/python bench/vad_rate.py   ->  bench/results/vad_rate.json
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "vad_rate.json"
CORPORA = ROOT.parent / "shared" / "corpora"


def speech_mask(y: np.ndarray, sample_rate: int, stream_s: float) -> np.ndarray:
    """Per 32 ms frame: inside a speech region by silero's rules."""
    from tasks.lib.audio import TARGET_SR
    from tasks.lib.vad import FRAME, WindowConfig, regions_from_probabilities, speech_probabilities

    probs = speech_probabilities(y, stream_s, sample_rate)
    mask = np.zeros(len(probs), bool)
    for start, end in regions_from_probabilities(probs, WindowConfig()):
        mask[int(start * TARGET_SR / FRAME):int(end * TARGET_SR / FRAME)] = True
    return mask


def main() -> None:
    from tasks.lib.audio import TARGET_SR, AudioDecodeError, load, resample
    from tasks.lib.synth import telephone_line

    rng, rows = np.random.default_rng(0), []
    for corpus in ("ravdess", "emodb", "casia"):
        files = sorted((CORPORA / corpus).rglob("*.ogg"))
        if not files:
            print(f"{corpus}: not in {CORPORA}, skipped")
            continue
        parts = []
        for path in rng.choice(files, 60, replace=False):
            try:
                parts += [load(str(path)), np.zeros(int(rng.uniform(0.5, 3.0) * TARGET_SR), np.float32)]
            except AudioDecodeError:  # the corpora keep broken files on purpose
                continue
        studio = np.concatenate(parts)
        truth = speech_mask(studio, 16_000, 0)
        for snr_db in (30, 15):
            wire = telephone_line(studio, 8_000)
            wire += rng.normal(0, np.sqrt(np.mean(studio ** 2)) * 10 ** (-snr_db / 20), len(wire)).astype(np.float32)
            phone = resample(wire, 8_000, TARGET_SR)[:len(studio)]
            row = {"corpus": corpus, "audio_s": round(len(studio) / TARGET_SR), "snr_db": snr_db,
                   "speech_share": round(float(truth.mean()), 3)}
            masks = {}
            for rate in (16_000, 8_000):
                start = time.perf_counter()
                masks[rate] = speech_mask(phone, rate, 30.0)
                seconds = time.perf_counter() - start
                n = min(len(truth), len(masks[rate]))
                row[f"agreement_{rate // 1000}k"] = round(float(np.mean(masks[rate][:n] == truth[:n])), 4)
                row[f"s_per_audio_min_{rate // 1000}k"] = round(seconds / (len(studio) / TARGET_SR / 60), 3)
            n = min(len(masks[16_000]), len(masks[8_000]))
            row["agreement_8k_vs_16k"] = round(float(np.mean(masks[8_000][:n] == masks[16_000][:n])), 4)
            rows.append(row)
            print(row)
    report = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": "python bench/vad_rate.py", "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
