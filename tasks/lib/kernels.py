"""librosa's numba kernels compiled by one process at a time on a machine.

numba caches compiled kernels on disk, and two processes compiling the same cached gufunc at once can tear
the cache (numba#10128): from then on every process that loads it dies with SIGSEGV. A fresh install with
two Dask workers starting their first batch together is exactly that race, so the first use of the kernels
in each process runs under a machine-wide file lock; once they are cached, taking the lock costs
milliseconds.
"""
from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Callable
from pathlib import Path

LOCK_FILE = Path(tempfile.gettempdir()) / "serflow-numba-compile.lock"
_warmed: set[str] = set()


def compile_once(key: str, exercise: Callable[[], None]) -> None:
    """Run `exercise` (code that calls the kernels) once per process, holding the machine-wide lock."""
    if key in _warmed:
        return
    _warmed.add(key)  # first: the exercise itself goes through the caller again
    with open(LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            exercise()
        except BaseException:
            _warmed.discard(key)
            raise
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
