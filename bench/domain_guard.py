"""Out-of-domain guard on shared audio: matched unseen speakers vs the same files shifted, and another corpus.

The guard is fitted as `serflow train` fits it (DomainGuard.fit on the training rows' vectors of the set the
feature models read by default, `ser_models.catalog.DEFAULT_VECTOR_SET`) on
RAVDESS actors 01-18 from the bench store; actors 19-20 are the matched test, then the same files with
clipped x20 gain, a noise floor (5 and 15 dB SNR) and a telephone channel, and every EMO-DB file, all
served from raw audio as `serflow predict` serves them (features plus the clipping, phone-band and noise-floor
checks; RAVDESS's originals hold no phone-band audio and no added noise, so the guard judges both); and, per
ingested corpus, the share of original recordings the clipping, phone-band and noise-floor checks alone would flag.

  .venv/bin/python bench/domain_guard.py     (after bench/accuracy.py has built the bench store)
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "domain_guard.json"
HELD_OUT = ("ravdess:19", "ravdess:20")


def main() -> None:
    from ser_models.catalog import DEFAULT_VECTOR_SET as FEATURE_SET
    from ser_models.data import load_feature_data
    from ser_models.domain import DomainGuard
    from ser_models.inference import audio_measures, features_of
    from tasks.lib.audio_cache import AudioCache
    from tasks.lib.store import Store
    from tasks.lib.tables import read_manifest
    from tasks.train import recorded_noise_floors, recordings
    from tests.shifts import SHIFTS

    store = Store(str(ROOT / "bench" / ".store"))
    data = load_feature_data(store, (FEATURE_SET,), ["ravdess"], {})
    data = data.subset(data.original)
    held = data.rows["speaker_id"].isin(HELD_OUT).to_numpy()
    train = data.subset(np.flatnonzero(~held))
    guard = DomainGuard.fit(train, FEATURE_SET, noise_floors=recorded_noise_floors(store, recordings(store, train.rows),
                                                                                  train.rows))
    cache, manifest = AudioCache(store), read_manifest(store)  # ingestion's decoded audio: no file decoded again
    by_id = manifest.set_index("utterance_id", drop=False)
    clips = [cache.load_recording(r) for r in by_id.loc[data.rows.loc[held, "utterance_id"]].itertuples()]
    emodb = [cache.load_recording(r) for r in manifest[manifest["corpus"].eq("emodb")].itertuples()]
    audio = {"matched (actors 19-20)": clips, "emodb (another corpus)": emodb,
             **{f"actors 19-20, {name}": [shift(y) for y in clips] for name, shift in SHIFTS.items()}}
    flagged = {}
    for name, batch in audio.items():
        served = features_of(batch, (FEATURE_SET,))  # its rows carry the audio's clipping, band and floor measures
        scores, in_domain = guard.assess(served)
        failed = guard.audio_failures(served.rows)
        flagged[name] = {"n": len(batch), "flagged_share": round(float((~in_domain).mean()), 3),
                         "flagged_by_features": round(float((~guard.in_domain(scores)).mean()), 3),
                         "median_domain_score": round(float(np.median(scores)), 4),
                         "saturated_share": round(float((saturated := served.rows["clipped_share"].to_numpy() > 0).mean()), 3),
                         "flagged_of_saturated": round(float((~in_domain[saturated]).mean()), 3) if saturated.any() else None,
                         "narrowband_share": round(float(failed["narrowband"].mean()), 3),
                         "noisy_share": round(float(failed["noise_floor"].mean()), 3),
                         "noise_floor_db_min_median_max": floor_spread(served.rows["noise_floor_db"].to_numpy())}
    # per corpus, every original measured as it is read, not every corpus held in memory at once
    measured = {corpus: audio_measures(cache.load_recording(r) for r in group.itertuples())
                for corpus, group in manifest.groupby("corpus")}
    failed = {corpus: guard.audio_failures(m) for corpus, m in measured.items()}
    clipped, narrowband, noisy = ({corpus: round(float(f[check].mean()), 4) for corpus, f in failed.items()}
                                  for check in ("clipped", "narrowband", "noise_floor"))
    floors = {corpus: floor_spread(m["noise_floor_db"].to_numpy()) for corpus, m in measured.items()}
    report = {"guard": guard.describe(), "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "flagged": flagged, "originals_over_max_clipped_share": clipped,
              "originals_under_min_wideband_share": narrowband, "originals_over_noise_floor_limit": noisy,
              "originals_noise_floor_db_min_median_max": floors}
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


def floor_spread(floors: np.ndarray) -> list[float]:
    """Lowest, median and highest noise_floor_db of a batch (dB against its loudest frames)."""
    return [round(float(v), 1) for v in np.nanpercentile(floors, (0, 50, 100))]


if __name__ == "__main__":
    main()
