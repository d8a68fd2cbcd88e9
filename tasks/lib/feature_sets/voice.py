"""The `ge2e` set: resemblyzer's GE2E voice embedding, alone and appended to the functionals.

The encoder (its weights ship inside the resemblyzer package: nothing is downloaded) was trained to tell
thousands of speakers apart across many microphones and rooms. Its 256 numbers also carry how a voice is
being used, and next to the hand-made functionals they raised per-file, speaker-independent UA within
RAVDESS and EMO-DB and with each shared corpus held out (docs/benchmarks.md).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.ndimage import binary_dilation

from tasks.lib.feature_sets.functionals import FunctionalsConfig, feature_names, functionals
from tasks.lib.feature_sets.spectra import FrameConfig, mel_filterbank, power_spectrogram

EMBEDDING_SIZE = 256
BATCH_PARTIALS = 64  # 1.6 s partials per LSTM call: batched, each costs about a third of one alone
# resemblyzer's hparams for the encoder's front end (a test holds them equal to the package's)
# 25 ms frames every 10 ms at 16 kHz, 40 mel bands over 0-8 kHz
ENCODER_FRAMES = FrameConfig(n_fft=400, win_length=400, hop_length=160, n_mels=40, fmin_hz=0.0)
ENCODER_RATE = ENCODER_FRAMES.sample_rate
VAD_WINDOW = 480  # webrtcvad's 30 ms at 16 kHz
VAD_SMOOTHING = 8  # windows in the moving average of the voice flags
VAD_MAX_SILENCE = 6  # silent windows kept next to voice


@dataclass(frozen=True)
class Ge2eConfig:
    level_dbfs: float = -30.0  # the level the encoder was trained at (resemblyzer's audio_norm_target_dBFS)
    partials_per_s: float = 1.3  # 1.6 s partial windows averaged, resemblyzer's defaults
    min_coverage: float = 0.75
    min_voiced_s: float = 0.5  # a trimmed clip shorter than this keeps its pauses rather than become empty


@dataclass(frozen=True)
class FunctionalsGe2eConfig:
    functionals: FunctionalsConfig = field(default_factory=FunctionalsConfig)
    ge2e: Ge2eConfig = field(default_factory=Ge2eConfig)


@lru_cache(maxsize=1)
def encoder():
    """The GE2E encoder on CPU, loaded once per process."""
    with warnings.catch_warnings():  # resemblyzer and webrtcvad import APIs that scipy and setuptools deprecate
        warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
        warnings.filterwarnings("ignore", "Please import `binary_dilation`", DeprecationWarning)
        from resemblyzer import VoiceEncoder
    return VoiceEncoder("cpu", verbose=False)


def trim_long_silences(y: np.ndarray) -> np.ndarray:
    """resemblyzer.audio.trim_long_silences, the same samples kept, with the int16 PCM packed by numpy: its
    struct.pack over a tuple of every sample cost three times the webrtcvad calls (docs/benchmarks.md)."""
    import webrtcvad

    y = y[:len(y) - len(y) % VAD_WINDOW]
    pcm = np.round(y * 32767).astype("<i2").tobytes()
    vad = webrtcvad.Vad(mode=3)
    flags = np.array([vad.is_speech(pcm[2 * i:2 * (i + VAD_WINDOW)], sample_rate=ENCODER_RATE)
                      for i in range(0, len(y), VAD_WINDOW)], dtype=float)
    padded = np.concatenate([np.zeros((VAD_SMOOTHING - 1) // 2), flags, np.zeros(VAD_SMOOTHING // 2)])
    sums = np.cumsum(padded)
    sums[VAD_SMOOTHING:] = sums[VAD_SMOOTHING:] - sums[:-VAD_SMOOTHING]
    voiced = np.round(sums[VAD_SMOOTHING - 1:] / VAD_SMOOTHING).astype(bool)
    return y[np.repeat(binary_dilation(voiced, np.ones(VAD_MAX_SILENCE + 1)), VAD_WINDOW)]


def mel_spectrogram(y: np.ndarray) -> np.ndarray:
    """resemblyzer.audio.wav_to_mel_spectrogram, (frames, 40), with its filterbank built once and the STFT by
    torch.stft (librosa rebuilt the filterbank for every clip)."""
    return (mel_filterbank(ENCODER_FRAMES) @ power_spectrogram(y, ENCODER_FRAMES)).astype(np.float32).T


def _partials(y: np.ndarray, cfg: Ge2eConfig) -> np.ndarray:
    """(partials, 160 frames, 40 mel bands) of one 16 kHz clip, cut as resemblyzer's embed_utterance cuts them,
    after bringing it to the encoder's level and trimming long pauses, as the encoder was trained."""
    from resemblyzer import VoiceEncoder
    from resemblyzer.audio import normalize_volume

    y = np.clip(normalize_volume(y.astype(np.float64), cfg.level_dbfs), -1.0, 1.0)  # webrtcvad reads int16
    trimmed = trim_long_silences(y)
    y = trimmed if len(trimmed) >= cfg.min_voiced_s * ENCODER_RATE else y
    wav_slices, mel_slices = VoiceEncoder.compute_partial_slices(len(y), cfg.partials_per_s, cfg.min_coverage)
    mel = mel_spectrogram(np.pad(y, (0, max(0, wav_slices[-1].stop - len(y)))).astype(np.float32))
    return np.stack([mel[s] for s in mel_slices])


