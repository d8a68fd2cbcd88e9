"""Corpus recipes: one module per corpus, one prepare_<corpus>() each, registered by name here."""
from __future__ import annotations

from collections.abc import Callable

from tasks.lib.corpora.base import Record, Rejected, Utterance
from tasks.lib.corpora.casia import prepare_casia
from tasks.lib.corpora.crema_d import prepare_crema_d
from tasks.lib.corpora.csv_list import prepare_csv
from tasks.lib.corpora.emodb import prepare_emodb
from tasks.lib.corpora.folders import prepare_folders
from tasks.lib.corpora.ravdess import prepare_ravdess
from tasks.lib.corpora.savee import prepare_savee
from tasks.lib.corpora.tess import prepare_tess

RECIPES: dict[str, Callable[..., list[Record]]] = {
    "ravdess": prepare_ravdess,
    "crema_d": prepare_crema_d,
    "emodb": prepare_emodb,
    "tess": prepare_tess,
    "savee": prepare_savee,
    "casia": prepare_casia,
    "folders": prepare_folders,
    "csv": prepare_csv,
}

__all__ = ["RECIPES", "Record", "Rejected", "Utterance"]
