"""Flow ingest-corpus: a corpus folder -> validated utterances manifest + quarantine table."""
from __future__ import annotations

from prefect import flow, unmapped
from prefect.logging import get_run_logger

from data_contracts.file_checks import AudioLimits
from tasks.artifacts import publish_ingest_artifacts, tag_flow_run
from tasks.ingest import IngestSummary, apply_contracts, discover, inspect_batch, path_batches, publish_manifest
from tasks.lib.store import Store


@flow(name="ingest-corpus", flow_run_name="ingest {kind} {path}", log_prints=False)
def ingest_corpus(kind: str, path: str, name: str | None = None, store: str | None = None,
                  options: dict[str, str] | None = None, min_duration_s: float = 0.3,
                  max_duration_s: float = 30.0, audio_cache: bool = True) -> IngestSummary:
    """Ingest one corpus; re-running replaces that corpus's partitions."""
    corpus, handle = name or kind, Store.open(store)
    tag_flow_run([f"corpus:{corpus}"])
    limits = AudioLimits(min_duration_s=min_duration_s, max_duration_s=max_duration_s)
    records = discover(kind, path, corpus, options)
    inspected = inspect_batch.map(path_batches(records), cache_store=unmapped(handle if audio_cache else None),
                                  limits=unmapped(limits))
    utterances, quarantine = apply_contracts(records, [i for batch in inspected.result() for i in batch], kind, limits)
    summary = publish_manifest(handle, corpus, utterances, quarantine, limits)
    publish_ingest_artifacts(summary, quarantine)
    get_run_logger().info("\n".join(summary.lines()))
    return summary
