"""The `functionals` set: statistics over time of ~150 low-level descriptors, one vector per utterance."""
from __future__ import annotations

from dataclasses import dataclass, field

import librosa
import numpy as np

from tasks.features.spectra import FrameConfig, compute_spectra

STATISTICS = ("mean", "std", "min", "max", "p10", "p50", "p90", "slope")


@dataclass(frozen=True)
class FunctionalsConfig:
    frames: FrameConfig = field(default_factory=FrameConfig)
    n_mfcc: int = 40
    n_contrast_bands: int = 6
    f0_min_hz: float = 65.0
    f0_max_hz: float = 500.0
    yin_frame_length: int = 512  # 32 ms: two periods of the lowest F0
    yin_hop_length: int = 320    # pitch every 20 ms, repeated onto the 10 ms grid


def descriptor_names(cfg: FunctionalsConfig) -> list[str]:
    mfcc = [f"mfcc{i:02d}" for i in range(cfg.n_mfcc)]
    return [*mfcc, *(f"d_{m}" for m in mfcc), *(f"dd_{m}" for m in mfcc),
            *(f"chroma{i:02d}" for i in range(12)), *(f"contrast{i}" for i in range(cfg.n_contrast_bands + 1)),
            "zcr", "rms", "f0_st", "voiced", "centroid_hz", "bandwidth_hz", "rolloff_hz", "flatness"]


def feature_names(cfg: FunctionalsConfig) -> list[str]:
    return [f"{d}__{s}" for d in descriptor_names(cfg) for s in STATISTICS]


def low_level_descriptors(y: np.ndarray, cfg: FunctionalsConfig) -> np.ndarray:
    """(descriptors, frames) from a single STFT, plus YIN pitch and ZCR on the waveform."""
    fc = cfg.frames
    spectra = compute_spectra(y, fc)
    mag, n = spectra.magnitude, spectra.power.shape[1]
    mfcc = spectra.mfcc(cfg.n_mfcc)
    width = min(9, n if n % 2 else n - 1)
    deltas = ([librosa.feature.delta(mfcc, width=width, order=o) for o in (1, 2)] if width >= 3
              else [np.zeros_like(mfcc)] * 2)
    chroma = librosa.feature.chroma_stft(S=spectra.power, sr=fc.sample_rate, n_fft=fc.n_fft, tuning=0.0)
    contrast = librosa.feature.spectral_contrast(S=mag, sr=fc.sample_rate, n_fft=fc.n_fft, fmin=100.0,
                                                 n_bands=cfg.n_contrast_bands)
    rms = librosa.feature.rms(S=mag, frame_length=fc.n_fft)
    padded = np.pad(y, (0, max(0, cfg.yin_frame_length - len(y))))
    f0 = librosa.yin(padded, fmin=cfg.f0_min_hz, fmax=cfg.f0_max_hz, sr=fc.sample_rate,
                     frame_length=cfg.yin_frame_length, hop_length=cfg.yin_hop_length)
    f0 = np.repeat(f0, cfg.yin_hop_length // fc.hop_length)
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=fc.win_length, hop_length=fc.hop_length)
    zcr, f0 = (np.resize(v.ravel(), n) for v in (zcr, f0))
    centroid = librosa.feature.spectral_centroid(S=mag, sr=fc.sample_rate, n_fft=fc.n_fft)
    # Voiced: loud enough (within 35 dB of the peak) and not noise-like.
    rms_db = librosa.amplitude_to_db(rms[0], ref=np.max(rms) + 1e-12)
    voiced = ((rms_db > -35.0) & (zcr < 0.25)).astype(np.float32)
    f0_st = 12 * np.log2(f0 / 100.0) * voiced  # semitones re 100 Hz, 0 where unvoiced
    lld = np.vstack([
        mfcc, *deltas, chroma, contrast, zcr[None], rms, f0_st[None], voiced[None],
        centroid,
        librosa.feature.spectral_bandwidth(S=mag, sr=fc.sample_rate, n_fft=fc.n_fft, centroid=centroid),
        librosa.feature.spectral_rolloff(S=mag, sr=fc.sample_rate, n_fft=fc.n_fft),
        librosa.feature.spectral_flatness(S=mag),
    ])
    return np.nan_to_num(lld, nan=0.0, posinf=0.0, neginf=0.0)


def statistics(lld: np.ndarray, hop_s: float) -> np.ndarray:
    """Per descriptor: mean, std, min, max, 10/50/90th percentiles and the linear slope per second."""
    t = np.arange(lld.shape[1]) * hop_s
    tc = t - t.mean()
    denom = float((tc ** 2).sum())
    slope = (lld - lld.mean(axis=1, keepdims=True)) @ tc / denom if denom > 0 else np.zeros(lld.shape[0])
    p10, p50, p90 = np.percentile(lld, [10, 50, 90], axis=1)
    stats = np.stack([lld.mean(1), lld.std(1), lld.min(1), lld.max(1), p10, p50, p90, slope], axis=1)
    return stats.reshape(-1)


def functionals(y: np.ndarray, cfg: FunctionalsConfig) -> np.ndarray:
    """(1, descriptors x statistics) vector, named by feature_names(cfg)."""
    lld = low_level_descriptors(y, cfg)
    return statistics(lld, cfg.frames.hop_length / cfg.frames.sample_rate)[None, :]
