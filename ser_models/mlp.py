"""`mlp`: the simplest seed's model — a feed-forward net on one utterance-level vector."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ser_models.layers import Standardize


@dataclass(frozen=True)
class MLPConfig:
    feature_set: str
    n_inputs: int
    n_classes: int
    hidden: tuple[int, ...] = (256, 128)
    dropout: float = 0.4


class MLP(nn.Module):
    def __init__(self, cfg: MLPConfig) -> None:
        super().__init__()
        self.feature_set = cfg.feature_set
        self.norms = nn.ModuleDict({cfg.feature_set: Standardize(cfg.n_inputs)})
        layers: list[nn.Module] = []
        for n_in, n_out in zip((cfg.n_inputs, *cfg.hidden), cfg.hidden):
            layers += [nn.Linear(n_in, n_out), nn.ReLU(), nn.Dropout(cfg.dropout)]
        self.body = nn.Sequential(*layers, nn.Linear(cfg.hidden[-1], cfg.n_classes))

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.body(self.norms[self.feature_set](inputs[self.feature_set]))
