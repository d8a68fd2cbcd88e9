"""ingest-corpus on a synthetic corpus seeded with every fault ingestion must catch."""
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from data_contracts.file_checks import AudioLimits
from data_contracts.schemas import QUARANTINE_TABLE
from data_contracts.suites import validate_utterances
from flows.cli import main
from flows.ingest import ingest_corpus
from tasks.lib.store import Store
from tasks.lib.tables import read_manifest
from tests.conftest import requires_shared, tone

FAULTS = {  # file -> expected quarantine reason (None: accepted)
    "Actor_01/03-01-01-01-01-02-01.wav": "undecodable",
    "Actor_02/03-01-01-01-02-02-02.wav": "empty_or_silent",
    "Actor_03/03-01-02-01-01-02-03.wav": "too_short",
    "Actor_03/03-01-02-01-02-02-03.wav": "too_long",
    "Actor_04/03-01-03-01-01-02-04.wav": "low_sample_rate",
    "Actor_01/recording.wav": "unparseable_name",
    "Actor_01/03-01-09-01-01-02-01.wav": "unknown_label",
    "Actor_01/03-01-04-01-01-02-02.wav": "speaker_mismatch",
    "Actor_02/03-01-05-01-01-02-02.wav": "duplicate_audio",
    "Actor_04/03-01-07-01-01-02-04.wav": "conflicting_duplicate",
    "Actor_04/03-01-06-01-01-01-04.wav": "conflicting_duplicate",  # the original of the conflicting copy
    "Actor_03/03-01-08-01-01-02-03.wav": None,  # stereo 22.05 kHz: accepted
}


