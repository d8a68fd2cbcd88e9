"""Window probabilities -> segment rows -> one summary per call and party (a channel, or a voice of a mono one)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

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
    nuclei: np.ndarray = field(default_factory=lambda: np.zeros(0))  # call times of syllable nuclei (speech_rate.py)
    speakers: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # (windows,) voice index on the channel
    voices: list[np.ndarray] = field(default_factory=list)  # the voices' centroids (ser_models/diarization.py)
    speaker: int | None = None  # set on the part of a channel that one voice holds (by_speaker)

    @property
    def speech_s(self) -> float:
        return float(sum(e - s for s, e in self.regions))

    @property
    def party(self) -> str:
        """spk<N> of this part of a channel: its voice (set by by_speaker), else the channel itself."""
        return f"spk{self.channel if self.speaker is None else self.speaker}"

    @property
    def guarded(self) -> bool:
        """Whether the model had an out-of-domain guard for these windows."""
        return bool(len(self.domain)) and not np.isnan(self.domain).all()


def grid_times(regions: list[tuple[float, float]]) -> np.ndarray:
    """The GRID_S grid over speech regions (sorted, as regions are)."""
    return np.concatenate([np.arange(s, e, GRID_S) for s, e in regions]) if regions else np.zeros(0)


def _runs(times: np.ndarray, labels: np.ndarray, label: int, regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The stretches of grid times carrying `label`, each cut to the speech region it lies in."""
    out = []
    for start, end in regions:
        inside = np.arange(np.searchsorted(times, start), np.searchsorted(times, end))
        mine = inside[labels[inside] == label]
        for run in np.split(mine, np.flatnonzero(np.diff(mine) > 1) + 1):
            if len(run):  # a run to the region's last grid time ends where the region ends
                out.append((float(times[run[0]]), float(end if run[-1] == inside[-1] else times[run[-1]] + GRID_S)))
    return out


