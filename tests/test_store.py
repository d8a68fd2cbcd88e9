import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from data_contracts.schemas import QUARANTINE_TABLE
from tasks.lib.store import Store


def rows(n: int, corpus: str) -> pd.DataFrame:
    return pd.DataFrame({"path": [f"/x/{i}.wav" for i in range(n)], "corpus": corpus, "reason": "too_short",
                         "detail": "", "ingested_at": pd.Timestamp("2026-01-01", tz="UTC")})


def test_partition_replace_is_idempotent(tmp_path):
    store = Store(str(tmp_path))
    store.write_partition(QUARANTINE_TABLE, rows(3, "a"), {"corpus": "a"})
    store.write_partition(QUARANTINE_TABLE, rows(2, "b"), {"corpus": "b"})
    store.write_partition(QUARANTINE_TABLE, rows(3, "a"), {"corpus": "a"})
    table = store.read(QUARANTINE_TABLE)
    assert table.groupby("corpus").size().to_dict() == {"a": 3, "b": 2}
    assert (tmp_path / "manifests/quarantine/corpus=a/data.parquet").exists()
    assert pd.read_parquet(tmp_path / "manifests/quarantine").shape[0] == 5  # plain pandas reads it too


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    store = Store(str(tmp_path))
    store.write_partition(QUARANTINE_TABLE, rows(3, "a"), {"corpus": "a"})

    def broken_mv(*args, **kwargs):
        raise OSError("disk vanished")

    monkeypatch.setattr(store.fs, "mv", broken_mv)
    with pytest.raises(OSError):
        store.write_partition(QUARANTINE_TABLE, rows(7, "a"), {"corpus": "a"})
    folder = tmp_path / "manifests/quarantine/corpus=a"
    assert [p.name for p in folder.iterdir()] == ["data.parquet"]
    assert len(store.read(QUARANTINE_TABLE)) == 3


def test_contract_cast_rejects_missing_columns(tmp_path):
    store = Store(str(tmp_path))
    with pytest.raises(ValueError, match="lacks contract columns"):
        store.write_partition(QUARANTINE_TABLE, rows(1, "a").drop(columns="reason"), {"corpus": "a"})
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        store.write_partition(QUARANTINE_TABLE, rows(1, "a").assign(ingested_at="yesterday"), {"corpus": "a"})


def test_empty_table_reads_with_columns(tmp_path):
    assert list(Store(str(tmp_path)).read(QUARANTINE_TABLE).columns) == QUARANTINE_TABLE.schema.names


@pytest.mark.parametrize("name", ["x/../../../../escaped", "../m", "..", "a/b", "", ".hidden", "a b"])
def test_names_that_would_leave_the_store_are_refused(name):
    from tasks.lib.store import InvalidName, checked_name

    with pytest.raises(InvalidName, match="is not allowed"):
        checked_name(name, "corpus")
    assert checked_name("emodb_v2.1-test", "corpus") == "emodb_v2.1-test"


def test_ingest_and_registry_refuse_escaping_names(tmp_path, small_corpus):
    from flows.cli import main
    from ser_models import registry
    from tasks.lib.store import InvalidName, Store

    store = tmp_path / "store"
    assert main(["ingest", "ravdess", str(small_corpus), "--name", "x/../../../../escaped", "--store", str(store)]) == 2
    assert not any(tmp_path.rglob("*.parquet"))
    with pytest.raises(InvalidName):
        registry.versions(Store(str(store)), "../../m")


