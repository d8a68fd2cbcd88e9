"""Feature sets: shapes, finite output on hard input, the fast descriptors against librosa, config hashes."""
import numpy as np
import pytest

from tasks.lib.feature_sets import FEATURE_SETS
from tests.conftest import tone


@pytest.mark.parametrize("name,frame_level,bins", [
    ("functionals", False, 211 * 10 + 13), ("logmel", True, 64), ("mfcc_seq", True, 40), ("mfcc40_mean", False, 40),
    ("ge2e", False, 256), ("ge2e_layers", False, 3 * 2 * 256 + 256), ("functionals_ge2e", False, 211 * 10 + 13 + 256)])
def test_shapes_and_finite_on_silence_and_clipping(name, frame_level, bins):
    fs = FEATURE_SETS[name]
    speech = tone(1.0, freq=180)
    for y in (speech, np.zeros(16_000, np.float32), np.clip(speech * 100, -1, 1), np.zeros(50, np.float32)):
        x = fs.extract(y)
        assert x.dtype == np.float32 and x.shape[1] == bins and np.isfinite(x).all()
    x = fs.extract(speech)
    assert x.shape[0] == (101 if frame_level else 1)  # 10 ms hop over 1 s, centred frames
    if name.startswith("functionals"):
        assert len(fs.names()) == bins and fs.names()[0] == "mfcc00__mean"


def test_fast_descriptors_match_librosa():
    """The one-pass spectral shape, cumulative-count ZCR, torch STFT, sorted percentiles, cached delta and
    chroma kernels and partial-sort contrast replace librosa/numpy calls for speed only: same numbers."""
    import librosa
    import scipy.stats

    from tasks.lib.feature_sets.functionals import (
        STATISTICS,
        chromagram,
        delta,
        spectral_contrast,
        spectral_shape,
        statistics,
        zero_crossing_rate,
    )
    from tasks.lib.feature_sets.spectra import FrameConfig, power_spectrogram

    rng = np.random.default_rng(3)
    y = (tone(1.3, freq=210) + rng.normal(0, 0.02, 20_800)).astype(np.float32)
    y[5_000:7_000] = 0.0  # digital silence: no crossings, zero-energy frames
    fc = FrameConfig()
    power = power_spectrogram(y, fc)
    reference = np.abs(librosa.stft(y, n_fft=fc.n_fft, hop_length=fc.hop_length, win_length=fc.win_length)) ** 2
    np.testing.assert_allclose(power, reference, rtol=1e-3, atol=1e-6 * reference.max())
    mag, freqs = np.sqrt(reference), librosa.fft_frequencies(sr=fc.sample_rate, n_fft=fc.n_fft)
    ours = spectral_shape(mag, reference, freqs, 0.85)
    kw = {"S": mag, "sr": fc.sample_rate, "n_fft": fc.n_fft}
    theirs = [librosa.feature.spectral_centroid(**kw), librosa.feature.spectral_bandwidth(**kw),
              librosa.feature.spectral_rolloff(**kw), librosa.feature.spectral_flatness(S=mag)]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b[0], rtol=1e-3, atol=1e-3)
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=fc.win_length, hop_length=fc.hop_length)[0]
    np.testing.assert_array_equal(zero_crossing_rate(y, fc.win_length, len(zcr), fc.hop_length), zcr)
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=reference, sr=fc.sample_rate))
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=40)
    for order in (1, 2):
        np.testing.assert_allclose(delta(mfcc, 9, order),
                                   librosa.feature.delta(mfcc, width=9, order=order, mode="nearest"), atol=1e-4)
    np.testing.assert_allclose(chromagram(reference, fc.sample_rate, fc.n_fft),
                               librosa.feature.chroma_stft(S=reference, sr=fc.sample_rate, n_fft=fc.n_fft, tuning=0.0),
                               rtol=1e-5)
    for quantile in (0.02, 0.2):
        np.testing.assert_allclose(spectral_contrast(mag, fc.sample_rate, fc.n_fft, 100.0, 6, quantile),
                                   librosa.feature.spectral_contrast(**kw, fmin=100.0, n_bands=6, quantile=quantile),
                                   rtol=1e-4, atol=1e-3)
    lld = rng.normal(size=(5, 37))
    stats = statistics(lld, 0.01).reshape(5, len(STATISTICS))
    np.testing.assert_allclose(stats[:, 2:5], np.percentile(lld, [10, 50, 90], axis=1).T)
    q5, q25, q75, q95 = np.percentile(lld, [5, 25, 75, 95], axis=1)
    np.testing.assert_allclose(stats[:, 6:8], np.column_stack([q75 - q25, q95 - q5]))
    np.testing.assert_allclose(stats[:, 8:], np.column_stack([scipy.stats.skew(lld, axis=1), scipy.stats.kurtosis(lld, axis=1)]))


