"""`cl`: parallel CNN (log-mel) + 2-layer LSTM (MFCC sequence), L2-normalised embeddings fused by an FC head.

The branch inputs are parameters so the reference's control groups can be rebuilt (both branches on one
input type, or swapped): `serflow train --model cl --feature-set logmel+logmel`."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ser_models.layers import Standardize, conv_stack, spec_augment


@dataclass(frozen=True)
class CLConfig:
    cnn_bins: int  # bins of the CNN branch's input
    lstm_bins: int  # bins of the LSTM branch's input
    n_classes: int
    cnn_input: str = "logmel"
    lstm_input: str = "mfcc_seq"
    channels: tuple[int, ...] = (16, 32, 64, 64)
    input_pool: tuple[int, int] = (2, 2)  # 20 ms x 32 bands into the conv blocks
    lstm_hidden: int = 128
    lstm_layers: int = 2
    lstm_stride: int = 2  # the LSTM reads every 2nd MFCC frame (20 ms steps, ~100 per 2 s crop)
    dropout: float = 0.2
    head: tuple[int, int] = (128, 64)
    head_dropout: float = 0.4
    time_masks: int = 2
    max_time_mask: int = 20
    freq_masks: int = 2
    max_freq_mask: int = 8


class CNNLSTM(nn.Module):
    def __init__(self, cfg: CLConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # one norm per feature set: a control group reading one set in both branches shares it
        self.norms = nn.ModuleDict({cfg.cnn_input: Standardize(cfg.cnn_bins), cfg.lstm_input: Standardize(cfg.lstm_bins)})
        self.cnn = conv_stack(cfg.channels, cfg.dropout, cfg.input_pool)
        self.lstm = nn.LSTM(cfg.lstm_bins, cfg.lstm_hidden, num_layers=cfg.lstm_layers, batch_first=True,
                            dropout=cfg.dropout)
        h1, h2 = cfg.head
        self.head = nn.Sequential(nn.Linear(cfg.channels[-1] + cfg.lstm_hidden, h1), nn.ReLU(),
                                  nn.Dropout(cfg.head_dropout), nn.Linear(h1, h2), nn.ReLU(),
                                  nn.Linear(h2, cfg.n_classes))

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        c = self.cfg
        image, sequence = self.norms[c.cnn_input](inputs[c.cnn_input]), self.norms[c.lstm_input](inputs[c.lstm_input])
        if self.training:
            image = spec_augment(image, c.time_masks, c.max_time_mask, c.freq_masks, c.max_freq_mask)
        cnn_embedding = F.normalize(self.cnn(image.unsqueeze(1)), dim=1)
        _, (hidden, _) = self.lstm(sequence[:, :: c.lstm_stride])
        lstm_embedding = F.normalize(hidden[-1], dim=1)
        return self.head(torch.cat([cnn_embedding, lstm_embedding], dim=1))
