"""A torch model as an ONNX bundle for the edge: the graph, its card and its domain guard in one folder,
served by onnxruntime with the same crops, windows and calibration as the torch model.

bundle/
  model.onnx        inputs: one tensor per feature set (batch first); output: class probabilities
  card.json         the registry card, plus `onnx`: frame_level, crop padding, opset
  domain_guard.*    the out-of-domain guard, as in the registry
  speaker_space.*   the speaker directions that split a mono channel's voices, as in the registry
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ser_models.data import FeatureData
from ser_models.training import TorchEstimator, TrainConfig

GRAPH, CARD = "model.onnx", "card.json"
OPSET = 18

class _Probabilities(nn.Module):
    """The net with positional inputs (one per feature set) and softmax output, as the graph is exported."""

    def __init__(self, net: nn.Module, feature_sets: tuple[str, ...]) -> None:
        super().__init__()
        self.net, self.feature_sets = net, feature_sets

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(dict(zip(self.feature_sets, inputs))), dim=1)


def export_bundle(est: TorchEstimator, card: dict, model_folder: Path, out: Path) -> Path:
    """Write the graph (dynamic batch size), the card, the domain guard and speaker space files into `out`."""
    if not isinstance(est, TorchEstimator):
        raise ValueError(f"{card['model']} is not a torch model; only mlp, cnn and cl export to ONNX")
    out.mkdir(parents=True, exist_ok=True)
    example = est.example_batch(2)
    names = list(est.feature_sets)
    batch = torch.export.Dim.DYNAMIC
    torch.onnx.export(_Probabilities(est.net, est.feature_sets).eval(), tuple(example[k] for k in names), out / GRAPH,
                      input_names=names, output_names=["probabilities"], opset_version=OPSET, dynamo=True,
                      dynamic_shapes={"inputs": tuple({0: batch} for _ in names)}, external_data=False,
                      verbose=False)
    onnx = {"frame_level": est.frame_level, "pad": {k: v.tolist() for k, v in est.pad_values().items()},
            "opset": OPSET}
    (out / CARD).write_text(json.dumps({**card, "onnx": onnx}, indent=2))
    for path in [*model_folder.glob("domain_guard.*"), *model_folder.glob("speaker_space.*")]:
        (out / path.name).write_bytes(path.read_bytes())
    return out


class OnnxEstimator(TorchEstimator):
    """An exported graph run by onnxruntime: the torch model's crops, windows and averaging, no torch forward."""

    def __init__(self, folder: Path, card: dict) -> None:
        import onnxruntime as ort

        # no torch net here: the config and net classes stay unset, the graph replaces the forward pass
        super().__init__(card["model"], tuple(card["feature_sets"]), card["onnx"]["frame_level"], None, None,
                         {}, TrainConfig(**card["hyperparameters"]["train"]))
        self.classes = list(card["classes"])
        self.pad = {k: np.asarray(v, np.float32) for k, v in card["onnx"]["pad"].items()}
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a scoring worker is one core
        self.session = ort.InferenceSession(str(folder / GRAPH), options, providers=["CPUExecutionProvider"])

    def pad_values(self) -> dict[str, np.ndarray]:
        return self.pad

    def probabilities(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        return self.session.run(None, {k: v.numpy() for k, v in batch.items()})[0]

    def fit(self, train: FeatureData, val: FeatureData | None, classes: list[str]) -> dict:
        raise TypeError("an exported ONNX model is for inference; train the torch model and export it again")

    def save(self, folder: Path) -> None:
        raise TypeError("an exported ONNX model is saved by `serflow models export`")


def load_bundle_card(folder: Path) -> dict:
    """The bundle's card, or a ValueError saying what the folder lacks."""
    if not (folder / GRAPH).is_file() or not (folder / CARD).is_file():
        raise ValueError(f"{folder} is not an ONNX bundle: it needs {GRAPH} and {CARD} (serflow models export)")
    return json.loads((folder / CARD).read_text())
