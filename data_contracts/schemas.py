"""Arrow schema of every serflow table: the single definition writers cast to."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from data_contracts.labels import CANONICAL_EMOTIONS


@dataclass(frozen=True)
class TableSpec:
    """A table in the store: its folder, full schema, and the hive partition columns (kept in paths only)."""

    path: str
    schema: pa.Schema
    partition_by: tuple[str, ...] = ()

    @property
    def file_schema(self) -> pa.Schema:
        """Columns stored inside each Parquet file (everything but the partition keys)."""
        return pa.schema([f for f in self.schema if f.name not in self.partition_by])

    @property
    def partition_schema(self) -> pa.Schema:
        return pa.schema([self.schema.field(c) for c in self.partition_by])

UTTERANCES = pa.schema([
    ("utterance_id", pa.string()),
    ("corpus", pa.string()),
    ("path", pa.string()),
    ("speaker_id", pa.string()),
    ("gender", pa.string()),
    ("emotion", pa.string()),
    ("emotion_raw", pa.string()),
    ("intensity", pa.string()),
    ("text_id", pa.string()),
    ("attributes", pa.string()),  # JSON of every other fact the name and folders encode
    ("duration_s", pa.float64()),
    ("sample_rate", pa.int32()),
    ("channels", pa.int16()),
    ("audio_sha256", pa.string()),
    ("ingested_at", pa.timestamp("us", tz="UTC")),
])

QUARANTINE = pa.schema([
    ("path", pa.string()),
    ("corpus", pa.string()),
    ("reason", pa.string()),
    ("detail", pa.string()),
    ("ingested_at", pa.timestamp("us", tz="UTC")),
])

UTTERANCES_TABLE = TableSpec("manifests/utterances", UTTERANCES, ("corpus",))
QUARANTINE_TABLE = TableSpec("manifests/quarantine", QUARANTINE, ("corpus",))

FEATURES = pa.schema([
    ("utterance_id", pa.string()),
    ("speaker_id", pa.string()),
    ("augmentation", pa.string()),  # "none" or "<preset>#<copy>"
    ("aug_params", pa.string()),    # JSON of the drawn augmentation parameters
    ("duration_s", pa.float32()),
    ("n_frames", pa.int32()),
    ("n_bins", pa.int32()),
    ("features", pa.list_(pa.float32())),  # row-major (n_frames, n_bins)
    ("computed_at", pa.timestamp("us", tz="UTC")),
    ("corpus", pa.string()),
    ("config_hash", pa.string()),
])

FEATURE_FAILURES = pa.schema([
    ("utterance_id", pa.string()),
    ("augmentation", pa.string()),
    ("path", pa.string()),
    ("reason", pa.string()),
    ("detail", pa.string()),
    ("failed_at", pa.timestamp("us", tz="UTC")),
    ("feature_set", pa.string()),
    ("corpus", pa.string()),
    ("config_hash", pa.string()),
])
FEATURE_FAILURES_TABLE = TableSpec("features/quarantine", FEATURE_FAILURES, ("feature_set", "corpus", "config_hash"))


def feature_table(feature_set: str) -> TableSpec:
    """features/<set>/corpus=<name>/config_hash=<hash>/part-*.parquet"""
    return TableSpec(f"features/{feature_set}", FEATURES, ("corpus", "config_hash"))

PROBABILITY_COLUMNS = [f"p_{e}" for e in CANONICAL_EMOTIONS]  # null where the model lacks that class
SHARE_COLUMNS = [f"share_{e}" for e in CANONICAL_EMOTIONS]

SEGMENTS = pa.schema([
    ("call_id", pa.string()),
    ("channel", pa.int16()),
    ("speaker", pa.string()),  # spk<N>: a voice of a mono call (diarized), the channel of a stereo one
    ("segment_index", pa.int32()),
    ("start_s", pa.float64()),
    ("end_s", pa.float64()),
    ("emotion", pa.string()),
    ("confidence", pa.float32()),
    *[(c, pa.float32()) for c in PROBABILITY_COLUMNS],
    ("domain_score", pa.float32()),  # share of features outside the training range; null without a guard
    ("in_domain", pa.bool_()),
    ("model", pa.string()),
    ("model_version", pa.string()),
    ("scored_at", pa.timestamp("us", tz="UTC")),
    ("scored_date", pa.string()),
])

TURNS = pa.schema([
    ("call_id", pa.string()),
    ("channel", pa.int16()),
    ("speaker", pa.string()),  # as in segments
    ("role", pa.string()),  # agent | customer (stereo, from agent_channel); null for mono
    ("turn_index", pa.int32()),  # per call, in time order over all parties
    ("start_s", pa.float64()),
    ("end_s", pa.float64()),
    ("emotion", pa.string()),  # the emotion of most of the turn's speech time (100 ms grid)
    ("confidence", pa.float32()),  # that emotion's mean probability over the turn
    ("out_of_domain_share", pa.float32()),  # mean in_domain = false of the windows covering it; null without a guard
    ("model", pa.string()),
    ("model_version", pa.string()),
    ("scored_at", pa.timestamp("us", tz="UTC")),
    ("scored_date", pa.string()),
])

CALLS = pa.schema([
    ("call_id", pa.string()),
    ("path", pa.string()),
    ("duration_s", pa.float64()),
    ("channels", pa.int16()),
    ("channel", pa.int16()),
    ("speaker", pa.string()),  # one row per party: a voice of a mono call (diarized), a channel of a stereo one
    ("speech_s", pa.float64()),
    ("n_segments", pa.int32()),
    ("dominant_emotion", pa.string()),
    *[(c, pa.float32()) for c in SHARE_COLUMNS],
    ("negative_share", pa.float32()),
    *[(f"negative_share_q{q}", pa.float32()) for q in range(1, 5)],  # per quarter of the call; null: silent then
    ("escalation", pa.float32()),
    ("peak_negative_start_s", pa.float64()),
    ("mean_confidence", pa.float32()),
    ("out_of_domain_share", pa.float32()),  # share of scored speech time flagged out of domain
    ("speech_dbfs", pa.float32()),  # median RMS level of this party's speech windows
    ("syllables_per_s", pa.float32()),  # speaking-rate proxy: syllable nuclei per second of speech
    # the conversation (tasks/lib/conversation.py); overlap, interruptions and roles need one party per channel
    ("role", pa.string()),  # agent | customer (stereo, from agent_channel); null for mono
    ("talk_share", pa.float32()),  # this party's speech time over all parties' speech time
    ("silence_share", pa.float32()),  # of the call: nobody speaking
    ("longest_silence_s", pa.float64()),
    ("overlap_s", pa.float64()),  # both parties speaking
    ("overlap_share", pa.float32()),
    ("interruptions", pa.int32()),  # this party's turns that start while the other party speaks
    ("interruptions_per_min", pa.float32()),
    ("talk_to_listen", pa.float32()),  # agent speech time / customer speech time, the same on both rows
    ("model", pa.string()),
    ("model_version", pa.string()),
    ("status", pa.string()),  # ok | no_speech (this party had no speech)
    ("scored_at", pa.timestamp("us", tz="UTC")),
    ("scored_date", pa.string()),
])

REJECTS = pa.schema([
    ("call_id", pa.string()),
    ("path", pa.string()),
    ("reason", pa.string()),
    ("detail", pa.string()),
    ("model", pa.string()),
    ("model_version", pa.string()),
    ("rejected_at", pa.timestamp("us", tz="UTC")),
    ("scored_date", pa.string()),
])

LEDGER = pa.schema([
    ("call_id", pa.string()),
    ("path", pa.string()),
    ("size_bytes", pa.int64()),
    ("mtime", pa.float64()),
    ("file_sha256", pa.string()),
    ("model", pa.string()),
    ("model_version", pa.string()),
    ("status", pa.string()),  # scored | rejected
    ("result_files", pa.list_(pa.string())),
    ("scored_at", pa.timestamp("us", tz="UTC")),
])

SEGMENTS_TABLE = TableSpec("results/segments", SEGMENTS, ("scored_date",))
TURNS_TABLE = TableSpec("results/turns", TURNS, ("scored_date",))
CALLS_TABLE = TableSpec("results/calls", CALLS, ("scored_date",))
REJECTS_TABLE = TableSpec("results/rejects", REJECTS, ("scored_date",))
LEDGER_TABLE = TableSpec("results/ledger", LEDGER)


def to_table(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Cast a frame to its contract schema; fails loudly on a missing column or a bad type."""
    missing = [name for name in schema.names if name not in df.columns]
    if missing:
        raise ValueError(f"frame lacks contract columns {missing}")
    return pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)
