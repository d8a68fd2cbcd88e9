"""Ingestion on the real corpora in ../shared (skipped where they are absent)."""
from pathlib import Path

from flows.ingest import ingest_corpus
from tests.conftest import requires_shared


def test_ravdess_faults_are_caught(tmp_path):
    root = requires_shared("ravdess")
    summary = ingest_corpus(kind="ravdess", path=str(root), store=str(tmp_path))
    assert summary.accepted == 1199
    assert summary.quarantined == {"speaker_mismatch": 1, "duplicate_audio": 1}


def test_emodb_is_clean(tmp_path):
    root = requires_shared("emodb")
    summary = ingest_corpus(kind="emodb", path=str(root), store=str(tmp_path))
    assert (summary.accepted, len(summary.emotions), summary.speakers) == (535, 7, 10)
