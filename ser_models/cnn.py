"""`cnn`: four conv blocks (BN, ELU, max-pool, dropout) on a log-mel crop, with SpecAugment in training."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ser_models.layers import Standardize, conv_stack, spec_augment


@dataclass(frozen=True)
class CNNConfig:
    n_mels: int
    n_classes: int
    channels: tuple[int, ...] = (16, 32, 64, 64)
    input_pool: tuple[int, int] = (2, 2)  # 20 ms x 32 bands into the conv blocks
    dropout: float = 0.2
    head_dropout: float = 0.4
    time_masks: int = 2
    max_time_mask: int = 20
    freq_masks: int = 2
    max_freq_mask: int = 8


class CNN(nn.Module):
    def __init__(self, cfg: CNNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.norms = nn.ModuleDict({"logmel": Standardize(cfg.n_mels)})
        self.features = conv_stack(cfg.channels, cfg.dropout, cfg.input_pool)
        self.head = nn.Sequential(nn.Dropout(cfg.head_dropout), nn.Linear(cfg.channels[-1], cfg.n_classes))

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        x = self.norms["logmel"](inputs["logmel"])  # (B, T, F)
        if self.training:
            x = spec_augment(x, self.cfg.time_masks, self.cfg.max_time_mask, self.cfg.freq_masks, self.cfg.max_freq_mask)
        return self.head(self.features(x.unsqueeze(1)))
