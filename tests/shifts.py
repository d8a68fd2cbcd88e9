"""Recording conditions unlike a clean studio corpus, applied to audio for the robustness tests."""
import numpy as np

from tasks.lib.augment import TelephoneChannel


def clipped_gain(y: np.ndarray, gain: float = 20.0) -> np.ndarray:
    """An input stage set far too hot: the waveform saturates, as a recorder would clip it."""
    return np.clip(y * gain, -1.0, 1.0).astype(np.float32)


def noise_floor(y: np.ndarray, snr_db: float = 15.0, seed: int = 0) -> np.ndarray:
    """Broadband noise at the given SNR relative to the clip's power."""
    rng = np.random.default_rng(seed)
    power = float(np.mean(y ** 2)) or 1e-8
    return (y + rng.normal(0, np.sqrt(power / 10 ** (snr_db / 10)), len(y))).astype(np.float32)


def telephone(y: np.ndarray) -> np.ndarray:
    """Band-limited to 300-3400 Hz, through 8 kHz mu-law and back."""
    # Fixed band edges: the preset draws them from the unseeded global `random`, which made these tests flaky.
    return TelephoneChannel(300.0, 300.0, 3400.0, 3400.0, p=1.0)(y, sample_rate=16_000)


SHIFTS = {"clipped_gain_x20": clipped_gain, "noise_floor_15db": noise_floor,
          "noise_floor_5db": lambda y: noise_floor(y, 5.0), "telephone": telephone}
