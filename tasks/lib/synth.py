"""The embedded demo data: a seeded source-filter 'speech' corpus with RAVDESS names."""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy.signal import lfilter

from data_contracts.labels import label_table
from tasks.lib.audio import write_wav

SR = 16_000
# Male formants (Hz) of the vowels used by the two RAVDESS statements.
VOWELS = {"i": (270, 2290, 3010), "a": (730, 1090, 2440), "o": (570, 840, 2410), "e": (500, 1500, 2500)}
STATEMENTS = {1: "iaoiaeo", 2: "oaiiaeo"}  # "Kids are talking by the door" / "Dogs are sitting by the door"
FORMANT_BANDWIDTHS_HZ = (80.0, 100.0, 130.0)


@dataclass(frozen=True)
class Prosody:
    """How one emotion is spoken: pitch level and range, tempo, loudness, voice quality, tilt."""

    f0_scale: float = 1.0       # x speaker's F0
    f0_range_st: float = 2.0    # accent spread, semitones
    final_rise_st: float = 0.0  # contour at the end (questions, surprise)
    tempo_syl_s: float = 4.0
    energy_db: float = 0.0
    jitter: float = 0.005       # relative F0 noise
    tremor_depth: float = 0.0   # relative F0 modulation at 6 Hz
    breath: float = 0.03        # aspiration noise level
    tilt: float = 0.5           # one-pole low-pass coefficient: higher is darker

    def stronger(self, factor: float) -> Prosody:
        """Exaggerate every deviation from neutral (RAVDESS 'strong' intensity)."""
        base = Prosody()
        return Prosody(**{k: getattr(base, k) + factor * (getattr(self, k) - getattr(base, k))
                          for k in self.__dataclass_fields__})


EMOTIONS: dict[str, Prosody] = {
    "neutral": Prosody(),
    "calm": Prosody(f0_scale=0.95, f0_range_st=1.2, tempo_syl_s=3.3, energy_db=-3, jitter=0.004, tilt=0.7),
    "happy": Prosody(f0_scale=1.25, f0_range_st=5.5, tempo_syl_s=4.8, energy_db=3, jitter=0.008, tilt=0.35),
    "sad": Prosody(f0_scale=0.88, f0_range_st=0.8, final_rise_st=-2, tempo_syl_s=2.7, energy_db=-7,
                   jitter=0.012, tremor_depth=0.02, breath=0.06, tilt=0.8),
    "angry": Prosody(f0_scale=1.2, f0_range_st=4.0, tempo_syl_s=5.0, energy_db=6, jitter=0.02, tilt=0.1),
    "fearful": Prosody(f0_scale=1.4, f0_range_st=3.0, tempo_syl_s=5.6, energy_db=-2, jitter=0.015,
                       tremor_depth=0.05, breath=0.09, tilt=0.45),
    "disgust": Prosody(f0_scale=0.9, f0_range_st=3.0, final_rise_st=-3, tempo_syl_s=3.0, energy_db=1,
                       jitter=0.03, breath=0.05, tilt=0.55),
    "surprised": Prosody(f0_scale=1.35, f0_range_st=4.0, final_rise_st=7, tempo_syl_s=4.2, energy_db=2,
                         jitter=0.006, tilt=0.35),
}


@dataclass(frozen=True)
class Speaker:
    """A synthetic voice: actor number (odd male, even female), F0 and vocal-tract scale."""

    actor: int
    f0_hz: float
    formant_scale: float


def make_speakers(n: int, seed: int = 0) -> list[Speaker]:
    """n distinct voices, deterministic in seed."""
    rng = np.random.default_rng([seed, 7])
    speakers = []
    for actor in range(1, n + 1):
        male = actor % 2 == 1
        f0 = (115.0 if male else 210.0) * rng.uniform(0.85, 1.15)
        scale = (1.0 if male else 1.16) * rng.uniform(0.95, 1.05)
        speakers.append(Speaker(actor=actor, f0_hz=f0, formant_scale=scale))
    return speakers


def _resonate(x: np.ndarray, formants: tuple[float, ...]) -> np.ndarray:
    """Cascade of unity-DC-gain second-order resonators (the vocal tract)."""
    for f, bw in zip(formants, FORMANT_BANDWIDTHS_HZ):
        r = np.exp(-np.pi * bw / SR)
        a = [1.0, -2 * r * np.cos(2 * np.pi * f / SR), r * r]
        x = lfilter([sum(a)], a, x)
    return x


