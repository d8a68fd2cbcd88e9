"""A kill -9 of the CLI: the next session stops the orphaned temporary server and marks the run Crashed."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import psutil

from tasks.lib.synth import synth_corpus

SERVER_APP = "prefect.server.api.server:create_app"


def _flow_run_states(home: str) -> list[str]:
    """The flow-run states in the temporary server's SQLite database, read directly: starting a third server
    to ask it would cost half a minute on a small machine."""
    with closing(sqlite3.connect(f"{home}/prefect.db")) as db:
        return sorted(state for (state,) in db.execute("select state_type from flow_run"))


def _servers_of(home: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if SERVER_APP in " ".join(p.info["cmdline"] or []) and p.environ().get("PREFECT_HOME") == home:
                found.append(p)
        except psutil.Error:
            continue
    return found


def test_the_next_session_cleans_up_after_a_killed_one(tmp_path):
    synth_corpus(tmp_path / "corpus", n_speakers=4, repetitions=1, seed=0)
    home = str(tmp_path / "prefect-home")
    env = {**os.environ, "PREFECT_HOME": home}
    env.pop("PREFECT_API_URL", None)
    ingest = [sys.executable, "-m", "flows.cli", "ingest", "ravdess", str(tmp_path / "corpus"),
              "--store", str(tmp_path / "store")]
    first = subprocess.Popen(ingest, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in first.stdout:  # kill it once its flow run is under way
        if "discover-corpus" in line:
            break
    first.send_signal(signal.SIGKILL)
    first.wait()
    time.sleep(1)
    orphans = _servers_of(home)
    assert len(orphans) == 1, "Prefect's temporary server outlives a killed CLI (what this guards against)"

    second = subprocess.run(ingest, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"stopped the orphaned temporary Prefect server (pid {orphans[0].pid})" in second.stderr
    assert "marked 1 flow run(s) of that process Crashed" in second.stderr
    assert not orphans[0].is_running() and not _servers_of(home)
    assert _flow_run_states(home) == ["COMPLETED", "CRASHED"]
