"""Great Expectations 1.x suites for serflow tables, run in an ephemeral (file-less) context."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import pandas as pd

from data_contracts import schemas
from data_contracts.file_checks import AudioLimits
from data_contracts.labels import CANONICAL_EMOTIONS


@dataclass(frozen=True)
class ContractResult:
    """Outcome of one suite run: pass/fail, the failing expectations, and GX's full JSON."""

    suite: str
    success: bool
    failures: list[str]
    report: dict[str, Any]

    def raise_on_failure(self) -> None:
        if not self.success:
            raise ContractViolation(f"data contract '{self.suite}' failed: " + "; ".join(self.failures))


class ContractViolation(RuntimeError):
    """A table broke its data contract; nothing was written."""


@lru_cache(maxsize=1)
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@cache
def _batch_definition(suite_name: str):
    """Registered once per suite and process: registering saves the context's config three times,
    a noticeable share of a feature-part check, and a worker checks every batch it writes."""
    source = _context().data_sources.add_or_update_pandas(f"serflow-{suite_name}")
    return source.add_dataframe_asset(name=suite_name).add_batch_definition_whole_dataframe("all")


def validate(suite_name: str, expectations: list, df: pd.DataFrame, full_report: bool = False) -> ContractResult:
    """Run a list of GX expectations against a frame. Unless a full report is asked for, a passing frame is
    checked with pass/fail results only (half the time of GX's summaries, and every worker checks every batch
    it writes); a failing one is checked again for the failures' sample values."""
    import great_expectations as gx

    batch = _batch_definition(suite_name).get_batch(batch_parameters={"dataframe": df})
    suite = gx.ExpectationSuite(name=suite_name, expectations=expectations)
    result = batch.validate(suite, result_format="SUMMARY" if full_report else "BOOLEAN_ONLY")
    if not result.success and not full_report:
        result = batch.validate(suite, result_format="SUMMARY")
    failures = []
    for res in result.results:
        if not res.success:
            cfg = res.expectation_config
            column = cfg.kwargs.get("column", "")
            sample = (res.result or {}).get("partial_unexpected_list") or (res.result or {}).get("observed_value")
            failures.append(f"{cfg.type}({column}) unexpected: {sample!r}"[:300])
    return ContractResult(suite_name, bool(result.success), failures, result.to_json_dict())


SPEAKER_CORPORA = "corpora_of_speaker"  # derived column: how many corpora each speaker_id appears in


def utterance_expectations(limits: AudioLimits) -> list:
    """The utterances manifest contract."""
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableColumnsToMatchOrderedList(column_list=[*schemas.UTTERANCES.names, SPEAKER_CORPORA]),
        *[gxe.ExpectColumnValuesToNotBeNull(column=c)
          for c in ("utterance_id", "corpus", "path", "speaker_id", "emotion", "emotion_raw", "audio_sha256")],
        gxe.ExpectColumnValuesToBeUnique(column="utterance_id"),
        gxe.ExpectColumnValuesToBeUnique(column="audio_sha256"),
        gxe.ExpectColumnValuesToBeInSet(column="emotion", value_set=list(CANONICAL_EMOTIONS)),
        gxe.ExpectColumnValuesToBeInSet(column="gender", value_set=["male", "female"]),
        gxe.ExpectColumnValuesToBeBetween(column="duration_s", min_value=limits.min_duration_s,
                                          max_value=limits.max_duration_s),
        gxe.ExpectColumnValuesToBeBetween(column="sample_rate", min_value=limits.min_sample_rate,
                                          max_value=384_000),
        gxe.ExpectColumnValuesToBeBetween(column="channels", min_value=1, max_value=32),
        gxe.ExpectColumnValuesToBeOfType(column="duration_s", type_="float64"),
        gxe.ExpectColumnValuesToMatchRegex(column="audio_sha256", regex=r"^[0-9a-f]{64}$"),
        # A speaker belongs to exactly one corpus (speaker ids are corpus-prefixed).
        gxe.ExpectColumnValuesToBeBetween(column=SPEAKER_CORPORA, min_value=1, max_value=1),
    ]


def validate_utterances(df: pd.DataFrame, limits: AudioLimits) -> ContractResult:
    """Check the whole manifest (all corpora), including each speaker's corpus count."""
    frame = df.copy()
    frame[SPEAKER_CORPORA] = frame.groupby("speaker_id")["corpus"].transform("nunique")
    return validate("utterances", utterance_expectations(limits), frame, full_report=True)  # stored with the corpus


