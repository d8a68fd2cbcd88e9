"""Prefect flows: each reads like a table of contents over tasks/."""
import os
from collections.abc import Iterator
from contextlib import contextmanager

# A temporary Prefect server gets 20 s to start by default; on a busy 2-core machine that was too
# little (a bench run failed with "Timed out while attempting to connect"). Set before Prefect loads.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# Runs are offline: a temporary server's telemetry would only log "Failed to send telemetry" errors.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


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
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    startup_s = int(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])
    with prefect_test_harness(server_startup_timeout=startup_s), without_heartbeats():
        yield PREFECT_API_URL.value()
