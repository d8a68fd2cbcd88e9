"""Readers of the store's tables: the utterances manifest, a feature set, the scoring ledger."""
from __future__ import annotations

import pandas as pd
import pyarrow.dataset as ds

from data_contracts import schemas
from tasks.lib.store import Store


def read_manifest(store: Store, corpora: list[str] | None = None) -> pd.DataFrame:
    """The accepted utterances of some or all corpora."""
    where = ds.field("corpus").isin(corpora) if corpora else None
    return store.read(schemas.UTTERANCES_TABLE, filter=where)


def ingested_corpora(store: Store) -> list[str]:
    """Names of the corpora with an utterances partition in the store, read from folder names only."""
    spec = schemas.UTTERANCES_TABLE
    return sorted(name.split("=", 1)[1] for file in store.list_parquet(spec.path)
                  if (name := file.split("/")[-2]).startswith("corpus="))


def read_features(store: Store, feature_set: str, corpora: list[str] | None = None,
                  config_hash: str | None = None) -> pd.DataFrame:
    """Stored rows of one feature set and config (the current code's config by default)."""
    from tasks.lib.feature_sets import get_feature_set  # on use: feature code imports torch and librosa

    config_hash = config_hash or get_feature_set(feature_set).config_hash
    where = ds.field("config_hash") == config_hash
    if corpora:
        where = where & ds.field("corpus").isin(corpora)
    return store.read(schemas.feature_table(feature_set), filter=where)


def read_ledger(store: Store) -> pd.DataFrame:
    """The latest ledger entry per (call, model, version)."""
    ledger = store.read(schemas.LEDGER_TABLE)
    if ledger.empty:
        return ledger
    return ledger.sort_values("scored_at").drop_duplicates(["call_id", "model", "model_version"], keep="last")
