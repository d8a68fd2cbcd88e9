"""Named augmentation presets (augment_presets.toml) -> seeded audiomentations chains."""
from __future__ import annotations

import hashlib
import json
import random
import re
import sys
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import audiomentations as am
import librosa
import numpy as np
from audiomentations.core.transforms_interface import BaseWaveformTransform
from scipy.signal import butter, sosfilt

from tasks.lib.audio import resample
from tasks.lib.kernels import compile_once

NO_AUGMENTATION = "none"
TRAIN_DEFAULT = ("speedx2",)  # what `serflow train` adds unless told otherwise
TELEPHONE_SR = 8_000
_RNG_LOCK = threading.Lock()  # one chain at a time may point audiomentations at private generators


def through_mu_law(samples: np.ndarray) -> np.ndarray:
    """What an 8-bit mu-law line delivers: each sample through the codec and back."""
    codes = librosa.mu_compress(np.clip(samples, -1.0, 1.0), mu=255, quantize=True)
    return librosa.mu_expand(codes, mu=255, quantize=True).astype(np.float32)


class TelephoneChannel(BaseWaveformTransform):
    """A narrow-band phone line: band-pass ~300-3400 Hz, 8 kHz resampling, 8-bit mu-law companding."""

    supports_multichannel = False

    def __init__(self, min_low_hz: float = 250.0, max_low_hz: float = 350.0, min_high_hz: float = 3200.0,
                 max_high_hz: float = 3500.0, mu_law: bool = True, p: float = 0.5) -> None:
        super().__init__(p)
        if not 0 < min_low_hz <= max_low_hz < min_high_hz <= max_high_hz < TELEPHONE_SR / 2:
            raise ValueError("need 0 < min_low_hz <= max_low_hz < min_high_hz <= max_high_hz < 4000")
        self.min_low_hz, self.max_low_hz = min_low_hz, max_low_hz
        self.min_high_hz, self.max_high_hz = min_high_hz, max_high_hz
        self.mu_law = mu_law

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int) -> None:
        super().randomize_parameters(samples, sample_rate)
        if self.parameters["should_apply"]:
            self.parameters["low_hz"] = random.uniform(self.min_low_hz, self.max_low_hz)
            self.parameters["high_hz"] = random.uniform(self.min_high_hz, self.max_high_hz)

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        sos = butter(8, [self.parameters["low_hz"], self.parameters["high_hz"]], btype="band",
                     fs=sample_rate, output="sos")
        narrow = resample(sosfilt(sos, samples).astype(np.float32), sample_rate, TELEPHONE_SR)
        if self.mu_law:
            narrow = through_mu_law(narrow)
        wide = resample(narrow, TELEPHONE_SR, sample_rate)
        # Resampling back can land a few samples short or long; keep the input's length.
        return np.pad(wide, (0, max(0, len(samples) - len(wide))))[: len(samples)]


class SpeedPerturbation(BaseWaveformTransform):
    """Play the audio faster or slower, pitch and tempo together (Kaldi's speed perturbation): another
    vocal-tract length and speaking rate, the variation between speakers that emotion must not depend on."""

    supports_multichannel = False

    def __init__(self, min_rate: float = 0.9, max_rate: float = 1.1, p: float = 0.5) -> None:
        super().__init__(p)
        if not 0.5 <= min_rate <= max_rate <= 2.0:
            raise ValueError("need 0.5 <= min_rate <= max_rate <= 2.0")
        self.min_rate, self.max_rate = min_rate, max_rate

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int) -> None:
        super().randomize_parameters(samples, sample_rate)
        if self.parameters["should_apply"]:
            self.parameters["rate"] = random.uniform(self.min_rate, self.max_rate)

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        # Read as if recorded at rate x the true rate, then resampled back: rate > 1 is faster and higher.
        return resample(samples, round(sample_rate * self.parameters["rate"]), sample_rate)


class ToneContour(BaseWaveformTransform):
    """Bend pitch and pace along a random contour, a new target every `knot_s` (a syllable or so): the pitch
    movement of a tone language such as Mandarin, where it carries the words, so emotion must not be read
    from pitch movement alone."""

    supports_multichannel = False

    def __init__(self, max_semitones: float = 9.0, knot_s: float = 0.2, p: float = 0.5) -> None:
        super().__init__(p)
        if not 0 < max_semitones <= 12 or not 0.05 <= knot_s <= 1.0:
            raise ValueError("need 0 < max_semitones <= 12 and 0.05 <= knot_s <= 1.0")
        self.max_semitones, self.knot_s = max_semitones, knot_s

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int) -> None:
        super().randomize_parameters(samples, sample_rate)
        if self.parameters["should_apply"]:
            knots = int(self._longest(len(samples)) / sample_rate / self.knot_s) + 2
            self.parameters["semitones"] = np.random.uniform(-self.max_semitones, self.max_semitones, knots)

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        # Read the input at a rate that follows the contour, 2^(s/12) times faster and so s semitones higher,
        # until all of it is read: the copy is as long as the contour makes it. No anti-aliasing filter: reading
        # faster folds the band above 8 kHz / rate down, which moves a copy's `ge2e_layers` vector by about 2% of
        # what the contour itself moves it (bench/tone_alias.py, docs/benchmarks.md).
        knot_times = np.arange(len(self.parameters["semitones"])) * self.knot_s
        out_times = np.arange(self._longest(len(samples))) / sample_rate
        rate = 2 ** (np.interp(out_times, knot_times, self.parameters["semitones"]) / 12)
        position = np.concatenate(([0.0], np.cumsum(rate[:-1])))
        position = position[position <= len(samples) - 1]
        return np.interp(position, np.arange(len(samples)), samples).astype(np.float32)

    def _longest(self, n: int) -> int:
        """Samples of the copy if the whole input were read at the lowest rate."""
        return int(np.ceil(n * 2 ** (self.max_semitones / 12))) + 1


