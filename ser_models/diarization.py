"""Who speaks when on a mono channel, from the model's own window features: no second encoder to run.

At training time a linear discriminant analysis over the training rows (standardised, clipped, reduced by
PCA) with the speaker as the class finds the directions along which speakers differ more than one speaker's
emotions and recording conditions move them (augmented copies included). At serving time the windows of one
mono channel are projected, centred on the channel's mean (what both voices share: the line, the level) and
split in two by average cosine linkage: a contact-centre channel holds the agent and the customer. A channel
with one voice is split all the same: on held-out shared speakers no distance threshold told one voice from
two (docs/benchmarks.md), so the split is always made and said so in docs/tables.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from ser_models.data import FeatureData
from ser_models.domain import row_vectors
from ser_models.registry import load_attachment, save_attachment

SPACE_STEM = "speaker_space"  # speaker_space.npz and .json beside the weights
MAX_DIMENSIONS = 16
PCA_DIMENSIONS = 200
ROWS_PER_DIMENSION = 10  # fewer rows per PCA dimension and the directions fit the training voices' noise
CLIP = 5.0  # standardised values beyond this are outliers, not voice
MIN_SPEAKERS = 3
MIN_WINDOWS = 4  # fewer windows than this in a block: too little speech to split, one voice


def _split(z: np.ndarray) -> np.ndarray:
    """Two clusters of rows by average cosine linkage after centring; the first row's cluster is 0."""
    z = z - z.mean(axis=0)
    unit = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    distance = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    labels = fcluster(linkage(squareform(distance, checks=False), "average"), 2, "maxclust") - 1
    return labels if labels[0] == 0 else 1 - labels


def _projection(x: np.ndarray, speakers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, scale and the (features, dimensions) matrix onto the speaker-discriminant directions."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = np.clip((x - mean) / scale, -CLIP, CLIP)
    pca = PCA(max(1, min(PCA_DIMENSIONS, len(z) // ROWS_PER_DIMENSION, z.shape[1])), random_state=0).fit(z)
    dims = min(MAX_DIMENSIONS, len(np.unique(speakers)) - 1)
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(pca.transform(z), speakers)
    # each direction weighted by how far apart it sets the speakers: LDA scales every direction to the same
    # within-speaker spread, so a direction that barely separates anyone would count as much as the best one
    weights = np.sqrt(lda.explained_variance_ratio_[:dims])
    return mean, scale, pca.components_.T @ lda.scalings_[:, :dims] * weights


def _link(centroids: list[np.ndarray], voices: list[np.ndarray]) -> list[int]:
    """Each block cluster's voice: the nearer known voice (two and two: the cheaper pairing), else a new one."""
    def gap(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a - b))

    if not voices:
        voices.extend(centroids)
        return list(range(len(centroids)))
    if len(centroids) == 1:
        return [int(np.argmin([gap(centroids[0], v) for v in voices]))]
    if len(voices) == 1:
        near = int(np.argmin([gap(c, voices[0]) for c in centroids]))
        voices.append(centroids[1 - near])
        return [0, 1] if near == 0 else [1, 0]
    same = gap(centroids[0], voices[0]) + gap(centroids[1], voices[1])
    return [0, 1] if same <= gap(centroids[0], voices[1]) + gap(centroids[1], voices[0]) else [1, 0]


@dataclass
class SpeakerSpace:
    feature_set: str
    mean: np.ndarray
    scale: np.ndarray
    projection: np.ndarray
    speakers: int  # training speakers the directions were learnt from

    def project(self, x: np.ndarray) -> np.ndarray:
        """(rows, dimensions): rows of the feature set in the speaker-discriminant space."""
        return np.clip((x - self.mean) / self.scale, -CLIP, CLIP) @ self.projection

    def diarize(self, data: FeatureData, voices: list[np.ndarray]) -> np.ndarray:
        """Speaker index per row of one block of a channel. `voices` holds the centroids of the voices found
        in the channel's earlier blocks (the first block's first speaker is 0) and gains any new one."""
        z = self.project(row_vectors(data, self.feature_set))
        labels = _split(z) if len(z) >= MIN_WINDOWS else np.zeros(len(z), int)
        centroids = [z[labels == k].mean(axis=0) for k in range(int(labels.max(initial=0)) + 1)]
        return np.asarray(_link(centroids, voices), int)[labels]

    @classmethod
    def fit(cls, data: FeatureData, feature_set: str) -> SpeakerSpace | None:
        """The projection from every training row; None with fewer than MIN_SPEAKERS training speakers."""
        speakers = data.rows["speaker_id"].astype(str).to_numpy()
        if len(np.unique(speakers)) < MIN_SPEAKERS:
            return None
        return cls(feature_set, *_projection(row_vectors(data, feature_set), speakers), len(np.unique(speakers)))

    def describe(self) -> dict:
        """What the model card records."""
        return {"feature_set": self.feature_set, "dimensions": int(self.projection.shape[1]),
                "training_speakers": self.speakers, "max_speakers_per_channel": 2}

    def save(self, folder: Path) -> None:
        save_attachment(folder, SPACE_STEM, {"mean": self.mean, "scale": self.scale, "projection": self.projection},
                        self.describe())

    @classmethod
    def load(cls, folder: Path) -> SpeakerSpace | None:
        """The saved space, or None for a model registered without one (its mono channels stay one speaker)."""
        saved = load_attachment(folder, SPACE_STEM)
        if saved is None:
            return None
        arrays, info = saved
        return cls(info["feature_set"], arrays["mean"], arrays["scale"], arrays["projection"], info["training_speakers"])
