"""The torch training loop: class weights, Adam, LR on plateau, early stopping on validation UA."""
from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score
from torch import nn

from ser_models.data import FeatureData, corpus_weights, rows_per_corpus
from ser_models.estimator import Estimator, config_from_card


@dataclass(frozen=True)
class TrainConfig:
    max_epochs: int = 60
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 10
    min_epochs: int = 0  # no early stop before this: eval-mode batch norm needs a few epochs to settle
    lr_patience: int = 4
    crop_frames: int = 200  # 2 s crops for frame-level inputs; inference averages overlapping windows
    seed: int = 0
    device: str = "auto"  # where the net trains: cpu, cuda, auto (a GPU when torch sees one); always saved for the CPU


def resolve_device(name: str) -> str:
    """cpu, cuda, or auto (cuda when torch sees a GPU, else cpu); cuda without a GPU is refused."""
    if name not in ("cpu", "cuda", "auto"):
        raise ValueError(f"device must be cpu, cuda or auto, not {name!r}")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda: torch sees no CUDA GPU here (this torch build or machine has none)")
    return name


def _crop(x: np.ndarray, frames: int, start: int, pad: np.ndarray) -> np.ndarray:
    """(frames, bins) window from start; short inputs are padded with the training mean."""
    window = x[start:start + frames]
    if len(window) < frames:
        window = np.vstack([window, np.broadcast_to(pad, (frames - len(window), x.shape[1]))])
    return window


