import numpy as np
import pytest
import soundfile as sf

from tasks.lib.audio import AudioDecodeError, iter_blocks, load, read_native
from tests.conftest import tone


def test_stereo_8k_mulaw_is_downmixed_and_resampled(tmp_path):
    left, right = tone(1.0, 8000, 300), tone(1.0, 8000, 500)
    path = tmp_path / "call.wav"
    sf.write(path, np.stack([left, right], axis=1), 8000, subtype="ULAW")
    assert read_native(str(path)).channels == 2
    mono = load(str(path))
    assert mono.shape == (16_000,) and mono.dtype == np.float32
    both = load(str(path), mono=False)
    assert both.shape == (2, 16_000)


def test_same_audio_in_two_containers_hashes_equal(tmp_path):
    pcm = (tone(0.5) * 32767).astype(np.int16)  # identical samples; only the container differs
    sf.write(tmp_path / "a.wav", pcm, 16_000, subtype="PCM_16")
    sf.write(tmp_path / "b.flac", pcm, 16_000, subtype="PCM_16")
    sf.write(tmp_path / "c.wav", pcm[::-1], 16_000, subtype="PCM_16")
    h = [read_native(str(tmp_path / n)).pcm_sha256() for n in ("a.wav", "b.flac", "c.wav")]
    assert h[0] == h[1] != h[2]


@pytest.mark.parametrize("content", [b"", b"this is not audio at all", b"RIFF\x10\x00\x00\x00WAVEfmt "])
def test_bad_files_raise_decode_error(tmp_path, content):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioDecodeError):
        read_native(str(path))


def test_blocks_cover_the_file(tmp_path):
    sf.write(tmp_path / "long.wav", tone(5.0, 8000), 8000)
    blocks = list(iter_blocks(str(tmp_path / "long.wav"), block_s=2.0))
    assert [start for start, _ in blocks] == [0.0, 2.0, 4.0]
    assert sum(b.shape[1] for _, b in blocks) == 5 * 16_000


def test_blocks_are_sized_by_bytes_for_many_channels_at_high_rates(tmp_path, monkeypatch):
    import tasks.lib.audio as audio

    monkeypatch.setattr(audio, "MAX_BLOCK_BYTES", 96_000 * 6 * 4)  # one second of 96 kHz 6-channel float32
    sf.write(tmp_path / "wide.wav", np.tile(tone(3.0, 96_000)[:, None], (1, 6)), 96_000)
    blocks = list(iter_blocks(str(tmp_path / "wide.wav"), block_s=600.0))
    assert [start for start, _ in blocks] == [0.0, 1.0, 2.0]
    assert all(b.shape == (6, 16_000) for _, b in blocks)


def test_truncated_wav_is_an_error(tmp_path):
    sf.write(tmp_path / "full.wav", tone(2.0), 16_000, subtype="PCM_16")
    data = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioDecodeError, match="truncated"):
        read_native(str(tmp_path / "cut.wav"))
    with pytest.raises(AudioDecodeError, match="truncated"):
        list(iter_blocks(str(tmp_path / "cut.wav")))
    assert read_native(str(tmp_path / "full.wav")).duration_s == 2.0
