"""The one audio loader: any soundfile-readable file -> float32 at 16 kHz, per channel or downmixed."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import fsspec
import librosa
import numpy as np
import scipy.fft
import soundfile as sf

from data_contracts.reasons import Reason

TARGET_SR = 16_000
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".opus", ".mp3", ".aif", ".aiff"})


class AudioDecodeError(Exception):
    """The file could not be decoded as audio; the message says why, `reason` is its quarantine/reject code."""

    reason = Reason.UNDECODABLE


class NonFiniteAudio(AudioDecodeError):
    """The file decoded, but to NaN, inf or values no recording holds (a float file can store anything)."""

    reason = Reason.NON_FINITE_SAMPLES


MAX_ABS_SAMPLE = 1e3  # float audio is nominally within [-1, 1]; far beyond it the numbers are not sound


def check_samples(samples: np.ndarray) -> np.ndarray:
    """`samples` unchanged, or NonFiniteAudio; the one check both ingestion and scoring rely on."""
    if not np.isfinite(samples).all():
        raise NonFiniteAudio("decoded samples contain NaN or inf")
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    if peak > MAX_ABS_SAMPLE:
        raise NonFiniteAudio(f"decoded samples reach {peak:.1e}, far outside [-1, 1]")
    return samples


FULL_SCALE = 0.95  # of digital full scale: mu-law tops out at 0.98, and resampling smooths a clipped plateau


# 1 kHz above an 8 kHz line's 4 kHz Nyquist, past the resampler's transition band: a phone line carries
# nothing up there (docs/benchmarks.md, the guard section).
NARROWBAND_TOP_HZ = 5_000.0


def clipped_share(y: np.ndarray) -> float:
    """Share of samples at full scale: near zero for a recording, large for one whose input stage saturated."""
    return float(np.mean(np.abs(y) >= FULL_SCALE)) if y.size else 0.0


def wideband_share(y: np.ndarray, sr: int = TARGET_SR) -> float:
    """Share of the clip's power above NARROWBAND_TOP_HZ: next to nothing for audio that came through an 8 kHz
    phone line, whatever the line added below that; NaN for digital silence."""
    spectrum = scipy.fft.rfft(np.asarray(y, dtype=np.float32))  # float32: it runs on every scored window
    power = spectrum.real * spectrum.real + spectrum.imag * spectrum.imag
    total = float(power.sum(dtype=np.float64))
    if total == 0.0:
        return float("nan")
    first = int(np.ceil(NARROWBAND_TOP_HZ * len(y) / sr))  # rfft bin i sits at i * sr / len(y) Hz
    return float(power[first:].sum(dtype=np.float64) / total)


NOISE_FRAME = 512  # 32 ms at 16 kHz: long enough to average a noise floor, short enough to fit in a pause


def noise_floor_db(y: np.ndarray) -> float:
    """The quietest 2% of 32 ms frames against the loudest 5%, in dB: -41 and below for RAVDESS's recordings
    (pauses included), above -25 for speech over a 15 dB SNR noise floor; floored at -120, NaN for digital silence."""
    if len(y) < NOISE_FRAME:
        return float("nan")
    rms = librosa.feature.rms(y=np.asarray(y, dtype=np.float32), frame_length=NOISE_FRAME, hop_length=NOISE_FRAME,
                              center=False)[0]
    quiet, loud = np.percentile(rms**2, (2, 95))  # mean power per frame, as the energy ratio it stands for
    if loud == 0.0:
        return float("nan")
    return float(10 * np.log10(max(quiet, loud * 1e-12) / loud))


def rms_dbfs(y: np.ndarray) -> float:
    """RMS level in dB re digital full scale (-200 for digital silence)."""
    return float(20 * np.log10(max(float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0, 1e-10)))


@dataclass(frozen=True)
class DecodedAudio:
    """A whole file at its native rate, with the facts ingestion records about it."""

    samples: np.ndarray  # (frames, channels) float32
    sample_rate: int

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.sample_rate

    @property
    def peak(self) -> float:
        return float(np.abs(self.samples).max()) if self.samples.size else 0.0

    def pcm_sha256(self) -> str:
        """Hash of the decoded samples, so re-encoded copies of one recording collide."""
        return hashlib.sha256(np.ascontiguousarray(self.samples).tobytes()).hexdigest()

    def resampled(self, sr: int = TARGET_SR, mono: bool = True) -> np.ndarray:
        """(n,) when mono (channels averaged), else (channels, n), at sr."""
        x = self.samples.T  # (channels, frames)
        if mono:
            x = x.mean(axis=0)
        return resample(x, self.sample_rate, sr)


_SHORT_CHUNK = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def _check_complete(snd: sf.SoundFile) -> None:
    """libsndfile reads a truncated WAV without complaint; its header log says when data is missing."""
    m = _SHORT_CHUNK.search(snd.extra_info or "")
    if m and int(m.group(2)) < int(m.group(1)):
        raise AudioDecodeError(f"truncated: header promises {m.group(1)} data bytes, file holds {m.group(2)}")


@contextmanager
def _open(path: str) -> Iterator[sf.SoundFile]:
    """Open a local path or fsspec URL with soundfile, turning every failure into AudioDecodeError."""
    try:
        if "://" in path:
            with fsspec.open(path, "rb") as fh, sf.SoundFile(fh) as snd:
                _check_complete(snd)
                yield snd
        else:
            with sf.SoundFile(path) as snd:
                _check_complete(snd)
                yield snd
    except AudioDecodeError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, OSError, EOFError) as exc:
        raise AudioDecodeError(f"{type(exc).__name__}: {exc}") from exc


def read_native(path: str) -> DecodedAudio:
    """Decode a whole file at its own rate and channel count."""
    with _open(path) as snd:
        try:
            samples = snd.read(dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            raise AudioDecodeError(f"{type(exc).__name__}: {exc}") from exc
        rate = snd.samplerate
    return DecodedAudio(samples=check_samples(samples), sample_rate=rate)


def resample(x: np.ndarray, orig_sr: int, target_sr: int = TARGET_SR) -> np.ndarray:
    """Resample along the last axis (soxr), a no-op at the target rate."""
    if orig_sr == target_sr:
        return x.astype(np.float32, copy=False)
    return librosa.resample(x, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq").astype(np.float32)


def load(path: str, sr: int = TARGET_SR, mono: bool = True) -> np.ndarray:
    """Decoded, resampled audio: (n,) when mono (channels averaged), else (channels, n)."""
    return read_native(path).resampled(sr, mono)


MAX_BLOCK_BYTES = 64 * 2 ** 20  # decoded float32 samples held at the native rate, whatever the rate and channels


def iter_blocks(path: str, block_s: float = 600.0, sr: int = TARGET_SR) -> Iterator[tuple[float, np.ndarray]]:
    """(start_s, (channels, n) block at sr) over a long file, holding one block in memory: at most block_s
    seconds and at most MAX_BLOCK_BYTES of native-rate samples, so 96 kHz 6-channel files stay bounded too."""
    with _open(path) as snd:
        native_sr = snd.samplerate
        by_bytes = MAX_BLOCK_BYTES // (4 * snd.channels)
        block_frames = max(1, min(int(block_s * native_sr), by_bytes))
        start = 0
        try:
            for block in snd.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
                yield start / native_sr, resample(check_samples(block).T, native_sr, sr)
                start += block.shape[0]
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            raise AudioDecodeError(f"{type(exc).__name__} after {start / native_sr:.1f} s: {exc}") from exc


def write_wav(path: str | IO[bytes], x: np.ndarray, sr: int, subtype: str = "PCM_16") -> None:
    """Write (n,) or (channels, n) float audio as WAV."""
    data = x.T if x.ndim == 2 else x
    sf.write(path, data, sr, subtype=subtype, format="WAV")
