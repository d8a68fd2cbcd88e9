"""The README's call recipe on calls from speakers it never heard, over a noisy 8 kHz mu-law line.

Trains the recipe (`--model logreg --corpus ravdess,emodb,casia --labels <the README's map> --augment call`)
on every shared speaker but the held-out ones (RAVDESS actors 19-20, EMO-DB 15-16, CASIA `wangzhe`),
builds stereo calls from the held-out speakers' recordings (one speaker per channel, turns with pauses,
phone band, line noise over the whole channel at 15-30 dB below its median turn, 8 kHz mu-law), scores them with
score-calls and reports the share of segments per emotion (the target: no class above 60%), the
out-of-domain share, segment UA against the known turns, and the same model's per-file UA on the
held-out recordings as they are (studio) and through the same line. `--speaker-norm` trains the recipe with
per-speaker normalisation: each call channel (one speaker) is standardised by its own speech, and per-file
UA is then also given with context: each held-out speaker's recordings, and the turns that share a call
channel with the recording (the context a call gives a channel). Segment UA is also measured
with silero's 16 kHz VAD model on the same calls and model (the flow's default is the 8 kHz one).
The same turns are also mixed down to mono calls (both voices on one line) and scored: their diarization
error rate (reference: the VAD's speech regions of each clean studio recording; no collar, and NIST RT's
0.25 s) over the calls that hold two voices, and their segment UA.

  .venv/bin/python bench/call_recipe.py [--speaker-norm]   (after the bench store holds the three corpora:
                                  bench/accuracy.py ingests them)   -> bench/results/call_recipe.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "call_recipe.json"
CORPORA = ROOT.parent / "shared" / "corpora"
HELD_OUT = ("ravdess:19", "ravdess:20", "emodb:15", "emodb:16", "casia:wangzhe")
LABELS = "calm=neutral,disgust=,surprised=,boredom="
RATE, TURNS, SNR_DB = 8_000, 12, (15.0, 30.0)
NOISE = "noise 15-30 dB below the channel's median turn"


def training_subset(manifest, corpus: str, out: Path) -> Path:
    """A folder of hard links (no copies; ingestion refuses symlinks that lead outside the corpus) to the
    corpus's recordings of training speakers only, laid out as the recipe expects."""
    root = (CORPORA / corpus).resolve()
    for path in manifest.loc[manifest["corpus"].eq(corpus) & ~manifest["speaker_id"].isin(HELD_OUT), "path"]:
        link = out / corpus / Path(path).resolve().relative_to(root)
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.hardlink_to(Path(path).resolve())
    return out / corpus


def speech_power(wire: np.ndarray) -> float:
    """Mean power of the samples above digital silence."""
    speech = wire[np.abs(wire) > 1e-4]
    return float(np.mean(speech ** 2)) if len(speech) else 1e-8


def line(y: np.ndarray, snr_db: float, rng: np.random.Generator, power: float | None = None) -> np.ndarray:
    """Phone band at 8 kHz plus line noise at snr_db below `power` (default: y's own speech power)."""
    from tasks.lib.synth import telephone_line

    wire = telephone_line(y, RATE)
    power = speech_power(wire) if power is None else power
    return wire + rng.normal(0, np.sqrt(power / 10 ** (snr_db / 10)), len(wire)).astype(np.float32)


