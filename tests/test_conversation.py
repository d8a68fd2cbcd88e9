"""The calls table's conversation columns: exact on hand-made turns, and through score-calls against the
truth of a synthetic stereo call with clean turns, two barge-ins and a 6 s hold."""
import shutil

import duckdb
import numpy as np
import pytest

from data_contracts.suites import validate_calls
from flows.score import score_calls
from tasks.lib.audio import TARGET_SR, load, rms_dbfs
from tasks.lib.conversation import conversation_columns, gaps, interruptions, intersection, total, union
from tasks.lib.synth import synth_conversation


def test_interval_arithmetic():
    assert union([(2.0, 3.0), (0.0, 1.0), (0.5, 1.5)]) == [(0.0, 1.5), (2.0, 3.0)]
    assert intersection([(0.0, 2.0), (3.0, 5.0)], [(1.0, 4.0)]) == [(1.0, 2.0), (3.0, 4.0)]
    assert gaps([(1.0, 2.0), (5.0, 6.0)], 10.0) == [1.0, 3.0, 4.0]


def test_a_turn_that_starts_inside_the_other_partys_turn_is_an_interruption():
    agent, customer = [(0.0, 2.0), (2.5, 4.0)], [(1.5, 2.2), (4.5, 5.0)]
    assert interruptions(customer, agent) == 1  # 1.5 s, while the agent speaks; 4.5 s is a clean turn
    assert interruptions(agent, customer) == 0  # 2.5 s: the customer stopped at 2.2 s


def test_stereo_columns():
    cols = conversation_columns({0: [(0.0, 4.0), (8.0, 10.0)], 1: [(3.0, 6.0)]}, 12.0, agent_channel=1)
    agent, customer = cols[1], cols[0]
    assert (agent["role"], customer["role"]) == ("agent", "customer")
    assert agent["overlap_s"] == customer["overlap_s"] == 1.0 and agent["overlap_share"] == pytest.approx(1 / 12)
    assert agent["silence_share"] == pytest.approx(4 / 12) and agent["longest_silence_s"] == 2.0
    assert agent["talk_to_listen"] == pytest.approx(3 / 6) and customer["talk_to_listen"] == agent["talk_to_listen"]
    assert agent["talk_share"] == pytest.approx(3 / 9) and customer["talk_share"] == pytest.approx(6 / 9)
    assert (agent["interruptions"], customer["interruptions"]) == (1, 0)
    assert agent["interruptions_per_min"] == pytest.approx(5.0)


def test_mono_leaves_who_spoke_null():
    cols = conversation_columns({0: [(1.0, 3.0)]}, 5.0, agent_channel=0)[0]
    assert cols["role"] is None and cols["overlap_s"] is None and cols["interruptions"] is None
    assert cols["talk_to_listen"] is None and cols["talk_share"] == 1.0 and cols["longest_silence_s"] == 2.0


def test_two_voices_of_one_channel_share_talk_time_but_not_roles_or_overlap():
    cols = conversation_columns({0: [(1.0, 3.0)], 1: [(3.5, 9.5)]}, 10.0, agent_channel=0, one_channel=True)
    assert cols[0]["talk_share"] == pytest.approx(0.25) and cols[1]["talk_share"] == pytest.approx(0.75)
    assert all(c["role"] is None and c["overlap_s"] is None and c["interruptions"] is None for c in cols.values())
    assert cols[0]["silence_share"] == pytest.approx(0.2) and cols[0]["longest_silence_s"] == 1.0


@pytest.fixture(scope="module")
def scored(trained_store, tmp_path_factory, dask_address):
    """One synthetic stereo call (agent on channel 1 here), scored; its calls rows and its truth."""
    root = tmp_path_factory.mktemp("conversation")
    store = root / "store"
    shutil.copytree(trained_store, store)
    path = root / "inbox" / "talk.wav"
    truth = synth_conversation(path, agent_channel=1) | {"path": path}
    score_calls(inbox=str(root / "inbox"), model="ser", store=str(store), dask_address=dask_address, agent_channel=1)
    calls = duckdb.sql(f"select * from read_parquet('{store}/results/calls/**/*.parquet', hive_partitioning=true)").df()
    return calls.set_index("channel").sort_index(), truth


