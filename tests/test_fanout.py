"""Fan-out: how many workers a plan cuts batches for, and one task run per parameter set on Dask."""
from prefect import flow, task

from flows.fanout import Cluster, FanOut, fan_out


def test_parallelism_is_the_schedulers_worker_threads(dask_address):
    assert Cluster(dask_address=dask_address).parallelism() == 2 and Cluster(workers=3).parallelism() == 3


class Echo:
    def __init__(self, value: int) -> None:
        self.value = value

    def describe(self) -> str:
        return f"echo {self.value}"


@task(name="echo")
def echo(value: int) -> Echo:
    return Echo(value * 2)


@flow(name="fan-out-test")
def fan_out_flow(values: list[int], dask_address: str) -> list[int]:
    spec = FanOut(echo, [{"value": v} for v in values], [1] * len(values), "echo", "item")
    return sorted(r.value for r in fan_out(spec, Cluster(dask_address=dask_address)))


def test_every_parameter_set_runs_once(dask_address):
    assert fan_out_flow([1, 2, 3, 4, 5], dask_address) == [2, 4, 6, 8, 10]
    assert fan_out_flow([], dask_address) == []


@flow(name="dashboard-test")
def dashboard_status(dashboard: str | None) -> int:
    """The HTTP status of the LocalCluster's dashboard page while the run's task runner is up."""
    import urllib.error
    import urllib.request

    with Cluster(workers=1, dashboard=dashboard).task_runner() as runner:
        try:
            return urllib.request.urlopen(runner.client.dashboard_link, timeout=30).status
        except urllib.error.HTTPError as exc:
            return exc.code


def test_dashboard_is_served_only_when_asked_for():
    assert dashboard_status("127.0.0.1:0") == 200
    assert dashboard_status(None) == 404


def _scheduler_logs(dask_scheduler=None) -> list[int | None]:
    return [stream.recent_message_log.maxlen for stream in dask_scheduler.stream_comms.values()]


@flow(name="message-log-test")
def message_log_lengths(dask_address: str | None) -> list[int | None]:
    """How many recent messages the run's Dask comms keep: the flow's client's, then the scheduler's to each worker."""
    cluster = Cluster(dask_address=dask_address) if dask_address else Cluster(workers=1)
    with cluster.task_runner() as runner:
        client = runner.client
        return [client.scheduler_comm.recent_message_log.maxlen, *client.run_on_scheduler(_scheduler_logs)]


def test_dask_comms_keep_no_message_log(dask_address):
    """Each kept message would keep a batch's task call (Prefect's context, the parameters) alive."""
    for logs in (message_log_lengths(dask_address), message_log_lengths(None)):  # the session's cluster, a fresh one
        assert len(logs) >= 2 and set(logs) == {0}


def test_workers_import_the_stage_modules_when_they_start(dask_address):
    from distributed import Client

    from flows.fanout import WORKER_PRELOAD

    with Client(dask_address, set_as_default=False) as client:
        preloaded = client.run(lambda dask_worker: sorted(p.name for p in dask_worker.preloads))
    assert list(preloaded.values()) == [sorted(WORKER_PRELOAD)] * 2
