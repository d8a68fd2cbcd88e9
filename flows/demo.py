"""Flow demo: the whole chain on built-in synthetic data, ending in a DuckDB query over the store."""
from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.ingest import ingest_corpus
from tasks.synth import synth_corpus_task

DEMO_SPEAKERS = 8


@flow(name="demo")
def demo(data_dir: str = "demo-data", store: str = "serflow-store") -> str:
    """Synthesize a corpus and ingest it; returns the store root."""
    corpus_dir = Path(data_dir) / "corpus"
    synth_corpus_task(corpus_dir, n_speakers=DEMO_SPEAKERS)
    ingest_corpus(kind="ravdess", path=str(corpus_dir), name="synthetic", store=store)
    return store


def manifest_query(store: str) -> str:
    """The analyst's first look: utterances per emotion, and quarantine reasons."""
    import duckdb

    root = Path(store)
    utt = duckdb.sql(f"select emotion, count(*) as utterances, round(sum(duration_s)/60, 1) as minutes "
                     f"from read_parquet('{root}/manifests/utterances/**/*.parquet', hive_partitioning=true) "
                     f"group by 1 order by 1")
    return str(utt)
