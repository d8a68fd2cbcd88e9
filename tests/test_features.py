"""Stage features: the build-features flow and its tasks (incremental, augmentation rules, atomic parts)."""
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_contracts import schemas
from data_contracts.suites import validate_feature_part
from flows.features import build_features
from flows.ingest import ingest_corpus
from tasks.features import FeatureError
from tasks.lib.feature_sets import FEATURE_SETS
from tasks.lib.store import Store
from tasks.lib.tables import read_features


@pytest.fixture(scope="module")
def store(small_corpus, tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("fstore"))
    ingest_corpus(kind="ravdess", path=str(small_corpus), name="syn", store=root)
    return root


def test_build_is_incremental_and_augments_only_allowed_speakers(store):
    first = build_features(feature_set="mfcc40_mean", augment=["noisex2"], augment_speakers=["syn:01"],
                           store=store, workers=1)
    assert (first.computed_rows, first.failed, first.already_present) == (120 + 2 * 30, 0, 0)
    table = read_features(Store(store), "mfcc40_mean")
    augmented = table[table["augmentation"] != "none"]
    assert set(augmented["speaker_id"]) == {"syn:01"}
    assert set(augmented["augmentation"]) == {"noise#0", "noise#1"}
    assert augmented["aug_params"].str.contains("noise_std").all()
    assert not table.duplicated(["utterance_id", "augmentation"]).any()
    second = build_features(feature_set="mfcc40_mean", augment=["noisex2"], augment_speakers=["syn:01"],
                            store=store, workers=1)
    assert (second.computed_rows, second.already_present) == (0, 180)
    assert len(read_features(Store(store), "mfcc40_mean")) == 180


def test_augmentation_needs_named_speakers(store):
    with pytest.raises(FeatureError, match="augment-speakers"):
        build_features(feature_set="mfcc40_mean", augment=["pitch"], store=store)


def test_contract_refuses_augmented_rows_of_other_speakers():
    frame = pd.DataFrame({"utterance_id": ["a", "a", "b"], "speaker_id": ["s1", "s1", "s2"],
                          "augmentation": ["none", "noise#0", "noise#0"], "n_frames": 1, "n_bins": 2,
                          "features": [np.zeros(2, np.float32)] * 3})
    result = validate_feature_part(frame, 2, False, {"s1"})
    assert not result.success and "augmented_speaker_allowed" in " ".join(result.failures)
    assert "unexpected: [False]" in " ".join(result.failures)  # a failing frame is checked again for its values
    assert validate_feature_part(frame.iloc[:2], 2, False, {"s1"}).success
    bad = frame.iloc[:2].assign(features=[np.zeros(2, np.float32), np.array([np.nan, 1], np.float32)])
    assert "all_finite" in " ".join(validate_feature_part(bad, 2, False, {"s1"}).failures)


def test_batches_run_as_task_runs_of_the_flow_run(small_corpus, tmp_path, dask_address):
    """No subflow in between: the batch tasks report to the build-features run itself."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    store = str(tmp_path / "store")
    ingest_corpus(kind="ravdess", path=str(small_corpus / "Actor_01"), name="one", store=store)
    state = build_features(feature_set="mfcc40_mean", store=store, dask_address=dask_address, batch_size=10,
                           return_state=True)
    assert state.result().computed_rows == 30
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    batches = [r for r in runs if r.name.startswith("feature-batch")]
    assert len(batches) >= 3 and all(r.state.is_completed() for r in batches)


def _copy_actor(small_corpus: Path, tmp_path: Path, actor: str) -> Path:
    """A private corpus folder with one actor's 30 files, which a test may damage."""
    copy = tmp_path / "corpus"
    shutil.copytree(small_corpus / actor, copy / actor)
    return copy


