"""Stage score: plan the new or changed calls, score each call in memory-bounded blocks, write its rows
atomically, commit the batch to the ledger."""
from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

import fsspec
import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NONE as NO_CACHE
from prefect.logging import get_run_logger
from prefect.tasks import exponential_backoff

from data_contracts import schemas
from data_contracts.reasons import Reason
from data_contracts.suites import validate_calls
from ser_models.domain import collapse_warning
from ser_models.inference import LoadedModel, features_of, load_model
from tasks.lib.audio import AUDIO_EXTENSIONS, TARGET_SR, AudioDecodeError, iter_blocks, rms_dbfs
from tasks.lib.conversation import conversation_columns
from tasks.lib.day import today
from tasks.lib.inbox import CallFile, call_key, file_sha256, list_inbox, pending_calls
from tasks.lib.report import DayReport, write_call_pages
from tasks.lib.segments import ChannelScores, by_speaker, segment_rows, summarize, turn_rows
from tasks.lib.speech_rate import syllable_times
from tasks.lib.store import Store
from tasks.lib.tables import read_ledger
from tasks.lib.vad import WindowConfig, channel_speech_regions, merge_regions, windows

STAGES = ("decode", "vad", "features", "diarize", "model", "write")
BLOCK_S = 600.0  # audio held in memory per channel at a time
SILENCE_PEAK = 1e-4
UNSUPPORTED = "unsupported_format"
NO_SPEECH = "no_speech"
NOT_A_FILE = "not_a_file"  # e.g. a folder symlinked into the inbox
SCORING_FAILED = "scoring_failed"  # the call broke the scoring code: rejected with the error, the batch goes on


@dataclass
class CallOutcome:
    segments: list[dict] = field(default_factory=list)
    summaries: list[dict] = field(default_factory=list)
    turns: list[dict] = field(default_factory=list)
    reject: tuple[str, str] | None = None
    audio_s: float = 0.0
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))


@dataclass
class BatchOutcome:
    scored: int
    rejected: int
    segments: int
    audio_s: float
    seconds: dict[str, float]

    def describe(self) -> str:
        return f"{self.scored} scored, {self.rejected} rejected, {self.segments} segments"


@dataclass
class ScorePlan:
    """The model version to score with and the batches of new or changed calls."""

    model_spec: str
    batches: list[list[CallFile]]
    inbox_files: int
    unchanged: int

    @property
    def sizes(self) -> list[int]:
        return [len(b) for b in self.batches]

    @property
    def call_ids(self) -> list[str]:
        return [c.call_id for b in self.batches for c in b]

    def parameter_sets(self, store: Store, cfg: WindowConfig, agent_channel: int) -> list[dict[str, Any]]:
        """One score_batch call per batch."""
        return [{"store": store, "calls": b, "model_spec": self.model_spec, "cfg": cfg, "agent_channel": agent_channel}
                for b in self.batches]


@dataclass
class ScoreSummary:
    model: str
    inbox_files: int
    scored: int
    rejected: int
    unchanged: int
    segments: int
    audio_s: float
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    report: DayReport | None = None  # the day report's overview page and its figures

    @classmethod
    def of(cls, plan: ScorePlan, outcomes: list[BatchOutcome], seconds: float, report: DayReport | None = None) -> ScoreSummary:
        """Counts and per-stage CPU-seconds summed over the batches."""
        stages: dict[str, float] = defaultdict(float)
        for o in outcomes:
            for stage in STAGES:
                stages[stage] += o.seconds.get(stage, 0.0)
        return cls(plan.model_spec, plan.inbox_files, sum(o.scored for o in outcomes),
                   sum(o.rejected for o in outcomes), plan.unchanged, sum(o.segments for o in outcomes),
                   sum(o.audio_s for o in outcomes), seconds, dict(stages), report)

    def lines(self) -> list[str]:
        speed = f", {self.audio_s / self.seconds:.0f}x realtime" if self.audio_s and self.seconds else ""
        lines = [f"score-calls with {self.model}: {self.inbox_files} files in the inbox, {self.scored} scored, "
                 f"{self.rejected} rejected, {self.unchanged} unchanged since last run; {self.segments} segments, "
                 f"{self.audio_s / 60:.1f} min of audio in {self.seconds:.1f} s{speed}"]
        return lines + ([f"day report: {self.report.path}"] if self.report else [])


