"""Settings every in-process flow run shares (CLI, demo, benches, this test session)."""
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

from flows.settings import without_heartbeats


def test_flow_runs_here_skip_heartbeats_unless_the_user_sets_them(monkeypatch):
    assert get_current_settings().flows.heartbeat_frequency is None  # the session runs as the CLI does
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "60")
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}), without_heartbeats():
        assert get_current_settings().flows.heartbeat_frequency == 60
    monkeypatch.delenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY")
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}), without_heartbeats():
        assert get_current_settings().flows.heartbeat_frequency is None
