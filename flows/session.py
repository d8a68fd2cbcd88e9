"""A CLI session's temporary Prefect server, recorded so that the next session cleans up after a kill -9.

Prefect starts its temporary server as a plain subprocess and stops it from `atexit`, which a killed CLI never
reaches: the server lives on as an orphan and the session's flow runs stay RUNNING in Prefect's database.
Each session therefore writes a record (its own pid and start time, the server's pid) and tags its flow
runs; the next session kills servers whose session is gone and marks those runs Crashed.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

SERVER_APP = "prefect.server.api.server:create_app"
TAG_PREFIX = "serflow-session:"


def _sessions_dir() -> Path:
    from prefect.settings import PREFECT_HOME

    return Path(PREFECT_HOME.value()) / "serflow-sessions"


def _session_id(process: psutil.Process) -> str:
    return f"{process.pid}-{int(process.create_time())}"


def _alive(session_id: str) -> bool:
    try:
        return _session_id(psutil.Process(int(session_id.split("-")[0]))) == session_id
    except psutil.NoSuchProcess:
        return False


def _stop_server(pid: int) -> bool:
    """Stop an orphaned temporary server; a reused pid that is not one is left alone."""
    try:
        process = psutil.Process(pid)
        if SERVER_APP not in " ".join(process.cmdline()):
            return False
        process.terminate()
        process.wait(timeout=10)
    except psutil.TimeoutExpired:
        process.kill()
    except psutil.NoSuchProcess:
        return False
    return True


def _crash_runs(tag: str) -> int:
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    unfinished = FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING]))
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag]),
                                                                   state=unfinished))
        for run in runs:
            client.set_flow_run_state(run.id, Crashed(message="its serflow process was killed"), force=True)
    return len(runs)


def clean_up_killed_sessions() -> list[str]:
    """Stop the servers of sessions that died without cleaning up and mark their runs Crashed; say what was done."""
    done = []
    for record in sorted(_sessions_dir().glob("*.json")):
        session = json.loads(record.read_text())
        if _alive(session["session"]):
            continue
        if session.get("server_pid") and _stop_server(session["server_pid"]):
            done.append(f"stopped the orphaned temporary Prefect server (pid {session['server_pid']}) "
                        f"of killed serflow process {session['session'].split('-')[0]}")
        crashed = _crash_runs(TAG_PREFIX + session["session"])
        if crashed:
            done.append(f"marked {crashed} flow run(s) of that process Crashed")
        record.unlink(missing_ok=True)
    return done


def _start_temporary_server() -> int:
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the instance Prefect's own clients reuse for this process
    server.start()
    return server.server_process.pid


@contextmanager
def cli_session() -> Iterator[None]:
    """Around a CLI command that runs flows: tag its runs, and record its temporary server if it needs one."""
    from prefect import tags
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():  # a standing server: it tracks its own runs
        yield
        return
    me = _session_id(psutil.Process(os.getpid()))
    record = _sessions_dir() / f"{me}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"session": me, "server_pid": None}))
    try:
        record.write_text(json.dumps({"session": me, "server_pid": _start_temporary_server()}))
        for line in clean_up_killed_sessions():
            print(f"serflow: {line}", file=sys.stderr, flush=True)
        with tags(TAG_PREFIX + me):
            yield
    finally:
        record.unlink(missing_ok=True)
