"""Calibrated confidence: one temperature fitted on speaker-disjoint predictions, and the error it leaves.

Cross-validation gives every training file a probability from a model that never saw its speaker. A
temperature T rescales log-probabilities (p ∝ p_model^(1/T)) so that, on those predictions, confidence
matches accuracy; argmax and therefore UA do not change. Expected calibration error (ECE) is measured
cross-fitted: each fold's files with a temperature fitted on the other folds only.

Scaling is served only where that cross-fitted ECE goes down. A model whose probabilities are already
calibrated on average (the SVM's are Platt-scaled) can get worse: its error is per speaker (one speaker's
files right 84% of the time, another's 41%, at the same confidence), which one temperature cannot fix and
a temperature fitted on other speakers only moves around.
"""
from __future__ import annotations

import numpy as np

TEMPERATURES = np.exp(np.linspace(np.log(0.05), np.log(20.0), 121))
ECE_BINS = 15


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities sharpened (T < 1) or softened (T > 1), rows summing to one."""
    logits = np.log(np.clip(proba, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def negative_log_likelihood(proba: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, 1.0)).mean())


def fit_temperature(proba: np.ndarray, y: np.ndarray) -> float:
    """The temperature on a log grid that minimises the negative log-likelihood of the true classes."""
    losses = [negative_log_likelihood(apply_temperature(proba, t), y) for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by their share of rows."""
    confidence, correct = proba.max(axis=1), proba.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def cross_fitted_calibration(folds: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """ECE before and after temperature scaling, each fold calibrated on the others; and the temperature to
    serve: the one fitted on all folds where scaling lowered the cross-fitted ECE, else 1.0."""
    proba = np.concatenate([p for p, _ in folds])
    y = np.concatenate([t for _, t in folds])
    after = []
    for i, (p, _) in enumerate(folds):
        others = [f for j, f in enumerate(folds) if j != i]
        t = fit_temperature(np.concatenate([q for q, _ in others]), np.concatenate([u for _, u in others])) if others else 1.0
        after.append(apply_temperature(p, t))
    fitted, before = fit_temperature(proba, y), expected_calibration_error(proba, y)
    ece_after = expected_calibration_error(np.concatenate(after), y)
    applied = ece_after < before
    return {"temperature": fitted if applied else 1.0, "fitted_temperature": fitted, "applied": applied,
            "ece_before": before, "ece_after": ece_after, "ece_served": ece_after if applied else before,
            "n": int(len(y)), "method": "temperature scaling on speaker-disjoint CV predictions (per file); ECE "
                                        "cross-fitted by fold; served only where it lowers that ECE"}
