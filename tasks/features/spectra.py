"""The one STFT per file that every frame-based feature set derives from."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import librosa
import numpy as np


@dataclass(frozen=True)
class FrameConfig:
    """25 ms windows every 10 ms at 16 kHz, 64 mel bands."""

    sample_rate: int = 16_000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 64
    n_mfcc: int = 40
    fmin_hz: float = 20.0
    fmax_hz: float = 8_000.0


@dataclass(frozen=True)
class Spectra:
    """Power spectrogram and what is cheaply derived from it, shape (bins, frames) each."""

    power: np.ndarray
    mel_db: np.ndarray

    @property
    def magnitude(self) -> np.ndarray:
        return np.sqrt(self.power)

    def mfcc(self, n_mfcc: int) -> np.ndarray:
        return librosa.feature.mfcc(S=self.mel_db, n_mfcc=n_mfcc)


@lru_cache(maxsize=8)
def mel_filterbank(cfg: FrameConfig) -> np.ndarray:
    """Built once per config, not once per file."""
    return librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin_hz,
                               fmax=cfg.fmax_hz)


def compute_spectra(y: np.ndarray, cfg: FrameConfig) -> Spectra:
    """STFT once; mel in dB (floor -100 dB so silence stays finite)."""
    if len(y) < cfg.n_fft:
        y = np.pad(y, (0, cfg.n_fft - len(y)))
    power = np.abs(librosa.stft(y, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length)) ** 2
    mel = mel_filterbank(cfg) @ power
    return Spectra(power=power, mel_db=librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None))
