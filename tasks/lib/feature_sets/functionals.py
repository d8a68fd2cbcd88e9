"""The `functionals` set: statistics over time of ~200 low-level descriptors, one vector per utterance."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import librosa
import numpy as np
from scipy.ndimage import convolve1d, minimum_filter1d
from scipy.signal import savgol_coeffs

from tasks.lib.feature_sets.spectra import FrameConfig, compute_spectra

# No minimum or maximum: on floored log-mel bands they measure the recording's silence floor, not the voice.
# Ranges and shape (iqr, p95-p5, skewness, kurtosis) are given outright: an RBF kernel on standardised
# features cannot subtract two of them.
STATISTICS = ("mean", "std", "p10", "p50", "p90", "slope", "iqr", "range90", "skew", "kurtosis")
PERCENTILES = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)
MIN_INSIDE_FRAMES = 10  # 100 ms
# Prosody over voiced frames only: pitch level, spread and movement, and how speech is broken into voiced runs.
PROSODY = ("f0_voiced_mean", "f0_voiced_std", "f0_voiced_p10", "f0_voiced_p25", "f0_voiced_p50", "f0_voiced_p75",
           "f0_voiced_p90", "f0_voiced_range", "f0_voiced_abs_delta", "f0_voiced_delta_std", "voiced_share",
           "voiced_runs_per_s", "voiced_run_mean_s")


@dataclass(frozen=True)
class FunctionalsConfig:
    frames: FrameConfig = field(default_factory=FrameConfig)
    n_mfcc: int = 40
    delta_width: int = 9
    n_contrast_bands: int = 6
    rolloff_fraction: float = 0.85
    f0_min_hz: float = 65.0
    f0_max_hz: float = 500.0
    pitch_sample_rate: int = 8_000  # F0 <= 500 Hz needs no more, and YIN's cost grows with the rate
    yin_frame_length: int = 256     # 32 ms: two periods of the lowest F0
    yin_hop_length: int = 160       # pitch every 20 ms, repeated onto the 10 ms grid


def descriptor_names(cfg: FunctionalsConfig) -> list[str]:
    mfcc = [f"mfcc{i:02d}" for i in range(cfg.n_mfcc)]
    return [*mfcc, *(f"d_{m}" for m in mfcc), *(f"dd_{m}" for m in mfcc),
            *(f"chroma{i:02d}" for i in range(12)), *(f"contrast{i}" for i in range(cfg.n_contrast_bands + 1)),
            "zcr", "rms", "f0_st", "voiced", "centroid_hz", "bandwidth_hz", "rolloff_hz", "flatness",
            *(f"mel{i:02d}" for i in range(cfg.frames.n_mels))]


def feature_names(cfg: FunctionalsConfig) -> list[str]:
    return [*(f"{d}__{s}" for d in descriptor_names(cfg) for s in STATISTICS), *PROSODY]


def spectral_shape(mag: np.ndarray, power: np.ndarray, freqs: np.ndarray, rolloff_fraction: float) -> np.ndarray:
    """(4, frames): centroid, bandwidth, roll-off, flatness with librosa's formulas in one pass;
    librosa's four separate calls each recompute the spectrum's per-bin powers."""
    total = mag.sum(axis=0)
    safe = np.where(total > 0, total, 1.0)
    centroid = freqs @ mag / safe
    bandwidth = np.sqrt(np.maximum((freqs ** 2) @ mag / safe - centroid ** 2, 0.0))
    cumulative = np.cumsum(mag, axis=0)
    below = (cumulative < rolloff_fraction * cumulative[-1]).sum(axis=0)
    rolloff = freqs[np.minimum(below, len(freqs) - 1)]
    floored = np.maximum(power, 1e-10)
    flatness = np.exp(np.log(floored).mean(axis=0)) / floored.mean(axis=0)
    return np.vstack([centroid, bandwidth, rolloff, flatness])


@lru_cache(maxsize=8)
def _delta_kernel(width: int, order: int) -> np.ndarray:
    return savgol_coeffs(width, order, deriv=order)


def delta(x: np.ndarray, width: int, order: int) -> np.ndarray:
    """librosa.feature.delta(mode="nearest") with its Savitzky-Golay kernel built once, not per call."""
    return convolve1d(x, _delta_kernel(width, order), axis=-1, mode="nearest")


@lru_cache(maxsize=8)
def _chroma_filterbank(sr: int, n_fft: int) -> np.ndarray:
    return librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=0.0, n_chroma=12)


def chromagram(power: np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    """librosa.feature.chroma_stft(tuning=0) with the filterbank built once, not per file."""
    return librosa.util.normalize(_chroma_filterbank(sr, n_fft) @ power, norm=np.inf, axis=0)


@lru_cache(maxsize=8)
def _contrast_bands(sr: int, n_fft: int, fmin: float, n_bands: int, quantile: float) -> tuple:
    """(first bin, end bin, count per side) of each octave band, as librosa.feature.spectral_contrast cuts them."""
    freq = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    edges = np.concatenate([[0.0], fmin * 2.0 ** np.arange(n_bands + 1)])
    bands = []
    for k, (f_low, f_high) in enumerate(zip(edges[:-1], edges[1:])):
        idx = np.flatnonzero((freq >= f_low) & (freq <= f_high))
        first = idx[0] - 1 if k > 0 else idx[0]
        end = len(freq) if k == n_bands else idx[-1] + 1
        count = max(1, int(np.rint(quantile * (end - first))))
        bands.append((first, end if k == n_bands else end - 1, count))
    return tuple(bands)


def spectral_contrast(mag: np.ndarray, sr: int, n_fft: int, fmin: float, n_bands: int,
                      quantile: float = 0.02) -> np.ndarray:
    """librosa.feature.spectral_contrast's numbers via partial sorts along contiguous rows (cheaper than full sorts)."""
    rows = np.ascontiguousarray(mag.T)
    peak, valley = np.empty((n_bands + 1, rows.shape[0])), np.empty((n_bands + 1, rows.shape[0]))
    for k, (first, end, q) in enumerate(_contrast_bands(sr, n_fft, fmin, n_bands, quantile)):
        band, m = rows[:, first:end], end - first
        band = np.sort(band, axis=1) if 2 * q > m else np.partition(band, [q - 1, m - q], axis=1)
        valley[k], peak[k] = band[:, :q].mean(axis=1), band[:, m - q:].mean(axis=1)
    return librosa.power_to_db(peak) - librosa.power_to_db(valley)


