"""File-level contract: whether one decoded file may enter the utterances table."""
from __future__ import annotations

from dataclasses import dataclass

from data_contracts.reasons import Reason


@dataclass(frozen=True)
class AudioLimits:
    """Acceptance limits for one utterance; defaults suit acted emotional speech."""

    min_duration_s: float = 0.3
    max_duration_s: float = 30.0
    min_sample_rate: int = 8000
    silence_peak: float = 1e-4

    def __post_init__(self) -> None:
        if not 0 < self.min_duration_s < self.max_duration_s:
            raise ValueError("need 0 < min_duration_s < max_duration_s")
        if self.min_sample_rate <= 0 or self.silence_peak < 0:
            raise ValueError("min_sample_rate must be > 0 and silence_peak >= 0")


def check_audio(
    sample_rate: int, duration_s: float, peak: float, limits: AudioLimits
) -> tuple[Reason, str] | None:
    """The first reason this decoded file breaks the contract, or None when it passes."""
    if sample_rate < limits.min_sample_rate:
        return Reason.LOW_SAMPLE_RATE, f"{sample_rate} Hz < {limits.min_sample_rate} Hz"
    if duration_s == 0 or peak <= limits.silence_peak:
        return Reason.EMPTY_OR_SILENT, f"{duration_s:.3f} s, peak {peak:.2e}"
    if duration_s < limits.min_duration_s:
        return Reason.TOO_SHORT, f"{duration_s:.3f} s < {limits.min_duration_s} s"
    if duration_s > limits.max_duration_s:
        return Reason.TOO_LONG, f"{duration_s:.1f} s > {limits.max_duration_s} s"
    return None
