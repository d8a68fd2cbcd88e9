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
from tasks.lib.feature_sets.voice import (
    FunctionalsGe2eConfig,
    Ge2eConfig,
    functionals_ge2e,
    functionals_ge2e_many,
    functionals_ge2e_names,
    ge2e,
    ge2e_layers,
    ge2e_layers_many,
    ge2e_layers_names,
    ge2e_many,
    ge2e_names,
)
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
    many_fn: Callable[[list[np.ndarray], Any], list[np.ndarray]] | None = None  # many clips at once: a batched model

    def extract(self, y: np.ndarray) -> np.ndarray:
        self._warm()
        return _finite(self.extract_fn(y, self.config))

    def extract_many(self, clips: list[np.ndarray]) -> list[np.ndarray]:
        """extract() of each clip; a set with a batched model runs it over all of them together."""
        if self.many_fn is None:
            return [self.extract(y) for y in clips]
        self._warm()
        return [_finite(x) for x in self.many_fn(clips, self.config)]

    def _warm(self) -> None:
        """This set's first use in a process: once on a second of noise, under the machine-wide lock, so the
        kernels it compiles (or the model it loads) are cached before another process races for them; a
        process that uses one set no longer warms them all."""
        compile_once(f"feature_set:{self.name}", lambda: self.extract_fn(_NOISE, self.config))

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


_NOISE = np.random.default_rng(0).standard_normal(16_000).astype(np.float32) * 0.1


def _finite(x: np.ndarray) -> np.ndarray:
    return np.nan_to_num(np.asarray(x, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)


FEATURE_SETS: dict[str, FeatureSet] = {
    "functionals": FeatureSet("functionals", FunctionalsConfig(), functionals, frame_level=False, code_version=6,
                              names_fn=feature_names),
    "ge2e": FeatureSet("ge2e", Ge2eConfig(), ge2e, frame_level=False, code_version=1, names_fn=ge2e_names,
                       many_fn=ge2e_many),
    "ge2e_layers": FeatureSet("ge2e_layers", Ge2eConfig(), ge2e_layers, frame_level=False, code_version=1,
                              names_fn=ge2e_layers_names, many_fn=ge2e_layers_many),
    "functionals_ge2e": FeatureSet("functionals_ge2e", FunctionalsGe2eConfig(), functionals_ge2e, frame_level=False,
                                   code_version=2, names_fn=functionals_ge2e_names, many_fn=functionals_ge2e_many),
    "logmel": FeatureSet("logmel", LogMelConfig(), logmel, frame_level=True, code_version=3),
    "mfcc_seq": FeatureSet("mfcc_seq", MfccSeqConfig(), mfcc_seq, frame_level=True, code_version=3),
    "mfcc40_mean": FeatureSet("mfcc40_mean", Mfcc40MeanConfig(), mfcc40_mean, frame_level=False, code_version=2),
}


def get_feature_set(name: str) -> FeatureSet:
    if name not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {name!r}; choose from {sorted(FEATURE_SETS)}")
    return FEATURE_SETS[name]