class TorchEstimator(Estimator):
    """Wraps a torch net built from a config dataclass; frame-level inputs are cropped and windowed."""

    stops_early = True

    def __init__(self, kind: str, feature_sets: tuple[str, ...], frame_level: bool,
                 config_cls: type, net_cls: Callable[[Any], nn.Module], config_kwargs: dict[str, Any],
                 train: TrainConfig) -> None:
        self.kind, self.feature_sets, self.frame_level = kind, feature_sets, frame_level
        self.config_cls, self.net_cls, self.config_kwargs, self.train_cfg = config_cls, net_cls, config_kwargs, train
        self.net: nn.Module | None = None
        self.config: Any = None
        self.classes: list[str] = []

    # -- inputs ---------------------------------------------------------------------------------
    def pad_values(self) -> dict[str, np.ndarray]:
        """Per feature set, what pads a short input: the training mean of each bin."""
        return {k: self.net.norms[k].mean.cpu().numpy() for k in self.feature_sets}

    def _batch(self, data: FeatureData, rows: np.ndarray, starts: np.ndarray | None) -> dict[str, torch.Tensor]:
        if not self.frame_level:
            return {k: torch.from_numpy(np.stack([data.inputs[k][i].reshape(-1) for i in rows])) for k in self.feature_sets}
        pad, n = self.pad_values(), self.train_cfg.crop_frames
        return {k: torch.from_numpy(np.stack([_crop(data.inputs[k][i], n, s, pad[k]) for i, s in zip(rows, starts)]))
                for k in self.feature_sets}

    def example_batch(self, n: int) -> dict[str, torch.Tensor]:
        """n rows shaped as the net takes them (filled with the training means), for export."""
        pad = self.pad_values()
        return {k: torch.from_numpy(np.broadcast_to(pad[k], (n, self.train_cfg.crop_frames, len(pad[k])) if self.frame_level
                                                    else (n, len(pad[k]))).astype(np.float32))
                for k in self.feature_sets}

    def _random_starts(self, data: FeatureData, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lengths = np.array([min(len(data.inputs[k][i]) for k in self.feature_sets) for i in rows])
        return rng.integers(0, np.maximum(lengths - self.train_cfg.crop_frames, 0) + 1)

    # -- training -------------------------------------------------------------------------------
    def fit(self, train: FeatureData, val: FeatureData | None, classes: list[str]) -> dict[str, Any]:
        cfg = self.train_cfg
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        self.classes = classes
        dims = {k: train.inputs[k][0].shape[1] for k in self.feature_sets}
        self.config = self.config_cls(**self.config_kwargs, **self._shape_kwargs(dims, len(classes)))
        self.net = self.net_cls(self.config)
        for k in self.feature_sets:  # standardisation statistics from training recordings only
            self.net.norms[k].fit(np.concatenate([train.inputs[k][i] for i in train.original]))
        device = torch.device(resolve_device(cfg.device))
        self.train_cfg = cfg = replace(cfg, device=device.type)  # the card says where it trained
        self.net.to(device)
        labels = np.array(self.labels(train))
        y = torch.as_tensor(labels, dtype=torch.long, device=device)
        counts = np.bincount(labels, minlength=len(classes)).astype(np.float32)
        weights = torch.from_numpy(counts.sum() / np.maximum(counts, 1) / len(classes)).to(device)
        row_weights = corpus_weights(train.rows["corpus"])  # None for one corpus: the class-weighted mean as it was
        if row_weights is not None:
            row_weights = torch.as_tensor(row_weights, dtype=torch.float32, device=device)
        loss_fn = nn.CrossEntropyLoss(weight=weights, reduction="mean" if row_weights is None else "none")
        opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=cfg.lr_patience)
        has_val = val is not None and len(val) > 0
        best, best_ua, best_epoch, history = None, -1.0, 0, []
        for epoch in range(cfg.max_epochs):
            self.net.train()
            order = rng.permutation(len(train))
            starts = self._random_starts(train, order, rng) if self.frame_level else None
            total = 0.0
            for b in range(0, len(order), cfg.batch_size):
                rows = order[b:b + cfg.batch_size]
                if len(rows) < 2:  # batch norm needs two samples
                    continue
                batch = self._batch(train, rows, None if starts is None else starts[b:b + cfg.batch_size])
                loss = loss_fn(self.net({k: v.to(device) for k, v in batch.items()}), y[rows])
                if row_weights is not None:  # each row's class weight (inside loss) times its corpus weight
                    loss = (loss * row_weights[rows]).sum() / (weights[y[rows]] * row_weights[rows]).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(rows)
            val_ua = float(balanced_accuracy_score(self.labels(val), self.predict_proba(val).argmax(1))) if has_val else 0.0
            history.append({"epoch": epoch, "loss": total / len(train), "val_ua": val_ua})
            sched.step(val_ua)
            if val_ua > best_ua or not has_val:
                best, best_ua, best_epoch = copy.deepcopy(self.net.state_dict()), val_ua, epoch
            elif epoch - best_epoch >= cfg.patience and epoch + 1 >= cfg.min_epochs:
                break
        self.net.load_state_dict(best)
        self.net.to("cpu")  # saving, export and scoring run on the CPU
        return {"epochs": len(history), "best_epoch": best_epoch, "best_val_ua": best_ua if has_val else None,
                "rows_per_corpus": rows_per_corpus(train)}

    def _shape_kwargs(self, dims: dict[str, int], n_classes: int) -> dict[str, Any]:
        names = {f.name for f in fields(self.config_cls)}
        chosen = {f.name: f.default for f in fields(self.config_cls) if f.default is not MISSING} | self.config_kwargs
        shape = {"n_classes": n_classes}
        # a `<branch>_bins` field takes the bins of the feature set its `<branch>_input` field names
        sources = {"n_inputs": self.feature_sets[0], "n_mels": "logmel",
                   **{n: chosen.get(n.removesuffix("_bins") + "_input") for n in names if n.endswith("_bins")}}
        for key, feature_set in sources.items():
            if key in names and feature_set in dims:
                shape[key] = dims[feature_set]
        if "feature_set" in names:
            shape["feature_set"] = self.feature_sets[0]
        return shape

    # -- inference ------------------------------------------------------------------------------
    @torch.no_grad()
    def probabilities(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        """Class probabilities of one batch of inputs (crops or vectors)."""
        self.net.eval()
        device = next(self.net.parameters()).device  # a GPU while validating a training epoch
        return torch.softmax(self.net({k: v.to(device) for k, v in batch.items()}), dim=1).cpu().numpy()

    def predict_proba(self, data: FeatureData) -> np.ndarray:
        """Vectors in batches; frame-level rows as the mean of overlapping windows' probabilities."""
        if not len(data):
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        rows, starts = self._windows(data)
        probs = np.zeros((len(data), len(self.classes)), dtype=np.float64)
        counts = np.zeros(len(data))
        for b in range(0, len(rows), 256):
            r = rows[b:b + 256]
            batch = self._batch(data, r, None if starts is None else starts[b:b + 256])
            p = self.probabilities(batch)
            np.add.at(probs, r, p)
            np.add.at(counts, r, 1)
        return (probs / counts[:, None]).astype(np.float32)

    def _windows(self, data: FeatureData) -> tuple[np.ndarray, np.ndarray | None]:
        if not self.frame_level:
            return np.arange(len(data)), None
        n, hop = self.train_cfg.crop_frames, self.train_cfg.crop_frames // 2
        rows, starts = [], []
        for i in range(len(data)):
            length = min(len(data.inputs[k][i]) for k in self.feature_sets)
            s = list(range(0, max(length - n, 0) + 1, hop))
            if length > n and s[-1] != length - n:
                s.append(length - n)  # the last window ends with the utterance
            rows += [i] * len(s)
            starts += s
        return np.array(rows), np.array(starts)

    # -- persistence ----------------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        return {"config": asdict(self.config) if self.config else self.config_kwargs, "train": asdict(self.train_cfg)}

    def save(self, folder: Path) -> None:
        torch.save(self.net.state_dict(), folder / "model.pt")

    def load_weights(self, folder: Path, classes: list[str], hyper: dict) -> TorchEstimator:
        """Rebuild the net from the card's config and load weights with weights_only=True (no pickle)."""
        self.config, self.classes = config_from_card(self.config_cls, hyper["config"]), classes
        self.net = self.net_cls(self.config)
        try:
            state = torch.load(folder / "model.pt", weights_only=True)
        except pickle.UnpicklingError as exc:  # torch's own message advises weights_only=False: never do that here
            raise ValueError(f"{folder / 'model.pt'} holds objects other than tensors and was refused "
                             "unloaded; retrain the model rather than trusting this file") from exc
        self.net.load_state_dict(state)
        self.net.eval()
        return self
