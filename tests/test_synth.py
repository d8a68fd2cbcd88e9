import hashlib

import librosa
import numpy as np

from tasks.lib.audio import load
from tasks.lib.synth import EMOTIONS, make_speakers, synth_corpus


def digest(paths) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()


def test_seeded_and_deterministic(tmp_path):
    a = synth_corpus(tmp_path / "a", n_speakers=2, emotions=("sad", "angry"), repetitions=1)
    b = synth_corpus(tmp_path / "b", n_speakers=2, emotions=("sad", "angry"), repetitions=1)
    c = synth_corpus(tmp_path / "c", n_speakers=2, emotions=("sad", "angry"), repetitions=1, seed=1)
    assert [p.name for p in a] == [p.name for p in b]
    assert digest(a) == digest(b) != digest(c)


def test_ravdess_layout(small_corpus):
    files = sorted(small_corpus.rglob("*.wav"))
    assert len(files) == 4 * (1 + 7 * 2) * 2  # speakers x (neutral + 7 emotions x 2 intensities) x statements
    assert {p.parent.name for p in files} == {"Actor_01", "Actor_02", "Actor_03", "Actor_04"}


def median_f0(path) -> float:
    f0 = librosa.yin(load(str(path)), fmin=60, fmax=600, sr=16_000)
    return float(np.median(f0))


def test_emotions_and_speakers_differ_in_pitch(small_corpus):
    actor1 = small_corpus / "Actor_01"
    sad = median_f0(actor1 / "03-01-04-01-01-01-01.wav")
    happy = median_f0(actor1 / "03-01-03-01-01-01-01.wav")
    female = median_f0(small_corpus / "Actor_02" / "03-01-04-01-01-01-02.wav")
    assert happy > sad * 1.2
    assert female > sad * 1.5
    speakers = make_speakers(4)
    assert len({round(s.f0_hz) for s in speakers}) == 4
    assert set(EMOTIONS) == {"neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"}
