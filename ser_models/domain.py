"""Out-of-domain guard: how far a recording's features lie outside what the model was trained on.

The guard keeps, per feature, the central range of the training rows (0.5th to 99.5th percentile). A row's
`domain_score` is the share of its features outside that range. The `in_domain` threshold is chosen on
held-out training speakers: ranges fitted without them, their rows scored, and the threshold set so that
`ALLOWED_FALSE_ALARMS` of those matched but unseen-speaker rows would be flagged.

Level is normalised away before features, so a recording made far too hot looks in domain to the features
unless its input stage saturated badly. Saturation is measured on the audio itself: a row whose
`clipped_share` (share of samples at full scale, computed when raw audio is served) exceeds
`MAX_CLIPPED_SHARE` is out of domain whatever its features say. So is a phone line's band: features learnt on
thousands of microphones change little through one, while the model's accuracy does. A row whose
`wideband_share` (power above an 8 kHz line's band) is below `MIN_WIDEBAND_SHARE` is out of domain unless
training heard narrowband audio (a preset with the phone band, or recordings sampled below 10 kHz). So is a
noise floor: a row whose `noise_floor_db` (its quietest frames against its loudest) lies above the noisiest
training recordings' (their 99.5th percentile, and never below `NOISE_FLOOR_LIMIT_DB`) is out of domain, unless
training heard copies with added noise.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from ser_models.data import FeatureData
from ser_models.registry import load_attachment, save_attachment
from tasks.lib.audio import NARROWBAND_TOP_HZ

GUARD_STEM = "domain_guard"  # domain_guard.npz and .json beside the weights
RANGE_PERCENTILES = (0.5, 99.5)
ALLOWED_FALSE_ALARMS = 0.05
MAX_FOLDS = 5
COLLAPSE_SHARE = 0.9  # one class for more than this share of a batch: the model is likely out of its depth
COLLAPSE_MIN_BATCH = 10
MAX_CLIPPED_SHARE = 0.002  # shared corpora's originals stay below 0.1% of samples (docs/benchmarks.md)
# Of the power above NARROWBAND_TOP_HZ: the shared corpora's originals hold 3e-4 and more, serflow's synthetic
# voices 2e-4 and more, the same audio through TelephoneChannel 2e-5 and less (docs/benchmarks.md).
MIN_WIDEBAND_SHARE = 6e-5
NARROWBAND_RATE = 2 * NARROWBAND_TOP_HZ  # recordings sampled below this hold no wideband power
# Quieter than this against the loudest frames is a pause, not noise, whatever training heard: RAVDESS's originals
# lie at -41 dB and below, CASIA's 99.8% of them under this limit; speech over a 15 dB SNR floor at -24.5 dB and
# above (docs/benchmarks.md). Clips cut tight around the speech (3.4% of EMO-DB's) reach no deeper than their
# quietest speech: a model trained on such clips fits its limit to theirs.
NOISE_FLOOR_LIMIT_DB = -27.0


def row_vectors(data: FeatureData, feature_set: str) -> np.ndarray:
    """One vector per row: the features themselves, or their mean over frames for frame-level sets."""
    return np.stack([np.asarray(x, dtype=np.float64).mean(axis=0) for x in data.inputs[feature_set]])


@dataclass
class DomainGuard:
    feature_set: str
    low: np.ndarray
    high: np.ndarray
    threshold: float
    method: str
    narrowband_seen: bool = True  # training heard phone-band audio; guards from before this check judge no band
    max_noise_floor_db: float | None = None  # None: training heard added noise, or a guard from before this check

    def scores(self, data: FeatureData) -> np.ndarray:
        """Share of each row's features outside the training range, 0..1."""
        x = row_vectors(data, self.feature_set)
        return ((x < self.low) | (x > self.high)).mean(axis=1)

    def in_domain(self, scores: np.ndarray) -> np.ndarray:
        return scores <= self.threshold

    def audio_failures(self, rows: pd.DataFrame) -> dict[str, np.ndarray]:
        """Which rows fail each audio check this guard judges and the rows carry measures for: `clipped` (a
        saturated input), `narrowband` (a phone line training never heard), `noise_floor` (one it never had)."""
        failed = {}
        if "clipped_share" in rows:
            failed["clipped"] = rows["clipped_share"].to_numpy() > MAX_CLIPPED_SHARE
        if "wideband_share" in rows and not self.narrowband_seen:
            failed["narrowband"] = rows["wideband_share"].to_numpy() < MIN_WIDEBAND_SHARE  # NaN, silence: no band
        if "noise_floor_db" in rows and self.max_noise_floor_db is not None:
            failed["noise_floor"] = rows["noise_floor_db"].to_numpy() > self.max_noise_floor_db  # NaN: no floor
        return failed

    def assess(self, data: FeatureData) -> tuple[np.ndarray, np.ndarray]:
        """domain_score per row, and in_domain: features within the threshold and no audio check failed."""
        scores = self.scores(data)
        ok = self.in_domain(scores)
        for failed in self.audio_failures(data.rows).values():
            ok &= ~failed
        return scores, ok

    @classmethod
    def fit(cls, data: FeatureData, feature_set: str, narrowband_seen: bool = False,
            noise_floors: np.ndarray | None = None) -> DomainGuard:
        """Ranges from every training row (augmented copies widen them: their conditions are in domain); the
        threshold from speaker-grouped held-out scores; narrowband_seen: training heard phone-band audio;
        noise_floors: the training recordings' noise_floor_db, None when training heard added noise."""
        x = row_vectors(data, feature_set)
        speakers = data.rows["speaker_id"].to_numpy()
        held_out = []
        n_folds = min(MAX_FOLDS, len(np.unique(speakers)))
        if n_folds >= 2:
            for fit, test in GroupKFold(n_folds).split(x, groups=speakers):
                low, high = np.percentile(x[fit], RANGE_PERCENTILES, axis=0)
                held_out.append(((x[test] < low) | (x[test] > high)).mean(axis=1))
        low, high = np.percentile(x, RANGE_PERCENTILES, axis=0)
        if held_out:
            scores = np.concatenate(held_out)
            threshold = float(np.quantile(scores, 1 - ALLOWED_FALSE_ALARMS))
            method = (f"{1 - ALLOWED_FALSE_ALARMS:.0%} quantile of domain_score over {len(scores)} rows of "
                      f"held-out training speakers ({n_folds} speaker-grouped folds)")
        else:  # one speaker: no held-out speakers to calibrate on, flag only what is far out
            threshold, method = 0.25, "fixed 0.25 (fewer than two training speakers)"
        return cls(feature_set, low, high, threshold, method, narrowband_seen, noise_floor_limit(noise_floors))

    def describe(self) -> dict:
        """What the model card records."""
        return {"feature_set": self.feature_set, "range_percentiles": list(RANGE_PERCENTILES),
                "threshold": round(self.threshold, 4), "threshold_method": self.method,
                "max_clipped_share": MAX_CLIPPED_SHARE, "min_wideband_share": MIN_WIDEBAND_SHARE,
                "narrowband_seen": self.narrowband_seen, "max_noise_floor_db": self.max_noise_floor_db}

    def save(self, folder: Path) -> None:
        save_attachment(folder, GUARD_STEM, {"low": self.low, "high": self.high}, self.describe())

    @classmethod
    def load(cls, folder: Path) -> DomainGuard | None:
        """The saved guard, or None for a model registered before guards existed."""
        saved = load_attachment(folder, GUARD_STEM)
        if saved is None:
            return None
        arrays, info = saved
        return cls(info["feature_set"], arrays["low"], arrays["high"], info["threshold"], info["threshold_method"],
                   info.get("narrowband_seen", True), info.get("max_noise_floor_db"))


def noise_floor_limit(floors: np.ndarray | None) -> float | None:
    """The noisiest floor training recordings had (99.5th percentile), at least NOISE_FLOOR_LIMIT_DB; None: no limit."""
    if floors is None:
        return None
    floors = floors[np.isfinite(floors)]
    top = float(np.percentile(floors, RANGE_PERCENTILES[1])) if len(floors) else NOISE_FLOOR_LIMIT_DB
    return round(max(top, NOISE_FLOOR_LIMIT_DB), 2)


def dominant_share(labels: list[str]) -> tuple[str | None, float]:
    """The most frequent label of a batch and its share."""
    if not labels:
        return None, 0.0
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    return str(values[counts.argmax()]), float(counts.max() / len(labels))


def collapse_warning(labels: list[str], what: str) -> str | None:
    """A warning when one class takes more than COLLAPSE_SHARE of a batch big enough to tell."""
    label, share = dominant_share(labels)
    if len(labels) < COLLAPSE_MIN_BATCH or share <= COLLAPSE_SHARE:
        return None
    return (f"{share:.0%} of {len(labels)} {what} got the same emotion {label!r}: the audio is probably unlike "
            "the model's training data; check domain_score / in_domain")
