"""The GE2E sets: resemblyzer's voice embedding (`ge2e`), its LSTM layers read as it runs with the embedding
(`ge2e_layers`, the default), and the embedding appended to the functionals (`functionals_ge2e`).

The encoder (its weights ship inside the resemblyzer package: nothing is downloaded) was trained to tell
thousands of speakers apart across many microphones and rooms. Its embedding is trained to be the same for
every utterance of a speaker; its lower layers still carry how the voice is being used, and their statistics
raised per-file, speaker-independent UA within RAVDESS and EMO-DB and with each shared corpus held out
(docs/benchmarks.md).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import binary_dilation

from tasks.lib.feature_sets.functionals import FunctionalsConfig, feature_names, functionals
from tasks.lib.feature_sets.spectra import FrameConfig, mel_filterbank, power_spectrogram

if TYPE_CHECKING:
    import torch

# resemblyzer's hparams for the encoder's model and front end (a test holds them equal to the package's)
EMBEDDING_SIZE = 256  # also the LSTM's hidden size
ENCODER_LAYERS = 3
# 25 ms frames every 10 ms at 16 kHz, 40 mel bands over 0-8 kHz
ENCODER_FRAMES = FrameConfig(n_fft=400, win_length=400, hop_length=160, n_mels=40, fmin_hz=0.0)
ENCODER_RATE = ENCODER_FRAMES.sample_rate
VAD_WINDOW = 480  # webrtcvad's 30 ms at 16 kHz
VAD_SMOOTHING = 8  # windows in the moving average of the voice flags
VAD_MAX_SILENCE = 6  # silent windows kept next to voice
LAYER_STATS = ENCODER_LAYERS * 2 * EMBEDDING_SIZE  # each layer's mean and std over a partial's frames
BATCH_PARTIALS = 64  # 1.6 s partials per LSTM call: batched, each costs about a third of one alone


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


@lru_cache(maxsize=1)
def encoder_layers() -> list[torch.nn.LSTM]:
    """The encoder's 3-layer LSTM as three 1-layer LSTMs with its weights, so each layer's output can be read."""
    import torch

    lstm, layers = encoder().lstm, []
    for k in range(lstm.num_layers):
        layer = torch.nn.LSTM(lstm.input_size if k == 0 else lstm.hidden_size, lstm.hidden_size, batch_first=True)
        layer.load_state_dict({name.replace(f"_l{k}", "_l0"): w for name, w in lstm.state_dict().items()
                               if name.endswith(f"_l{k}")})
        layers.append(layer.eval())
    return layers


def _run_encoder(partials: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Each partial's per-layer mean and std over its frames (partials, 3 * 2 * 256) and its L2-normed embedding
    (partials, 256), computed as resemblyzer's VoiceEncoder.forward computes it."""
    import torch

    model, stats, out = encoder(), [], partials
    for layer in encoder_layers():
        out, _ = layer(out)
        frames = out.numpy()  # numpy's reductions over the frame axis: 4.6x faster than torch's here
        stats += [frames.mean(axis=1), frames.std(axis=1)]
    raw = model.relu(model.linear(out[:, -1]))
    return np.hstack(stats), (raw / torch.norm(raw, dim=1, keepdim=True)).numpy()


def _encode(clips: list[np.ndarray], cfg: Ge2eConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """(layer statistics, embedding) per clip, each averaged over the clip's partials, the embedding L2-normed
    again as resemblyzer's embed_utterance does; digital silence gives zeros. The partials of all clips go
    through the LSTM together, BATCH_PARTIALS at a time."""
    import torch

    encoder()  # first: it imports resemblyzer with its import-time warnings silenced
    from resemblyzer.hparams import partials_n_frames

    none = np.zeros((0, partials_n_frames, ENCODER_FRAMES.n_mels), np.float32)
    partials = [_partials(y, cfg) if np.any(y) else none for y in clips]
    stacked = torch.from_numpy(np.concatenate(partials))
    with torch.no_grad():
        runs = [_run_encoder(stacked[i:i + BATCH_PARTIALS]) for i in range(0, len(stacked), BATCH_PARTIALS)]
    stats = np.concatenate([np.zeros((0, LAYER_STATS), np.float32)] + [r[0] for r in runs])
    embeds = np.concatenate([np.zeros((0, EMBEDDING_SIZE), np.float32)] + [r[1] for r in runs])
    out, start = [], 0
    for p in partials:
        rows, start = slice(start, start + len(p)), start + len(p)
        if not len(p):
            out.append((np.zeros(LAYER_STATS, np.float32), np.zeros(EMBEDDING_SIZE, np.float32)))
            continue
        raw = embeds[rows].mean(axis=0)
        out.append((stats[rows].mean(axis=0), raw / max(float(np.linalg.norm(raw)), 1e-12)))
    return out


def ge2e_many(clips: list[np.ndarray], cfg: Ge2eConfig) -> list[np.ndarray]:
    """(1, 256) per clip: the L2-normed mean of its partials' embeddings, the partials batched."""
    return [embedding[None, :] for _, embedding in _encode(clips, cfg)]


def ge2e(y: np.ndarray, cfg: Ge2eConfig) -> np.ndarray:
    """(1, 256) embedding of one 16 kHz clip."""
    return ge2e_many([y], cfg)[0]


def ge2e_names(cfg: Ge2eConfig) -> list[str]:
    return [f"ge2e{i:03d}" for i in range(EMBEDDING_SIZE)]


def ge2e_layers_many(clips: list[np.ndarray], cfg: Ge2eConfig) -> list[np.ndarray]:
    """(1, 3 * 2 * 256 + 256) per clip: each LSTM layer's mean and std over frames, then the embedding."""
    return [np.hstack([stats, embedding])[None, :] for stats, embedding in _encode(clips, cfg)]


def ge2e_layers(y: np.ndarray, cfg: Ge2eConfig) -> np.ndarray:
    """ge2e_layers of one 16 kHz clip."""
    return ge2e_layers_many([y], cfg)[0]


def ge2e_layers_names(cfg: Ge2eConfig) -> list[str]:
    return [f"ge2e_l{k}_{stat}{i:03d}" for k in range(1, ENCODER_LAYERS + 1) for stat in ("mean", "std")
            for i in range(EMBEDDING_SIZE)] + ge2e_names(cfg)


def functionals_ge2e(y: np.ndarray, cfg: FunctionalsGe2eConfig) -> np.ndarray:
    """(1, functionals + 256): what the voice does over the utterance, then what the encoder hears in it."""
    return functionals_ge2e_many([y], cfg)[0]


def functionals_ge2e_many(clips: list[np.ndarray], cfg: FunctionalsGe2eConfig) -> list[np.ndarray]:
    """functionals_ge2e of each clip, the embeddings batched."""
    return [np.hstack([functionals(y, cfg.functionals), e]) for y, e in zip(clips, ge2e_many(clips, cfg.ge2e))]


def functionals_ge2e_names(cfg: FunctionalsGe2eConfig) -> list[str]:
    return feature_names(cfg.functionals) + ge2e_names(cfg.ge2e)
