"""One score-calls run per store at a time: a lock file that names its holder, taken over only from a dead one.

Reconciliation deletes result files no ledger entry points to; with two runs on one store, that would delete
the other run's files before it commits them. The lock makes the second run stop with a clear error instead.
"""
from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from tasks.lib.store import Store


class StoreLocked(RuntimeError):
    """Another live run holds the store; the message names it and the lock file."""


def _holder() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "since": datetime.now(UTC).isoformat()}


def _alive(holder: dict) -> bool:
    """False only when the holder provably died: same host, no such process. Another host's run counts as alive."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # the process exists under another user
        return True
    return True


def _create(store: Store, path: str, text: str) -> bool:
    """Create the lock file if absent, exclusively: O_EXCL locally, a conditional PUT (If-None-Match) on S3."""
    try:
        with store.fs.open(path, "xb") as fh:
            fh.write(text.encode())
    except FileExistsError:
        return False
    return True


@contextmanager
def store_lock(store: Store, name: str) -> Iterator[None]:
    """Hold <store>/locks/<name>.json for the block; a lock left by a dead process on this host is taken over."""
    store.fs.makedirs(f"{store.root}/locks", exist_ok=True)
    path = f"{store.root}/locks/{name}.json"
    if not _create(store, path, json.dumps(_holder())):
        current = json.loads(store.fs.cat(path))
        if _alive(current):
            raise StoreLocked(f"another {name} run holds {store} (host {current['host']}, pid {current['pid']}, "
                              f"since {current['since']}); wait for it, or delete {path} if that run is gone")
        store.fs.rm(path)
        if not _create(store, path, json.dumps(_holder())):
            raise StoreLocked(f"another {name} run took {path} while a stale lock was being removed")
    try:
        yield
    finally:
        store.fs.rm(path)
