"""Window probabilities to segment rows and call summaries, on hand-made scores."""
import numpy as np
import pytest

from tasks.lib.segments import ChannelScores, by_speaker, segment_rows, speech_grid, summarize, turn_rows

CLASSES = ["angry", "neutral"]  # angry is negative, neutral is not


def scores(proba: list[list[float]], windows: list[tuple[float, float]], regions=None) -> ChannelScores:
    return ChannelScores(0, regions if regions is not None else windows, windows, np.array(proba, np.float32),
                         speakers=np.zeros(len(windows), int))


def test_segment_rows_carry_every_canonical_probability():
    rows = segment_rows("c1", scores([[0.8, 0.2], [0.3, 0.7]], [(0.0, 1.0), (1.0, 2.0)]), CLASSES)
    assert [r["emotion"] for r in rows] == ["angry", "neutral"]
    assert rows[0]["confidence"] == pytest.approx(0.8) and rows[1]["p_neutral"] == pytest.approx(0.7)
    assert rows[0]["p_happy"] is None  # a canonical emotion the model does not know


def test_speech_no_window_covers_takes_the_nearest_window():
    times, proba = speech_grid(scores([[1.0, 0.0]], [(0.0, 1.0)], regions=[(0.0, 1.5)]), CLASSES)
    assert len(times) == 15 and np.allclose(proba[:, 0], 1.0)


def test_summary_shares_escalation_and_peak():
    # 0-3 s calm, 3-6 s calm, 6-9 s angry: the call escalates in its last third
    s = scores([[0.1, 0.9], [0.2, 0.8], [0.9, 0.1]], [(0.0, 3.0), (3.0, 6.0), (6.0, 9.0)])
    row = summarize("c1", "/in/c1.wav", 9.0, 1, s, CLASSES)
    assert row["status"] == "ok" and row["dominant_emotion"] == "neutral"
    assert row["share_angry"] == pytest.approx(1 / 3, abs=0.02)
    assert row["negative_share"] == pytest.approx(1 / 3, abs=0.02)
    assert row["escalation"] == pytest.approx(1.0)
    assert row["peak_negative_start_s"] == 6.0 and row["speech_s"] == 9.0
    assert row["mean_confidence"] == pytest.approx((0.9 + 0.8 + 0.9) / 3)


def test_calm_channel_has_no_negative_peak():
    row = summarize("c1", "/in/c1.wav", 6.0, 1, scores([[0.3, 0.7], [0.4, 0.6]], [(0.0, 3.0), (3.0, 6.0)]), CLASSES)
    assert row["negative_share"] == 0.0 and row["peak_negative_start_s"] is None


def test_summary_without_speech_says_so():
    row = summarize("c1", "/in/c1.wav", 5.0, 1, scores(np.zeros((0, 2)).tolist(), [], regions=[]), CLASSES)
    assert row["status"] == "no_speech" and row["negative_share"] is None and row["n_segments"] == 0


def test_negative_share_per_quarter_and_speech_level():
    # a 12 s call: angry in 0-3 s, neutral in 3-6 s, nothing after 6 s
    s = scores([[0.9, 0.1], [0.2, 0.8]], [(0.0, 3.0), (3.0, 6.0)])
    s.dbfs = np.array([-20.0, -30.0])
    row = summarize("c1", "/in/c1.wav", 12.0, 1, s, CLASSES)
    assert [row[f"negative_share_q{q}"] for q in range(1, 5)] == [pytest.approx(1.0), pytest.approx(0.0), None, None]
    assert row["speech_dbfs"] == pytest.approx(-25.0)


def test_a_diarized_channel_splits_into_its_voices_speech_time_and_syllables():
    s = scores([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9]], [(0.0, 2.0), (2.0, 4.0), (5.0, 8.0)], regions=[(0.0, 4.0), (5.0, 8.0)])
    s.speakers, s.nuclei = np.array([0, 0, 1]), np.array([0.5, 3.5, 6.0, 7.0])
    s.domain, s.in_domain, s.dbfs = np.full(3, np.nan), np.zeros(3, bool), np.array([-20.0, -22.0, -30.0])
    assert [r["speaker"] for r in segment_rows("c1", s, CLASSES)] == ["spk0", "spk0", "spk1"]
    first, second = by_speaker(s)
    assert first.regions == [(0.0, 4.0)] and second.regions == [(5.0, 8.0)]
    assert first.speech_s == pytest.approx(4.0) and len(first.nuclei) == 2 and len(second.nuclei) == 2
    rows = [summarize("c1", "/in/c1.wav", 8.0, 1, part, CLASSES) for part in (first, second)]
    assert [r["speaker"] for r in rows] == ["spk0", "spk1"]
    assert [r["dominant_emotion"] for r in rows] == ["angry", "neutral"]
    assert [r["syllables_per_s"] for r in rows] == pytest.approx([2 / 4, 2 / 3])
    assert [r["speech_dbfs"] for r in rows] == pytest.approx([-21.0, -30.0])


