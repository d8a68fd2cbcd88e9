"""Fixed reason codes for quarantine and reject rows, so analysts can group by them."""
from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    UNDECODABLE = "undecodable"
    NON_FINITE_SAMPLES = "non_finite_samples"  # NaN, inf, or magnitudes no audio has
    EMPTY_OR_SILENT = "empty_or_silent"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    LOW_SAMPLE_RATE = "low_sample_rate"
    UNPARSEABLE_NAME = "unparseable_name"
    UNKNOWN_LABEL = "unknown_label"
    SPEAKER_MISMATCH = "speaker_mismatch"
    MISSING_FILE = "missing_file"
    MISSING_FIELD = "missing_field"  # a CSV row without a path, emotion or speaker
    OUTSIDE_CORPUS = "outside_corpus"  # a listed path or a symlink that leads outside the corpus folder
    DUPLICATE_AUDIO = "duplicate_audio"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    FEATURE_FAILED = "feature_failed"
