"""Peak memory of scoring one awkward call: by default 10 minutes of 96 kHz 6-channel audio (target: <= 1.5 GB RSS).

Scores the call with tasks.score.score_call in a fresh process (no Prefect, no Dask) using the demo model, and
reports that process's peak resident set size. Needs `make demo` first (for the `demo` model).

  .venv/bin/python bench/memory.py [--minutes 10 --rate 96000 --channels 6]
  .venv/bin/python bench/memory.py --minutes 120 --rate 8000 --channels 2      # a 2-hour stereo telephone call
  .venv/bin/python bench/memory.py --minutes 120 --rate 8000 --channels 2 --speech   # ... of synthetic speech
  .venv/bin/python bench/memory.py --minutes 120 --rate 8000 --channels 1 --speech   # mono: two voices diarized
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "memory.json"
SCORE = """
import resource, sys, json
sys.path.insert(0, {root!r})
from ser_models.inference import load_model
from tasks.lib.inbox import list_inbox
from tasks.lib.store import Store
from tasks.lib.vad import WindowConfig
from tasks.score import score_call
call = list_inbox({inbox!r})[0]
outcome = score_call(call, load_model(Store({store!r}), "demo"), WindowConfig())
print(json.dumps({{"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "segments": len(outcome.segments), "reject": outcome.reject,
                   "talk_s": {{f"channel {{r['channel']}} {{r['speaker']}}": round(r["speech_s"], 1) for r in outcome.summaries}}}}))
"""


def write_call(path: Path, minutes: float = 10.0, sr: int = 96_000, channels: int = 6) -> None:
    """Tones and noise bursts, written a minute at a time so the bench itself stays small."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", sr, channels, subtype="PCM_16") as out:
        for _ in range(int(minutes)):
            t = np.arange(60 * sr) / sr
            minute = 0.1 * np.sin(2 * np.pi * 180 * t)[:, None] * (np.sin(2 * np.pi * 0.3 * t)[:, None] > 0)
            out.write((minute + rng.normal(0, 0.01, (len(t), channels))).astype(np.float32))


def write_conversation(path: Path, minutes: float, sr: int, channels: int) -> None:
    """Synthetic speech throughout: two voices taking turns (one per channel, or mixed when mono), a minute
    at a time, so every window of the call is scored."""
    from tasks.lib.audio import resample
    from tasks.lib.synth import EMOTIONS, SR, STATEMENTS, make_speakers, synth_speech

    rng, voices, emotions = np.random.default_rng(0), make_speakers(2, seed=5), list(EMOTIONS)
    pending = np.zeros((2, 0), np.float32)
    turn = 0
    with sf.SoundFile(path, "w", sr, channels, subtype="PCM_16") as out:
        for _ in range(int(minutes)):
            while pending.shape[1] < 60 * SR:
                clip = synth_speech(voices[turn % 2], EMOTIONS[emotions[turn % len(emotions)]], STATEMENTS[1 + turn % 2], rng)
                block = np.zeros((2, len(clip) + int(0.3 * SR)), np.float32)
                block[turn % 2, :len(clip)] = clip
                pending, turn = np.concatenate([pending, block], axis=1), turn + 1
            minute, pending = pending[:, :60 * SR], pending[:, 60 * SR:]
            audio = minute if channels == 2 else np.repeat(minute.sum(axis=0, keepdims=True), channels, axis=0)
            out.write(resample(audio, SR, sr).T)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=96_000)
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--speech", action="store_true", help="a conversation of synthetic speech, not tones")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inbox = Path(tmp) / "inbox"
        inbox.mkdir()
        (write_conversation if args.speech else write_call)(inbox / "call.wav", args.minutes, args.rate, args.channels)
        start = time.perf_counter()
        code = SCORE.format(root=str(ROOT), inbox=str(inbox), store=str(ROOT / "serflow-store"))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        report = json.loads(out.stdout.strip().splitlines()[-1])
    kind = "synthetic speech throughout" if args.speech else "tones and noise"
    report.update({"call": f"{args.minutes:g} min, {args.rate} Hz, {args.channels} channels, PCM_16, {kind}",
                   "seconds": round(time.perf_counter() - start, 1),
                   "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                   "bench_process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    default = (args.minutes, args.rate, args.channels) == (10.0, 96_000, 6)
    suffix = "-speech" if args.speech else ""
    path = RESULTS if default else RESULTS.with_name(f"memory-{args.minutes:g}min-{args.rate}hz-{args.channels}ch{suffix}.json")
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
