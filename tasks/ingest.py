"""Stage ingest: recipe -> decode and hash -> file contracts -> duplicates -> manifest tables."""
from __future__ import annotations

import inspect
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE as NO_CACHE
from prefect.logging import get_run_logger
from prefect.tasks import exponential_backoff

from data_contracts import schemas
from data_contracts.file_checks import AudioLimits, check_audio
from data_contracts.labels import canonical_emotion
from data_contracts.reasons import Reason
from data_contracts.suites import validate_utterances
from tasks.lib.audio import AudioDecodeError, read_native
from tasks.lib.audio_cache import AudioCache, cache_key
from tasks.lib.corpora import RECIPES, Record, Rejected, Utterance
from tasks.lib.corpora.base import within_corpus
from tasks.lib.store import InvalidName, Store, checked_name
from tasks.lib.tables import read_manifest

BATCH_SIZE = 64  # files per inspect task: enough work to amortise a task's start, many tasks per corpus


class IngestError(ValueError):
    """Something the user must fix before ingestion can run (unknown recipe, missing folder, bad option)."""


@dataclass(frozen=True)
class Inspection:
    """What decoding one file told us; error is set when it could not be decoded."""

    path: str
    sample_rate: int = 0
    channels: int = 0
    duration_s: float = 0.0
    peak: float = 0.0
    audio_sha256: str | None = None
    error: str | None = None
    error_reason: str = Reason.UNDECODABLE


@dataclass
class IngestSummary:
    corpus: str
    accepted: int
    quarantined: dict[str, int]
    emotions: dict[str, int]
    speakers: int
    validation_report: str
    contract_passed: bool

    def lines(self) -> list[str]:
        out = [f"corpus {self.corpus}: {self.accepted} accepted, {sum(self.quarantined.values())} quarantined, "
               f"{self.speakers} speakers, {len(self.emotions)} emotions",
               "  emotions: " + ", ".join(f"{k}={v}" for k, v in sorted(self.emotions.items()))]
        out += [f"  quarantined {reason}: {n}" for reason, n in sorted(self.quarantined.items())]
        out.append(f"  contract {'passed' if self.contract_passed else 'FAILED'}; report {self.validation_report}")
        return out


@task(name="discover-corpus")
def discover(kind: str, root: str, corpus: str, options: dict[str, str] | None = None) -> list[Record]:
    """Run the named recipe, turning user mistakes into IngestError with a clear message."""
    try:
        checked_name(corpus, "corpus")
    except InvalidName as exc:
        raise IngestError(str(exc)) from exc
    if kind not in RECIPES:
        raise IngestError(f"unknown corpus kind {kind!r}; choose one of {sorted(RECIPES)}")
    path = Path(root).expanduser().resolve()
    if not path.exists():
        raise IngestError(f"corpus path {path} does not exist")
    recipe = RECIPES[kind]
    accepted = set(inspect.signature(recipe).parameters) - {"root", "corpus"}
    unknown = set(options or {}) - accepted
    if unknown:
        raise IngestError(f"recipe {kind!r} takes options {sorted(accepted) or 'none'}, not {sorted(unknown)}")
    try:
        records = within_corpus(recipe(path, corpus=corpus, **(options or {})), path if path.is_dir() else path.parent)
    except ValueError as exc:
        raise IngestError(str(exc)) from exc
    get_run_logger().info("%s: %d candidate files in %s", corpus, len(records), path)
    return records


def path_batches(records: list[Record]) -> list[list[str]]:
    """The candidates' paths in batches of BATCH_SIZE, one inspect task each; rejected records are never read."""
    paths = [r.path for r in records if isinstance(r, Utterance)]
    return [paths[i:i + BATCH_SIZE] for i in range(0, len(paths), BATCH_SIZE)]


def inspect_file(path: str, cache: AudioCache | None = None, limits: AudioLimits | None = None) -> Inspection:
    """Decode and hash one file, keeping the 16 kHz mono audio of files that pass `limits` in the cache;
    never raises on bad audio."""
    try:
        audio = read_native(path)
    except AudioDecodeError as exc:
        return Inspection(path=path, error=str(exc), error_reason=exc.reason)
    sha = audio.pcm_sha256() if audio.samples.size else None
    passes = check_audio(audio.sample_rate, audio.duration_s, audio.peak, limits or AudioLimits()) is None
    if cache is not None and sha is not None and passes:  # a quarantined file's audio is never read again
        cache.add(audio, cache_key(sha, audio.sample_rate, audio.channels))
    return Inspection(path=path, sample_rate=audio.sample_rate, channels=audio.channels,
                      duration_s=audio.duration_s, peak=audio.peak, audio_sha256=sha)


@task(name="inspect-audio-batch", retries=1)
def inspect_batch(paths: list[str], cache_store: Store | None = None,
                  limits: AudioLimits | None = None) -> list[Inspection]:
    """Decode a batch of files (one Prefect task per batch keeps orchestration cheap)."""
    cache = AudioCache(cache_store) if cache_store else None
    results = [inspect_file(p, cache, limits) for p in paths]
    get_run_logger().info("inspected %d files (%d undecodable)", len(results), sum(r.error is not None for r in results))
    return results


def _quarantine_row(record: Utterance | Rejected, reason: Reason, detail: str) -> dict:
    return {"path": record.path, "corpus": record.corpus, "reason": str(reason), "detail": detail}


