"""Start-up settings, applied once by each entry point (CLI, deployments/serve.py, tests, benches), never
on import: Prefect's defaults for runs started here, and the heartbeat and test-server contexts."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

# - A temporary Prefect server gets 20 s to start by default; on a busy small machine that is too little
#   ("Timed out while attempting to connect").
# - Runs are offline: a temporary server's telemetry would only log "Failed to send telemetry" errors.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


def apply_settings() -> None:
    """Set serflow's Prefect defaults where the user has not set them; call before Prefect is imported."""
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)


@contextmanager
def without_heartbeats() -> Iterator[None]:
    """Flow runs started here (CLI, demo, benches, tests) skip Prefect's heartbeat thread.

    Heartbeats let a server spot crashed deployment runs (deployments keep them); anywhere else the
    thread only holds each flow run's exit for up to 1 s, as it sleeps in 1 s steps. A user's own
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY is left alone.
    """
    if "PREFECT_FLOWS_HEARTBEAT_FREQUENCY" in os.environ:
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@contextmanager
def session_server() -> Iterator[str]:
    """One temporary Prefect server for a whole session of flow runs (tests, benches), run as the CLI
    runs them; yields its API URL for Dask workers started in the session."""
    apply_settings()
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    startup_s = int(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])
    with prefect_test_harness(server_startup_timeout=startup_s), without_heartbeats():
        yield PREFECT_API_URL.value()