def test_prosody_reads_pitch_from_voiced_frames_only():
    """A 200 Hz voice broken by unvoiced gaps: pitch level from the voiced frames, and the runs counted."""
    from tasks.lib.feature_sets.functionals import PROSODY, prosody

    f0 = np.full(300, 12 * np.log2(200 / 100))
    voiced = np.zeros(300, bool)
    voiced[20:100] = voiced[150:250] = True
    f0[~voiced] = 0.0  # what the descriptor holds where YIN's answer is not voiced
    out = dict(zip(PROSODY, prosody(f0, voiced, 0.01)))
    assert out["f0_voiced_mean"] == pytest.approx(12.0) and out["f0_voiced_std"] == pytest.approx(0.0)
    assert out["voiced_share"] == pytest.approx(0.6) and out["voiced_runs_per_s"] == pytest.approx(2 / 3)
    assert out["voiced_run_mean_s"] == pytest.approx(0.9)
    assert prosody(f0, np.zeros(300, bool), 0.01)[0] == 0.0  # no voicing: no pitch statistics of noise


def test_config_hash_versions_the_config():
    from dataclasses import replace
    fs = FEATURE_SETS["mfcc_seq"]
    other = replace(fs, config=replace(fs.config, n_mfcc=13))
    assert other.config_hash != fs.config_hash and other.extract(tone()).shape[1] == 13
    assert replace(fs, code_version=fs.code_version + 1).config_hash != fs.config_hash


def test_functionals_ge2e_is_the_functionals_then_the_embedding(small_corpus):
    from tasks.lib.audio import load

    y = load(str(next(small_corpus.rglob("*.wav"))))
    both = FEATURE_SETS["functionals_ge2e"].extract(y)
    np.testing.assert_array_equal(both, np.hstack([FEATURE_SETS["functionals"].extract(y), FEATURE_SETS["ge2e"].extract(y)]))
    assert FEATURE_SETS["functionals_ge2e"].names()[-1] == "ge2e255"
    assert not FEATURE_SETS["ge2e"].extract(np.zeros(16_000, np.float32)).any()  # digital silence: zeros


def test_ge2e_batched_is_resemblyzers_embedding_of_each_clip(small_corpus):
    """The partials of many clips go through the LSTM together; each clip's embedding is what resemblyzer's
    embed_utterance gives for it at the encoder's level with long pauses trimmed."""
    from resemblyzer.audio import normalize_volume, trim_long_silences

    from tasks.lib.audio import load
    from tasks.lib.feature_sets.voice import encoder

    clips = [load(str(p)) for p in sorted(small_corpus.rglob("*.wav"))[:5]] + [np.zeros(4_000, np.float32)]
    fs = FEATURE_SETS["ge2e"]
    batched = fs.extract_many(clips)
    for clip, embedding in zip(clips, batched):
        np.testing.assert_allclose(embedding, fs.extract(clip), atol=1e-5)
    prepared = trim_long_silences(np.clip(normalize_volume(clips[0].astype(np.float64), -30.0), -1, 1))
    np.testing.assert_allclose(batched[0][0], encoder().embed_utterance(prepared.astype(np.float32)), atol=1e-5)
    assert not batched[-1].any()