def synth_speech(speaker: Speaker, prosody: Prosody, vowels: str, rng: np.random.Generator) -> np.ndarray:
    """One utterance: glottal sawtooth at a prosodic F0 contour through per-vowel formant filters."""
    syl_s = rng.uniform(0.85, 1.15, len(vowels)) / prosody.tempo_syl_s
    lead, tail = rng.uniform(0.15, 0.3, 2)
    n = int((lead + syl_s.sum() + tail) * SR)
    t = np.arange(n) / SR
    # F0 contour in semitones: per-syllable accents, declination, final rise/fall, tremor, jitter.
    centers = lead + np.cumsum(syl_s) - syl_s / 2
    accents = rng.normal(0.0, prosody.f0_range_st / 2, len(vowels))
    accents[-1] += prosody.final_rise_st
    contour_st = np.interp(t, centers, accents) - 2.0 * t / t[-1]
    jitter = lfilter([0.05], [1, -0.95], rng.normal(0, prosody.jitter * 20, n))
    f0 = speaker.f0_hz * prosody.f0_scale * 2 ** (contour_st / 12)
    f0 *= 1 + jitter + prosody.tremor_depth * np.sin(2 * np.pi * 6.0 * t)
    source = 2 * (np.cumsum(f0 / SR) % 1.0) - 1
    source = lfilter([1 - prosody.tilt], [1, -prosody.tilt], source)
    source += prosody.breath * rng.normal(0, 1, n)
    out = np.zeros(n)
    start = int(lead * SR)
    for vowel, dur in zip(vowels, syl_s):
        m = int(dur * SR)
        seg = source[start:start + m]
        formants = tuple(f * speaker.formant_scale * rng.uniform(0.95, 1.05) for f in VOWELS[vowel])
        voiced = _resonate(seg, formants)
        onset = min(int(0.03 * SR), m // 4)  # a short consonant-like noise burst
        voiced[:onset] = rng.normal(0, 0.3, onset) * np.hanning(2 * onset)[:onset]
        out[start:start + len(seg)] += voiced * np.hanning(len(seg)) ** 0.5
        start += m
    out *= 0.25 * 10 ** (prosody.energy_db / 20) / (np.abs(out).max() + 1e-9) * rng.uniform(0.85, 1.15)
    out += rng.normal(0, 10 ** (-55 / 20), n)  # room noise floor
    return np.clip(out, -0.99, 0.99).astype(np.float32)


def ravdess_name(emotion: str, intensity: int, statement: int, repetition: int, actor: int) -> str:
    code = {v: k for (corpus, k), v in label_table().items() if corpus == "ravdess"}[emotion]
    return f"03-01-{code}-{intensity:02d}-{statement:02d}-{repetition:02d}-{actor:02d}.wav"


def synth_corpus(out: Path, n_speakers: int = 8, emotions: tuple[str, ...] = tuple(EMOTIONS),
                 repetitions: int = 2, statements: tuple[int, ...] = (1, 2), seed: int = 0) -> list[Path]:
    """Write a RAVDESS-layout corpus (Actor_XX/…wav); the same arguments give identical files."""
    written = []
    for speaker in make_speakers(n_speakers, seed):
        folder = out / f"Actor_{speaker.actor:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for emotion in emotions:
            for intensity in (1,) if emotion == "neutral" else (1, 2):
                prosody = EMOTIONS[emotion] if intensity == 1 else EMOTIONS[emotion].stronger(1.5)
                for statement in statements:
                    for rep in range(1, repetitions + 1):
                        name = ravdess_name(emotion, intensity, statement, rep, speaker.actor)
                        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
                        x = synth_speech(speaker, prosody, STATEMENTS[statement], rng)
                        write_wav(str(folder / name), x, SR)
                        written.append(folder / name)
    return written


# A call: the agent (channel 0) stays calm; the customer (channel 1) drifts towards negative emotions.
AGENT_EMOTIONS = ("neutral", "calm", "happy")
CUSTOMER_ARC = (("neutral", "calm"), ("sad", "neutral"), ("angry", "fearful", "disgust", "sad"))
CALL_FORMATS = (  # (channels, sample rate, subtype, extension)
    (2, 8_000, "ULAW", "wav"), (1, 16_000, "PCM_16", "wav"), (2, 16_000, "PCM_16", "flac"), (1, 8_000, "ALAW", "wav"),
)


def telephone_line(x: np.ndarray, rate: int) -> np.ndarray:
    """Band-limit to the phone band and resample to the call's rate."""
    from scipy.signal import butter, sosfilt

    from tasks.lib.audio import resample

    sos = butter(6, [300, 3400], btype="band", fs=SR, output="sos")
    return resample(sosfilt(sos, x).astype(np.float32), SR, rate)


def call_labels_path(out: Path) -> Path:
    """Where synth_calls writes the ground truth: beside the inbox, so the inbox holds calls only."""
    return out.parent / f"{out.name}-labels.csv"


def synth_calls(out: Path, n_calls: int = 4, turns: int = 8, seed: int = 0) -> list[dict]:
    """Write calls (stereo/mono, 8 kHz mu/A-law and 16 kHz) with silences and line noise, and their
    ground-truth utterance labels (call_id, channel, speaker, start_s, end_s, emotion) to call_labels_path(out);
    the agent (spk0) speaks first, as the diarized voice that speaks first is spk0."""
    out.mkdir(parents=True, exist_ok=True)
    voices = make_speakers(2 * n_calls + 20, seed + 101)[20:]  # voices unlike the corpus's actors
    labels = []
    for call in range(n_calls):
        rng = np.random.default_rng([seed, 31, call])
        channels, rate, subtype, ext = CALL_FORMATS[call % len(CALL_FORMATS)]
        call_id = f"call{call:03d}.{ext}"
        placed: list[tuple[int, int, np.ndarray]] = []  # (speaker, start sample, clip)
        t = float(rng.uniform(0.5, 1.5))
        for turn in range(turns):
            speaker = turn % 2  # agent, customer, agent, ...
            phase = min(len(CUSTOMER_ARC) - 1, turn * len(CUSTOMER_ARC) // turns)
            emotion = str(rng.choice(AGENT_EMOTIONS if speaker == 0 else CUSTOMER_ARC[phase]))
            prosody = EMOTIONS[emotion].stronger(1.5) if speaker == 1 and phase == 2 else EMOTIONS[emotion]
            clip = np.concatenate([synth_speech(voices[2 * call + speaker], prosody, STATEMENTS[1 + turn % 2], rng)
                                   for _ in range(2)])  # two sentences per turn
            placed.append((speaker, int(t * SR), clip))
            voice_start, voice_end = voiced_extent(clip)  # the turn is the voice, not the room noise around it
            labels.append({"call_id": call_id, "channel": speaker if channels == 2 else 0, "speaker": f"spk{speaker}",
                           "start_s": t + voice_start, "end_s": t + voice_end, "emotion": emotion})
            t += len(clip) / SR + float(rng.uniform(0.4, 2.0))
        n = int((t + 1.0) * SR)
        mix = np.zeros((2, n), np.float32)
        for speaker, start, clip in placed:
            mix[speaker, start:start + len(clip)] += clip
        mix += rng.normal(0, 10 ** (-45 / 20), mix.shape).astype(np.float32)  # line noise
        audio = mix if channels == 2 else mix.sum(axis=0, keepdims=True)
        wire = np.stack([telephone_line(ch, rate) for ch in audio]) if rate != SR else audio
        sf.write(out / call_id, np.clip(wire, -1, 1).T, rate, subtype=subtype)
    pd.DataFrame(labels).to_csv(call_labels_path(out), index=False)
    return labels



# A stereo call's script: (party: 0 agent, 1 customer; emotion; where the turn starts). ("after", gap): gap seconds after the
# previous turn's voice ends; ("into", f): a barge-in at fraction f of the previous turn's voice.
CONVERSATION = (
    (0, "neutral", ("after", 1.0)), (1, "neutral", ("after", 0.8)), (0, "calm", ("into", 0.6)),
    (1, "fearful", ("after", 6.0)), (0, "neutral", ("after", 0.7)), (1, "angry", ("into", 0.5)),
    (0, "calm", ("after", 1.0)),
)


def voiced_extent(clip: np.ndarray, floor: float = 0.01) -> tuple[float, float]:
    """Where a synthesized clip's voice starts and ends inside it (its lead and tail are room noise)."""
    loud = np.flatnonzero(np.abs(clip) > floor)
    return loud[0] / SR, (loud[-1] + 1) / SR


def synth_conversation(path: Path, agent_channel: int = 0, customer_gain_db: float = -6.0, seed: int = 0) -> dict:
    """Write a stereo 8 kHz mu-law call with clean turns, two barge-ins and a 6 s hold, the customer
    customer_gain_db quieter than the agent, and return its truth: each turn's voiced (channel, start_s,
    end_s, emotion)."""
    rng = np.random.default_rng([seed, 47])
    agent, customer = make_speakers(2, seed + 303)
    placed, turns, cursor = [], [], 0.0
    for i, (party, emotion, (how, value)) in enumerate(CONVERSATION):
        clip = synth_speech((agent, customer)[party], EMOTIONS[emotion], STATEMENTS[1 + i % 2], rng)
        clip *= 10 ** ((customer_gain_db if party else 0.0) / 20)
        channel = agent_channel if party == 0 else 1 - agent_channel
        lead, tail = voiced_extent(clip)
        previous = turns[-1] if turns else (0, 0.0, 0.0, "")
        voice_start = cursor + value if how == "after" else previous[1] + value * (previous[2] - previous[1])
        placed.append((channel, int((voice_start - lead) * SR), clip))
        turns.append((channel, float(voice_start), float(voice_start + tail - lead), emotion))
        cursor = max(cursor, turns[-1][2])
    audio = np.zeros((2, int((cursor + 1.0) * SR)), np.float32)
    for channel, start, clip in placed:
        audio[channel, start:start + len(clip)] += clip
    audio += rng.normal(0, 10 ** (-50 / 20), audio.shape).astype(np.float32)
    wire = np.stack([telephone_line(ch, 8_000) for ch in audio])
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.clip(wire, -1, 1).T, 8_000, subtype="ULAW")
    return {"duration_s": audio.shape[1] / SR, "turns": turns}
