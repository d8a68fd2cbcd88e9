"""Temperature scaling: fitted on held-out predictions, it keeps every argmax and lowers the calibration error,
and is not served where it would raise it."""
import numpy as np

from ser_models.calibration import (
    apply_temperature,
    cross_fitted_calibration,
    expected_calibration_error,
    fit_temperature,
)


def overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A 4-class model right 70% of the time (60% plus lucky guesses) that always claims 97%."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    guess = np.where(rng.random(n) < 0.6, y, rng.integers(0, 4, n))
    proba = np.full((n, 4), 0.01)
    proba[np.arange(n), guess] = 0.97
    return proba, y


def test_overconfident_model_is_softened_without_changing_its_answers():
    proba, y = overconfident(2000, 0)
    t = fit_temperature(proba, y)
    calibrated = apply_temperature(proba, t)
    assert t > 1.5
    assert (calibrated.argmax(1) == proba.argmax(1)).all() and np.allclose(calibrated.sum(1), 1)
    assert expected_calibration_error(calibrated, y) < 0.05 < 0.2 < expected_calibration_error(proba, y)


def test_cross_fitted_report_uses_other_folds_only():
    folds = [overconfident(300, seed) for seed in range(5)]
    report = cross_fitted_calibration(folds)
    assert report["n"] == 1500 and report["ece_after"] < report["ece_before"] / 3
    assert report["temperature"] > 1.5 and report["applied"] and report["ece_served"] == report["ece_after"]


def fixed_confidence(n: int, accuracy: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A 4-class model that always claims 60% and is right `accuracy` of the time."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    guess = np.where(rng.random(n) < accuracy, y, (y + 1) % 4)
    proba = np.full((n, 4), 0.4 / 3)
    proba[np.arange(n), guess] = 0.6
    return proba, y


def test_scaling_that_raises_the_error_is_not_served():
    """Calibrated on average, wrong per fold (an easy and a hard speaker): each fold's temperature, fitted on
    the other, makes it worse, so the served temperature stays 1.0."""
    folds = [fixed_confidence(400, 0.9, 0), fixed_confidence(400, 0.3, 1)]
    report = cross_fitted_calibration(folds)
    assert report["ece_after"] > report["ece_before"]
    assert not report["applied"] and report["temperature"] == 1.0 and report["fitted_temperature"] != 1.0
    assert report["ece_served"] == report["ece_before"]