def validate_feature_part(df: pd.DataFrame, n_bins: int, frame_level: bool,
                          augmentable_speakers: set[str]) -> ContractResult:
    """One written part of a feature table: dimensions, finiteness, unique keys, augmentation speakers."""
    import great_expectations.expectations as gxe
    import numpy as np

    frame = pd.DataFrame({
        "utterance_id": df["utterance_id"], "augmentation": df["augmentation"],
        "n_frames": df["n_frames"], "n_bins": df["n_bins"],
        "values_match_shape": [len(v) == f * b for v, f, b in zip(df["features"], df["n_frames"], df["n_bins"])],
        "all_finite": [bool(np.isfinite(np.asarray(v, dtype=np.float32)).all()) for v in df["features"]],
        "augmented_speaker_allowed": [a == "none" or s in augmentable_speakers
                                      for a, s in zip(df["augmentation"], df["speaker_id"])],
    })
    expectations = [
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["utterance_id", "augmentation"]),
        gxe.ExpectColumnValuesToBeBetween(column="n_bins", min_value=n_bins, max_value=n_bins),
        gxe.ExpectColumnValuesToBeBetween(column="n_frames", min_value=1, max_value=None if frame_level else 1),
        *[gxe.ExpectColumnValuesToBeInSet(column=c, value_set=[True])
          for c in ("values_match_shape", "all_finite", "augmented_speaker_allowed")],
    ]
    return validate("feature_part", expectations, frame)


def validate_fold(fold_name: str, train: pd.DataFrame, test: pd.DataFrame, speaker_independent: bool = True) -> ContractResult:
    """No test speaker in training (unless the split is the labelled speaker-dependent one), and no
    augmented training row derived from a test utterance or speaker."""
    import great_expectations.expectations as gxe

    test_speakers, test_utts = set(test["speaker_id"]), set(test["utterance_id"])
    augmented = train["augmentation"] != "none"
    in_test_speakers = train["speaker_id"].isin(test_speakers)
    frame = pd.DataFrame({
        "speaker_in_test": in_test_speakers & speaker_independent,
        "augmented_from_test": augmented & (in_test_speakers if speaker_independent
                                            else train["utterance_id"].isin(test_utts)),
        "utterance_in_test": train["utterance_id"].isin(test_utts),
    })
    expectations = [gxe.ExpectColumnValuesToBeInSet(column=c, value_set=[False]) for c in frame.columns]
    return validate(f"fold_{fold_name}", expectations, frame)


CALL_FRACTIONS = [*schemas.SHARE_COLUMNS, "negative_share", *[f"negative_share_q{q}" for q in range(1, 5)],
                  "mean_confidence", "out_of_domain_share", "talk_share", "silence_share", "overlap_share"]


def validate_calls(df: pd.DataFrame) -> ContractResult:
    """A batch's calls rows: every column of the table, fractions in [0, 1], times inside the call, known
    roles and statuses (nulls allowed where a column does not apply: mono calls, silent channels)."""
    import great_expectations.expectations as gxe

    stamped = set(schemas.CALLS.names) - set(df.columns)  # model, version, time and date come at write time
    expectations = [
        gxe.ExpectTableColumnsToMatchSet(column_set=[c for c in schemas.CALLS.names if c not in stamped], exact_match=True),
        *[gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0.0, max_value=1.0 + 1e-6) for c in CALL_FRACTIONS],
        *[gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0.0)
          for c in ("speech_s", "n_segments", "longest_silence_s", "overlap_s", "interruptions",
                    "interruptions_per_min", "talk_to_listen")],
        *[gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="duration_s", column_B=c, or_equal=True,
                                                       ignore_row_if="either_value_is_missing")
          for c in ("speech_s", "longest_silence_s", "overlap_s")],
        gxe.ExpectColumnValuesToBeInSet(column="role", value_set=["agent", "customer"]),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=["ok", "no_speech"]),
        gxe.ExpectColumnValuesToBeInSet(column="dominant_emotion", value_set=list(CANONICAL_EMOTIONS)),
        gxe.ExpectColumnValuesToBeBetween(column="speech_dbfs", min_value=-200.0, max_value=0.0),
        gxe.ExpectColumnValuesToBeBetween(column="syllables_per_s", min_value=0.0, max_value=10.0),  # MIN_GAP_S
        gxe.ExpectColumnValuesToMatchRegex(column="speaker", regex=r"^spk\d+$"),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["call_id", "channel", "speaker"]),
    ]
    return validate("calls", expectations, df)
