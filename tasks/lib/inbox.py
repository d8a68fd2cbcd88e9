"""The inbox of call recordings and what is new or changed in it since a model version scored it."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath

import fsspec
import pandas as pd


@dataclass(frozen=True)
class CallFile:
    call_id: str
    path: str
    size_bytes: int
    mtime: float
    previous_files: tuple[str, ...] = ()  # result files of an earlier scoring with this model version
    file_sha256: str | None = None  # set when the plan already hashed the bytes


def call_key(call_id: str, model: str, version: str) -> str:
    return hashlib.sha256(f"{call_id}|{model}|{version}".encode()).hexdigest()[:20]


def list_inbox(inbox: str) -> list[CallFile]:
    """Every file under the inbox (local path or fsspec URL); call_id is its path relative to the inbox."""
    fs, root = fsspec.core.url_to_fs(inbox)
    if not fs.isdir(root):
        raise FileNotFoundError(f"inbox {inbox} is not a folder")
    calls = []
    for path, info in sorted(fs.find(root, detail=True).items()):
        rel = PurePosixPath(path).relative_to(PurePosixPath(root)).as_posix()
        if any(part.startswith(".") for part in PurePosixPath(rel).parts):
            continue
        full = path if "://" not in inbox else fs.unstrip_protocol(path)
        calls.append(CallFile(rel, full, int(info.get("size") or 0), float(info.get("mtime") or info.get("created") or 0)))
    return calls


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with fsspec.open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pending_calls(calls: list[CallFile], ledger: pd.DataFrame, model: str,
                  version: str) -> tuple[list[CallFile], list[dict]]:
    """New calls, and calls whose size/mtime changed and whose bytes really differ since this version scored
    them; plus ledger rows that record the new mtime of calls only touched, so later runs need not re-hash."""
    mine = pd.DataFrame() if ledger.empty else ledger[(ledger["model"] == model) & (ledger["model_version"] == version)]
    done = {row["call_id"]: row for row in mine.to_dict("records")}
    todo, touched = [], []
    for call in calls:
        prev = done.get(call.call_id)
        if prev is None:
            todo.append(call)
        elif (prev["size_bytes"], prev["mtime"]) != (call.size_bytes, call.mtime):
            digest = file_sha256(call.path)
            if digest != prev["file_sha256"]:
                todo.append(CallFile(call.call_id, call.path, call.size_bytes, call.mtime, tuple(prev["result_files"]), digest))
            else:
                touched.append({**prev, "size_bytes": call.size_bytes, "mtime": call.mtime,
                                "scored_at": pd.Timestamp.now(tz="UTC")})
    return todo, touched
