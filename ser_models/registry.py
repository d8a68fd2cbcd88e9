"""Versioned model registry under <store>/models/<name>/<version>/, with model cards and a champion."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tasks.lib.store import Store, checked_name

if TYPE_CHECKING:
    from ser_models.diarization import SpeakerSpace
    from ser_models.domain import DomainGuard
    from ser_models.estimator import Estimator

VERSION = re.compile(r"^v(\d{4})$")


class RegistryError(ValueError):
    """Unknown model or version; the user must pick an existing one."""


@dataclass(frozen=True)
class ModelRef:
    """One registered version: where it lives in the store, and a local copy for loading its weights."""
    store: Store
    name: str
    version: str

    @property
    def path(self) -> str:
        return f"{_root(self.store)}/{self.name}/{self.version}"

    @property
    def url(self) -> str:
        return self.store.url_of(self.path)

    @property
    def card(self) -> dict[str, Any]:
        return json.loads(self.store.fs.cat(f"{self.path}/{CARD}"))

    @property
    def folder(self) -> Path:
        """The version's folder on this machine: the store's own on a local store, else a download cached
        once per machine (a version never changes after its card is written)."""
        if self.store.is_local:
            return Path(self.path)
        key = hashlib.sha256(self.store.url.encode()).hexdigest()[:16]
        cached = _cache_root() / key / self.name / self.version
        if not (cached / CARD).exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            download = Path(tempfile.mkdtemp(prefix=f".{self.version}-", dir=cached.parent))
            self.store.fs.get(f"{self.path}/", f"{download}/", recursive=True)
            try:
                download.rename(cached)
            except OSError:  # another process of this machine cached it first
                shutil.rmtree(download, ignore_errors=True)
        return cached


def code_version() -> str:
    """Package version plus the git commit when running from a checkout."""
    from importlib.metadata import version

    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"serflow {version('serflow')}" + (f" ({sha})" if sha else "")


CARD = "model_card.json"  # written last: a version exists once its card does
CLAIM = ".claim"  # created exclusively: whoever creates it owns the version number


def save_attachment(folder: Path, stem: str, arrays: dict[str, np.ndarray], info: dict[str, Any]) -> None:
    """A model's attachment (domain guard, speaker space), pickle-free: STEM.npz arrays, STEM.json description."""
    np.savez(folder / f"{stem}.npz", **arrays)
    (folder / f"{stem}.json").write_text(json.dumps(info, indent=2))


def load_attachment(folder: Path, stem: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """The arrays and description save_attachment wrote, or None for a model registered without it."""
    if not (folder / f"{stem}.npz").exists():
        return None
    with np.load(folder / f"{stem}.npz", allow_pickle=False) as arrays:
        return {k: arrays[k] for k in arrays.files}, json.loads((folder / f"{stem}.json").read_text())


def _cache_root() -> Path:
    """Where versions from a remote store are kept on this machine ($SERFLOW_MODEL_CACHE overrides)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "serflow" / "models"
    return Path(os.environ.get("SERFLOW_MODEL_CACHE", default))


def _root(store: Store) -> str:
    return store.path("models")


def _folder(store: Store, name: str) -> str:
    """The model's folder; a name that would leave the registry is refused."""
    return f"{_root(store)}/{checked_name(name, 'model')}"


def _children(store: Store, folder: str) -> list[str]:
    """Names directly under a folder, [] when it does not exist (object stores have no empty folders)."""
    try:
        return sorted(PurePosixPath(p).name for p in store.fs.ls(folder, detail=False))
    except FileNotFoundError:
        return []


def versions(store: Store, name: str) -> list[str]:
    """Versions whose card is written; a claimed number whose run died before its card stays invisible."""
    folder = _folder(store, name)
    return [v for v in _children(store, folder) if VERSION.match(v) and store.fs.exists(f"{folder}/{v}/{CARD}")]


def _claim(store: Store, name: str) -> str:
    """The next version number, taken with an exclusive create (O_EXCL locally, If-None-Match on S3)."""
    folder = _folder(store, name)
    while True:
        taken = [v for v in _children(store, folder) if VERSION.match(v)]
        version = f"v{int(taken[-1][1:]) + 1 if taken else 1:04d}"
        store.fs.makedirs(f"{folder}/{version}", exist_ok=True)
        try:
            with store.fs.open(f"{folder}/{version}/{CLAIM}", "xb") as fh:
                fh.write(json.dumps({"claimed_at": datetime.now(UTC).isoformat()}).encode())
            return version
        except FileExistsError:
            continue


def register(store: Store, name: str, estimator: Estimator, card: dict[str, Any],
             metrics: pd.DataFrame, confusion_png: Path | None,
             extras: tuple[DomainGuard | SpeakerSpace | None, ...] = ()) -> ModelRef:
    """Save everything (the estimator, its domain guard and speaker space where given) to a local temporary
    folder, claim the next version, upload, then write the card."""
    with tempfile.TemporaryDirectory(prefix="serflow-register-") as tmp:
        staging = Path(tmp)
        estimator.save(staging)
        for extra in extras:
            if extra is not None:
                extra.save(staging)
        metrics.to_parquet(staging / "metrics.parquet", index=False)
        if confusion_png:
            shutil.copy(confusion_png, staging / "confusion.png")
        version = _claim(store, name)
        ref = ModelRef(store, name, version)
        for file in sorted(p for p in staging.rglob("*") if p.is_file()):
            store.write_bytes(file.read_bytes(), f"models/{name}/{version}/{file.relative_to(staging).as_posix()}")
        full = {**card, "name": name, "version": version, "code_version": code_version(),
                "created_at": datetime.now(UTC).isoformat()}
        store.write_json(full, f"models/{name}/{version}/{CARD}")
        return ref


def champion(store: Store, name: str) -> str | None:
    path = f"{_folder(store, name)}/champion.json"
    return json.loads(store.fs.cat(path))["version"] if store.fs.exists(path) else None


def promote(store: Store, name: str, version: str) -> ModelRef:
    """Make VERSION the champion that `predict` and `score-calls` use by default."""
    ref = resolve(store, f"{name}:{version}")
    store.write_json({"version": ref.version, "promoted_at": datetime.now(UTC).isoformat()},
                     f"models/{name}/champion.json")
    return ref


def names(store: Store) -> list[str]:
    """Models with at least one registered version."""
    return [n for n in _children(store, _root(store)) if versions(store, n)]


def default_model(store: Store) -> str:
    """The model used when none is named: the most recently promoted, else the only one registered."""
    promoted = sorted((json.loads(store.fs.cat(f"{_root(store)}/{n}/champion.json"))["promoted_at"], n)
                      for n in _children(store, _root(store)) if store.fs.exists(f"{_root(store)}/{n}/champion.json"))
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
    return ModelRef(store, name, version)


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
    for name, version in ((n, v) for n in names(store) for v in versions(store, n)):
        card = ModelRef(store, name, version).card
        pooled = card.get("metrics", {}).get("pooled", {})
        rows.append({"name": card["name"], "version": card["version"],
                     "champion": champion(store, card["name"]) == card["version"], "model": card["model"],
                     "feature_sets": ",".join(card["feature_sets"]), "corpora": ",".join(card["corpora"]),
                     "cv": card["cv"], "ua": pooled.get("ua"), "wa": pooled.get("wa"),
                     "macro_f1": pooled.get("macro_f1"), "created_at": card["created_at"]})
    return pd.DataFrame(rows)
