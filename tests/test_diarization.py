"""The speaker space: learnt from training speakers, it splits an unseen pair of voices on one channel and
keeps their names across blocks of a long call."""
import numpy as np
import pandas as pd

from ser_models.data import FeatureData
from ser_models.diarization import SpeakerSpace

DIM, SET = 40, "functionals"


def voices(n: int, rng: np.random.Generator) -> np.ndarray:
    """Speaker offsets in a few 'voice' dimensions; the rest of each row is emotion and noise."""
    centres = np.zeros((n, DIM))
    centres[:, :4] = rng.normal(0, 3, (n, 4))
    return centres


def pair() -> np.ndarray:
    """Two voices no training speaker had, as far apart as two training speakers typically are."""
    centres = np.zeros((2, DIM))
    centres[:, :4] = [[3, -2, 1, 2], [-3, 2, -1, -2]]
    return centres


def rows(centres: np.ndarray, per_speaker: int, rng: np.random.Generator) -> tuple[FeatureData, np.ndarray]:
    """per_speaker rows of each voice; emotion moves every row a lot along dimensions 4-9."""
    truth = np.repeat(np.arange(len(centres)), per_speaker)
    x = centres[truth] + rng.normal(0, 0.5, (len(truth), DIM))
    x[:, 4:10] += rng.normal(0, 4, (len(truth), 6))
    frame = pd.DataFrame({"speaker_id": [f"s{t}" for t in truth], "augmentation": "none"})
    return FeatureData(frame, {SET: [v[None, :].astype(np.float32) for v in x]}), truth


def test_splits_two_unseen_voices_and_names_the_first_one_spk0():
    rng = np.random.default_rng(0)
    space = SpeakerSpace.fit(rows(voices(12, rng), 40, rng)[0], SET)
    channel, truth = rows(pair(), 15, rng)
    order = rng.permutation(len(truth))
    labels = space.diarize(channel.subset(order), [])
    agree = np.mean(labels == truth[order])
    assert labels[0] == 0 and max(agree, 1 - agree) >= 0.95


def test_a_later_block_keeps_the_voices_names_whoever_speaks_first():
    rng = np.random.default_rng(1)
    space = SpeakerSpace.fit(rows(voices(12, rng), 40, rng)[0], SET)
    first, truth_first = rows(pair(), 10, rng)
    second, truth_second = rows(pair()[::-1], 10, rng)  # the other voice opens the second block
    known: list[np.ndarray] = []
    assert np.array_equal(space.diarize(first, known), truth_first) and len(known) == 2
    assert np.array_equal(space.diarize(second, known), 1 - truth_second)
    alone = space.diarize(rows(pair()[1:], 3, rng)[0], known)  # three windows: too few to split, the nearer voice
    assert (alone == 1).all()


def test_too_few_training_speakers_give_no_space_and_a_saved_space_loads_the_same(tmp_path):
    rng = np.random.default_rng(2)
    assert SpeakerSpace.fit(rows(voices(2, rng), 20, rng)[0], SET) is None
    space = SpeakerSpace.fit(rows(voices(6, rng), 20, rng)[0], SET)
    space.save(tmp_path)
    loaded = SpeakerSpace.load(tmp_path)
    assert np.allclose(loaded.projection, space.projection) and loaded.describe() == space.describe()
    assert SpeakerSpace.load(tmp_path / "elsewhere") is None
