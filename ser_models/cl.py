"""`cl`: parallel CNN (log-mel) + 2-layer LSTM (MFCC sequence), L2-normalised embeddings fused by an FC head."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ser_models.layers import Standardize, conv_stack, spec_augment


@dataclass(frozen=True)
class CLConfig:
    n_mels: int
    n_mfcc: int
    n_classes: int
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
        self.norms = nn.ModuleDict({"logmel": Standardize(cfg.n_mels), "mfcc_seq": Standardize(cfg.n_mfcc)})
        self.cnn = conv_stack(cfg.channels, cfg.dropout, cfg.input_pool)
        self.lstm = nn.LSTM(cfg.n_mfcc, cfg.lstm_hidden, num_layers=cfg.lstm_layers, batch_first=True,
                            dropout=cfg.dropout)
        h1, h2 = cfg.head
        self.head = nn.Sequential(nn.Linear(cfg.channels[-1] + cfg.lstm_hidden, h1), nn.ReLU(),
                                  nn.Dropout(cfg.head_dropout), nn.Linear(h1, h2), nn.ReLU(),
                                  nn.Linear(h2, cfg.n_classes))

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        spec, mfcc = self.norms["logmel"](inputs["logmel"]), self.norms["mfcc_seq"](inputs["mfcc_seq"])
        if self.training:
            c = self.cfg
            spec = spec_augment(spec, c.time_masks, c.max_time_mask, c.freq_masks, c.max_freq_mask)
        cnn_embedding = F.normalize(self.cnn(spec.unsqueeze(1)), dim=1)
        _, (hidden, _) = self.lstm(mfcc[:, :: self.cfg.lstm_stride])
        lstm_embedding = F.normalize(hidden[-1], dim=1)
        return self.head(torch.cat([cnn_embedding, lstm_embedding], dim=1))
