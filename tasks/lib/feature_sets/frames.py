"""Frame-level feature sets: logmel (CNN input), mfcc_seq (LSTM input), mfcc40_mean (the seed baseline)."""
from __future__ import annotations

from dataclasses import dataclass, field

import librosa
import numpy as np

from tasks.lib.feature_sets.spectra import FrameConfig, compute_spectra


@dataclass(frozen=True)
class LogMelConfig:
    frames: FrameConfig = field(default_factory=FrameConfig)


@dataclass(frozen=True)
class MfccSeqConfig:
    frames: FrameConfig = field(default_factory=FrameConfig)
    n_mfcc: int = 40

    def __post_init__(self) -> None:
        if not 13 <= self.n_mfcc <= 40:
            raise ValueError("mfcc_seq takes 13..40 coefficients")


@dataclass(frozen=True)
class Mfcc40MeanConfig:
    """librosa's defaults, exactly as the simplest seed model computed them."""

    sample_rate: int = 16_000
    n_mfcc: int = 40


def logmel(y: np.ndarray, cfg: LogMelConfig) -> np.ndarray:
    """(frames, 64) log-mel energies in dB below the utterance's loudest cell, loudness-normalised."""
    return compute_spectra(y, cfg.frames).mel_db.T


def mfcc_seq(y: np.ndarray, cfg: MfccSeqConfig) -> np.ndarray:
    """(frames, n_mfcc) MFCCs."""
    return compute_spectra(y, cfg.frames).mfcc(cfg.n_mfcc).T


def mfcc40_mean(y: np.ndarray, cfg: Mfcc40MeanConfig) -> np.ndarray:
    """(1, 40): the time-averaged MFCC vector."""
    y = np.pad(y, (0, max(0, 2048 - len(y))))  # librosa's default n_fft
    return librosa.feature.mfcc(y=y, sr=cfg.sample_rate, n_mfcc=cfg.n_mfcc).mean(axis=1)[None, :]