def test_vanished_file_is_quarantined_not_fatal(small_corpus, tmp_path, dask_address):
    store = str(tmp_path / "store")
    copy = _copy_actor(small_corpus, tmp_path, "Actor_01")
    ingest_corpus(kind="ravdess", path=str(copy), name="vanishing", store=store, audio_cache=False)
    victim = sorted(copy.rglob("*.wav"))[0]
    victim.write_bytes(b"gone")
    summary = build_features(feature_set="logmel", corpus=["vanishing"], store=store, dask_address=dask_address)
    assert (summary.computed_rows, summary.failed) == (29, 1)
    failures = Store(store).read(schemas.FEATURE_FAILURES_TABLE)
    assert failures["reason"].tolist() == ["undecodable"] and failures["path"].iloc[0] == str(victim)
    again = build_features(feature_set="logmel", corpus=["vanishing"], store=store, dask_address=dask_address)
    assert again.computed_rows == 0 and len(Store(store).read(schemas.FEATURE_FAILURES_TABLE)) == 1
    frames = read_features(Store(store), "logmel", ["vanishing"])
    row = frames.iloc[0]
    assert np.asarray(row["features"]).reshape(row["n_frames"], row["n_bins"]).shape[1] == 64


def test_cached_audio_gives_the_features_decoding_gives(small_corpus, tmp_path, dask_address):
    """Ingestion keeps each file's decoded audio; feature runs read it instead of decoding, to the bit."""
    copy = _copy_actor(small_corpus, tmp_path, "Actor_02")
    stores = {cached: str(tmp_path / f"store-{cached}") for cached in ("cached", "decoded")}
    for cached, store in stores.items():
        ingest_corpus(kind="ravdess", path=str(copy), name="two", store=store, audio_cache=cached == "cached")
    assert len(list(Path(stores["cached"], "audio_cache").rglob("*.npy"))) == 30
    assert not Path(stores["decoded"], "audio_cache").exists()
    decoded = build_features(feature_set="functionals", store=stores["decoded"], dask_address=dask_address)
    sorted(copy.rglob("*.wav"))[0].write_bytes(b"gone")  # only the cache still holds this file's audio
    cached = build_features(feature_set="functionals", store=stores["cached"], dask_address=dask_address)
    assert (decoded.computed_rows, cached.computed_rows, cached.failed) == (30, 30, 0)
    assert (decoded.from_cache, cached.from_cache) == (0, 30)
    a, b = (read_features(Store(stores[c]), "functionals").sort_values("utterance_id") for c in ("decoded", "cached"))
    np.testing.assert_array_equal(np.stack(a["features"]), np.stack(b["features"]))


def test_failed_batch_leaves_no_partial_file(store, monkeypatch):
    from fsspec.implementations.local import LocalFileSystem

    from tasks.features import build_feature_batch
    from tasks.lib.feature_store import Batch, WorkItem
    from tasks.lib.tables import read_manifest

    rows = read_manifest(Store(store), ["syn"]).head(3)
    batch = Batch([WorkItem(r.utterance_id, r.corpus, r.speaker_id, r.path, "none") for r in rows.itertuples()])

    def crash(*args, **kwargs):
        raise OSError("killed between writing and renaming")

    monkeypatch.setattr(LocalFileSystem, "mv", crash)
    with pytest.raises(OSError, match="killed"):
        build_feature_batch.fn(Store(store), batch, "mfcc_seq", FEATURE_SETS["mfcc_seq"].config_hash, [])
    folder = Path(store, "features", "mfcc_seq")
    assert not list(folder.rglob("*.parquet")) and not list(folder.rglob(".*.tmp"))


def test_batch_spanning_corpora_writes_one_part_per_corpus(store, tmp_path):
    from tasks.features import build_feature_batch
    from tasks.lib.feature_store import Batch, WorkItem
    from tasks.lib.tables import read_manifest

    rows = read_manifest(Store(store), ["syn"]).head(3)
    items = [WorkItem(r.utterance_id, corpus, r.speaker_id, r.path, "none")
             for r, corpus in zip(rows.itertuples(), ("a", "a", "b"))]
    items.append(WorkItem("b/missing.wav", "b", "b:1", str(tmp_path / "missing.wav"), "none"))
    out = str(tmp_path / "store")
    result = build_feature_batch(Store(out), Batch(items), "mfcc40_mean", FEATURE_SETS["mfcc40_mean"].config_hash, [])
    assert (result.rows, result.failures, len(result.parts)) == (3, 1, 2)
    stored = read_features(Store(out), "mfcc40_mean")
    assert stored.groupby("corpus")["utterance_id"].count().to_dict() == {"a": 2, "b": 1}
    failures = Store(out).read(schemas.FEATURE_FAILURES_TABLE)
    assert failures[["corpus", "utterance_id"]].values.tolist() == [["b", "b/missing.wav"]]
