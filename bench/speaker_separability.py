"""Can speaker embeddings tell two held-out speakers apart across emotions? The probe behind diarization.

For pairs of speakers of the shared corpora, 12 recordings each (spread over the speaker's files, so over
emotions), resemblyzer's GE2E embedding of every recording, studio and through a phone line (300-3400 Hz,
8 kHz); the 24 embeddings clustered into two (k-means, and agglomerative with average cosine linkage),
scored as the share of recordings in their speaker's cluster (best of the two labelings; 1 - this is the
speaker-confusion part of a diarization error rate on clean turns). The raw embeddings, not centred per
call nor projected the way serflow's diarization does it (ser_models/diarization.py).

  .venv/bin/python bench/speaker_separability.py   ->  bench/results/speaker_separability.json
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "speaker_separability.json"
CORPORA = ROOT.parent / "shared" / "corpora"
PAIRS = (("ravdess", "19", "20"), ("ravdess", "17", "19"), ("ravdess", "18", "20"), ("ravdess", "11", "13"),
         ("ravdess", "12", "14"), ("emodb", "15", "16"), ("emodb", "03", "10"), ("emodb", "08", "09"),
         ("emodb", "11", "13"), ("casia", "ZhaoZuoxiang", "liuchanhg"), ("casia", "wangzhe", "zhaoquanyin"),
         ("casia", "ZhaoZuoxiang", "wangzhe"))
PER_SPEAKER = 12


def speaker_files(corpus: str, speaker: str) -> list[Path]:
    """A speaker's recordings, by the corpus's layout."""
    root = CORPORA / corpus
    if corpus == "ravdess":
        return sorted(root.glob(f"Actor_{speaker}/*.ogg"))
    if corpus == "emodb":
        return sorted(p for p in root.rglob("*.ogg") if p.name.startswith(speaker))
    return sorted((root / speaker).rglob("*.ogg"))


def clustered_share(embeddings: np.ndarray, truth: np.ndarray, method: str) -> float:
    """Share of recordings in their speaker's cluster, best of the two labelings."""
    from sklearn.cluster import AgglomerativeClustering, KMeans

    model = KMeans(2, n_init=10, random_state=0) if method == "kmeans" else \
        AgglomerativeClustering(n_clusters=2, metric="cosine", linkage="average")
    labels = model.fit_predict(embeddings)
    return float(max(np.mean(labels == truth), np.mean(labels != truth)))


def main() -> None:
    from resemblyzer import VoiceEncoder

    from tasks.lib.audio import AudioDecodeError, load, resample
    from tasks.lib.synth import telephone_line

    encoder, rows = VoiceEncoder("cpu", verbose=False), []
    for corpus, *speakers in PAIRS:
        files = [speaker_files(corpus, s) for s in speakers]
        if not all(files):
            print(f"{corpus} {speakers}: not in {CORPORA}, skipped")
            continue
        for line in (False, True):
            embeddings, truth = [], []
            for label, paths in enumerate(files):
                for path in paths[::max(1, len(paths) // PER_SPEAKER)][:PER_SPEAKER]:
                    try:
                        y = load(str(path))
                    except AudioDecodeError:  # the corpora keep broken files on purpose
                        continue
                    y = resample(telephone_line(y, 8_000), 8_000) if line else y
                    embeddings.append(encoder.embed_utterance(y))
                    truth.append(label)
            x, truth = np.array(embeddings), np.array(truth)
            sim, same = x @ x.T, truth[:, None] == truth[None, :]
            off_diagonal = ~np.eye(len(truth), dtype=bool)
            row = {"corpus": corpus, "speakers": speakers, "audio": "phone line" if line else "studio",
                   "recordings": len(truth), "cosine_within": round(float(sim[same & off_diagonal].mean()), 3),
                   "cosine_across": round(float(sim[~same].mean()), 3),
                   "in_own_cluster_kmeans": round(clustered_share(x, truth, "kmeans"), 3),
                   "in_own_cluster_agglomerative": round(clustered_share(x, truth, "agglomerative"), 3)}
            rows.append(row)
            print(row)
    summary = {audio: {k: round(float(np.mean([r[k] for r in rows if r["audio"] == audio])), 3)
                       for k in ("in_own_cluster_kmeans", "in_own_cluster_agglomerative")}
               for audio in ("studio", "phone line")}
    report = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": "python bench/speaker_separability.py", "mean": summary, "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
