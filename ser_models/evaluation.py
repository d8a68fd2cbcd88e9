"""Speaker-grouped folds, their leak contract, and the metrics every model is judged by."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from data_contracts.suites import validate_fold

SPEAKER_DEPENDENT_LABEL = "SPEAKER-DEPENDENT random split (inflated; not comparable to speaker-independent results)"


@dataclass(frozen=True)
class Fold:
    name: str
    train_speakers: tuple[str, ...]
    test_speakers: tuple[str, ...]
    test_utterances: frozenset[str] = frozenset()  # only for the speaker-dependent random split


@dataclass(frozen=True)
class CVPlan:
    spec: str
    folds: list[Fold]
    speaker_independent: bool

    @property
    def label(self) -> str:
        return f"{self.spec} (speaker-independent)" if self.speaker_independent else f"{self.spec}: {SPEAKER_DEPENDENT_LABEL}"


def make_folds(rows: pd.DataFrame, spec: str, seed: int = 0) -> CVPlan:
    """loso | speaker-kfold:K | holdout:<speaker,…> | random:<fraction> (speaker-dependent, labelled so)."""
    speakers = sorted(rows["speaker_id"].unique())
    kind, _, arg = spec.partition(":")
    rng = np.random.default_rng(seed)
    if kind == "loso":
        groups = [[s] for s in speakers]
    elif kind == "speaker-kfold":
        k = int(arg or 5)
        if not 2 <= k <= len(speakers):
            raise ValueError(f"speaker-kfold needs 2..{len(speakers)} folds, got {k}")
        shuffled = list(rng.permutation(speakers))
        groups = [sorted(shuffled[i::k]) for i in range(k)]
    elif kind == "holdout":
        held = [s for s in arg.split(",") if s]
        unknown = set(held) - set(speakers)
        if not held or unknown:
            raise ValueError(f"holdout speakers {sorted(unknown) or '(none)'} not in the data; speakers: {speakers}")
        groups = [held]
    elif kind == "random":
        fraction = float(arg or 0.2)
        originals = rows.loc[rows["augmentation"] == "none", "utterance_id"].unique()
        test = frozenset(rng.choice(originals, size=max(1, int(round(fraction * len(originals)))), replace=False))
        return CVPlan(spec, [Fold("random", tuple(speakers), tuple(speakers), test)], speaker_independent=False)
    else:
        raise ValueError(f"unknown --cv {spec!r}: use loso, speaker-kfold:K, holdout:<speakers> or random:<fraction>")
    folds = [Fold("+".join(s.split(":")[-1] for s in g) if len(g) <= 3 else f"fold{i}",
                  tuple(s for s in speakers if s not in g), tuple(g)) for i, g in enumerate(groups)]
    return CVPlan(spec, folds, speaker_independent=True)


def fold_indices(rows: pd.DataFrame, fold: Fold, speaker_independent: bool) -> tuple[np.ndarray, np.ndarray]:
    """Train rows (augmented copies of training speakers included) and test rows (recordings only)."""
    original = rows["augmentation"].to_numpy() == "none"
    if speaker_independent:
        in_test = rows["speaker_id"].isin(fold.test_speakers).to_numpy()
        in_train = rows["speaker_id"].isin(fold.train_speakers).to_numpy()
    else:
        in_test = rows["utterance_id"].isin(fold.test_utterances).to_numpy()
        in_train = ~in_test
    return np.flatnonzero(in_train), np.flatnonzero(in_test & original)


def check_fold(rows: pd.DataFrame, fold: Fold, train: np.ndarray, test: np.ndarray, speaker_independent: bool) -> None:
    """The data contract: raises ContractViolation if this fold leaks speakers or augmented copies."""
    validate_fold(fold.name, rows.iloc[train], rows.iloc[test], speaker_independent).raise_on_failure()


def validation_split(rows: pd.DataFrame, train: np.ndarray, speaker_independent: bool,
                     fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Carve early-stopping validation out of train: whole speakers (at least one) when speaker-independent."""
    rng = np.random.default_rng(seed)
    sub = rows.iloc[train]
    if speaker_independent and sub["speaker_id"].nunique() > 1:
        speakers = sorted(sub["speaker_id"].unique())
        n_val = max(1, int(round(fraction * len(speakers))))
        held = set(rng.choice(speakers, size=n_val, replace=False))
        in_val = sub["speaker_id"].isin(held).to_numpy()
    else:
        utts = sub["utterance_id"].unique()
        held = set(rng.choice(utts, size=max(1, int(round(fraction * len(utts)))), replace=False))
        in_val = sub["utterance_id"].isin(held).to_numpy()
    val_original = in_val & (sub["augmentation"].to_numpy() == "none")
    return train[~in_val], train[val_original]


def metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict:
    """UA (balanced accuracy), WA (accuracy), macro-F1, per-class P/R/F1 and the confusion matrix."""
    labels = list(range(len(classes)))
    p, r, f, n = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    with warnings.catch_warnings():
        # A fold or a call that lacks some class is normal here; its support of 0 is in per_class.
        warnings.filterwarnings("ignore", "y_pred contains classes not in y_true", UserWarning)
        ua = float(balanced_accuracy_score(y_true, y_pred))
    return {
        "ua": ua,
        "wa": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "n": int(len(y_true)),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(n[i])}
                      for i, c in enumerate(classes)},
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def plot_confusion(confusion: list[list[int]], classes: list[str], title: str, path: str) -> None:
    """Row-normalised confusion matrix as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(confusion, dtype=float)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * len(classes), 1 + 0.6 * len(classes)))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", color="white" if norm[i, j] > 0.5 else "black",
                    fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def segment_labels(segments: pd.DataFrame, labels: pd.DataFrame, min_overlap: float = 0.5) -> pd.DataFrame:
    """Scored spans (segments, or turns) joined to the ground-truth utterance that covers most of each (spans
    covered less than min_overlap by any labelled utterance are left out)."""
    joined = segments.merge(labels, on=["call_id", "channel"], suffixes=("", "_true"))
    overlap = (np.minimum(joined["end_s"], joined["end_s_true"]) - np.maximum(joined["start_s"], joined["start_s_true"]))
    joined = joined.assign(overlap=overlap.clip(lower=0) / (joined["end_s"] - joined["start_s"]))
    best = joined.sort_values("overlap").drop_duplicates(["call_id", "channel", "start_s", "end_s"], keep="last")
    return best[best["overlap"] >= min_overlap]


def segment_level_metrics(segments: pd.DataFrame, labels: pd.DataFrame, classes: list[str]) -> dict:
    """UA/WA/F1 of the scoring path's spans (VAD + windows, or turns) against known utterance labels."""
    matched = segment_labels(segments, labels)
    matched = matched[matched["emotion_true"].isin(classes)]
    index = {c: i for i, c in enumerate(classes)}
    return metrics(matched["emotion_true"].map(index).to_numpy(), matched["emotion"].map(index).to_numpy(), classes)


def _grid_speakers(times: np.ndarray, spans: pd.DataFrame) -> np.ndarray:
    """The speaker of each grid time: of the spans covering it, the one whose centre is nearest (overlapping
    windows); '' where none does."""
    out = np.full(len(times), "", dtype=object)
    if not len(spans):
        return out
    start, end = spans["start_s"].to_numpy(), spans["end_s"].to_numpy()
    cover = (times[:, None] >= start[None, :]) & (times[:, None] < end[None, :])
    pick = np.where(cover, -np.abs(times[:, None] - (start + end)[None, :] / 2), -np.inf).argmax(axis=1)
    covered = cover.any(axis=1)
    out[covered] = spans["speaker"].to_numpy()[pick[covered]]
    return out


def diarization_error(segments: pd.DataFrame, truth: pd.DataFrame, step_s: float = 0.1,
                      collar_s: float = 0.0) -> dict[str, float]:
    """Diarization error rate of the segments' speaker labels against the truth's turns (both with call_id,
    channel, speaker, start_s, end_s), on a step_s grid: missed speech, false alarm and speaker confusion
    (under each channel's best one-to-one mapping of labels), each as a share of true speech. Grid times
    within collar_s of a true turn's start or end are not scored (NIST's RT evaluations used 0.25 s)."""
    from scipy.optimize import linear_sum_assignment

    miss = false_alarm = confusion = speech = 0.0
    for (call, channel), turns in truth.groupby(["call_id", "channel"]):
        hyp_spans = segments[segments["call_id"].eq(call) & segments["channel"].eq(channel)]
        times = np.arange(0.0, max(turns["end_s"].max(), hyp_spans["end_s"].max() if len(hyp_spans) else 0.0), step_s)
        if collar_s > 0:  # no grid x edges matrix when nothing is left out
            edges = np.concatenate([turns["start_s"].to_numpy(), turns["end_s"].to_numpy()])
            times = times[np.abs(times[:, None] - edges[None, :]).min(axis=1) >= collar_s]
        ref, hyp = _grid_speakers(times, turns), _grid_speakers(times, hyp_spans)
        both = (ref != "") & (hyp != "")
        refs, hyps = sorted(set(ref[both])), sorted(set(hyp[both]))
        agree = np.array([[np.sum(both & (ref == r) & (hyp == h)) for h in hyps] for r in refs]).reshape(len(refs), len(hyps))
        rows, cols = linear_sum_assignment(-agree) if agree.size else ([], [])
        speech += np.sum(ref != "")
        miss += np.sum((ref != "") & (hyp == ""))
        false_alarm += np.sum((ref == "") & (hyp != ""))
        confusion += both.sum() - agree[rows, cols].sum()
    parts = {"missed": miss, "false_alarm": false_alarm, "confusion": confusion}
    return {"der": sum(parts.values()) / max(speech, 1)} | {k: v / max(speech, 1) for k, v in parts.items()}
