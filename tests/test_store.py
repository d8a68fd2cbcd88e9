import pandas as pd
import pyarrow as pa
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