def test_ge2e_layers_are_the_encoder_layers_then_the_embedding(small_corpus):
    """Each LSTM layer's mean and std over frames, read from the encoder's own weights: the last layer's final
    frame gives back resemblyzer's embedding, and different clips give different statistics."""
    import torch

    from tasks.lib.audio import load
    from tasks.lib.feature_sets.voice import encoder, encoder_layers

    clips = [load(str(p)) for p in sorted(small_corpus.rglob("*.wav"))[:4]]
    layered = FEATURE_SETS["ge2e_layers"].extract_many(clips)
    for clip, x in zip(clips, layered):
        np.testing.assert_allclose(x[:, -256:], FEATURE_SETS["ge2e"].extract(clip), atol=1e-5)
    assert FEATURE_SETS["ge2e_layers"].names()[0] == "ge2e_l1_mean000" and FEATURE_SETS["ge2e_layers"].names()[-1] == "ge2e255"
    partials = torch.randn(3, 160, 40)
    with torch.no_grad():
        out = partials
        for layer in encoder_layers():
            out, _ = layer(out)
        np.testing.assert_allclose(out.numpy(), encoder().lstm(partials)[0].numpy(), atol=1e-6)
    stats = np.vstack(layered)[:, :-256]
    assert (stats.std(axis=0) > 0).mean() > 0.9  # the clips differ in most statistics
    assert not FEATURE_SETS["ge2e_layers"].extract(np.zeros(16_000, np.float32)).any()  # digital silence: zeros


@pytest.mark.parametrize("name", ["functionals", "logmel", "ge2e", "ge2e_layers"])
def test_features_ignore_recording_gain_and_silence_padding(name, small_corpus):
    """The same voice at another gain, or padded with digital silence, gives (nearly) the same features."""
    from tasks.lib.audio import load

    fs = FEATURE_SETS[name]
    y = load(str(next(small_corpus.rglob("*.wav")))) * 0.05
    base = fs.extract(y)
    louder = fs.extract(y * 20)
    np.testing.assert_allclose(louder, base, rtol=1e-3, atol=1e-2 * np.abs(base).max())
    if not fs.frame_level:
        padded = fs.extract(np.concatenate([np.zeros(8_000, np.float32), y, np.zeros(16_000, np.float32)]))
        slope = np.array([n.endswith("__slope") for n in fs.names()])
        rel = np.abs(padded - base)[0, ~slope] / (np.abs(base)[0, ~slope] + 1.0)
        assert np.median(rel) < 0.02 and np.quantile(rel, 0.95) < 0.2


def test_deltas_do_not_measure_the_jump_into_silence(small_corpus):
    """A recording that opens with digital silence (RAVDESS's do; EMO-DB's start mid-speech) keeps its delta
    statistics: deltas are summarised over frames whose window lies inside speech. Counting the onset's jump
    from the silence floor moved some of them by 170-510% of their value."""
    from tasks.lib.audio import load

    fs = FEATURE_SETS["functionals"]
    deltas = np.array([n.startswith(("d_", "dd_")) for n in fs.names()])
    for path in sorted(small_corpus.rglob("*.wav"))[:3]:
        y = load(str(path))
        base, opened = fs.extract(y)[0], fs.extract(np.concatenate([np.zeros(8_000, np.float32), y]))[0]
        rel = np.abs(opened - base)[deltas] / (np.abs(base)[deltas] + 1.0)
        assert rel.max() < 0.5 and np.median(rel) < 0.02


def test_encoder_front_end_is_resemblyzers(small_corpus):
    """The faster pause trimming keeps exactly resemblyzer's samples, and the mel frames match its own."""
    from resemblyzer import audio, hparams

    from tasks.lib.audio import load
    from tasks.lib.feature_sets import voice

    assert (voice.ENCODER_RATE, voice.ENCODER_FRAMES.n_mels, voice.VAD_SMOOTHING, voice.VAD_MAX_SILENCE) == (
        hparams.sampling_rate, hparams.mel_n_channels, hparams.vad_moving_average_width, hparams.vad_max_silence_length)
    assert voice.VAD_WINDOW == hparams.vad_window_length * hparams.sampling_rate // 1000
    assert (voice.ENCODER_LAYERS, voice.EMBEDDING_SIZE, voice.EMBEDDING_SIZE) == (
        hparams.model_num_layers, hparams.model_hidden_size, hparams.model_embedding_size)
    y = load(str(next(small_corpus.rglob("*.wav"))))
    paused = np.concatenate([y, np.zeros(16_000, np.float32), y]).astype(np.float64)  # a second of pause inside
    trimmed = voice.trim_long_silences(paused)
    np.testing.assert_array_equal(trimmed, audio.trim_long_silences(paused))
    assert len(y) < len(trimmed) < len(paused) - 8_000  # voice kept, at least half the pause cut
    np.testing.assert_allclose(voice.mel_spectrogram(y), audio.wav_to_mel_spectrogram(y), rtol=1e-3, atol=1e-6)
