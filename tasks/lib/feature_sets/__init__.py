"""Feature sets registered by name: each maps mono 16 kHz audio to a float32 (frames, bins) array."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tasks.lib.feature_sets.frames import LogMelConfig, Mfcc40MeanConfig, MfccSeqConfig, logmel, mfcc40_mean, mfcc_seq
from tasks.lib.feature_sets.functionals import FunctionalsConfig, feature_names, functionals
from tasks.lib.kernels import compile_once


@dataclass(frozen=True)
class FeatureSet:
    """A named extractor with its config; the config hash versions the stored rows."""

    name: str
    config: Any
    extract_fn: Callable[[np.ndarray, Any], np.ndarray]
    frame_level: bool
    code_version: int  # bump when this set's extraction code changes its output for the same config
    names_fn: Callable[[Any], list[str]] | None = None

    def extract(self, y: np.ndarray) -> np.ndarray:
        compile_once("feature_sets", _exercise_feature_sets)
        out = np.asarray(self.extract_fn(y, self.config), dtype=np.float32)
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)

    def describe(self) -> dict[str, Any]:
        return {"feature_set": self.name, "config": asdict(self.config), "code_version": self.code_version}

    @property
    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.describe(), sort_keys=True).encode()).hexdigest()[:12]

    @property
    def n_bins(self) -> int:
        return self.extract(np.zeros(16_000, np.float32)).shape[1]

    def names(self) -> list[str] | None:
        return self.names_fn(self.config) if self.names_fn else None


FEATURE_SETS: dict[str, FeatureSet] = {
    "functionals": FeatureSet("functionals", FunctionalsConfig(), functionals, frame_level=False, code_version=5,
                              names_fn=feature_names),
    "logmel": FeatureSet("logmel", LogMelConfig(), logmel, frame_level=True, code_version=3),
    "mfcc_seq": FeatureSet("mfcc_seq", MfccSeqConfig(), mfcc_seq, frame_level=True, code_version=3),
    "mfcc40_mean": FeatureSet("mfcc40_mean", Mfcc40MeanConfig(), mfcc40_mean, frame_level=False, code_version=2),
}


def _exercise_feature_sets() -> None:
    """Every set once on a second of noise, so each kernel and dtype it uses is compiled (or loaded)."""
    y = np.random.default_rng(0).standard_normal(16_000).astype(np.float32) * 0.1
    for fs in FEATURE_SETS.values():
        fs.extract_fn(y, fs.config)


def get_feature_set(name: str) -> FeatureSet:
    if name not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {name!r}; choose from {sorted(FEATURE_SETS)}")
    return FEATURE_SETS[name]
