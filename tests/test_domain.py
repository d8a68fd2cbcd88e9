"""The out-of-domain guard flags audio unlike the training data and passes unseen speakers of the same kind."""
import numpy as np
import pandas as pd
import pytest

from ser_models.data import FeatureData
from ser_models.domain import (
    MIN_WIDEBAND_SHARE,
    NOISE_FLOOR_LIMIT_DB,
    DomainGuard,
    collapse_warning,
    dominant_share,
)
from ser_models.inference import features_of
from tasks.lib.audio import clipped_share, load, noise_floor_db, wideband_share
from tasks.lib.corpora import prepare_ravdess
from tests.shifts import SHIFTS


@pytest.fixture(scope="module")
def guard_and_clips(tmp_path_factory):
    """A guard fitted on 7 synthetic speakers (enough speaker variety to calibrate on), and speaker 8's clips."""
    from tasks.lib.synth import synth_corpus

    root = tmp_path_factory.mktemp("guard") / "corpus"
    synth_corpus(root, n_speakers=8, repetitions=1)
    records = prepare_ravdess(root, corpus="syn")
    clips = [load(r.path) for r in records]
    held_out = np.array([r.speaker_id == "syn:08" for r in records])
    rows = pd.DataFrame({"utterance_id": [r.utterance_id for r in records], "augmentation": "none",
                         "speaker_id": [r.speaker_id for r in records], "corpus": "syn", "emotion": ""})
    studio = [c for c, h in zip(clips, held_out) if not h]
    served = features_of(studio, ("functionals",))  # its rows carry each clip's noise_floor_db already
    train = FeatureData(rows[~held_out].reset_index(drop=True), served.inputs)
    guard = DomainGuard.fit(train, "functionals", noise_floors=served.rows["noise_floor_db"].to_numpy())
    return guard, [c for c, h in zip(clips, held_out) if h]


def test_unseen_speakers_of_the_same_kind_are_in_domain(guard_and_clips):
    guard, clips = guard_and_clips
    scores = guard.scores(features_of(clips, ("functionals",)))
    assert guard.in_domain(scores).mean() >= 0.8
    assert "held-out training speakers" in guard.describe()["threshold_method"]


@pytest.mark.parametrize("shift", ["noise_floor_5db", "telephone"])
def test_shifted_recordings_are_flagged(guard_and_clips, shift):
    guard, clips = guard_and_clips
    scores = guard.scores(features_of([SHIFTS[shift](y) for y in clips], ("functionals",)))
    assert (~guard.in_domain(scores)).mean() >= 0.8, f"{shift}: median domain_score {np.median(scores):.3f}"


def test_saturated_recordings_score_further_out(guard_and_clips):
    """Gain alone is normalised away by the features; only the clipping it causes moves them."""
    guard, clips = guard_and_clips
    matched = guard.scores(features_of(clips, ("functionals",)))
    saturated = guard.scores(features_of([SHIFTS["clipped_gain_x20"](y) for y in clips], ("functionals",)))
    assert np.median(saturated) > 2 * np.median(matched)


def test_clipped_share_measures_saturation_not_level():
    t = np.arange(16_000) / 16_000
    tone = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    assert clipped_share(tone) == 0.0
    assert clipped_share(SHIFTS["clipped_gain_x20"](tone)) > 0.5
    assert clipped_share(np.zeros(0, np.float32)) == 0.0


def test_saturated_recordings_are_out_of_domain_whatever_their_features(guard_and_clips):
    guard, clips = guard_and_clips
    _, matched = guard.assess(features_of(clips, ("functionals",)))
    scores, saturated = guard.assess(features_of([SHIFTS["clipped_gain_x20"](y) for y in clips], ("functionals",)))
    assert matched.mean() >= 0.8
    assert (~saturated).mean() >= 0.8, f"clipped x20: median domain_score {np.median(scores):.3f}"
    assert guard.describe()["max_clipped_share"] > 0