TRANSFORMS: dict[str, type[BaseWaveformTransform]] = {
    "AddGaussianSNR": am.AddGaussianSNR, "PitchShift": am.PitchShift, "TimeStretch": am.TimeStretch,
    "Shift": am.Shift, "Gain": am.Gain, "BandPassFilter": am.BandPassFilter, "TelephoneChannel": TelephoneChannel,
    "ClippingDistortion": am.ClippingDistortion, "SpeedPerturbation": SpeedPerturbation, "ToneContour": ToneContour,
}


@lru_cache(maxsize=1)
def presets() -> dict[str, list[dict[str, Any]]]:
    """Preset name -> transform specs, read from augment_presets.toml and checked once."""
    config = tomllib.loads(resources.files("tasks.lib").joinpath("augment_presets.toml").read_text())
    table = {name: spec["transforms"] for name, spec in config.items()}
    for name, specs in table.items():
        for spec in specs:
            if spec["type"] not in TRANSFORMS:
                raise ValueError(f"preset {name!r}: unknown transform {spec['type']!r}")
    return table


def _transform_types(augmentation: str) -> set[str]:
    """The transform types of the preset that made copies '<preset>#<n>' (none for originals)."""
    return {spec["type"] for spec in presets().get(augmentation.split("#", 1)[0], [])}


def reaches_phone_band(augmentation: str) -> bool:
    """Whether copies '<preset>#<n>' may have gone through serflow's TelephoneChannel."""
    return "TelephoneChannel" in _transform_types(augmentation)


def adds_noise(augmentation: str) -> bool:
    """Whether copies '<preset>#<n>' may carry added noise."""
    return "AddGaussianSNR" in _transform_types(augmentation)  # the one noise transform TRANSFORMS offers


def build_chain(preset: str) -> am.Compose:
    """A fresh audiomentations Compose for a preset (parameters validated by each transform)."""
    if preset not in presets():
        raise ValueError(f"unknown augmentation preset {preset!r}; choose from {sorted(presets())}")
    return am.Compose([TRANSFORMS[s["type"]](**{k: v for k, v in s.items() if k != "type"})
                       for s in presets()[preset]])


@dataclass(frozen=True)
class AugmentationRequest:
    """PRESET[xN] from the command line: N seeded copies of one preset."""

    preset: str
    copies: int = 1

    @classmethod
    def parse(cls, text: str) -> AugmentationRequest:
        m = re.fullmatch(r"(?P<preset>.+?)(?:x(?P<n>\d+))?", text.strip())
        request = cls(m["preset"], int(m["n"] or 1))
        build_chain(request.preset)  # fail early on an unknown preset
        if request.copies < 1:
            raise ValueError(f"{text!r}: need at least one copy")
        return request

    def keys(self) -> list[str]:
        return [f"{self.preset}#{i}" for i in range(self.copies)]


def seed_for(utterance_id: str, augmentation: str) -> int:
    """A stable 32-bit seed from (utterance, preset, copy)."""
    return int.from_bytes(hashlib.sha256(f"{utterance_id}|{augmentation}".encode()).digest()[:4], "little")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


class _NumpyWithPrivateRandom:
    """numpy as a chain's modules see it while it runs: `np.random` is a private, seeded RandomState."""

    def __init__(self, seed: int) -> None:
        # Held here, not looked up as `np`: this module's own `np` is patched too while TelephoneChannel runs.
        self.numpy, self.random = np, np.random.RandomState(seed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.numpy, name)


@contextmanager
def _private_generators(chain: am.Compose, seed: int) -> Iterator[None]:
    """Seed a chain without the global RNGs, which a Dask worker's other threads draw from too.

    audiomentations draws from the module-level `random` and `np.random`; seeding those globals let
    Dask's and Prefect's background threads steal draws (45 of 535 EMO-DB copies once differed). So
    the modules that define the chain's classes see private generators, seeded exactly as
    `random.seed`/`np.random.seed` would be, for the length of one chain.
    """
    globals_ = {"random": random, "np": np}
    private = {"random": random.Random(seed), "np": _NumpyWithPrivateRandom(seed)}
    modules = {sys.modules[cls.__module__] for t in [chain, *chain.transforms] for cls in type(t).__mro__}
    patched = [(m, name) for m in modules for name, module in globals_.items() if getattr(m, name, None) is module]
    with _RNG_LOCK:
        for m, name in patched:
            setattr(m, name, private[name])
        try:
            yield
        finally:
            for m, name in patched:
                setattr(m, name, globals_[name])


def _exercise_presets() -> None:
    """Every preset once on a second of noise, so the kernels their transforms use are compiled (or loaded)."""
    y = np.random.default_rng(0).standard_normal(16_000).astype(np.float32) * 0.1
    for preset in presets():
        augment(y, 16_000, "warm-up", f"{preset}#0")


def augment(y: np.ndarray, sr: int, utterance_id: str, augmentation: str) -> tuple[np.ndarray, str]:
    """Apply '<preset>#<copy>' to mono audio; returns the audio and the drawn parameters as JSON."""
    compile_once("augment", _exercise_presets)
    chain = build_chain(augmentation.split("#", 1)[0])
    with _private_generators(chain, seed_for(utterance_id, augmentation)):
        out = chain(samples=y.astype(np.float32), sample_rate=sr)
    params = [{"type": type(t).__name__, **{k: _jsonable(v) for k, v in t.parameters.items()}}
              for t in chain.transforms]
    return np.clip(out, -1.0, 1.0).astype(np.float32), json.dumps(params, sort_keys=True)