@pytest.fixture(scope="module")
def faulty_corpus(small_corpus, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faulty") / "corpus"
    shutil.copytree(small_corpus, root)
    f = {name: root / name for name in FAULTS}
    f["Actor_01/03-01-01-01-01-02-01.wav"].write_text("this is a text file, not audio")
    sf.write(f["Actor_02/03-01-01-01-02-02-02.wav"], np.zeros(16_000, np.float32), 16_000)
    sf.write(f["Actor_03/03-01-02-01-01-02-03.wav"], tone(0.1), 16_000)
    sf.write(f["Actor_03/03-01-02-01-02-02-03.wav"], tone(31.0, 8000), 8000)
    sf.write(f["Actor_04/03-01-03-01-01-02-04.wav"], tone(1.0, 4000, 300), 4000)
    sf.write(f["Actor_01/recording.wav"], tone(1.0, freq=180), 16_000)
    sf.write(f["Actor_01/03-01-09-01-01-02-01.wav"], tone(1.0, freq=190), 16_000)
    sf.write(f["Actor_01/03-01-04-01-01-02-02.wav"], tone(1.0, freq=200), 16_000)
    shutil.copy(root / "Actor_02/03-01-05-01-01-01-02.wav", f["Actor_02/03-01-05-01-01-02-02.wav"])
    shutil.copy(f["Actor_04/03-01-06-01-01-01-04.wav"], f["Actor_04/03-01-07-01-01-02-04.wav"])
    sf.write(f["Actor_03/03-01-08-01-01-02-03.wav"], np.stack([tone(1.5, 22050), tone(1.5, 22050, 330)], 1), 22050)
    return root


@pytest.fixture(scope="module")
def ingested(faulty_corpus, tmp_path_factory):
    store = str(tmp_path_factory.mktemp("store"))
    summary = ingest_corpus(kind="ravdess", path=str(faulty_corpus), name="synthetic", store=store)
    return store, summary


def test_every_fault_lands_in_quarantine_with_its_reason(faulty_corpus, ingested):
    store, _ = ingested
    quarantine = Store(store).read(QUARANTINE_TABLE)
    got = {str(Path(p).relative_to(faulty_corpus)): r for p, r in zip(quarantine["path"], quarantine["reason"])}
    assert got == {name: reason for name, reason in FAULTS.items() if reason}
    detail = quarantine.set_index("reason").loc["duplicate_audio", "detail"]
    assert "Actor_02/03-01-05-01-01-01-02.wav" in detail


def test_nothing_is_lost_and_stereo_is_kept(faulty_corpus, ingested):
    store, summary = ingested
    manifest = read_manifest(Store(store))
    n_files = len(list(faulty_corpus.rglob("*.wav")))
    assert len(manifest) + sum(summary.quarantined.values()) == n_files
    stereo = manifest.set_index("utterance_id").loc["synthetic/Actor_03/03-01-08-01-01-02-03.wav"]
    assert (stereo.channels, stereo.sample_rate, stereo.emotion) == (2, 22050, "surprised")
    assert set(manifest["speaker_id"]) == {f"synthetic:0{i}" for i in range(1, 5)}
    assert manifest["utterance_id"].is_unique and manifest["audio_sha256"].is_unique


def test_validation_report_is_saved(ingested):
    _, summary = ingested
    assert summary.contract_passed
    report = Path(summary.validation_report)
    assert report.exists() and '"success": true' in report.read_text()
    # the stored record holds GX's summaries (what each check saw), not only pass/fail
    assert '"element_count"' in report.read_text()


def test_rerun_replaces_partition(faulty_corpus, ingested):
    store, first = ingested
    before = read_manifest(Store(store))
    second = ingest_corpus(kind="ravdess", path=str(faulty_corpus), name="synthetic", store=store)
    after = read_manifest(Store(store))
    assert len(after) == len(before) == first.accepted == second.accepted
    assert second.quarantined == first.quarantined


def test_readme_duckdb_query(ingested):
    store, summary = ingested
    counts = dict(duckdb.sql(
        f"select emotion, count(*) from read_parquet('{store}/manifests/utterances/**/*.parquet', "
        f"hive_partitioning=true) group by 1").fetchall())
    assert counts == summary.emotions


def test_contract_catches_speaker_in_two_corpora_and_bad_labels(ingested):
    store, _ = ingested
    manifest = read_manifest(Store(store))
    assert validate_utterances(manifest, AudioLimits()).success
    twin = manifest.head(3).assign(corpus="other", utterance_id=lambda d: "other/" + d.utterance_id,
                                   audio_sha256=lambda d: d.audio_sha256.str[::-1])
    result = validate_utterances(pd.concat([manifest, twin], ignore_index=True), AudioLimits())
    assert not result.success and any("corpora_of_speaker" in f for f in result.failures)
    bad = manifest.assign(emotion=manifest["emotion"].where(manifest.index > 0, "meh"))
    failures = validate_utterances(bad, AudioLimits()).failures
    assert len(failures) == 1 and "emotion" in failures[0]


def test_cli_reports_user_errors_without_traceback(tmp_path, capsys):
    assert main(["ingest", "emodb", str(tmp_path / "absent"), "--store", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["ingest", "emodb", str(tmp_path), "--option", "speaker_regex=x", "--store", str(tmp_path)]) == 2
    assert "takes options" in capsys.readouterr().err


def test_ravdess_faults_are_caught(tmp_path):
    root = requires_shared("ravdess")
    summary = ingest_corpus(kind="ravdess", path=str(root), store=str(tmp_path))
    assert summary.accepted == 1199
    assert summary.quarantined == {"speaker_mismatch": 1, "duplicate_audio": 1}


def test_emodb_is_clean(tmp_path):
    root = requires_shared("emodb")
    summary = ingest_corpus(kind="emodb", path=str(root), store=str(tmp_path))
    assert (summary.accepted, len(summary.emotions), summary.speakers) == (535, 7, 10)


def test_non_finite_samples_get_the_same_reason_as_in_scoring(tmp_path):
    import soundfile as sf

    from tasks.ingest import inspect_file

    y = np.zeros(16_000, np.float32)
    y[100] = np.nan
    sf.write(tmp_path / "nan.wav", y, 16_000, subtype="FLOAT")
    info = inspect_file(str(tmp_path / "nan.wav"))
    assert info.error_reason == "non_finite_samples" and "NaN" in info.error


def test_a_file_quarantined_as_too_long_leaves_nothing_in_the_audio_cache(tmp_path):
    from tasks.ingest import inspect_file
    from tasks.lib.audio_cache import AudioCache

    rng = np.random.default_rng(0)
    for name, seconds in (("long.wav", 4.0), ("ok.wav", 1.0)):
        sf.write(tmp_path / name, (0.1 * rng.standard_normal(int(16_000 * seconds))).astype(np.float32), 16_000)
    cache_store = Store.open(str(tmp_path / "store"))
    limits = AudioLimits(max_duration_s=2.0)
    long, ok = (inspect_file(str(tmp_path / n), AudioCache(cache_store), limits) for n in ("long.wav", "ok.wav"))
    cached = {p.name for p in (tmp_path / "store").rglob("*") if p.is_file()}
    assert len(cached) == 1 and ok.audio_sha256 in next(iter(cached))
    assert long.audio_sha256 not in next(iter(cached))