def test_whole_chain_on_s3_with_a_separate_cluster_survives_a_killed_worker(separate_cluster, tmp_path):
    """ingest → features → train → score-calls with the store and the inbox on moto's S3 server, batches on a
    separately started scheduler and workers, one worker SIGKILLed mid-run; analysts then read the tables."""
    import signal
    import threading
    import time
    import uuid

    import duckdb
    import pyarrow.dataset as ds
    import s3fs

    from flows.features import build_features
    from flows.ingest import ingest_corpus
    from flows.score import score_calls
    from flows.train import train_model
    from tasks.lib.synth import synth_calls, synth_corpus

    client, workers = separate_cluster
    address, bucket = client.scheduler.address, f"serflow-{uuid.uuid4().hex[:8]}"
    store, inbox = f"s3://{bucket}/store", f"s3://{bucket}/inbox"
    fs = s3fs.S3FileSystem()
    call_ids = sorted({label["call_id"] for label in synth_calls(tmp_path / "calls", n_calls=6, turns=4)})
    fs.mkdir(bucket)
    fs.put(f"{tmp_path / 'calls'}/", f"{bucket}/inbox/", recursive=True)

    synth_corpus(tmp_path / "corpus", n_speakers=3, emotions=("happy", "sad", "angry"), repetitions=1)
    ingest_corpus(kind="ravdess", path=str(tmp_path / "corpus"), name="syn", store=store)
    build_features(feature_set="ge2e_layers", corpus=["syn"], store=store, dask_address=address)
    train_model(model="svm", corpus=["syn"], cv="holdout:syn:03", store=store, name="ser", dask_address=address)

    def kill_w2_once_it_works() -> None:  # SIGKILL the second worker while it holds a score-call batch
        deadline = time.monotonic() + 120
        while not any(client.processing(workers=["w2"]).values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        workers["w2"].send_signal(signal.SIGKILL)

    killer = threading.Thread(target=kill_w2_once_it_works, daemon=True)
    killer.start()
    summary = score_calls(inbox=inbox, model="ser", store=store, dask_address=address, batch_size=1)
    killer.join(timeout=1)
    assert workers["w2"].poll() == -signal.SIGKILL, "the worker was not killed mid-run"
    assert summary.scored == len(call_ids) and summary.rejected == 0

    con = duckdb.connect()
    con.register_filesystem(fs)  # DuckDB reads S3 through fsspec: its httpfs extension would need a download
    per_call = con.sql(f"select call_id, count(*) as n, count(distinct channel || speaker) as parties from "
                       f"read_parquet('{store}/results/calls/**/*.parquet', hive_partitioning=true) "
                       "group by call_id").fetchall()
    assert sorted(c for c, _, _ in per_call) == call_ids
    assert all(n == parties for _, n, parties in per_call), "a call has a duplicated row set"
    segments = ds.dataset(f"{bucket}/store/results/segments", filesystem=fs, format="parquet",
                          partitioning="hive").to_table().to_pandas()
    assert len(segments) > 0 and not segments.duplicated(["call_id", "channel", "segment_index"]).any()
    turns = con.sql(f"select call_id, turn_index from read_parquet('{store}/results/turns/**/*.parquet', "
                    "hive_partitioning=true)").df()
    assert sorted(turns["call_id"].unique()) == call_ids and not turns.duplicated().any()
    ledger = con.sql(f"select call_id from read_parquet('{store}/results/ledger/**/*.parquet')").fetchall()
    assert sorted(c for (c,) in ledger) == call_ids, "one ledger entry per call"


def test_exclusive_create_on_s3_lets_exactly_one_writer_win(s3_endpoint):
    """The lock and the registry's version claims rely on a conditional PUT (If-None-Match: *) on S3."""
    import uuid

    import s3fs

    from tasks.lib.lock import _create

    bucket = f"lock-{uuid.uuid4().hex[:8]}"
    s3fs.S3FileSystem().mkdir(bucket)
    store = Store(f"s3://{bucket}/store")
    path = store.path("locks/score-calls.json")
    assert _create(store, path, '{"pid": 1}') is True
    assert _create(store, path, '{"pid": 2}') is False
    assert store.fs.cat_file(path) == b'{"pid": 1}'


def test_many_files_read_in_groups_give_the_same_rows(tmp_path, monkeypatch):
    """A day's report reads one file per call; the store scans them a group at a time (1.4 GB in one scan)."""
    import tasks.lib.store as store_module

    store = Store(str(tmp_path))
    for corpus in "abcdefghij":
        store.write_partition(QUARANTINE_TABLE, rows(2, corpus), {"corpus": corpus})
    whole = store.read(QUARANTINE_TABLE)
    monkeypatch.setattr(store_module, "FILES_PER_SCAN", 3)
    assert store.read(QUARANTINE_TABLE).equals(whole) and len(whole) == 20
    picked = store.read(QUARANTINE_TABLE, filter=ds.field("corpus").isin(["b", "j"]), columns=["corpus"])
    assert sorted(picked["corpus"]) == ["b", "b", "j", "j"]