def test_a_phone_line_is_out_of_domain_unless_training_heard_one(guard_and_clips):
    """The band is measured on the audio, as saturation is: the synthetic voices reach above 5 kHz and their
    phone-line copies do not; a guard whose training heard no narrowband audio flags every copy, and one whose
    training did leaves the verdict to the features."""
    from dataclasses import replace

    guard, clips = guard_and_clips
    studio, phone = (features_of(batch, ("functionals",)) for batch in (clips, [SHIFTS["telephone"](y) for y in clips]))
    assert (studio.rows["wideband_share"] > MIN_WIDEBAND_SHARE).all()
    assert (phone.rows["wideband_share"] < MIN_WIDEBAND_SHARE).all()
    assert not guard.narrowband_seen and not guard.assess(phone)[1].any()
    heard = replace(guard, narrowband_seen=True)
    np.testing.assert_array_equal(heard.assess(phone)[1], heard.in_domain(heard.scores(phone)))
    assert np.isnan(wideband_share(np.zeros(16_000, np.float32)))  # digital silence has no band to judge


def test_a_noise_floor_is_out_of_domain_unless_training_heard_noise(guard_and_clips):
    """The floor is measured on the audio and the limit fitted to the training recordings' own floors (the
    synthetic voices' quietest reach -22 dB: the limit follows them), so the same clips over a 5 dB SNR floor
    are flagged; a guard whose training heard added noise leaves the verdict to the features."""
    from dataclasses import replace

    guard, clips = guard_and_clips
    studio, noisy = (features_of(batch, ("functionals",)) for batch in (clips, [SHIFTS["noise_floor_5db"](y) for y in clips]))
    assert guard.max_noise_floor_db >= NOISE_FLOOR_LIMIT_DB
    assert (studio.rows["noise_floor_db"] < guard.max_noise_floor_db).mean() >= 0.9
    assert (noisy.rows["noise_floor_db"] > guard.max_noise_floor_db).all()
    assert not guard.assess(noisy)[1].any()
    heard = replace(guard, max_noise_floor_db=None)
    np.testing.assert_array_equal(heard.assess(noisy)[1], heard.in_domain(heard.scores(noisy)))


def test_noise_floor_db_measures_the_floor_not_the_level():
    rng = np.random.default_rng(0)
    t = np.arange(32_000) / 16_000
    speech_and_pause = np.where(t < 1.0, 0.3 * np.sin(2 * np.pi * 220 * t), 0.0).astype(np.float32)
    speech_and_pause += rng.normal(0, 1e-4, len(t)).astype(np.float32)  # a studio's floor, 70 dB down
    assert noise_floor_db(speech_and_pause) < -60
    assert noise_floor_db(0.01 * speech_and_pause) == pytest.approx(noise_floor_db(speech_and_pause), abs=0.5)
    assert noise_floor_db(SHIFTS["noise_floor_15db"](speech_and_pause)) > -25
    assert np.isnan(noise_floor_db(np.zeros(16_000, np.float32)))  # digital silence: no floor to judge
    assert np.isnan(noise_floor_db(np.ones(100, np.float32)))  # shorter than one frame


def test_guard_round_trips_without_pickle(guard_and_clips, tmp_path):
    guard, clips = guard_and_clips
    guard.save(tmp_path)
    loaded = DomainGuard.load(tmp_path)
    rows = features_of(clips[:3], ("functionals",))
    assert loaded.threshold == pytest.approx(guard.threshold, abs=1e-4)
    assert loaded.narrowband_seen == guard.narrowband_seen
    assert loaded.max_noise_floor_db == guard.max_noise_floor_db
    np.testing.assert_array_equal(loaded.scores(rows), guard.scores(rows))
    assert DomainGuard.load(tmp_path / "elsewhere") is None


def test_one_class_for_most_of_a_batch_is_reported():
    assert dominant_share(["sad", "sad", "angry"]) == ("sad", pytest.approx(2 / 3))
    assert collapse_warning(["fearful"] * 19 + ["sad"], "files").startswith("95% of 20 files")
    assert collapse_warning(["fearful"] * 8 + ["sad"] * 2, "files") is None  # 80%: a plausible batch
    assert collapse_warning(["fearful"] * 5, "files") is None  # too few to tell
