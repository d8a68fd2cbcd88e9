"""Out-of-domain guard on shared audio: matched unseen speakers vs the same files shifted, and another corpus.

The guard is fitted as `serflow train` fits it (DomainGuard.fit on the training rows' `functionals`) on
RAVDESS actors 01-18 from the bench store; actors 19-20 are the matched test, then the same files with
clipped x20 gain, a noise floor (5 and 15 dB SNR) and a telephone channel, and every EMO-DB file.

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
    from ser_models.data import load_feature_data
    from ser_models.domain import DomainGuard
    from ser_models.inference import features_of
    from tasks.lib.audio import load
    from tasks.lib.store import Store
    from tasks.lib.tables import read_manifest
    from tests.shifts import SHIFTS

    store = Store(str(ROOT / "bench" / ".store"))
    data = load_feature_data(store, ("functionals",), ["ravdess", "emodb"], {})
    data = data.subset(data.original)
    rav = data.rows["corpus"].eq("ravdess").to_numpy()
    held = data.rows["speaker_id"].isin(HELD_OUT).to_numpy()
    guard = DomainGuard.fit(data.subset(np.flatnonzero(rav & ~held)), "functionals")
    paths = read_manifest(store, ["ravdess"]).set_index("utterance_id")["path"]
    clips = [load(paths[u]) for u in data.rows.loc[held, "utterance_id"]]
    flagged = {"matched (actors 19-20)": guard.scores(data.subset(np.flatnonzero(held))),
               "emodb (another corpus)": guard.scores(data.subset(np.flatnonzero(~rav)))}
    for name, shift in SHIFTS.items():
        flagged[f"actors 19-20, {name}"] = guard.scores(features_of([shift(y) for y in clips], ("functionals",)))
    report = {"guard": guard.describe(), "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "flagged": {k: {"n": len(v), "flagged_share": round(float((~guard.in_domain(v)).mean()), 3),
                              "median_domain_score": round(float(np.median(v)), 4)} for k, v in flagged.items()}}
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
