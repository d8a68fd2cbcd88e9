"""The speaking-rate proxy counts the syllables of synthetic speech, whose syllables are known."""
import numpy as np
import pytest

from tasks.lib.speech_rate import syllable_times
from tasks.lib.synth import EMOTIONS, SR, VOWELS, make_speakers, synth_speech, telephone_line


@pytest.mark.parametrize("emotion", ["sad", "neutral", "fearful"])  # 2.7, 4.0 and 5.6 syllables per second
def test_counts_every_syllable_at_any_tempo_also_through_a_phone_line(emotion):
    rng = np.random.default_rng(5)
    for speaker in make_speakers(2):
        vowels = "".join(rng.choice(list(VOWELS), 10))
        y = synth_speech(speaker, EMOTIONS[emotion], vowels, rng)
        assert len(syllable_times(y, SR)) == 10
        assert len(syllable_times(telephone_line(y, 8_000), 8_000)) == 10


def test_silence_noise_and_a_click_have_no_syllables():
    rng = np.random.default_rng(0)
    assert len(syllable_times(np.zeros(SR, np.float32), SR)) == 0
    assert len(syllable_times(rng.normal(0, 0.01, SR).astype(np.float32), SR)) == 0
    assert len(syllable_times(np.ones(10, np.float32), SR)) == 0
