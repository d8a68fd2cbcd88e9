"""Small building blocks shared by the torch models."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ser_models.estimator import CLIP_SD


class Standardize(nn.Module):
    """Per-bin (x - mean) / std, clipped, with statistics fitted on training data and saved in the state dict."""

    def __init__(self, n_bins: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_bins))
        self.register_buffer("std", torch.ones(n_bins))

    def fit(self, frames: np.ndarray) -> None:
        """frames: (N, n_bins) pooled over training rows (and frames)."""
        self.mean.copy_(torch.from_numpy(frames.mean(axis=0)))
        std = frames.std(axis=0)
        # A bin constant in training taught nothing; an infinite std zeroes it on every new recording.
        self.std.copy_(torch.from_numpy(np.where(std > 1e-5, std, np.inf)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / self.std).clamp(-CLIP_SD, CLIP_SD)


def spec_augment(x: torch.Tensor, time_masks: int, max_time: int, freq_masks: int, max_freq: int,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """SpecAugment on standardised (B, T, F) input: zero (= mean) random time and frequency stripes."""
    x = x.clone()
    batch, frames, bins = x.shape
    for axis, count, width, size in ((1, time_masks, max_time, frames), (2, freq_masks, max_freq, bins)):
        for _ in range(count):
            w = torch.randint(0, width + 1, (batch,), generator=generator)
            start = (torch.rand(batch, generator=generator) * (size - w).clamp(min=1)).long()
            idx = torch.arange(size)
            mask = (idx[None, :] >= start[:, None]) & (idx[None, :] < (start + w)[:, None])
            mask = mask.to(x.device)  # drawn on the CPU, so a seed gives the same stripes on a GPU
            x = x.masked_fill(mask[:, :, None] if axis == 1 else mask[:, None, :], 0.0)
    return x


class ConvBlock(nn.Sequential):
    """conv 3x3 -> batch norm -> ELU -> max-pool 2 -> dropout."""

    def __init__(self, c_in: int, c_out: int, dropout: float) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ELU(),
                         nn.MaxPool2d(2), nn.Dropout(dropout))


def conv_stack(channels: tuple[int, ...], dropout: float, input_pool: tuple[int, int] = (1, 1)) -> nn.Sequential:
    """Conv blocks over a (B, 1, T, F) spectrogram, ending in a global average pool -> (B, channels[-1]).

    input_pool averages (time, frequency) cells first: (2, 2) makes a training step several times cheaper on CPU.
    """
    blocks = [ConvBlock(c_in, c_out, dropout) for c_in, c_out in zip((1, *channels[:-1]), channels)]
    return nn.Sequential(nn.AvgPool2d(input_pool), *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
