"""Flow ingest-corpus: a corpus folder -> validated utterances manifest + quarantine table."""
from __future__ import annotations

from prefect import flow, unmapped
from prefect.logging import get_run_logger

from data_contracts.file_checks import AudioLimits
from tasks.ingest import IngestSummary, apply_contracts, discover, inspect_batch, publish_manifest
from tasks.store import default_store

BATCH_SIZE = 64


@flow(name="ingest-corpus", log_prints=False)
def ingest_corpus(kind: str, path: str, name: str | None = None, store: str | None = None,
                  options: dict[str, str] | None = None, min_duration_s: float = 0.3,
                  max_duration_s: float = 30.0, audio_cache: bool = True) -> IngestSummary:
    """Ingest one corpus; re-running replaces that corpus's partitions."""
    logger = get_run_logger()
    corpus = name or kind
    store_url = store or default_store()
    limits = AudioLimits(min_duration_s=min_duration_s, max_duration_s=max_duration_s)
    records = discover(kind, path, corpus, options)
    paths = [r.path for r in records]
    logger.info("%s: %d candidate files in %s", corpus, len(paths), path)
    batches = [paths[i:i + BATCH_SIZE] for i in range(0, len(paths), BATCH_SIZE)]
    cache_store = store_url if audio_cache else None
    inspections = [i for batch in inspect_batch.map(batches, cache_store=unmapped(cache_store)).result() for i in batch]
    utterances, quarantine = apply_contracts(records, inspections, kind, limits)
    summary = publish_manifest(store_url, corpus, utterances, quarantine, limits)
    for line in summary.lines():
        logger.info(line)
    return summary
