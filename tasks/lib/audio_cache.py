"""Decoded 16 kHz mono audio kept in the store by ingestion, so feature runs need not decode again.

Decoding Ogg/Opus is a large share of a `functionals` file's work (docs/benchmarks.md), and
ingestion decodes every file anyway to check and hash it. An entry is exactly the float32 array `tasks.lib.audio.load` returns (64 KB per second
of audio), keyed by what determines it: the decoded samples' hash, their rate and channel count.
Deleting `<store>/audio_cache` is always safe: readers fall back to decoding the file.
"""
from __future__ import annotations

import io

import numpy as np

from tasks.lib.audio import TARGET_SR, DecodedAudio, load
from tasks.lib.store import Store

VERSION = 1  # bump when the loader's output for the same file changes (downmix, resampler)
FOLDER = f"audio_cache/v{VERSION}-{TARGET_SR}hz-mono"


def cache_key(audio_sha256: str, sample_rate: int, channels: int) -> str:
    """Same decoded samples at another rate or channel count are different audio."""
    return f"{audio_sha256}-{sample_rate}hz-{channels}ch"


def recording_key(row) -> str:
    """The cache key of a manifest row's recording (any object with the manifest's columns as attributes)."""
    return cache_key(row.audio_sha256, row.sample_rate, row.channels)


class AudioCache:
    """`.npy` files under one store folder, written atomically, read back as float32."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.hits = 0  # load() calls served from the cache, so a run can say how many files it decoded

    @staticmethod
    def _relpath(key: str) -> str:
        return f"{FOLDER}/{key[:2]}/{key}.npy"

    def add(self, audio: DecodedAudio, key: str) -> bool:
        """Keep the loader's output for this audio unless an entry exists; True when written."""
        if self.store.fs.exists(self.store.path(self._relpath(key))):
            return False
        buf = io.BytesIO()
        np.save(buf, audio.resampled(TARGET_SR, mono=True), allow_pickle=False)
        self.store.write_bytes(buf.getvalue(), self._relpath(key))
        return True

    def get(self, key: str) -> np.ndarray | None:
        """The cached audio, or None when absent or unreadable."""
        try:
            with self.store.fs.open(self.store.path(self._relpath(key)), "rb") as fh:
                y = np.load(fh, allow_pickle=False)
        except (OSError, ValueError, EOFError):  # absent or damaged (a truncated copy, a foreign file)
            return None
        return y if y.dtype == np.float32 and y.ndim == 1 else None

    def load(self, key: str | None, path: str) -> np.ndarray:
        """Cached audio when there is an entry, else the file decoded by the one loader."""
        y = self.get(key) if key else None
        if y is None:
            return load(path, sr=TARGET_SR)
        self.hits += 1
        return y

    def load_recording(self, row) -> np.ndarray:
        """A manifest row's audio: cached when ingestion kept it, else decoded from its path."""
        return self.load(recording_key(row), row.path)
