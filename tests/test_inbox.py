"""The inbox: what is listed, and what still needs scoring by a given model version."""
import os

import pandas as pd
import pytest

from tasks.lib.inbox import file_sha256, list_inbox, pending_calls


@pytest.fixture
def inbox(tmp_path):
    (tmp_path / "day1").mkdir()
    (tmp_path / "day1" / "a.wav").write_bytes(b"a" * 10)
    (tmp_path / "b.wav").write_bytes(b"b" * 20)
    (tmp_path / ".partial.wav").write_bytes(b"uploading")  # hidden files are uploads in progress
    return tmp_path


def ledger_of(calls, model="ser", version="v0001") -> pd.DataFrame:
    return pd.DataFrame([{"call_id": c.call_id, "model": model, "model_version": version,
                          "size_bytes": c.size_bytes, "mtime": c.mtime, "file_sha256": file_sha256(c.path),
                          "result_files": [f"results/{c.call_id}.parquet"]} for c in calls])


def test_lists_files_relative_to_the_inbox(inbox):
    calls = list_inbox(str(inbox))
    assert [(c.call_id, c.size_bytes) for c in calls] == [("b.wav", 20), ("day1/a.wav", 10)]


def test_missing_inbox_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        list_inbox(str(tmp_path / "nowhere"))


def test_only_new_or_really_changed_calls_are_pending(inbox):
    calls = list_inbox(str(inbox))
    ledger = ledger_of(calls)
    assert pending_calls(calls, pd.DataFrame(), "ser", "v0001") == (calls, [])
    assert pending_calls(calls, ledger, "ser", "v0001") == ([], [])
    assert pending_calls(calls, ledger, "ser", "v0002") == (calls, [])  # a new version rescores everything
    os.utime(inbox / "b.wav", (1, 1))  # touched, same bytes: not rescored
    (inbox / "day1" / "a.wav").write_bytes(b"A" * 10)  # same size, new bytes
    os.utime(inbox / "day1" / "a.wav", (2, 2))
    pending, touched = pending_calls(list_inbox(str(inbox)), ledger, "ser", "v0001")
    assert [c.call_id for c in pending] == ["day1/a.wav"]
    assert pending[0].previous_files == ("results/day1/a.wav.parquet",)
    assert pending[0].file_sha256 == file_sha256(str(inbox / "day1" / "a.wav"))
    assert [(t["call_id"], t["mtime"], t["result_files"]) for t in touched] == [("b.wav", 1.0, ["results/b.wav.parquet"])]


def test_a_touched_call_is_hashed_once_not_on_every_run(inbox, monkeypatch):
    import tasks.lib.inbox as inbox_module

    calls = list_inbox(str(inbox))
    ledger = ledger_of(calls).assign(scored_at=pd.Timestamp("2026-01-01", tz="UTC"))
    os.utime(inbox / "b.wav", (1, 1))
    _, touched = pending_calls(list_inbox(str(inbox)), ledger, "ser", "v0001")
    refreshed = pd.concat([ledger, pd.DataFrame(touched)]).sort_values("scored_at")
    refreshed = refreshed.drop_duplicates(["call_id", "model", "model_version"], keep="last")  # as read_ledger does
    monkeypatch.setattr(inbox_module, "file_sha256", lambda path: pytest.fail(f"re-hashed {path}"))
    assert pending_calls(list_inbox(str(inbox)), refreshed, "ser", "v0001") == ([], [])