def write_calls(held, inbox: Path, seed: int = 0, mono: bool = False) -> list[dict]:
    """Stereo calls (mono: both voices mixed on one line): two held-out speakers of one corpus (one where a
    corpus holds out one), turns alternating. Each turn's label holds its `voiced` regions too (the VAD's speech
    regions of the clean recording, as the flow merges them), the reference of who speaks when."""
    import soundfile as sf

    from tasks.lib.audio import TARGET_SR as SR
    from tasks.lib.audio import load
    from tasks.lib.synth import telephone_line
    from tasks.lib.vad import WindowConfig, merge_regions, speech_regions

    inbox.mkdir(parents=True, exist_ok=True)
    rng, labels, n = np.random.default_rng(seed), [], 0
    for corpus, group in held.groupby("corpus"):
        speakers = sorted(group["speaker_id"].unique())
        queues = [list(group.loc[group["speaker_id"].eq(s)].sample(frac=1, random_state=seed).itertuples())
                  for s in speakers]
        while any(queues):
            call_id, t, placed = f"{'mono-' if mono else ''}{corpus}-{n:03d}.wav", float(rng.uniform(0.5, 1.5)), []
            for turn in range(TURNS):
                channel = turn % 2
                queue = queues[channel % len(queues)] or next((q for q in queues if q), None)
                if not queue:
                    break
                row = queue.pop()
                clip = load(row.path)
                placed.append((channel, int(t * SR), clip))
                voiced = merge_regions(speech_regions(clip, WindowConfig()), WindowConfig().merge_gap_s)
                labels.append({"call_id": call_id, "channel": 0 if mono else channel, "speaker": row.speaker_id,
                               "path": row.path,
                               "start_s": t, "end_s": t + len(clip) / SR, "emotion": row.emotion,
                               "voiced": [(t + s, t + e) for s, e in voiced]})
                t += len(clip) / SR + float(rng.uniform(0.4, 2.0))
            audio = np.zeros((2, int((t + 1.0) * SR)), np.float32)
            for channel, start, clip in placed:
                audio[channel, start:start + len(clip)] += clip
            audio = audio.sum(axis=0, keepdims=True) if mono else audio
            # the SNR is against a channel's median turn: its mean power is set by its few loudest turns (a
            # shouted RAVDESS line is 20x the median level), which put the quiet turns under the noise
            typical = [np.median([speech_power(telephone_line(clip, RATE)) for ch, _, clip in placed
                                  if mono or ch == c]) for c in range(len(audio))]
            wire = np.stack([line(ch, float(rng.uniform(*SNR_DB)), rng, power)
                             for ch, power in zip(audio, typical, strict=True)])
            sf.write(inbox / call_id, np.clip(wire, -1, 1).T, RATE, subtype="ULAW")
            n += 1
    return labels


def per_file_ua(model, held, speakers: list[str] | None = None) -> dict[str, float]:
    """The model's UA on the held-out recordings as recorded and through a line: each alone, as `serflow predict`
    serves it, or (speakers given: a context name per recording) normalised with the recordings that share it."""
    from ser_models.evaluation import metrics
    from ser_models.inference import features_of
    from tasks.lib.audio import TARGET_SR, load, resample
    from tasks.lib.augment import through_mu_law

    rng = np.random.default_rng(1)
    clips = [load(p) for p in held["path"]]
    lined = [resample(through_mu_law(line(c, float(rng.uniform(*SNR_DB)), rng)), RATE, TARGET_SR) for c in clips]
    index = {c: i for i, c in enumerate(model.classes)}
    truth = held["emotion"].map(index).to_numpy()
    out = {}
    for name, batch in {"studio": clips, "line_8khz_mulaw_15_30db": lined}.items():
        predicted = model.predict_proba(features_of(batch, model.estimator.feature_sets, speakers)).argmax(axis=1)
        out[name] = round(metrics(truth, predicted, model.classes)["ua"], 3)
    return out


def split_mono(rows):
    """Rows of the stereo calls, and of the mono calls (their names start with mono-)."""
    mono = rows["call_id"].str.startswith("mono-")
    return rows[~mono], rows[mono]


