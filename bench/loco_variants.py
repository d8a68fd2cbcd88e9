"""What else was tried for a corpus held out: domain-generalisation variants on the stored `ge2e_layers` vectors.

Leave-one-corpus-out, per file, on the five shared emotions (bench/accuracy.py's label map), training on the
recordings and speed copies of the other two corpora, each corpus weighing the same (as `serflow train`
weights them). Every variant is judged against the same plain logistic regression (the `logreg` model's
scaling, C = 0.01), nothing of the held-out corpus used for fitting:
  nap      nuisance attribute projection: the top k directions along which the training speakers' (or
           corpora's) per-class means differ are projected out before the classifier, k = 5, 10, 20, 50
  tta      test-time augmentation: a file's probabilities averaged with those of its own two speed copies
  experts  one model per training corpus, each with its own scaling, probabilities averaged
  dann     a one-hidden-layer network with and without a gradient-reversed corpus classifier (domain-
           adversarial training), three seeds, probabilities averaged

  .venv/bin/python bench/loco_variants.py [--parts nap,tta,experts,dann]
      (after bench/accuracy.py has built the bench store)  ->  bench/results/loco_variants.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from feature_groups import fitted, loco_data  # bench/ is on sys.path when run as a script
from sklearn.metrics import balanced_accuracy_score  # UA, as ser_models.evaluation.metrics computes it

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "loco_variants.json"
FEATURES = "ge2e_layers"
C = 0.01


def nuisance_basis(x: np.ndarray, y: np.ndarray, groups: np.ndarray, k: int) -> np.ndarray:
    """(k, columns): the leading directions of the groups' per-class means around each class's mean."""
    cells = [x[(groups == g) & (y == c)].mean(axis=0) - x[y == c].mean(axis=0)
             for g in np.unique(groups) for c in np.unique(y) if ((groups == g) & (y == c)).sum() >= 2]
    return np.linalg.svd(np.stack(cells), full_matrices=False)[2][:k]


def nap(split: dict) -> dict[str, float]:
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(split["x"])  # the projection is fitted on standardised training columns
    xs, out = scaler.transform(split["x"]), {}
    for nuisance in ("speaker", "corpus"):
        for k in (5, 10, 20, 50) if nuisance == "speaker" else (5,):
            u = nuisance_basis(xs, split["y"], split[nuisance], k)
            train, test = (z - (z @ u.T) @ u for z in (xs, scaler.transform(split["x_test"])))
            model = fitted(train, split["y"], C, split["weights"])
            out[f"{nuisance} k={k}"] = split["ua"](model.predict(test))
    return out


def tta(split: dict) -> dict[str, float]:
    model = fitted(split["x"], split["y"], C, split["weights"])
    proba = np.mean([model.predict_proba(copy) for copy in split["x_test_copies"]], axis=0)
    return {"each file alone": split["ua"](model.predict(split["x_test"])),
            "file + its speed copies": split["ua"](model.classes_[proba.argmax(axis=1)])}


def experts(split: dict) -> dict[str, float]:
    out, probas = {}, []
    for corpus in np.unique(split["corpus"]):
        rows = split["corpus"] == corpus
        model = fitted(split["x"][rows], split["y"][rows], C)
        probas.append(model.predict_proba(split["x_test"]))
        out[f"{corpus} alone"] = split["ua"](model.classes_[probas[-1].argmax(axis=1)])
    out["experts averaged"] = split["ua"](model.classes_[np.mean(probas, axis=0).argmax(axis=1)])
    return out


def adversarial_proba(x: np.ndarray, y: np.ndarray, domain: np.ndarray, x_test: np.ndarray, strength: float,
                      seed: int, epochs: int = 40) -> np.ndarray:
    """A 256-unit network on standardised columns; its hidden layer also feeds a corpus classifier through
    gradient reversal (ramped up over training as in Ganin et al.), so it is pushed to hide the corpus."""
    import torch
    from sklearn.pipeline import make_pipeline

    from ser_models.classic import scaling

    class Reverse(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z, weight):  # noqa: ANN001, ANN205
            ctx.weight = weight
            return z.view_as(z)

        @staticmethod
        def backward(ctx, grad):  # noqa: ANN001, ANN205
            return -ctx.weight * grad, None

    torch.manual_seed(seed)
    scale = make_pipeline(*scaling()).fit(x)
    classes, labels = np.unique(y, return_inverse=True)
    domains, domain_ids = np.unique(domain, return_inverse=True)
    cell = domain_ids * len(classes) + labels
    weights = 1.0 / np.bincount(cell)[cell]  # each (corpus, class) cell weighs the same
    xt, yt, dt = (torch.tensor(a) for a in (scale.transform(x).astype(np.float32), labels, domain_ids))
    wt = torch.tensor((weights / weights.mean()).astype(np.float32))
    body = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(xt.shape[1], 256), torch.nn.ReLU(),
                               torch.nn.Dropout(0.5))
    head, critic = torch.nn.Linear(256, len(classes)), torch.nn.Sequential(
        torch.nn.Linear(256, 64), torch.nn.ReLU(), torch.nn.Linear(64, len(domains)))
    params = [*body.parameters(), *head.parameters(), *critic.parameters()]
    optimiser = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-3)
    batches = [b for _ in range(epochs) for b in torch.randperm(len(xt)).split(128)]
    for step, batch in enumerate(batches):
        weight = strength * (2 / (1 + np.exp(-10 * step / len(batches))) - 1)
        hidden = body(xt[batch])
        loss = torch.nn.functional.cross_entropy(head(hidden), yt[batch], reduction="none")
        if strength:
            loss = loss + torch.nn.functional.cross_entropy(critic(Reverse.apply(hidden, weight)), dt[batch],
                                                            reduction="none")
        optimiser.zero_grad()
        (loss * wt[batch]).mean().backward()
        optimiser.step()
    body.eval()
    with torch.no_grad():
        return torch.softmax(head(body(torch.tensor(scale.transform(x_test).astype(np.float32)))), 1).numpy()


def dann(split: dict) -> dict[str, float]:
    classes, out = np.unique(split["y"]), {}
    for strength in (0.0, 0.3, 1.0):
        proba = np.mean([adversarial_proba(split["x"], split["y"], split["corpus"], split["x_test"], strength, seed)
                         for seed in range(3)], axis=0)
        out[f"reversal weight {strength}"] = split["ua"](classes[proba.argmax(axis=1)])
    return out


PARTS = {"nap": nap, "tta": tta, "experts": experts, "dann": dann}


def splits(rows, x: np.ndarray):
    """Per held-out corpus, what every variant needs: training rows, their groups and weights, the held-out
    recordings and their speed copies in the same order, and a UA function."""
    from accuracy import default_keys, loco_splits

    from ser_models.data import corpus_weights

    keys = rows["utterance_id"] + "|" + rows["augmentation"]
    position = dict(zip(keys, range(len(rows))))
    for held, train, test in loco_splits(rows):
        truth, ids = rows["emotion"].to_numpy()[test], rows["utterance_id"].to_numpy()[test]
        copies = [x[[position.get(f"{u}|{a}", i) for u, i in zip(ids, test)]] for a in default_keys()]
        yield held, {"x": x[train], "y": rows["emotion"].to_numpy()[train], "x_test": x[test], "x_test_copies": copies,
                     "speaker": rows["speaker_id"].to_numpy()[train], "corpus": rows["corpus"].to_numpy()[train],
                     "weights": corpus_weights(rows["corpus"].to_numpy()[train]),
                     "ua": lambda pred, truth=truth: round(float(balanced_accuracy_score(truth, pred)), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help="which variants to run (see above)")
    parts = parser.parse_args().parts.split(",")
    warnings.filterwarnings("ignore", category=FutureWarning)
    data = loco_data(FEATURES)
    result: dict = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for held, split in splits(data.rows, data.vectors(FEATURES)):
        for part in parts:
            start = time.perf_counter()
            result.setdefault(part, {})[held] = PARTS[part](split)
            print(f"{part}, {held} held out ({time.perf_counter() - start:.0f} s):", result[part][held], flush=True)
    result[f"measured_at ({','.join(parts)})"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    RESULTS.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