def test_a_turn_change_inside_one_region_goes_to_the_nearer_window():
    s = scores([[0.9, 0.1], [0.1, 0.9]], [(0.0, 3.0), (3.0, 6.0)], regions=[(0.0, 6.0)])
    s.speakers, s.domain, s.in_domain, s.dbfs = np.array([0, 1]), np.full(2, np.nan), np.zeros(2, bool), np.zeros(2)
    first, second = by_speaker(s)
    assert first.regions == [(0.0, pytest.approx(3.0, abs=0.15))] and second.regions == [(first.regions[0][1], 6.0)]


def test_an_undiarized_channel_is_one_party_named_after_it():
    s = ChannelScores(1, [(0.0, 2.0)], [(0.0, 2.0)], np.array([[0.5, 0.5]]), speakers=np.array([1]))
    (part,) = by_speaker(s)
    assert part is not s and part.speaker == 1 and summarize("c", "p", 2.0, 2, part, CLASSES)["speaker"] == "spk1"


def test_turns_are_each_partys_speech_regions_in_time_order_with_their_main_emotion():
    # voice 0: one turn 0-4 s (angry, then neutral in its last second); voice 1: 5.2-8 s neutral, 9-10 s angry
    s = scores([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9], [0.7, 0.3]],
               [(0.0, 1.5), (1.5, 3.0), (3.0, 4.0), (5.2, 8.0), (9.0, 10.0)], regions=[(0.0, 4.0), (5.2, 8.0), (9.0, 10.0)])
    s.speakers, s.domain, s.in_domain, s.dbfs = np.array([0, 0, 0, 1, 1]), np.full(5, np.nan), np.zeros(5, bool), np.zeros(5)
    rows = turn_rows("c1", by_speaker(s)[::-1], {0: None, 1: None}, CLASSES)  # parties in any order
    assert [(r["turn_index"], r["speaker"], r["start_s"], r["end_s"], r["emotion"]) for r in rows] == [
        (0, "spk0", 0.0, 4.0, "angry"), (1, "spk1", 5.2, 8.0, "neutral"), (2, "spk1", 9.0, 10.0, "angry")]
    assert rows[0]["confidence"] == pytest.approx((15 * 0.9 + 15 * 0.8 + 10 * 0.2) / 40, abs=0.01)
    assert sum(r["end_s"] - r["start_s"] for r in rows if r["speaker"] == "spk1") == pytest.approx(by_speaker(s)[1].speech_s)


def test_turns_of_a_stereo_call_carry_their_partys_role():
    agent = ChannelScores(0, [(2.0, 4.0)], [(2.0, 4.0)], np.array([[0.2, 0.8]]), speakers=np.array([0]))
    customer = ChannelScores(1, [(0.5, 1.8), (3.5, 6.0)], [(0.5, 1.8), (3.5, 6.0)], np.array([[0.9, 0.1], [0.6, 0.4]]),
                             speakers=np.array([1, 1]))
    parts = by_speaker(agent) + by_speaker(customer)
    rows = turn_rows("c1", parts, {0: "agent", 1: "customer"}, CLASSES)
    assert [(r["channel"], r["role"], r["start_s"]) for r in rows] == [(1, "customer", 0.5), (0, "agent", 2.0),
                                                                         (1, "customer", 3.5)]
    assert [r["emotion"] for r in rows] == ["angry", "neutral", "angry"] and rows[2]["confidence"] == pytest.approx(0.6)
    assert all(r["out_of_domain_share"] is None for r in rows)  # a model without a guard


def test_a_turns_out_of_domain_share_is_that_of_the_windows_covering_its_speech():
    s = scores([[0.9, 0.1], [0.8, 0.2]], [(0.0, 2.0), (2.0, 4.0)], regions=[(0.0, 4.0)])
    s.domain, s.in_domain, s.dbfs = np.array([0.01, 0.3]), np.array([True, False]), np.zeros(2)
    (turn,) = turn_rows("c1", by_speaker(s), {0: None}, CLASSES)
    assert turn["out_of_domain_share"] == pytest.approx(0.5)  # the second half of its speech is out of domain
