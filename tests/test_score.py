"""score-calls: rejects, channels, telephone formats, idempotent re-scoring and crash recovery."""
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from data_contracts import schemas
from flows.score import score_calls
from ser_models.evaluation import diarization_error
from tasks import score as calls_module
from tasks.lib.inbox import CallFile, list_inbox
from tasks.lib.store import Store
from tasks.lib.synth import synth_calls
from tasks.lib.vad import WindowConfig
from tests.conftest import free_port, tone


@pytest.fixture(scope="module")
def store(trained_store, tmp_path_factory) -> str:
    """This module's own copy: its tests count rows, so no other module may score into it."""
    root = tmp_path_factory.mktemp("score") / "store"
    shutil.copytree(trained_store, root)
    return str(root)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("inbox")
    labels = pd.DataFrame(synth_calls(root, n_calls=2, turns=4))  # stereo 8 kHz mu-law + mono 16 kHz
    sf.write(root / "silent.wav", np.zeros(8000 * 5, np.float32), 8000)
    (root / "empty.wav").write_bytes(b"")
    (root / "notes.wav").write_text("not a recording")
    sf.write(root / "cut.wav", tone(3.0, 8000), 8000, subtype="ULAW")
    data = (root / "cut.wav").read_bytes()
    (root / "cut.wav").write_bytes(data[: len(data) // 2])
    return root, labels


def results(store: str, table: str) -> pd.DataFrame:
    return duckdb.sql(f"select * from read_parquet('{store}/results/{table}/**/*.parquet', hive_partitioning=true)").df()


def test_call_batches_mix_long_and_short_calls():
    calls = [CallFile(f"c{i}", f"/in/c{i}.wav", size, 0.0) for i, size in enumerate([9, 1, 8, 2, 7, 3, 6, 4])]
    batches = calls_module.call_batches(calls, size=4)
    assert [[c.size_bytes for c in b] for b in batches] == [[9, 6, 4, 1], [8, 7, 3, 2]]  # 20 and 20 bytes
    assert [len(b) for b in calls_module.call_batches(calls, size=3)] == [3, 3, 2]
    assert sorted(c.call_id for b in calls_module.call_batches(calls, size=1) for c in b) == sorted(
        c.call_id for c in calls)


def test_scores_calls_and_rejects_bad_files(store, inbox, dask_address):
    root, labels = inbox
    summary = score_calls(inbox=str(root), model="ser", store=store, dask_address=dask_address)
    assert (summary.scored, summary.rejected) == (2, 4)
    rejects = results(store, "rejects").set_index("call_id")["reason"].to_dict()
    assert rejects == {"silent.wav": "empty_or_silent", "empty.wav": "empty_or_silent",
                       "notes.wav": "undecodable", "cut.wav": "undecodable"}
    calls = results(store, "calls")
    stereo = calls[calls.call_id == "call000.wav"].sort_values("channel")
    assert stereo["channel"].tolist() == [0, 1] and (stereo["channels"] == 2).all()  # mu-law 8 kHz stereo
    mono = calls[calls.call_id == "call001.wav"].sort_values("speaker")
    assert mono["channel"].tolist() == [0, 0] and mono["speaker"].tolist() == ["spk0", "spk1"]  # two voices
    segments = results(store, "segments")
    probs = segments[[c for c in schemas.PROBABILITY_COLUMNS if segments[c].notna().any()]]
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-3)
    # each channel's segments lie where that party spoke (channel separation)
    ch0 = segments[(segments.call_id == "call000.wav") & (segments.channel == 0)]
    truth = labels[(labels.call_id == "call000.wav") & (labels.channel == 0)]
    inside = [any((s >= t.start_s - 0.8) and (e <= t.end_s + 0.8) for t in truth.itertuples()) for s, e in zip(ch0.start_s, ch0.end_s)]
    assert len(ch0) and all(inside)
    # turns: each party's speech regions, numbered in time order, with the party's role; they add up to its speech
    turns = results(store, "turns")
    for call_id, rows in turns.groupby("call_id"):
        assert rows.sort_values("start_s")["turn_index"].tolist() == list(range(len(rows)))
        talk = rows.assign(s=rows["end_s"] - rows["start_s"]).groupby("speaker")["s"].sum()
        assert talk.to_dict() == pytest.approx(calls[calls.call_id == call_id].set_index("speaker")["speech_s"].to_dict())
    stereo_turns = turns[turns.call_id == "call000.wav"]
    assert stereo_turns.groupby("channel")["role"].unique().map(list).to_dict() == {0: ["agent"], 1: ["customer"]}
    assert turns.loc[turns.call_id == "call001.wav", "role"].isna().all()  # mono: no roles
    assert turns["out_of_domain_share"].between(0, 1).all()  # the test model has a guard: never null


def test_rerun_scores_nothing_and_changed_call_replaces_rows(store, inbox, dask_address):
    root, _ = inbox
    before = results(store, "segments")
    again = score_calls(inbox=str(root), model="ser", store=store, dask_address=dask_address)
    assert (again.scored, again.rejected, again.unchanged) == (0, 0, 6)
    assert again.report is None  # nothing new: the day's report is left as it is
    assert len(results(store, "segments")) == len(before)
    shutil.copy(root / "call001.wav", root / "call001.tmp")
    sf.write(root / "call001.wav", np.concatenate([sf.read(root / "call001.tmp")[0], np.zeros(8000)]), 16000)
    (root / "call001.tmp").unlink()
    changed = score_calls(inbox=str(root), model="ser", store=store, dask_address=dask_address)
    assert changed.scored == 1
    calls = results(store, "calls")
    assert (calls.call_id == "call001.wav").sum() == 2 and len(calls) == 4  # its two voices, once


def test_crash_mid_run_then_rerun_leaves_one_row_set(store, inbox, tmp_path, monkeypatch, dask_address):
    root, _ = inbox
    crash_store = tmp_path / "store"
    shutil.copytree(Path(store) / "models", crash_store / "models")
    original = calls_module.Store.write_partition

    def crash_on_ledger(self, spec, *args, **kwargs):
        if spec.path == schemas.LEDGER_TABLE.path:
            raise RuntimeError("worker killed before the ledger write")
        return original(self, spec, *args, **kwargs)

    monkeypatch.setattr(calls_module.Store, "write_partition", crash_on_ledger)
    with pytest.raises(RuntimeError, match="killed"):
        calls_module.score_batch.fn(Store(str(crash_store)), list_inbox(str(root)), "ser:v0001", WindowConfig())
    monkeypatch.undo()
    orphans = list((crash_store / "results").rglob("*.parquet"))
    assert orphans  # result files were written, the ledger was not
    for f in orphans:  # as if the crashed run had been on an earlier day
        moved = Path(str(f).replace("scored_date=", "scored_date=1999-"))
        moved.parent.mkdir(parents=True, exist_ok=True)
        f.rename(moved)
    summary = score_calls(inbox=str(root), model="ser", store=str(crash_store), dask_address=dask_address)
    assert summary.scored == 2 and summary.rejected == 4
    calls = results(str(crash_store), "calls")
    assert not calls.duplicated(["call_id", "channel", "speaker"]).any() and len(calls) == 4  # stereo + 2 voices
    assert not results(str(crash_store), "rejects").duplicated(["call_id"]).any()
    assert not results(str(crash_store), "turns").duplicated(["call_id", "turn_index"]).any()
    assert not list((crash_store / "results").rglob("scored_date=1999-*/*.parquet"))
    ledger = Store(str(crash_store)).read(schemas.LEDGER_TABLE)
    assert set(ledger["call_id"]) == {p.name for p in root.iterdir()}


def wait_until(check, timeout_s: float, what: str) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise TimeoutError(f"timed out waiting for {what}")


def test_served_deployment_end_to_end(store, inbox, tmp_path):
    """A real Prefect server on loopback, deployments served, `prefect deployment run` from the CLI."""
    import os
    import subprocess
    import sys

    import httpx

    root, _ = inbox
    e2e_store = tmp_path / "store"
    shutil.copytree(Path(store) / "models", e2e_store / "models")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_UI_ENABLED": "false"}
    prefect = [sys.executable, "-m", "prefect"]
    logs = open(tmp_path / "server.log", "w")
    server = subprocess.Popen([*prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=logs, stderr=subprocess.STDOUT)
    served = None
    try:
        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 120, "the Prefect server")
        served = subprocess.Popen([sys.executable, "deployments/serve.py", "--inbox", str(root), "--store", str(e2e_store),
                                   "--model", "ser", "--cron", ""], env=env, stdout=logs, stderr=subprocess.STDOUT,
                                  cwd=Path(__file__).resolve().parents[1])
        def served_deployments() -> set[str]:  # the API, not `prefect deployment ls`: each CLI start costs seconds
            found = httpx.post(f"http://127.0.0.1:{port}/api/deployments/filter", json={}, timeout=10).json()
            return {d["name"] for d in found}

        wait_until(lambda: "score-calls" in served_deployments(), 120, "the served deployments")
        run = subprocess.run([*prefect, "deployment", "run", "score-calls/score-calls", "--param", "workers=1",
                              "--watch", "--watch-timeout", "300"], env=env, capture_output=True, text=True, timeout=360)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        assert "Completed" in run.stdout
    finally:
        for proc in (served, server):
            if proc:
                proc.terminate()
                proc.wait(timeout=30)
        logs.close()
    calls = results(str(e2e_store), "calls")
    assert sorted(calls["call_id"].unique()) == ["call000.wav", "call001.wav"] and not calls.duplicated(["call_id", "channel", "speaker"]).any()
    assert len(results(str(e2e_store), "rejects")) == 4


def test_poison_pill_calls_become_rejects_and_the_batch_goes_on(store, inbox, tmp_path, dask_address):
    """inf, NaN and 1e30 samples and a folder symlink sit in one batch with a good call; only they are rejected."""
    root, _ = inbox
    calls = tmp_path / "poison"
    calls.mkdir()
    shutil.copy(root / "call001.wav", calls / "good.wav")
    for name, value in (("inf.wav", np.inf), ("nan.wav", np.nan), ("huge.wav", 1e30)):
        y = tone(3.0, 16000)
        y[8000:8010] = value
        sf.write(calls / name, y, 16000, subtype="FLOAT")
    (tmp_path / "a-folder").mkdir()
    (calls / "linked.wav").symlink_to(tmp_path / "a-folder")
    summary = score_calls(inbox=str(calls), model="ser", store=store, dask_address=dask_address, batch_size=10)
    assert (summary.scored, summary.rejected) == (1, 4)
    rejects = results(store, "rejects").set_index("call_id")["reason"].to_dict()
    assert {k: rejects[k] for k in ("inf.wav", "nan.wav", "huge.wav", "linked.wav")} == {
        "inf.wav": "non_finite_samples", "nan.wav": "non_finite_samples", "huge.wav": "non_finite_samples",
        "linked.wav": "not_a_file"}
    assert "good.wav" in set(results(store, "calls")["call_id"])


def test_a_second_run_on_a_busy_store_stops_and_deletes_nothing(store, inbox, dask_address):
    """While one run holds the store, another stops with a clear error; afterwards both versions score once."""
    import json
    import socket

    from tasks.lib.lock import StoreLocked, store_lock

    root, _ = inbox
    models = Path(store) / "models" / "ser"
    if not (models / "v0002").exists():
        shutil.copytree(models / "v0001", models / "v0002")  # a second version with the same weights
    uncommitted = Path(store) / "results" / "segments" / "scored_date=2026-01-01" / "run-a-in-flight.parquet"
    uncommitted.parent.mkdir(parents=True, exist_ok=True)
    uncommitted.write_bytes(b"written by the other run, not yet in the ledger")
    with store_lock(Store(store), "score-calls"):
        with pytest.raises(StoreLocked, match="another score-calls run holds"):
            score_calls(inbox=str(root), model="ser:v0002", store=store, dask_address=dask_address)
        assert uncommitted.exists()
    uncommitted.unlink()
    lock = Path(store) / "locks" / "score-calls.json"  # a run killed with -9 on this host leaves its lock behind
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": 2 ** 22 + 12345, "since": "then"}))
    for version in ("v0001", "v0002"):
        score_calls(inbox=str(root), model=f"ser:{version}", store=store, dask_address=dask_address)
    calls = results(store, "calls")
    scored = {c.call_id for c in list_inbox(str(root))} - set(results(store, "rejects")["call_id"])
    for version in ("v0001", "v0002"):
        mine = calls[(calls.model_version == version) & calls.call_id.isin(scored)]  # other tests share the store
        rows = mine.groupby("call_id")[["channel", "speaker"]].apply(lambda g: list(zip(g.channel, g.speaker)))
        assert set(rows.index) == scored and all(len(party) == len(set(party)) for party in rows)
    assert not lock.exists()


def test_a_speaker_normalised_model_standardises_each_channel_by_its_own_speech(data, small_corpus):
    """Windows of one channel are one speaker group (what models.md promises), not one file each."""
    from ser_models.catalog import build_estimator
    from ser_models.data import class_list
    from ser_models.inference import LoadedModel, features_of
    from tasks.lib.audio import load
    from tasks.lib.corpora import prepare_ravdess
    from tasks.lib.segments import ChannelScores
    from tests.conftest import split

    train, _ = split(data)
    classes = class_list(data.rows["emotion"])
    est = build_estimator("svm_linear", speaker_norm=True)
    est.fit(train, None, classes)
    model = LoadedModel(None, est, {"classes": classes})
    y = np.concatenate([load(r.path) for r in prepare_ravdess(small_corpus, corpus="syn")[:6]])
    scores, cfg = ChannelScores(1, [], [], np.zeros((0, len(classes)))), WindowConfig()
    seconds = {"vad": 0.0, "features": 0.0, "diarize": 0.0, "model": 0.0}
    calls_module._score_block(y, 0.0, [(0.0, len(y) / 16_000)], scores, model, cfg, seconds, diarize=False)
    clips = [y[int(s * 16_000): int(e * 16_000)] for s, e in scores.windows]
    assert len(clips) >= 3
    as_channel = model.predict_proba(features_of(clips, est.feature_sets, ["one"] * len(clips)))
    each_alone = model.predict_proba(features_of(clips, est.feature_sets))
    assert np.allclose(scores.proba, as_channel, atol=1e-6) and not np.allclose(scores.proba, each_alone, atol=1e-3)


def test_mono_calls_are_split_into_the_voices_that_spoke(store, tmp_path, dask_address):
    """Two synthetic voices on one channel: the segments' speakers against the known turns, the calls rows'
    talk time per voice against the truth."""
    shutil.copytree(Path(store) / "models", tmp_path / "store" / "models")
    truth = pd.DataFrame(synth_calls(tmp_path / "inbox", n_calls=4, turns=12, seed=3))
    mono = truth[truth["call_id"].isin(["call001.wav", "call003.wav"])]  # 16 kHz PCM and 8 kHz A-law
    score_calls(inbox=str(tmp_path / "inbox"), model="ser", store=str(tmp_path / "store"), dask_address=dask_address)
    segments, turns, calls = (results(str(tmp_path / "store"), t) for t in ("segments", "turns", "calls"))
    for spans in (segments, turns):  # the scored windows, and the turns: who spoke when
        error = diarization_error(spans, mono)
        assert error["der"] <= 0.15 and error["confusion"] <= 0.05
    for call_id, turns in mono.groupby("call_id"):
        rows = calls[calls["call_id"] == call_id].set_index("speaker")
        assert sorted(rows.index) == ["spk0", "spk1"] and (rows["channel"] == 0).all() and rows["role"].isna().all()
        for speaker, spoken in turns.groupby("speaker"):
            # the synthetic clips' lead and tail are room noise that the VAD leaves out
            assert rows.loc[speaker, "speech_s"] == pytest.approx((spoken["end_s"] - spoken["start_s"]).sum(), rel=0.25)
        assert rows["talk_share"].sum() == pytest.approx(1.0)


def test_a_model_without_a_speaker_space_scores_a_mono_call_as_one_voice(store, inbox, tmp_path, dask_address, caplog):
    """A model registered before diarization (or on too few speakers) still scores mono calls, as one party,
    and the run says so."""
    shutil.copytree(Path(store) / "models", tmp_path / "store" / "models")
    for path in (tmp_path / "store" / "models").rglob("speaker_space.*"):
        path.unlink()
    (tmp_path / "inbox").mkdir()
    shutil.copy(inbox[0] / "call001.wav", tmp_path / "inbox")  # mono, two voices
    score_calls(inbox=str(tmp_path / "inbox"), model="ser", store=str(tmp_path / "store"), dask_address=dask_address)
    assert "has no speaker space" in caplog.text
    calls = results(str(tmp_path / "store"), "calls")
    assert calls[["channel", "speaker", "talk_share"]].values.tolist() == [[0, "spk0", 1.0]]
    assert set(results(str(tmp_path / "store"), "segments")["speaker"]) == {"spk0"}