def _nearest(times: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre for each time, by binary search (no times x windows matrix: a 2-hour call
    has 70,000 grid times and thousands of windows); a tie goes to the earlier centre."""
    order = np.argsort(centres, kind="stable")
    ranked = centres[order]
    if len(ranked) == 1:
        return np.zeros(len(times), int)
    i = np.clip(np.searchsorted(ranked, times), 1, len(ranked) - 1)
    return order[np.where(np.abs(times - ranked[i - 1]) <= np.abs(times - ranked[i]), i - 1, i)]


def by_speaker(scores: ChannelScores) -> list[ChannelScores]:
    """One part per voice of the channel: its windows, and the speech time and syllables whose nearest window
    is its."""
    voices = np.unique(scores.speakers)
    if len(voices) <= 1:
        return [replace(scores, speaker=int(voices[0]) if len(voices) else int(scores.channel))]
    times = grid_times(scores.regions)
    centres = np.array([(s + e) / 2 for s, e in scores.windows])
    labels, nuclei = scores.speakers[_nearest(times, centres)], scores.speakers[_nearest(scores.nuclei, centres)]
    parts = []
    for voice in voices:
        mine = np.flatnonzero(scores.speakers == voice)
        parts.append(replace(scores, regions=_runs(times, labels, voice, scores.regions),
                             windows=[scores.windows[i] for i in mine], proba=scores.proba[mine],
                             domain=scores.domain[mine], in_domain=scores.in_domain[mine], dbfs=scores.dbfs[mine],
                             nuclei=scores.nuclei[nuclei == voice], speakers=scores.speakers[mine], speaker=int(voice)))
    return parts


def segment_rows(call_id: str, scores: ChannelScores, classes: list[str]) -> list[dict]:
    """One row per scored window, with a p_<emotion> column for every canonical emotion."""
    rows = []
    for i, ((start, end), p) in enumerate(zip(scores.windows, scores.proba)):
        best = int(np.argmax(p))
        probs = {f"p_{e}": (float(p[classes.index(e)]) if e in classes else None) for e in CANONICAL_EMOTIONS}
        known = i < len(scores.domain) and not np.isnan(scores.domain[i])
        rows.append({"call_id": call_id, "channel": scores.channel, "speaker": f"spk{scores.speakers[i]}",
                     "segment_index": i, "start_s": start,
                     "end_s": end, "emotion": classes[best], "confidence": float(p[best]), **probs,
                     "domain_score": float(scores.domain[i]) if known else None,
                     "in_domain": bool(scores.in_domain[i]) if known else None})
    return rows


def turn_rows(call_id: str, parties: list[ChannelScores], roles: dict[int, str | None], classes: list[str]) -> list[dict]:
    """One row per turn (a speech region of one party) of every party, numbered in time order: its span, the
    emotion of most of its speech time with that emotion's mean probability over the turn, and the mean
    out-of-domain flag of the windows covering its speech time (None without a guard)."""
    rows = []
    for part in parties:
        times, proba = speech_grid(part, classes)
        labels = proba.argmax(axis=1)
        # the flags averaged on the same grid as the probabilities: a one-column "probability" of being outside
        outside = (speech_grid(replace(part, proba=(~part.in_domain)[:, None].astype(np.float32)), ["outside"])[1][:, 0]
                   if part.guarded else None)
        for start, end in part.regions:
            inside = slice(np.searchsorted(times, start), np.searchsorted(times, end))
            best = int(np.bincount(labels[inside], minlength=len(classes)).argmax())
            rows.append({"call_id": call_id, "channel": part.channel, "speaker": part.party,
                         "role": roles.get(part.speaker), "start_s": start, "end_s": end, "emotion": classes[best],
                         "confidence": float(proba[inside, best].mean()),
                         "out_of_domain_share": None if outside is None else float(outside[inside].mean())})
    rows.sort(key=lambda r: (r["start_s"], r["channel"], r["speaker"]))
    return [row | {"turn_index": i} for i, row in enumerate(rows)]


def speech_grid(scores: ChannelScores, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Grid times inside speech and, per time, the mean probabilities of the windows covering it."""
    times = grid_times(scores.regions)
    if not len(times) or not len(scores.windows):
        return np.zeros(0), np.zeros((0, len(classes)))
    starts = np.array([w[0] for w in scores.windows])
    ends = np.array([w[1] for w in scores.windows])
    # sums over the windows covering each time, as running sums of +p where a window starts, -p where it ends
    # (times are sorted): memory grows with the call, not with calls x windows
    first, stop = np.searchsorted(times, starts), np.searchsorted(times, ends)
    edges = np.zeros((len(times) + 1, len(classes) + 1))
    weighted = np.hstack([scores.proba, np.ones((len(starts), 1))])
    np.add.at(edges, first, weighted)
    np.add.at(edges, stop, -weighted)
    running = np.cumsum(edges[:-1], axis=0)
    sums, count = running[:, :-1], np.round(running[:, -1])
    alone = count == 0  # speech no window covers: the nearest window's probabilities
    sums[alone], count[alone] = scores.proba[_nearest(times[alone], (starts + ends) / 2)], 1
    return times, (sums / count[:, None]).astype(np.float32)


def negative_share(labels: np.ndarray, negative: np.ndarray) -> float:
    return float(negative[labels].mean()) if len(labels) else 0.0


def summarize(call_id: str, path: str, duration_s: float, channels: int, scores: ChannelScores,
              classes: list[str]) -> dict:
    """Shares of speech time per emotion, negative share overall and per quarter of the call, escalation,
    the most negative moment, the median level of speech, the speaking rate."""
    times, proba = speech_grid(scores, classes)
    base = {"call_id": call_id, "path": path, "duration_s": duration_s, "channels": channels,
            "channel": scores.channel, "speaker": scores.party,
            "speech_s": scores.speech_s, "n_segments": len(scores.windows)}
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
            "syllables_per_s": len(scores.nuclei) / scores.speech_s if scores.speech_s > 0 else None, "status": "ok"}


def out_of_domain_share(scores: ChannelScores) -> float | None:
    """Share of scored window time flagged out of domain; None for a model without a guard."""
    if not scores.guarded:
        return None
    lengths = np.array([e - s for s, e in scores.windows])
    return float(lengths[~scores.in_domain].sum() / lengths.sum()) if lengths.sum() > 0 else 0.0