def _utterance_row(u: Utterance, emotion: str, info: Inspection) -> dict:
    return {
        "utterance_id": u.utterance_id, "corpus": u.corpus, "path": u.path, "speaker_id": u.speaker_id,
        "gender": u.gender, "emotion": emotion, "emotion_raw": u.emotion_raw, "intensity": u.intensity,
        "text_id": u.text_id, "attributes": json.dumps(u.attributes, sort_keys=True),
        "duration_s": info.duration_s, "sample_rate": info.sample_rate, "channels": info.channels,
        "audio_sha256": info.audio_sha256,
    }


def screen(records: list[Record], inspections: dict[str, Inspection], kind: str,
           limits: AudioLimits) -> tuple[list[dict], list[dict]]:
    """Apply name, label and file contracts in order; each file ends up in exactly one list."""
    accepted, quarantined = [], []
    for rec in records:
        if isinstance(rec, Rejected):
            quarantined.append(_quarantine_row(rec, rec.reason, rec.detail))
            continue
        emotion = canonical_emotion(kind, rec.emotion_raw)
        info = inspections[rec.path]
        if emotion is None:
            quarantined.append(_quarantine_row(rec, Reason.UNKNOWN_LABEL, f"{kind} label {rec.emotion_raw!r}"))
        elif info.error is not None:
            quarantined.append(_quarantine_row(rec, Reason(info.error_reason), info.error))
        elif failure := check_audio(info.sample_rate, info.duration_s, info.peak, limits):
            quarantined.append(_quarantine_row(rec, *failure))
        else:
            accepted.append(_utterance_row(rec, emotion, info))
    return accepted, quarantined


def resolve_duplicates(accepted: list[dict]) -> tuple[list[dict], list[dict]]:
    """Same decoded audio: keep the first path if labels agree, else quarantine every copy."""
    groups: dict[str, list[dict]] = {}
    for row in sorted(accepted, key=lambda r: r["path"]):
        groups.setdefault(row["audio_sha256"], []).append(row)
    kept, quarantined = [], []
    for rows in groups.values():
        if len(rows) == 1:
            kept.append(rows[0])
        elif len({r["emotion"] for r in rows}) > 1:
            labels = ", ".join(f"{r['path']}={r['emotion']}" for r in rows)
            quarantined += [{"path": r["path"], "corpus": r["corpus"], "reason": str(Reason.CONFLICTING_DUPLICATE),
                             "detail": f"same audio, different labels: {labels}"} for r in rows]
        else:
            kept.append(rows[0])
            quarantined += [{"path": r["path"], "corpus": r["corpus"], "reason": str(Reason.DUPLICATE_AUDIO),
                             "detail": f"same audio as kept {rows[0]['path']}"} for r in rows[1:]]
    return kept, quarantined


def note_shadow_duplicates(quarantined: list[dict], kept: list[dict], inspections: dict[str, Inspection]) -> None:
    """Tell the reader when a file quarantined for another reason is also a copy of a kept file."""
    kept_by_hash = {r["audio_sha256"]: r["path"] for r in kept}
    for row in quarantined:
        twin = kept_by_hash.get(inspections[row["path"]].audio_sha256) if row["path"] in inspections else None
        if twin and twin != row["path"] and row["reason"] != Reason.DUPLICATE_AUDIO:
            row["detail"] += f"; also the same audio as kept {twin}"


@task(name="apply-contracts", cache_policy=NO_CACHE)
def apply_contracts(records: list[Record], inspections: list[Inspection], kind: str,
                    limits: AudioLimits) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split candidates into the utterances and quarantine frames (every file lands in one)."""
    by_path = {i.path: i for i in inspections}
    accepted, quarantined = screen(records, by_path, kind, limits)
    kept, dupes = resolve_duplicates(accepted)
    quarantined += dupes
    note_shadow_duplicates(quarantined, kept, by_path)
    now = pd.Timestamp(datetime.now(UTC))
    utterances = pd.DataFrame(kept, columns=[c for c in schemas.UTTERANCES.names if c != "ingested_at"])
    utterances = utterances.sort_values("utterance_id", ignore_index=True).assign(ingested_at=now)
    quarantine = pd.DataFrame(quarantined, columns=["path", "corpus", "reason", "detail"])
    quarantine = quarantine.sort_values("path", ignore_index=True).assign(ingested_at=now)
    return utterances, quarantine


# Object storage can fail transiently; a retry swaps in the same partitions again, atomically.
@task(name="publish-manifest", retries=2, retry_delay_seconds=exponential_backoff(backoff_factor=2),
      cache_policy=NO_CACHE)
def publish_manifest(store: Store, corpus: str, utterances: pd.DataFrame, quarantine: pd.DataFrame,
                     limits: AudioLimits) -> IngestSummary:
    """Validate the whole manifest with this corpus replaced, save the report, then swap the partitions in."""
    others = read_manifest(store)
    others = others[others["corpus"] != corpus]
    table = schemas.to_table(utterances, schemas.UTTERANCES)
    result = validate_utterances(pd.concat([others, table.to_pandas()], ignore_index=True), limits)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    report = store.write_json(result.report, f"validation/ingest/corpus={corpus}/{stamp}.json")
    result.raise_on_failure()
    store.write_partition(schemas.UTTERANCES_TABLE, table, {"corpus": corpus})
    store.write_partition(schemas.QUARANTINE_TABLE, quarantine, {"corpus": corpus})
    return IngestSummary(
        corpus=corpus, accepted=len(utterances), quarantined=dict(Counter(quarantine["reason"])),
        emotions=dict(Counter(utterances["emotion"])), speakers=utterances["speaker_id"].nunique(),
        validation_report=store.url_of(report), contract_passed=result.success,
    )
