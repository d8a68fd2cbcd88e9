"""Window probabilities -> segment rows -> one summary per call and channel."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from data_contracts.labels import CANONICAL_EMOTIONS, NEGATIVE_EMOTIONS

GRID_S = 0.1  # speech time is attributed to emotions on a 100 ms grid
QUARTERS = [f"negative_share_q{q}" for q in range(1, 5)]


@dataclass
class ChannelScores:
    """Everything scored on one channel of one call."""

    channel: int
    regions: list[tuple[float, float]]
    windows: list[tuple[float, float]]
    proba: np.ndarray  # (windows, classes)
    domain: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (windows,) domain_score, NaN without a guard
    in_domain: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # (windows,)
    dbfs: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (windows,) RMS level of each window
    syllables: int = 0  # syllable nuclei over the speech regions (tasks/lib/speech_rate.py)

    @property
    def speech_s(self) -> float:
        return float(sum(e - s for s, e in self.regions))


def segment_rows(call_id: str, scores: ChannelScores, classes: list[str]) -> list[dict]:
    """One row per scored window, with a p_<emotion> column for every canonical emotion."""
    rows = []
    for i, ((start, end), p) in enumerate(zip(scores.windows, scores.proba)):
        best = int(np.argmax(p))
        probs = {f"p_{e}": (float(p[classes.index(e)]) if e in classes else None) for e in CANONICAL_EMOTIONS}
        known = i < len(scores.domain) and not np.isnan(scores.domain[i])
        rows.append({"call_id": call_id, "channel": scores.channel, "segment_index": i, "start_s": start,
                     "end_s": end, "emotion": classes[best], "confidence": float(p[best]), **probs,
                     "domain_score": float(scores.domain[i]) if known else None,
                     "in_domain": bool(scores.in_domain[i]) if known else None})
    return rows


def speech_grid(scores: ChannelScores, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Grid times inside speech and, per time, the mean probabilities of the windows covering it."""
    times = np.concatenate([np.arange(s, e, GRID_S) for s, e in scores.regions]) if scores.regions else np.zeros(0)
    if not len(times) or not len(scores.windows):
        return np.zeros(0), np.zeros((0, len(classes)))
    starts = np.array([w[0] for w in scores.windows])
    ends = np.array([w[1] for w in scores.windows])
    cover = (times[:, None] >= starts[None, :]) & (times[:, None] < ends[None, :])
    nearest = np.argmin(np.abs(times[:, None] - (starts + ends)[None, :] / 2), axis=1)
    cover[np.arange(len(times)), nearest] |= ~cover.any(axis=1)  # speech no window covers: nearest window
    proba = cover.astype(np.float32) @ scores.proba / cover.sum(axis=1, keepdims=True)
    return times, proba


def negative_share(labels: np.ndarray, negative: np.ndarray) -> float:
    return float(negative[labels].mean()) if len(labels) else 0.0


def summarize(call_id: str, path: str, duration_s: float, channels: int, scores: ChannelScores,
              classes: list[str]) -> dict:
    """Shares of speech time per emotion, negative share overall and per quarter of the call, escalation,
    the most negative moment, the median level of speech, the speaking rate."""
    times, proba = speech_grid(scores, classes)
    base = {"call_id": call_id, "path": path, "duration_s": duration_s, "channels": channels,
            "channel": scores.channel, "speech_s": scores.speech_s, "n_segments": len(scores.windows)}
    if not len(times):
        return {**base, "dominant_emotion": None, **{f"share_{e}": None for e in CANONICAL_EMOTIONS},
                "negative_share": None, **dict.fromkeys(QUARTERS), "escalation": None, "peak_negative_start_s": None,
                "mean_confidence": None, "out_of_domain_share": None, "speech_dbfs": None, "syllables_per_s": None,
                "status": "no_speech"}
    labels = proba.argmax(axis=1)
    counts = np.bincount(labels, minlength=len(classes)) / len(labels)
    negative = np.array([c in NEGATIVE_EMOTIONS for c in classes])
    first, last = times < duration_s / 3, times >= 2 * duration_s / 3
    quarter = np.minimum((4 * times / duration_s).astype(int), 3)
    window_negative = scores.proba[:, negative].sum(axis=1)
    share = negative_share(labels, negative)
    return {**base, "dominant_emotion": classes[int(np.argmax(counts))],
            **{f"share_{e}": (float(counts[classes.index(e)]) if e in classes else None) for e in CANONICAL_EMOTIONS},
            "negative_share": share,
            # a quarter of the call in which this channel did not speak has no share
            **{q: negative_share(labels[quarter == i], negative) if (quarter == i).any() else None
               for i, q in enumerate(QUARTERS)},
            "escalation": negative_share(labels[last], negative) - negative_share(labels[first], negative),
            # no negative speech, no negative peak: a time here would send an analyst to a calm moment
            "peak_negative_start_s": float(scores.windows[int(np.argmax(window_negative))][0]) if share > 0 else None,
            "mean_confidence": float(scores.proba.max(axis=1).mean()),
            "out_of_domain_share": out_of_domain_share(scores),
            "speech_dbfs": float(np.median(scores.dbfs)) if len(scores.dbfs) else None,
            "syllables_per_s": scores.syllables / scores.speech_s if scores.speech_s > 0 else None, "status": "ok"}


def out_of_domain_share(scores: ChannelScores) -> float | None:
    """Share of scored window time flagged out of domain; None for a model without a guard."""
    if not len(scores.domain) or np.isnan(scores.domain).all():
        return None
    lengths = np.array([e - s for s, e in scores.windows])
    return float(lengths[~scores.in_domain].sum() / lengths.sum()) if lengths.sum() > 0 else 0.0
