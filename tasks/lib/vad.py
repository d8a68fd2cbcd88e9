"""Voice activity with silero-vad (its bundled ONNX model, no download), and speech regions -> scoring windows."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from tasks.lib.audio import TARGET_SR, resample


@dataclass(frozen=True)
class WindowConfig:
    """How speech regions become scoring windows."""

    min_window_s: float = 1.5
    max_window_s: float = 4.0
    window_s: float = 3.0
    hop_s: float = 1.5
    merge_gap_s: float = 0.3
    min_speech_s: float = 0.25
    vad_threshold: float = 0.5
    vad_stream_s: float = 30.0  # long audio runs as parallel streams this long; 0 = one stream (silero's exact output)
    vad_sample_rate: int = 8_000  # silero's 8 kHz model: 1.7x cheaper, as close to studio truth on phone audio

    def __post_init__(self) -> None:
        if not 0 < self.min_window_s <= self.window_s <= self.max_window_s:
            raise ValueError("need 0 < min_window_s <= window_s <= max_window_s")
        if not 0 < self.hop_s <= self.window_s:
            raise ValueError("need 0 < hop_s <= window_s")
        if self.vad_sample_rate not in (8_000, 16_000):
            raise ValueError("silero runs at vad_sample_rate 8000 or 16000")


@lru_cache(maxsize=1)
def vad_model():
    """silero-vad's packaged ONNX model (about twice as fast as its TorchScript one on CPU here)."""
    from silero_vad import load_silero_vad

    torch.set_num_threads(1)
    return load_silero_vad(onnx=True)


FRAME = 512  # silero's step at 16 kHz (32 ms; 256 samples at 8 kHz)
WARMUP_FRAMES = 128  # ~4 s of the previous stream re-read so each stream's recurrent state has settled


def speech_probabilities(y: np.ndarray, stream_s: float = 30.0, sample_rate: int = TARGET_SR) -> np.ndarray:
    """Speech probability per 32 ms frame of a 16 kHz signal, or of each row of a (channels, samples) block,
    from silero's model for sample_rate. Every channel, and a long block cut into streams, runs as one ONNX
    batch (the recurrent state makes results depend slightly on where a stream starts)."""
    n_frames = -(-np.atleast_2d(y).shape[1] // FRAME)
    signals = np.atleast_2d(resample(y, TARGET_SR, sample_rate))
    frame = FRAME * sample_rate // TARGET_SR
    # a call shorter than one stream is one stream of its own length, not one padded to stream_s with silence
    stream_frames = min(int(stream_s * TARGET_SR / FRAME), n_frames) if stream_s > 0 else n_frames
    n_streams = -(-n_frames // stream_frames)
    span = stream_frames + (WARMUP_FRAMES if n_streams > 1 else 0)
    streams = np.zeros((len(signals), n_streams, span, frame), np.float32)
    for c, signal in enumerate(signals):
        frames = np.pad(signal, (0, max(0, n_frames * frame - len(signal))))[:n_frames * frame].reshape(n_frames, frame)
        for k in range(n_streams):
            lo = max(0, k * stream_frames - WARMUP_FRAMES)
            chunk = frames[lo:(k + 1) * stream_frames]
            streams[c, k, :len(chunk)] = chunk
    model = vad_model()
    model.reset_states()
    batch = torch.from_numpy(streams.reshape(len(signals) * n_streams, -1))
    probs = model.audio_forward(batch, sample_rate).numpy().reshape(len(signals), n_streams, -1)
    kept = np.concatenate([probs[:, 0, :stream_frames]] + [probs[:, k, WARMUP_FRAMES:] for k in range(1, n_streams)],
                          axis=1)[:, :n_frames]
    return kept if y.ndim == 2 else kept[0]


def regions_from_probabilities(probs: np.ndarray, cfg: WindowConfig, offset_s: float = 0.0) -> list[tuple[float, float]]:
    """silero's rules: speech starts at p >= threshold and ends after min_silence below threshold - 0.15;
    regions shorter than min_speech are dropped, the rest padded by 30 ms."""
    frame_s, pad_s, min_silence_s = FRAME / TARGET_SR, 0.03, 0.1
    off = cfg.vad_threshold - 0.15
    regions, start, silence_from = [], None, None
    for i, p in enumerate(probs):
        if p >= cfg.vad_threshold:
            silence_from = None
            if start is None:
                start = i
        elif start is not None and p < off:
            silence_from = i if silence_from is None else silence_from
            if (i - silence_from) * frame_s >= min_silence_s:
                regions.append((start, silence_from))
                start, silence_from = None, None
    if start is not None:
        regions.append((start, len(probs)))
    end_s = len(probs) * frame_s
    return [(offset_s + max(0.0, a * frame_s - pad_s), offset_s + min(end_s, b * frame_s + pad_s))
            for a, b in regions if (b - a) * frame_s >= cfg.min_speech_s]


def speech_regions(y: np.ndarray, cfg: WindowConfig, offset_s: float = 0.0) -> list[tuple[float, float]]:
    """(start_s, end_s) of speech in a 16 kHz mono block, shifted by the block's offset."""
    return channel_speech_regions(y[None], cfg, offset_s)[0]


def channel_speech_regions(block: np.ndarray, cfg: WindowConfig,
                           offset_s: float = 0.0) -> list[list[tuple[float, float]]]:
    """speech_regions of each channel of a (channels, samples) block, with one VAD pass for all channels."""
    if block.shape[1] < TARGET_SR * cfg.min_speech_s:
        return [[] for _ in block]
    probs = speech_probabilities(block, cfg.vad_stream_s, cfg.vad_sample_rate)
    return [regions_from_probabilities(p, cfg, offset_s) for p in probs]


def merge_regions(regions: list[tuple[float, float]], gap_s: float) -> list[tuple[float, float]]:
    """Join regions separated by less than gap_s (also across block boundaries)."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(regions):
        if merged and start - merged[-1][1] < gap_s:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def windows(regions: list[tuple[float, float]], cfg: WindowConfig, duration_s: float) -> list[tuple[float, float]]:
    """Short regions grow to min_window_s around their centre; long ones split into overlapping windows."""
    out = []
    for start, end in regions:
        length = end - start
        if length < cfg.min_window_s:
            centre = (start + end) / 2
            lo = min(max(0.0, centre - cfg.min_window_s / 2), max(0.0, duration_s - cfg.min_window_s))
            out.append((lo, min(duration_s, lo + cfg.min_window_s)))
        elif length <= cfg.max_window_s:
            out.append((start, end))
        else:
            starts = list(np.arange(start, end - cfg.window_s, cfg.hop_s)) + [end - cfg.window_s]
            out += [(float(s), float(s) + cfg.window_s) for s in starts]
    return out
