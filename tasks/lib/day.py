"""One day of scored calls from the result tables: the rows and the figures an operator or analyst reads first."""
from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow.dataset as ds

from data_contracts import schemas
from data_contracts.labels import CANONICAL_EMOTIONS
from tasks.lib.store import Store


def today() -> str:
    """The scored_date partition a run writes now (UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%d")


def day_calls(store: Store, date: str, model: str | None = None) -> pd.DataFrame:
    """Call rows scored on DATE (YYYY-MM-DD) with speech, optionally of one model version (NAME:VERSION)."""
    calls = store.read(schemas.CALLS_TABLE, filter=ds.field("scored_date") == date)
    calls = calls[calls["status"] == "ok"]
    return of_model(calls, model) if model else calls.reset_index(drop=True)


def of_model(calls: pd.DataFrame, model: str) -> pd.DataFrame:
    """The rows of one model version (NAME:VERSION)."""
    name, _, version = model.partition(":")
    return calls[(calls["model"] == name) & (calls["model_version"] == version)].reset_index(drop=True)


def emotion_shares(calls: pd.DataFrame) -> dict[str, float]:
    """Share of the day's speech time per emotion (each channel's shares weighted by its speech seconds)."""
    speech = calls["speech_s"].sum()
    if not len(calls) or speech <= 0:
        return {}
    shares = {e: float((calls[f"share_{e}"].fillna(0) * calls["speech_s"]).sum() / speech) for e in CANONICAL_EMOTIONS}
    return {e: s for e, s in sorted(shares.items(), key=lambda kv: -kv[1]) if s > 0}


def top_calls(calls: pd.DataFrame, column: str, n: int = 5) -> pd.DataFrame:
    """The N channels highest in COLUMN (negative_share or escalation), for a first look."""
    keep = ["call_id", "channel", "speaker", "negative_share", "escalation", "peak_negative_start_s", "speech_s"]
    return calls.dropna(subset=[column]).sort_values(column, ascending=False).head(n)[keep].reset_index(drop=True)
