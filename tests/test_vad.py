"""VAD: silero's speech regions (exact and streamed) and how regions become scoring windows."""
import numpy as np
import pytest

from tasks.lib.synth import synth_calls
from tasks.lib.vad import WindowConfig, merge_regions, windows


def test_windows_cover_regions():
    cfg = WindowConfig()
    regions = merge_regions([(1.0, 1.5), (1.6, 2.0), (5.0, 14.0)], cfg.merge_gap_s)
    assert regions == [(1.0, 2.0), (5.0, 14.0)]
    wins = windows(regions, cfg, 20.0)
    assert wins[0] == pytest.approx((0.75, 2.25))  # short region grown to 1.5 s around its centre
    long = [w for w in wins if w[0] >= 5.0]
    assert long[0][0] == 5.0 and long[-1][1] == 14.0 and all(e - s == 3.0 for s, e in long)


def test_vad_rules_match_silero_and_streams_agree(tmp_path):
    import torch
    from silero_vad import get_speech_timestamps

    from tasks.lib.audio import load
    from tasks.lib.vad import speech_regions, vad_model

    synth_calls(tmp_path, n_calls=2, turns=4)
    y = load(str(tmp_path / "call001.wav"))  # mono 16 kHz
    model = vad_model()
    model.reset_states()
    ref = [(s["start"] / 16000, s["end"] / 16000) for s in
           get_speech_timestamps(torch.from_numpy(y), model, sampling_rate=16000, min_speech_duration_ms=250)]
    exact = speech_regions(y, WindowConfig(vad_stream_s=0, vad_sample_rate=16_000))
    assert len(exact) == len(ref) and np.allclose(exact, ref, atol=0.04)

    def mask(regions):
        grid = np.zeros(int(len(y) / 160) + 1, bool)
        for a, b in regions:
            grid[int(a * 100):int(b * 100)] = True
        return grid

    streamed = speech_regions(y, WindowConfig(vad_stream_s=5.0, vad_sample_rate=16_000))  # many parallel streams
    assert np.mean(mask(streamed) == mask(ref)) > 0.9
    narrow = speech_regions(y, WindowConfig(vad_stream_s=0))  # the default: silero's 8 kHz model
    assert narrow != exact and np.mean(mask(narrow) == mask(ref)) > 0.9


def test_one_vad_pass_over_both_channels_finds_what_each_channel_alone_finds(tmp_path):
    """The channels of a stereo block share one ONNX batch; each channel's regions stay its own."""
    from tasks.lib.audio import load
    from tasks.lib.vad import channel_speech_regions, speech_regions

    synth_calls(tmp_path, n_calls=1, turns=4)
    block = load(str(tmp_path / "call000.wav"), mono=False)  # stereo: agent left, customer right
    cfg = WindowConfig()
    together = channel_speech_regions(block, cfg, offset_s=60.0)
    alone = [speech_regions(y, cfg, offset_s=60.0) for y in block]
    assert len(together) == 2 and together[0] != together[1]
    for both, one in zip(together, alone, strict=True):
        assert len(both) == len(one) and np.allclose(both, one, atol=1e-6)


def test_window_config_is_validated():
    with pytest.raises(ValueError, match="min_window_s"):
        WindowConfig(min_window_s=5.0, window_s=3.0)
    with pytest.raises(ValueError, match="hop_s"):
        WindowConfig(hop_s=4.0, window_s=3.0)
    with pytest.raises(ValueError, match="vad_sample_rate"):
        WindowConfig(vad_sample_rate=22_050)
