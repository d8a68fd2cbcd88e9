"""Versioned model registry under <store>/models/<name>/<version>/, with model cards and a champion."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from tasks.lib.store import Store, checked_name

if TYPE_CHECKING:
    from ser_models.domain import DomainGuard
    from ser_models.estimator import Estimator

VERSION = re.compile(r"^v(\d{4})$")


class RegistryError(ValueError):
    """Unknown model or version; the user must pick an existing one."""


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    folder: Path

    @property
    def card(self) -> dict[str, Any]:
        return json.loads((self.folder / "model_card.json").read_text())


def code_version() -> str:
    """Package version plus the git commit when running from a checkout."""
    from importlib.metadata import version

    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"serflow {version('serflow')}" + (f" ({sha})" if sha else "")


def _root(store: Store) -> Path:
    if not store.is_local:
        raise RegistryError("the model registry needs a local store path")
    return Path(store.root) / "models"


def _folder(store: Store, name: str) -> Path:
    """The model's folder; a name that would leave the registry is refused."""
    return _root(store) / checked_name(name, "model")


def versions(store: Store, name: str) -> list[str]:
    folder = _folder(store, name)
    return sorted(p.name for p in folder.iterdir() if VERSION.match(p.name)) if folder.is_dir() else []


STALE_STAGING_S = 6 * 3600  # far longer than any final training: such a folder's run is dead


def remove_stale_staging(base: Path) -> list[Path]:
    """Delete staging folders a killed `train` left behind; a live run's recent folder is kept."""
    stale = [p for p in base.glob(".staging-*") if time.time() - p.stat().st_mtime > STALE_STAGING_S]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


def register(store: Store, name: str, estimator: Estimator, card: dict[str, Any],
             metrics: pd.DataFrame, confusion_png: Path | None, guard: DomainGuard | None = None) -> ModelRef:
    """Write weights, guard, card, metrics and plot to a temporary folder, then rename it to the next version."""
    base = _folder(store, name)
    base.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(base)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{uuid.uuid4().hex[:8]}-", dir=base))
    try:
        estimator.save(staging)
        if guard is not None:
            guard.save(staging)
        metrics.to_parquet(staging / "metrics.parquet", index=False)
        if confusion_png:
            shutil.copy(confusion_png, staging / "confusion.png")
        while True:  # claim the next free version number; rename fails if another run took it
            existing = versions(store, name)
            version = f"v{int(existing[-1][1:]) + 1 if existing else 1:04d}"
            full = {**card, "name": name, "version": version, "code_version": code_version(),
                    "created_at": datetime.now(UTC).isoformat()}
            (staging / "model_card.json").write_text(json.dumps(full, indent=2, default=str))
            try:
                staging.rename(base / version)
                return ModelRef(name, version, base / version)
            except OSError:
                if not (base / version).exists():
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def champion(store: Store, name: str) -> str | None:
    path = _folder(store, name) / "champion.json"
    return json.loads(path.read_text())["version"] if path.exists() else None


def promote(store: Store, name: str, version: str) -> ModelRef:
    """Make VERSION the champion that `predict` and `score-calls` use by default."""
    ref = resolve(store, f"{name}:{version}")
    path = _folder(store, name) / "champion.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": ref.version, "promoted_at": datetime.now(UTC).isoformat()}))
    tmp.replace(path)
    return ref


def names(store: Store) -> list[str]:
    """Models with at least one registered version."""
    root = _root(store)
    return [p.name for p in sorted(root.iterdir()) if versions(store, p.name)] if root.is_dir() else []


def default_model(store: Store) -> str:
    """The model used when none is named: the most recently promoted, else the only one registered."""
    promoted = sorted((json.loads(p.read_text())["promoted_at"], p.parent.name)
                      for p in _root(store).glob("*/champion.json")) if _root(store).is_dir() else []
    if promoted:
        return promoted[-1][1]
    registered = names(store)
    if len(registered) == 1:
        return registered[0]
    found = f"models registered: {registered}" if registered else "no model is registered"
    raise RegistryError(f"no model named and {found} in {store}; name one with --model NAME, "
                        "or make one the default with `serflow models promote NAME VERSION`")


def resolve(store: Store, spec: str | None) -> ModelRef:
    """NAME[:VERSION]; without a version the champion, else the newest; without a spec the default model."""
    name, _, version = (spec or default_model(store)).partition(":")
    available = versions(store, name)
    if not available:
        missing = f"no version {version!r} of model {name!r}" if version else f"no model {name!r}"
        raise RegistryError(f"{missing} in {store}; models with versions: {names(store) or 'none'}")
    version = version or champion(store, name) or available[-1]
    if version not in available:
        raise RegistryError(f"model {name!r} has no version {version!r}; its versions: {available}")
    return ModelRef(name, version, _folder(store, name) / version)


def load(ref: ModelRef) -> Estimator:
    """The trained estimator; a weights file refused as unsafe becomes a RegistryError (one line in the CLI)."""
    from ser_models.catalog import load_estimator  # on use: the catalog imports torch and scikit-learn

    card = ref.card
    try:
        return load_estimator(ref.folder, card["model"], card["feature_sets"], card["classes"], card["hyperparameters"])
    except ValueError as exc:
        raise RegistryError(f"{ref.name}:{ref.version}: {exc}") from exc


def list_models(store: Store) -> pd.DataFrame:
    """One row per registered version with its pooled metrics."""
    rows = []
    root = _root(store)
    for folder in sorted(root.glob("*/v*")) if root.is_dir() else []:
        card = ModelRef(folder.parent.name, folder.name, folder).card
        pooled = card.get("metrics", {}).get("pooled", {})
        rows.append({"name": card["name"], "version": card["version"],
                     "champion": champion(store, card["name"]) == card["version"], "model": card["model"],
                     "feature_sets": ",".join(card["feature_sets"]), "corpora": ",".join(card["corpora"]),
                     "cv": card["cv"], "ua": pooled.get("ua"), "wa": pooled.get("wa"),
                     "macro_f1": pooled.get("macro_f1"), "created_at": card["created_at"]})
    return pd.DataFrame(rows)
