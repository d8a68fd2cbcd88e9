"""The one STFT per file that every frame-based feature set derives from."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import librosa
import numpy as np
import torch


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


@lru_cache(maxsize=8)
def _window(win_length: int) -> torch.Tensor:
    return torch.hann_window(win_length)  # periodic Hann, as librosa.stft uses


def power_spectrogram(y: np.ndarray, cfg: FrameConfig) -> np.ndarray:
    """librosa.stft's centred framing via torch.stft, the faster of the two on CPU (docs/benchmarks.md)."""
    if len(y) < cfg.n_fft:
        y = np.pad(y, (0, cfg.n_fft - len(y)))
    spec = torch.stft(torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)), cfg.n_fft, cfg.hop_length,
                      cfg.win_length, window=_window(cfg.win_length), center=True, pad_mode="constant",
                      return_complex=True)
    return (spec.real.square() + spec.imag.square()).numpy()


def compute_spectra(y: np.ndarray, cfg: FrameConfig) -> Spectra:
    """STFT once; mel in dB (floor -100 dB so silence stays finite)."""
    power = power_spectrogram(y, cfg)
    mel = mel_filterbank(cfg) @ power
    return Spectra(power=power, mel_db=librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None))