def ge2e_many(clips: list[np.ndarray], cfg: Ge2eConfig) -> list[np.ndarray]:
    """(1, 256) per clip: the L2-normed mean of its partials' embeddings; digital silence gives zeros. The
    partials of all clips go through the LSTM together, BATCH_PARTIALS at a time."""
    import torch

    model = encoder()  # first: it imports resemblyzer with its import-time warnings silenced
    from resemblyzer.hparams import partials_n_frames

    none = np.zeros((0, partials_n_frames, ENCODER_FRAMES.n_mels), np.float32)
    partials = [_partials(y, cfg) if np.any(y) else none for y in clips]
    stacked = torch.from_numpy(np.concatenate(partials))
    with torch.no_grad():
        embeds = np.concatenate([np.zeros((0, EMBEDDING_SIZE), np.float32)]
                                + [model(stacked[i:i + BATCH_PARTIALS]).numpy()
                                   for i in range(0, len(stacked), BATCH_PARTIALS)])
    out, start = [], 0
    for p in partials:
        raw = embeds[start:start + len(p)].mean(axis=0) if len(p) else np.zeros(EMBEDDING_SIZE, np.float32)
        start += len(p)
        out.append((raw / max(float(np.linalg.norm(raw)), 1e-12))[None, :])
    return out


def ge2e(y: np.ndarray, cfg: Ge2eConfig) -> np.ndarray:
    """(1, 256) embedding of one 16 kHz clip."""
    return ge2e_many([y], cfg)[0]


def ge2e_names(cfg: Ge2eConfig) -> list[str]:
    return [f"ge2e{i:03d}" for i in range(EMBEDDING_SIZE)]


def functionals_ge2e(y: np.ndarray, cfg: FunctionalsGe2eConfig) -> np.ndarray:
    """(1, functionals + 256): what the voice does over the utterance, then what the encoder hears in it."""
    return functionals_ge2e_many([y], cfg)[0]


def functionals_ge2e_many(clips: list[np.ndarray], cfg: FunctionalsGe2eConfig) -> list[np.ndarray]:
    """functionals_ge2e of each clip, the embeddings batched."""
    return [np.hstack([functionals(y, cfg.functionals), e]) for y, e in zip(clips, ge2e_many(clips, cfg.ge2e))]


def functionals_ge2e_names(cfg: FunctionalsGe2eConfig) -> list[str]:
    return feature_names(cfg.functionals) + ge2e_names(cfg.ge2e)