def test_scored_call_matches_the_synthetic_truth(scored):
    calls, truth = scored
    turns = {ch: [(s, e) for c, s, e, _ in truth["turns"] if c == ch] for ch in (0, 1)}
    want = conversation_columns(turns, truth["duration_s"], agent_channel=1)
    assert calls.loc[1, "role"] == "agent" and calls.loc[0, "role"] == "customer"
    for ch in (0, 1):
        assert calls.loc[ch, "interruptions"] == want[ch]["interruptions"] == 1  # each party barges in once
    # two overlaps; the VAD closes a region ~0.15 s after the voice fades, so each may run long by that much
    assert calls.loc[0, "overlap_s"] == pytest.approx(want[0]["overlap_s"], abs=2 * 0.3)
    assert calls.loc[0, "longest_silence_s"] == pytest.approx(6.0, abs=0.3)
    assert calls.loc[0, "silence_share"] == pytest.approx(want[0]["silence_share"], abs=0.06)
    assert calls.loc[1, "talk_to_listen"] == pytest.approx(want[1]["talk_to_listen"], rel=0.1)
    assert calls.loc[1, "talk_share"] == pytest.approx(want[1]["talk_share"], abs=0.05)
    # the customer is 6 dB down, but emotions change loudness too: compare with the levels of the true turns
    audio = load(str(truth["path"]), mono=False)
    level = {ch: np.median([rms_dbfs(audio[ch, int(s * TARGET_SR):int(e * TARGET_SR)]) for s, e in turns[ch]])
             for ch in (0, 1)}
    for ch in (0, 1):
        assert calls.loc[ch, "speech_dbfs"] == pytest.approx(level[ch], abs=1.5)
    assert calls.loc[1, "speech_dbfs"] - calls.loc[0, "speech_dbfs"] == pytest.approx(level[1] - level[0], abs=1.0)
    truth_rate = {}
    for ch in (0, 1):  # every turn says a 7-syllable statement
        syllables = 7 * sum(c == ch for c, *_ in truth["turns"])
        assert round(calls.loc[ch, "syllables_per_s"] * calls.loc[ch, "speech_s"]) == pytest.approx(syllables, abs=1)
        truth_rate[ch] = syllables / total(turns[ch])
    # the VAD's regions run ~0.15 s past each turn, so rates read low; the faster party still reads faster
    faster = max(truth_rate, key=truth_rate.get)
    assert calls.loc[faster, "syllables_per_s"] > calls.loc[1 - faster, "syllables_per_s"]


def test_quarters_hold_a_share_where_the_party_spoke_and_null_where_it_did_not(scored):
    calls, truth = scored
    quarter_s = truth["duration_s"] / 4
    for ch in (0, 1):
        values = calls.loc[ch, [f"negative_share_q{q}" for q in range(1, 5)]].to_numpy(dtype=float)
        for q, value in enumerate(values):
            # seconds this party's voice spends in the quarter, give or take the VAD's edges (0.3 s)
            inside = sum(max(0.0, min(e, (q + 1) * quarter_s) - max(s, q * quarter_s))
                         for c, s, e, _ in truth["turns"] if c == ch)
            if inside > 0.3:
                assert 0 <= value <= 1
            elif all(e < q * quarter_s - 0.3 or s > (q + 1) * quarter_s + 0.3 for c, s, e, _ in truth["turns"] if c == ch):
                assert np.isnan(value)


def test_calls_contract_refuses_impossible_rows(scored):
    calls, _ = scored
    rows = calls.reset_index().drop(columns=["model", "model_version", "scored_at", "scored_date"])
    assert validate_calls(rows).success
    bad = rows.assign(talk_share=[1.5, 0.2], role=["boss", "agent"])
    result = validate_calls(bad)
    assert not result.success and {"talk_share", "role"} <= {f.split("(")[1].split(")")[0] for f in result.failures}
    assert not validate_calls(rows.drop(columns=["overlap_s"])).success
