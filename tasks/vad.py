"""Voice activity with silero-vad (its bundled ONNX model, no download), and speech regions -> scoring windows."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from tasks.audio import TARGET_SR


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

    def __post_init__(self) -> None:
        if not 0 < self.min_window_s <= self.window_s <= self.max_window_s:
            raise ValueError("need 0 < min_window_s <= window_s <= max_window_s")
        if not 0 < self.hop_s <= self.window_s:
            raise ValueError("need 0 < hop_s <= window_s")


@lru_cache(maxsize=1)
def vad_model():
    """silero-vad's packaged ONNX model (about twice as fast as its TorchScript one on CPU here)."""
    from silero_vad import load_silero_vad

    torch.set_num_threads(1)
    return load_silero_vad(onnx=True)


def speech_regions(y: np.ndarray, cfg: WindowConfig, offset_s: float = 0.0) -> list[tuple[float, float]]:
    """(start_s, end_s) of speech in a 16 kHz mono block, shifted by the block's offset."""
    from silero_vad import get_speech_timestamps

    if len(y) < TARGET_SR * cfg.min_speech_s:
        return []
    model = vad_model()
    model.reset_states()
    stamps = get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(y)), model, threshold=cfg.vad_threshold,
                                   sampling_rate=TARGET_SR, min_speech_duration_ms=int(cfg.min_speech_s * 1000))
    return [(offset_s + s["start"] / TARGET_SR, offset_s + s["end"] / TARGET_SR) for s in stamps]


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
