"""Typed records every corpus recipe returns, and the file walk they share."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from data_contracts.reasons import Reason
from tasks.lib.audio import AUDIO_EXTENSIONS


@dataclass(frozen=True)
class Utterance:
    """One labelled file as its name and folders describe it (not yet decoded)."""

    corpus: str
    path: str
    rel_path: str
    speaker: str
    emotion_raw: str
    gender: str | None = None
    intensity: str | None = None
    text_id: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def utterance_id(self) -> str:
        return f"{self.corpus}/{self.rel_path}"

    @property
    def speaker_id(self) -> str:
        return f"{self.corpus}:{self.speaker}"


@dataclass(frozen=True)
class Rejected:
    """A file a recipe could not turn into an Utterance, with the reason code."""

    corpus: str
    path: str
    rel_path: str
    reason: Reason
    detail: str


Record = Utterance | Rejected


def audio_files(root: Path) -> list[Path]:
    """Every audio file under root, sorted, skipping hidden files and folders."""
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def within_corpus(records: list[Record], root: Path) -> list[Record]:
    """Records whose file really lies under root; the others (`../x.wav` rows, symlinks out) are quarantined,
    so a corpus can never make serflow read files its owner did not put in it."""
    top = root.resolve()
    out: list[Record] = []
    for r in records:
        if isinstance(r, Utterance) and not Path(r.path).resolve().is_relative_to(top):
            out.append(Rejected(r.corpus, r.path, r.rel_path, Reason.OUTSIDE_CORPUS,
                                f"resolves to {Path(r.path).resolve()}, outside {top}"))
        else:
            out.append(r)
    return out


def rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def unparseable(corpus: str, root: Path, path: Path, expected: str) -> Rejected:
    return Rejected(corpus, str(path), rel(root, path), Reason.UNPARSEABLE_NAME,
                    f"{path.name!r} does not match {expected}")