def call_batches(calls: list[CallFile], size: int) -> list[list[CallFile]]:
    """Batches of at most `size` calls, dealt biggest file first and back and forth (0, 1, .., n-1, n-1, .., 0):
    each batch gets a like mix of long and short calls. A file's size says too little about its work (codec,
    channels) to cut contiguous runs of equal bytes; cut by size order, the first batch held all the longest."""
    batches: list[list[CallFile]] = [[] for _ in range(-(-len(calls) // size))]
    for i, call in enumerate(sorted(calls, key=lambda c: -c.size_bytes)):
        lap, k = divmod(i, len(batches))
        batches[k if lap % 2 == 0 else len(batches) - 1 - k].append(call)
    return batches


@task(name="plan-calls", cache_policy=NO_CACHE)
def plan_calls(inbox: str, store: Store, model: str | None, batch_size: int, workers: int) -> ScorePlan:
    """Resolve the model version, then only new or changed calls become batches (at least one per worker)."""
    loaded = load_model(store, model)
    spec = f"{loaded.ref.name}:{loaded.ref.version}"
    calls = list_inbox(inbox)
    todo, touched = pending_calls(calls, read_ledger(store), loaded.ref.name, loaded.ref.version)
    if touched:  # same bytes, new mtime: remember it, or every later run hashes these files again
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        store.write_partition(schemas.LEDGER_TABLE, pd.DataFrame(touched), {}, f"part-{stamp}-touched.parquet")
    batches = call_batches(todo, max(1, min(batch_size, -(-len(todo) // max(1, workers)))))
    logger = get_run_logger()
    logger.info("%s: %d files in %s, %d new or changed", spec, len(calls), inbox, len(todo))
    if loaded.speakers is None:
        logger.warning("%s has no speaker space (registered before diarization, or trained on fewer than 3 "
                       "speakers): each mono call is scored as one voice", spec)
    return ScorePlan(spec, batches, len(calls), len(calls) - len(todo))


@task(name="reconcile-results", cache_policy=NO_CACHE)
def reconcile_results(store: Store) -> int:
    """Delete result files no ledger entry points to (left by a run that crashed before its ledger write)."""
    ledger = read_ledger(store)
    referenced = {f for files in ledger.get("result_files", []) for f in files}
    orphans = [p for spec in (schemas.SEGMENTS_TABLE, schemas.TURNS_TABLE, schemas.CALLS_TABLE, schemas.REJECTS_TABLE)
               for p in store.list_parquet(spec.path) if p not in referenced]
    for p in orphans:
        store.fs.rm(p)
    if orphans:
        get_run_logger().warning("removed %d result files of an interrupted run", len(orphans))
    return len(orphans)


@lru_cache(maxsize=4)
def cached_model(store: Store, spec: str) -> LoadedModel:
    """One model load per worker process and version."""
    return load_model(store, spec)


def score_call(call: CallFile, model: LoadedModel, cfg: WindowConfig, agent_channel: int = 0) -> CallOutcome:
    """VAD, windows, features and probabilities per channel, one block of audio at a time; then each
    channel's summary with the conversation columns (agent_channel: the agent's channel of a stereo call)."""
    out = CallOutcome()
    if PurePosixPath(call.path).suffix.lower() not in AUDIO_EXTENSIONS:
        out.reject = (UNSUPPORTED, f"extension {PurePosixPath(call.path).suffix or '(none)'} is not audio")
        return out
    fs, fs_path = fsspec.core.url_to_fs(call.path)
    if not fs.isfile(fs_path):
        out.reject = (NOT_A_FILE, "not a regular file (a folder or a broken link)")
        return out
    if call.size_bytes == 0:
        out.reject = (str(Reason.EMPTY_OR_SILENT), "zero-byte file")
        return out
    per_channel: dict[int, ChannelScores] = {}
    peak, n_channels, duration = 0.0, 0, 0.0
    tick = time.perf_counter()
    try:
        for start_s, block in iter_blocks(call.path, BLOCK_S):
            out.seconds["decode"] += time.perf_counter() - tick
            n_channels, duration = block.shape[0], start_s + block.shape[1] / TARGET_SR
            peak = max(peak, float(np.abs(block).max()) if block.size else 0.0)
            tick = time.perf_counter()
            found = channel_speech_regions(block, cfg, start_s)
            out.seconds["vad"] += time.perf_counter() - tick
            for ch, (y, regions) in enumerate(zip(block, found, strict=True)):
                scores = per_channel.setdefault(ch, ChannelScores(ch, [], [], np.zeros((0, len(model.classes)))))
                _score_block(y, start_s, regions, scores, model, cfg, out.seconds, diarize=n_channels == 1)
            tick = time.perf_counter()
    except AudioDecodeError as exc:
        out.reject = (str(exc.reason), str(exc))
        return out
    out.audio_s = duration
    if duration == 0 or peak <= SILENCE_PEAK:
        out.reject = (str(Reason.EMPTY_OR_SILENT), f"{duration:.1f} s, peak {peak:.1e}")
    elif not any(s.windows for s in per_channel.values()):
        out.reject = (NO_SPEECH, f"voice activity detection found no speech in {duration:.1f} s")
    else:
        for scores in per_channel.values():
            scores.regions = merge_regions(scores.regions, cfg.merge_gap_s)
            out.segments += segment_rows(call.call_id, scores, model.classes)
        # a party: a voice of a mono call, or a channel of a stereo one (its speaker index is the channel)
        parties = [part for scores in per_channel.values() for part in by_speaker(scores)]
        talk = conversation_columns({p.speaker: p.regions for p in parties}, duration, agent_channel,
                                    one_channel=n_channels == 1)
        out.summaries = [summarize(call.call_id, call.path, duration, n_channels, p, model.classes) | talk[p.speaker]
                         for p in parties]
        out.turns = turn_rows(call.call_id, parties, {p: columns["role"] for p, columns in talk.items()}, model.classes)
    return out


def guarded_score_call(call: CallFile, model: LoadedModel, cfg: WindowConfig, agent_channel: int) -> CallOutcome:
    """score_call, with an unexpected failure on this call's audio turned into its reject row: one poison-pill
    call must not fail the batch on every run (its error text goes into `detail` for whoever fixes the code)."""
    try:
        return score_call(call, model, cfg, agent_channel)
    except Exception as exc:  # noqa: BLE001 - any error from one call's audio, recorded, never silent
        get_run_logger().warning("call %s rejected: %s: %s", call.call_id, type(exc).__name__, exc)
        outcome = CallOutcome()
        outcome.reject = (SCORING_FAILED, f"{type(exc).__name__}: {exc}")
        return outcome


def _sha_if_file(call: CallFile, outcome: CallOutcome) -> str | None:
    return None if outcome.reject and outcome.reject[0] == NOT_A_FILE else file_sha256(call.path)


def _cut(y: np.ndarray, offset_s: float, start_s: float, end_s: float) -> np.ndarray:
    """The samples of [start_s, end_s) (call time) from a block that starts at offset_s."""
    return y[max(0, int((start_s - offset_s) * TARGET_SR)): int((end_s - offset_s) * TARGET_SR)]


def _score_block(y: np.ndarray, offset_s: float, regions: list[tuple[float, float]], scores: ChannelScores,
                 model: LoadedModel, cfg: WindowConfig, seconds: dict[str, float], diarize: bool) -> None:
    """Windows of one channel's speech regions in a block, their features, voices (diarize: a mono channel
    holds both parties) and the model's outputs."""
    tick = time.perf_counter()
    regions = merge_regions(regions, cfg.merge_gap_s)
    wins = windows(regions, cfg, offset_s + len(y) / TARGET_SR)
    seconds["vad"] += time.perf_counter() - tick
    tick = time.perf_counter()
    scores.regions += regions
    scores.nuclei = np.concatenate([scores.nuclei, *[s + syllable_times(_cut(y, offset_s, s, e), TARGET_SR)
                                                     for s, e in regions]])
    seconds["features"] += time.perf_counter() - tick
    if not wins:
        return
    tick = time.perf_counter()
    clips = [_cut(y, offset_s, s, e) for s, e in wins]
    data = features_of(clips, model.estimator.feature_sets)
    seconds["features"] += time.perf_counter() - tick
    tick = time.perf_counter()
    # a stereo channel is one party, named after the channel; so is a mono one (channel 0) without a speaker space
    voices = (model.speakers.diarize(data, scores.voices) if diarize and model.speakers
              else np.full(len(clips), scores.channel))
    # a speaker-normalised model standardises each voice of each channel (in one block) by its own speech
    data.rows["speaker_id"] = [f"channel{scores.channel}:spk{v}" for v in voices]
    scores.speakers = np.concatenate([scores.speakers, voices]).astype(int)
    seconds["diarize"] += time.perf_counter() - tick
    tick = time.perf_counter()
    scores.proba = np.vstack([scores.proba, model.predict_proba(data)])
    domain, in_domain = model.domain(data)
    scores.domain = np.concatenate([scores.domain, domain])
    scores.in_domain = np.concatenate([scores.in_domain, in_domain])
    scores.dbfs = np.concatenate([scores.dbfs, [rms_dbfs(c) for c in clips]])
    scores.windows += wins
    seconds["model"] += time.perf_counter() - tick


def write_call(store: Store, call: CallFile, outcome: CallOutcome, model: LoadedModel, date: str) -> list[str]:
    """Replace this call's rows for this model version (in the scored_date=DATE partition): new files first,
    each written atomically."""
    now = pd.Timestamp(datetime.now(UTC))
    key = call_key(call.call_id, model.ref.name, model.ref.version)
    stamp = {"model": model.ref.name, "model_version": model.ref.version}
    files = []
    if outcome.reject:
        reason, detail = outcome.reject
        row = {"call_id": call.call_id, "path": call.path, "reason": reason, "detail": detail, **stamp, "rejected_at": now}
        files.append(store.write_partition(schemas.REJECTS_TABLE, pd.DataFrame([row]), {"scored_date": date}, f"{key}.parquet"))
    else:
        for spec, rows in ((schemas.SEGMENTS_TABLE, outcome.segments), (schemas.TURNS_TABLE, outcome.turns),
                           (schemas.CALLS_TABLE, outcome.summaries)):
            frame = pd.DataFrame(rows).assign(**stamp, scored_at=now)
            files.append(store.write_partition(spec, frame, {"scored_date": date}, f"{key}.parquet"))
    return files


@task(name="score-call-batch", retries=2, retry_delay_seconds=exponential_backoff(backoff_factor=2), cache_policy=NO_CACHE)
def score_batch(store: Store, calls: list[CallFile], model_spec: str, cfg: WindowConfig,
                agent_channel: int = 0) -> BatchOutcome:
    """Score, write, then commit the batch to the ledger; superseded files go last, so a crash never duplicates."""
    model = cached_model(store, model_spec)
    seconds: dict[str, float] = defaultdict(float)
    date = today()  # one day for the batch's rows and its report pages
    ledger_rows, call_rows, seg_rows, turns, audio_s = [], [], [], [], 0.0
    for call in calls:
        outcome = guarded_score_call(call, model, cfg, agent_channel)
        tick = time.perf_counter()
        files = write_call(store, call, outcome, model, date)
        outcome.seconds["write"] += time.perf_counter() - tick
        for stage, s in outcome.seconds.items():
            seconds[stage] += s
        ledger_rows.append({"call_id": call.call_id, "path": call.path, "size_bytes": call.size_bytes,
                            "mtime": call.mtime, "file_sha256": call.file_sha256 or _sha_if_file(call, outcome),
                            "model": model.ref.name,
                            "model_version": model.ref.version, "status": "rejected" if outcome.reject else "scored",
                            "result_files": files, "scored_at": pd.Timestamp(datetime.now(UTC))})
        call_rows += outcome.summaries
        seg_rows += outcome.segments
        turns += outcome.turns
        audio_s += outcome.audio_s
    if call_rows:
        # rows that break the contract are never committed: the next run's reconciliation removes their files
        validate_calls(pd.DataFrame(call_rows)).raise_on_failure()
        # pages drawn here, in parallel, from rows in hand; before the commit, so a retry redraws them
        write_call_pages(store, date, f"{model.ref.name}:{model.ref.version}", pd.DataFrame(call_rows),
                         pd.DataFrame(seg_rows, columns=schemas.SEGMENTS_TABLE.schema.names),
                         pd.DataFrame(turns, columns=schemas.TURNS_TABLE.schema.names))
    missing = [f for row in ledger_rows for f in row["result_files"] if not store.fs.exists(f)]
    if missing:  # never commit a ledger entry that points at nothing; the task's retry rewrites them
        raise RuntimeError(f"{len(missing)} result files vanished before the ledger write, e.g. {missing[0]}")
    batch_key = hashlib.sha256("|".join(c.call_id for c in calls).encode()).hexdigest()[:16]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    store.write_partition(schemas.LEDGER_TABLE, pd.DataFrame(ledger_rows), {}, f"part-{stamp}-{batch_key}.parquet")
    for call, row in zip(calls, ledger_rows):
        for old in set(call.previous_files) - set(row["result_files"]):
            if store.fs.exists(old):
                store.fs.rm(old)
    scored = sum(row["status"] == "scored" for row in ledger_rows)
    rejected, segments = len(ledger_rows) - scored, len(seg_rows)
    logger = get_run_logger()
    logger.info("%d calls: %d scored, %d rejected, %d segments, %.0f s of audio", len(calls), scored,
                rejected, segments, audio_s)
    warning = collapse_warning([s["emotion"] for s in seg_rows], "segments")
    if warning:
        logger.warning(warning)
    return BatchOutcome(scored, rejected, segments, audio_s, dict(seconds))
