import json

import numpy as np
import pytest

from tasks.lib.augment import AugmentationRequest, TelephoneChannel, adds_noise, augment, presets, reaches_phone_band


def speechlike(seconds: float = 1.0, sr: int = 16_000) -> np.ndarray:
    return (np.random.default_rng(0).normal(0, 0.1, int(seconds * sr))).astype(np.float32)


@pytest.mark.parametrize("preset", sorted(presets()))
def test_each_preset_is_deterministic_per_copy(preset):
    y = speechlike()
    a, pa = augment(y, 16_000, "c/u1.wav", f"{preset}#0")
    b, pb = augment(y, 16_000, "c/u1.wav", f"{preset}#0")
    c, pc = augment(y, 16_000, "c/u1.wav", f"{preset}#1")
    assert np.array_equal(a, b) and pa == pb
    assert not np.array_equal(a, c) and pa != pc
    assert json.loads(pa)[0]["should_apply"] is True
    assert a.dtype == np.float32 and np.isfinite(a).all()


def band_energy_db(y: np.ndarray, lo: float, hi: float, sr: int = 16_000) -> float:
    spectrum = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / sr)
    return 10 * np.log10(spectrum[(freqs >= lo) & (freqs < hi)].sum() + 1e-20)


def test_telephone_preset_band_limits():
    y = speechlike(2.0)
    phone, params = augment(y, 16_000, "c/u1.wav", "telephone#0")
    assert len(phone) == len(y)
    in_band = band_energy_db(phone, 500, 3000)
    assert band_energy_db(phone, 4200, 8000) < in_band - 40  # energy above 4 kHz is gone
    assert band_energy_db(phone, 0, 100) < in_band - 25
    assert band_energy_db(y, 4200, 8000) > band_energy_db(y, 500, 3000) - 3  # the input was white
    assert {"low_hz", "high_hz"} <= set(json.loads(params)[0])


def test_presets_that_reach_the_phone_band():
    assert reaches_phone_band("telephone#0") and reaches_phone_band("call#1")
    assert not reaches_phone_band("speed#0") and not reaches_phone_band("none")


def test_presets_that_add_noise():
    assert adds_noise("noise#0") and adds_noise("call#1") and adds_noise("noise+pitch#0")
    assert not adds_noise("telephone#0") and not adds_noise("speed#1") and not adds_noise("none")


def test_transform_validates_parameters():
    with pytest.raises(ValueError):
        TelephoneChannel(min_low_hz=500, max_low_hz=400)
    with pytest.raises(ValueError, match="unknown augmentation preset"):
        AugmentationRequest.parse("reverbx2")
    assert AugmentationRequest.parse("noise+pitchx3").keys() == ["noise+pitch#0", "noise+pitch#1", "noise+pitch#2"]
    assert AugmentationRequest.parse("telephone").keys() == ["telephone#0"]


def test_copies_ignore_other_threads_drawing_from_the_global_generators():
    """A Dask worker's comms and Prefect's clients draw from `random` while a batch augments."""
    import random
    import threading

    y = speechlike()
    keys = [(f"c/u{i}.wav", f"{preset}#0") for i in range(4) for preset in ("noise+pitch", "gain", "shift")]
    quiet = [augment(y, 16_000, *key) for key in keys]
    stop = threading.Event()

    def draw_forever() -> None:
        while not stop.is_set():
            random.seed(1)
            random.random()
            np.random.seed(1)
            np.random.normal(size=8)

    noisy = threading.Thread(target=draw_forever)
    noisy.start()
    try:
        busy = [augment(y, 16_000, *key) for key in keys]
    finally:
        stop.set()
        noisy.join()
    for (a, pa), (b, pb) in zip(quiet, busy):
        assert pa == pb and np.array_equal(a, b)


def test_speed_perturbation_moves_pitch_and_duration_together():
    """At rate 1.1 a 200 Hz tone comes back at 220 Hz and 1/1.1 as long; rates outside 0.5..2 are refused."""
    from tasks.lib.augment import SpeedPerturbation

    sr = 16_000
    y = np.sin(2 * np.pi * 200 * np.arange(2 * sr) / sr).astype(np.float32)
    fast = SpeedPerturbation(1.1, 1.1, p=1.0)(samples=y, sample_rate=sr)
    assert len(fast) == pytest.approx(len(y) / 1.1, abs=2)
    peak_hz = np.fft.rfftfreq(len(fast), 1 / sr)[np.argmax(np.abs(np.fft.rfft(fast)))]
    assert peak_hz == pytest.approx(220, abs=1)
    with pytest.raises(ValueError):
        SpeedPerturbation(0.3, 1.1)
    _, params = augment(y, sr, "c/u1.wav", "speed#0")
    assert 0.85 <= json.loads(params)[0]["rate"] <= 1.15


def test_tone_contour_moves_pitch_and_reads_the_whole_input():
    """A 200 Hz tone's copy wanders over several semitones within the bound, and a ramp comes back whole:
    the contour changes how fast the input is read, never where it ends."""
    from tasks.lib.augment import ToneContour

    sr = 16_000
    y = np.sin(2 * np.pi * 200 * np.arange(2 * sr) / sr).astype(np.float32)
    copy, params = augment(y, sr, "c/u1.wav", "tone#0")
    frames = copy[: len(copy) // 640 * 640].reshape(-1, 640)  # 40 ms
    crossings = np.count_nonzero(np.diff(np.signbit(frames), axis=1), axis=1)
    semitones = 12 * np.log2(crossings / 2 / 0.04 / 200)
    assert semitones.max() - semitones.min() > 6 and np.abs(semitones).max() < 10.5
    assert max(abs(s) for s in json.loads(params)[0]["semitones"]) <= 9.0
    ramp = np.linspace(0, 1, sr, dtype=np.float32)
    slowest = ToneContour(9.0, 0.2, p=1.0)
    slowest.randomize_parameters(ramp, sr)
    slowest.parameters["semitones"][:] = -9.0  # 9 semitones down all along: read 2^(9/12) times slower
    read = slowest.apply(ramp, sr)
    assert read[0] == 0 and read[-1] > 0.999 and np.all(np.diff(read) > 0)
    assert len(read) == pytest.approx(sr * 2 ** (9 / 12), rel=0.01)
    with pytest.raises(ValueError):
        ToneContour(max_semitones=15)
    with pytest.raises(ValueError):
        ToneContour(knot_s=0.01)
