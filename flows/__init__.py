"""Prefect flows: each reads like a table of contents over tasks/."""
import os

# A temporary Prefect server gets 20 s to start by default; on a busy 2-core machine that was too
# little (a bench run failed with "Timed out while attempting to connect"). Set before Prefect loads.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# Runs are offline: a temporary server's telemetry would only log "Failed to send telemetry" errors.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