def mono_report(segments, turns, labels, classes: list[str]) -> dict:
    """Who spoke when on the mono calls that hold two voices (the turns table; the scored windows beside it),
    and the mono calls' segment UA."""
    from ser_models.evaluation import diarization_error, segment_level_metrics

    two = labels.groupby("call_id")["speaker"].transform("nunique").eq(2)
    reference = labels[two].explode("voiced").dropna(subset="voiced")
    reference = reference.assign(start_s=reference["voiced"].str[0], end_s=reference["voiced"].str[1])
    return {"calls": int(labels["call_id"].nunique()), "two_voice_calls": int(labels.loc[two, "call_id"].nunique()),
            "line": f"mono, both voices on one phone line, 8 kHz mu-law, {NOISE}",
            **{f"diarization{name}": {k: round(float(v), 3) for k, v in diarization_error(spans, reference, collar_s=collar).items()}
               for name, spans, collar in (("", turns, 0.0), ("_collar_0.25s", turns, 0.25), ("_windows", segments, 0.0))},
            "segment_ua": round(segment_level_metrics(segments, labels, classes)["ua"], 3),
            "turn_ua": round(segment_level_metrics(turns, labels, classes)["ua"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default=str(ROOT / "bench" / ".store"), help="the bench store with the corpora")
    parser.add_argument("--work", default=str(ROOT / "bench" / ".store" / "call-recipe"),
                        help="where the recipe's own store, corpus links and calls go")
    parser.add_argument("--speaker-norm", action="store_true", help="train with per-speaker normalisation")
    args = parser.parse_args()
    from accuracy import save_result

    from flows.settings import apply_settings, without_heartbeats

    apply_settings()  # before Prefect is imported: its settings are read once
    import duckdb
    import pandas as pd

    from data_contracts.labels import parse_label_map
    from flows.ingest import ingest_corpus
    from flows.score import score_calls
    from flows.train import train_model
    from ser_models.evaluation import segment_level_metrics
    from ser_models.inference import load_model
    from tasks.lib.inbox import list_inbox
    from tasks.lib.store import Store
    from tasks.lib.tables import read_manifest
    from tasks.lib.vad import WindowConfig
    from tasks.score import score_call

    start, work = time.perf_counter(), Path(args.work)
    corpora = ["ravdess", "emodb", "casia"]
    manifest = read_manifest(Store(args.store), corpora)
    if set(manifest["corpus"]) != set(corpora):
        sys.exit(f"{args.store} lacks some of {corpora}: run bench/accuracy.py (it ingests them) first")
    label_map = parse_label_map(LABELS)
    held = manifest[manifest["speaker_id"].isin(HELD_OUT)].assign(emotion=lambda d: d["emotion"].replace(label_map))
    held = held[held["emotion"].ne("")]
    store, name = str(work / "store"), "calls-norm" if args.speaker_norm else "calls"
    with without_heartbeats():
        for corpus in corpora:
            if read_manifest(Store(store), [corpus]).empty:
                ingest_corpus(kind=corpus, path=str(training_subset(manifest, corpus, work / "corpora")), store=store)
        summary = train_model(model="logreg", corpus=corpora, labels=LABELS, cv="speaker-kfold:5", augment=["call"],
                              store=store, name=name, speaker_norm=args.speaker_norm)
        labels = pd.DataFrame(write_calls(held, work / "inbox"))
        scored = score_calls(inbox=str(work / "inbox"), model=name, store=store)
        mono_labels = pd.DataFrame(write_calls(held, work / "inbox-mono", mono=True))
        score_calls(inbox=str(work / "inbox-mono"), model=name, store=store)
    model = load_model(Store(store), f"{name}:{summary.version}")
    segments, turns = (duckdb.sql(f"select * from read_parquet('{store}/results/{table}/**/*.parquet', "
                                  "hive_partitioning=true, union_by_name=true)"
                                  f" where model = '{name}' and model_version = '{summary.version}'").df()
                       for table in ("segments", "turns"))
    (segments, mono_segments), (turns, mono_turns) = split_mono(segments), split_mono(turns)
    wideband_vad = pd.DataFrame([row for call in list_inbox(str(work / "inbox"))
                                 for row in score_call(call, model, WindowConfig(vad_sample_rate=16_000)).segments])
    shares = segments["emotion"].value_counts(normalize=True).round(3)
    report = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "python bench/call_recipe.py" + (" --speaker-norm" if args.speaker_norm else ""),
        "recipe": f"logreg, {'+'.join(corpora)}, --labels '{LABELS}', --augment call, speaker-kfold:5"
                  + (", --speaker-norm" if args.speaker_norm else ""),
        "held_out_speakers": list(HELD_OUT), "calls": int(labels["call_id"].nunique()),
        "audio_minutes": round(scored.audio_s / 60, 1), "line": f"stereo, phone band, 8 kHz mu-law, {NOISE}",
        "segments": len(segments), "segment_shares": shares.to_dict(), "max_segment_share": float(shares.max()),
        "out_of_domain_share": round(float((~segments["in_domain"]).mean()), 3),
        "segment_ua": round(segment_level_metrics(segments, labels, model.classes)["ua"], 3),
        # each turn's emotion (the turns table) against the utterance it covers most of
        "turn_ua": round(segment_level_metrics(turns, labels, model.classes)["ua"], 3),
        "segment_ua_vad_16khz": round(segment_level_metrics(wideband_vad, labels, model.classes)["ua"], 3),
        "per_file_ua_held_out": per_file_ua(model, held), "chance": round(1 / len(model.classes), 3),
        "cv_ua_per_file": round(model.card["metrics"]["pooled"]["ua"], 3),
        "mono": mono_report(mono_segments, mono_turns, mono_labels, model.classes),
        "minutes": round((time.perf_counter() - start) / 60, 1),
    }
    if args.speaker_norm:
        report["per_file_ua_held_out_speaker_context"] = per_file_ua(model, held, held["speaker_id"].tolist())
        # the context a call gives: the turns of the same call channel (about six), not the speaker's ~60 files
        channel_of = dict(zip(labels["path"], labels["call_id"] + ":" + labels["channel"].astype(str)))
        report["per_file_ua_held_out_call_channel_context"] = per_file_ua(model, held, held["path"].map(channel_of).tolist())
    save_result(name, report, RESULTS)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
