"""The decoded-audio cache: exactly the loader's output, written once, never trusted when damaged."""
import numpy as np
import soundfile as sf

from tasks.ingest import inspect_file
from tasks.lib.audio import load, read_native
from tasks.lib.audio_cache import AudioCache, recording_key
from tasks.lib.store import Store
from tests.conftest import tone


def test_entries_are_the_loaders_output_and_written_once(tmp_path):
    stereo, mono = tmp_path / "stereo.wav", tmp_path / "mono.flac"
    sf.write(stereo, np.stack([tone(0.7, 44_100, 300), tone(0.7, 44_100, 450)], axis=1), 44_100)
    sf.write(mono, tone(0.5, 16_000, 200), 16_000)
    cache = AudioCache(Store(str(tmp_path / "store")))
    for path in (stereo, mono):
        info = inspect_file(str(path), cache)
        cached = cache.get(recording_key(info))
        np.testing.assert_array_equal(cached, load(str(path)))  # bit for bit: features cannot tell
        assert cached.dtype == np.float32
        assert not cache.add(read_native(str(path)), recording_key(info))  # a re-ingest writes nothing
        cache.load(recording_key(info), str(path))
    assert cache.hits == 2


def test_damaged_or_missing_entry_falls_back_to_decoding(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, tone(0.5, 16_000, 200), 16_000)
    cache = AudioCache(Store(str(tmp_path / "store")))
    key = recording_key(inspect_file(str(path), cache))
    entry = next((tmp_path / "store" / "audio_cache").rglob("*.npy"))
    entry.write_bytes(entry.read_bytes()[:300])  # truncated, as a copy cut short would be
    assert cache.get(key) is None
    np.testing.assert_array_equal(cache.load(key, str(path)), load(str(path)))
    assert cache.get("0" * 64 + "-16000hz-1ch") is None
    np.testing.assert_array_equal(cache.load(None, str(path)), load(str(path)))
    assert cache.hits == 0  # every load above decoded the file
