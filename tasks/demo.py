"""Stage demo: the built-in synthetic corpus and calls as tasks, and what the demo prints at the end."""
from __future__ import annotations

from dataclasses import dataclass

from prefect import task

from ser_models import registry
from tasks.lib.store import Store
from tasks.lib.synth import synth_calls, synth_corpus
from tasks.score import ScoreSummary
from tasks.train import TrainSummary

DEMO_SPEAKERS = 8
DEMO_MODEL = "demo"

synth_corpus_task = task(synth_corpus, name="synth-corpus")
synth_calls_task = task(synth_calls, name="synth-calls")


@dataclass
class DemoResult:
    store: str
    train: TrainSummary
    score: ScoreSummary
    labels_csv: str


def report(result: DemoResult) -> str:
    """What an analyst sees: DuckDB over the result tables, and how the scoring path compares with CV."""
    import duckdb
    import pandas as pd

    from ser_models.evaluation import segment_level_metrics

    results = f"{result.store}/results"
    card = registry.resolve(Store.open(result.store), DEMO_MODEL).card
    query = (f"select call_id, channel, speaker, round(speech_s, 1) as speech_s, dominant_emotion, "
             f"round(negative_share, 2) as negative_share, round(escalation, 2) as escalation, "
             f"round(peak_negative_start_s, 1) as peak_negative_start_s "
             f"from read_parquet('{results}/calls/**/*.parquet', hive_partitioning=true, union_by_name=true) "
             f"where model = '{DEMO_MODEL}' and model_version = '{card['version']}' order by call_id, channel, speaker")
    calls = duckdb.sql(query)
    segments = duckdb.sql(f"select * from read_parquet('{results}/segments/**/*.parquet', hive_partitioning=true, "
                          "union_by_name=true) "
                          f"where model = '{DEMO_MODEL}' and model_version = '{card['version']}'").df()
    turns = duckdb.sql(f"select call_id, turn_index, speaker, round(start_s, 1) as start_s, round(end_s, 1) as end_s, "
                       f"emotion, round(confidence, 2) as confidence "
                       f"from read_parquet('{results}/turns/**/*.parquet', hive_partitioning=true) "
                       f"where model = '{DEMO_MODEL}' and model_version = '{card['version']}' and call_id = "
                       f"(select min(call_id) from read_parquet('{results}/calls/**/*.parquet') where channels = 1) "
                       f"order by turn_index limit 8")
    seg = segment_level_metrics(segments, pd.read_csv(result.labels_csv), card["classes"])
    utt = card["metrics"]["pooled"]
    return "\n".join([
        *result.train.lines(), "", *result.score.lines(),
        "  (the seconds are the whole score-calls flow run: its fixed start-up of planning, model loading and "
        "worker start decides them for a few minutes of audio; docs/benchmarks.md measures scoring speed)", "",
        f"tables: {results}/{{segments,turns,calls,rejects,ledger}}; synthetic calls' utterance labels: {result.labels_csv}",
        f"the calls, with DuckDB:\n  duckdb -c \"{query}\"", str(calls),
        "who spoke when on the first mono call (results/turns, its first 8 turns):", str(turns),
        f"scoring path vs cross-validation ({card['name']}:{card['version']}):",
        f"  utterance-level UA {utt['ua']:.3f} ({card['cv_label']})",
        f"  segment-level UA   {seg['ua']:.3f} on {seg['n']} VAD windows of the synthetic calls "
        f"(8 kHz mu/A-law and 16 kHz, stereo and mono, unseen voices)", "",
        f"open the day report in a browser: {result.score.report.path}",
    ])
