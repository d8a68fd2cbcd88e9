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
    # The features describe the voice, not the recording: level, gain and silence floor are taken out.
    loudness_dbfs: float = -23.0  # RMS of the active frames after loudness normalisation
    top_db: float = 80.0  # log-mel in dB below the utterance's loudest cell, floored here
    active_db: float = -40.0  # frames within this of the loudest frame are speech-like, the rest silence


@dataclass(frozen=True)
class Spectra:
    """Power spectrogram and what is cheaply derived from it, shape (bins, frames) each."""

    power: np.ndarray
    mel_db: np.ndarray
    active: np.ndarray  # (frames,) bool: within active_db of the loudest frame

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


def frame_levels_db(y: np.ndarray, cfg: FrameConfig) -> np.ndarray:
    """RMS per analysis frame in dB re full scale (time domain, no STFT)."""
    rms = librosa.feature.rms(y=np.pad(y, (0, max(0, cfg.win_length - len(y)))), frame_length=cfg.win_length,
                              hop_length=cfg.hop_length)[0]
    return 20 * np.log10(np.maximum(rms, 1e-10))


def active_mask(levels_db: np.ndarray, cfg: FrameConfig) -> np.ndarray:
    """Frames within active_db of the loudest one; all frames when there is no signal at all."""
    active = levels_db > levels_db.max() + cfg.active_db
    return active if levels_db.max() > -190 else np.ones_like(active)


def normalize_loudness(y: np.ndarray, cfg: FrameConfig) -> np.ndarray:
    """Scale so the active frames' RMS is cfg.loudness_dbfs: recording gain stops mattering."""
    levels = frame_levels_db(y, cfg)
    active = active_mask(levels, cfg)
    level_db = 10 * np.log10(np.mean(10 ** (levels[active] / 10)))
    if level_db < -190:  # digital silence: nothing to scale
        return y
    return (y * 10 ** ((cfg.loudness_dbfs - level_db) / 20)).astype(np.float32)


def compute_spectra(y: np.ndarray, cfg: FrameConfig) -> Spectra:
    """Loudness-normalised audio, STFT once; mel in dB relative to the utterance's loudest cell, top_db deep."""
    y = normalize_loudness(y, cfg)
    power = power_spectrogram(y, cfg)
    mel = mel_filterbank(cfg) @ power
    frame_db = 10 * np.log10(np.maximum(power.sum(axis=0), 1e-20))
    return Spectra(power=power, mel_db=librosa.power_to_db(mel, ref=np.max, amin=1e-10, top_db=cfg.top_db),
                   active=active_mask(frame_db, cfg))