def zero_crossing_rate(y: np.ndarray, frame_length: int, n_frames: int, hop_length: int) -> np.ndarray:
    """librosa's centred, edge-padded ZCR (|y| <= 1e-10 counts as zero) from one cumulative count."""
    negative = np.pad(y, frame_length // 2, mode="edge") < -1e-10
    crossings = np.concatenate([[0], np.cumsum(negative[1:] != negative[:-1])])
    starts = np.minimum(np.arange(n_frames) * hop_length, len(negative) - 1)
    ends = np.minimum(starts + frame_length - 1, len(negative) - 1)
    return (crossings[ends] - crossings[starts]) / frame_length


def pitch_semitones(y: np.ndarray, cfg: FunctionalsConfig, n_frames: int) -> np.ndarray:
    """YIN F0 in semitones re 100 Hz on the 10 ms grid, from audio downsampled for pitch."""
    fc = cfg.frames
    y_pitch = librosa.resample(y, orig_sr=fc.sample_rate, target_sr=cfg.pitch_sample_rate, res_type="soxr_hq")
    y_pitch = np.pad(y_pitch, (0, max(0, cfg.yin_frame_length - len(y_pitch))))
    f0 = librosa.yin(y_pitch, fmin=cfg.f0_min_hz, fmax=cfg.f0_max_hz, sr=cfg.pitch_sample_rate,
                     frame_length=cfg.yin_frame_length, hop_length=cfg.yin_hop_length)
    repeat = round(cfg.yin_hop_length / cfg.pitch_sample_rate / (fc.hop_length / fc.sample_rate))
    return np.resize(np.repeat(12 * np.log2(f0 / 100.0), repeat), n_frames)


def low_level_descriptors(y: np.ndarray, cfg: FunctionalsConfig) -> tuple[np.ndarray, np.ndarray]:
    """(descriptors, frames) from a single STFT, plus YIN pitch and ZCR on the waveform, and the active frames."""
    fc = cfg.frames
    y = np.pad(y, (0, max(0, fc.n_fft - len(y))))
    spectra = compute_spectra(y, fc)  # loudness-normalised: rms below is relative to the speech level
    power, mag = spectra.power, spectra.magnitude
    n = power.shape[1]
    mfcc = spectra.mfcc(cfg.n_mfcc)
    deltas = [delta(mfcc, cfg.delta_width, order) for order in (1, 2)]
    chroma = chromagram(power, fc.sample_rate, fc.n_fft)
    contrast = spectral_contrast(mag, fc.sample_rate, fc.n_fft, 100.0, cfg.n_contrast_bands)
    rms = librosa.feature.rms(S=mag, frame_length=fc.n_fft)
    zcr = zero_crossing_rate(y, fc.win_length, n, fc.hop_length)
    # Voiced: loud enough (within 35 dB of the peak) and not noise-like; F0 counts only there.
    rms_db = librosa.amplitude_to_db(rms[0], ref=np.max(rms) + 1e-12)
    voiced = ((rms_db > -35.0) & (zcr < 0.25)).astype(np.float32)
    f0_st = pitch_semitones(y, cfg, n) * voiced
    freqs = librosa.fft_frequencies(sr=fc.sample_rate, n_fft=fc.n_fft).astype(np.float32)
    lld = np.vstack([mfcc, *deltas, chroma, contrast, zcr[None], rms, f0_st[None], voiced[None],
                     spectral_shape(mag, power, freqs, cfg.rolloff_fraction), spectra.mel_db])
    return np.nan_to_num(lld, nan=0.0, posinf=0.0, neginf=0.0), spectra.active


def statistics(lld: np.ndarray, hop_s: float) -> np.ndarray:
    """Per descriptor, in STATISTICS order: mean, std, 10/50/90th percentiles, the linear slope per second,
    interquartile range, 5-95 % range, skewness and excess kurtosis.

    Percentiles interpolate linearly (as np.percentile) on one shared sort.
    """
    n = lld.shape[1]
    t = np.arange(n) * hop_s
    tc = t - t.mean()
    denom = float((tc ** 2).sum())
    mean = lld.mean(axis=1)
    centred = lld - mean[:, None]
    std = lld.std(axis=1)
    slope = centred @ tc / denom if denom > 0 else np.zeros(lld.shape[0])
    ordered = np.sort(lld, axis=1)
    position = np.asarray(PERCENTILES) * (n - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, n - 1)
    frac = position - low
    p5, p10, p25, p50, p75, p90, p95 = (ordered[:, low] * (1 - frac) + ordered[:, high] * frac).T
    z = centred / np.where(std > 0, std, 1.0)[:, None]
    z2 = z * z  # products, not z ** 3 and z ** 4: numpy's pow is ~100x slower and was half of this function's time
    stats = np.column_stack([mean, std, p10, p50, p90, slope, p75 - p25, p95 - p5, (z2 * z).mean(axis=1),
                             (z2 * z2).mean(axis=1) - 3.0 * (std > 0)])
    return stats.reshape(-1)


def prosody(f0_st: np.ndarray, voiced: np.ndarray, hop_s: float) -> np.ndarray:
    """PROSODY: pitch statistics over voiced frames (semitones re 100 Hz) and the voiced runs' rhythm."""
    f0 = f0_st[voiced]
    if len(f0) < 4:  # (almost) no voicing: zero pitch statistics rather than statistics of noise
        return np.array([0.0] * 10 + [voiced.mean(), 0.0, 0.0])
    p10, p25, p50, p75, p90 = np.percentile(f0, [10, 25, 50, 75, 90])
    step = np.diff(f0)
    runs = np.count_nonzero(np.diff(voiced.astype(np.int8)) == 1) + int(voiced[0])
    seconds = len(voiced) * hop_s
    return np.array([f0.mean(), f0.std(), p10, p25, p50, p75, p90, p90 - p10, np.abs(step).mean(), step.std(),
                     voiced.mean(), runs / seconds, voiced.sum() * hop_s / runs])


def inside_speech(active: np.ndarray, width: int) -> np.ndarray:
    """Active frames whose whole delta window is active: a delta that reaches into silence measures the jump to
    the recording's silence floor (RAVDESS files open with near-digital silence, EMO-DB's start mid-speech).
    All active frames when too few are left for statistics."""
    inside = minimum_filter1d(active.astype(np.uint8), size=width, mode="nearest").astype(bool)
    return inside if inside.sum() >= MIN_INSIDE_FRAMES else active


def functionals(y: np.ndarray, cfg: FunctionalsConfig) -> np.ndarray:
    """(1, descriptors x statistics + prosody) vector over the active frames (silence and padding left out);
    deltas over the frames whose delta window lies inside speech."""
    lld, active = low_level_descriptors(y, cfg)
    hop_s = cfg.frames.hop_length / cfg.frames.sample_rate
    names = descriptor_names(cfg)
    speech = lld[:, active]
    voiced = speech[names.index("voiced")] > 0
    deltas = np.array([n.startswith(("d_", "dd_")) for n in names])
    stats = np.empty((len(names), len(STATISTICS)))
    stats[~deltas] = statistics(speech[~deltas], hop_s).reshape(-1, len(STATISTICS))
    stats[deltas] = statistics(lld[deltas][:, inside_speech(active, cfg.delta_width)], hop_s).reshape(-1, len(STATISTICS))
    return np.concatenate([stats.reshape(-1), prosody(speech[names.index("f0_st")], voiced, hop_s)])[None, :]
