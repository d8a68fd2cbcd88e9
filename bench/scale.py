"""Throughput and memory at contact-centre scale: many short calls and utterances through the flows.

On a standing 2-worker LocalCluster (serflow's settings) and one Prefect server, all in one run:
  features  ingest K synthetic corpora (24 voices each, 60 clips per voice), then build `functionals` for
            all of them in one flow run
  score     N short synthetic calls (D distinct calls, copied under N names) through score-calls with an SVM
            on those `functionals`, then the same inbox again: the ledger diff of N unchanged calls
For each flow run: wall seconds, summed task-run time as Prefect recorded it, and the orchestration
overhead share 1 - summed task time / (workers x wall); peak RSS of this (flow) process and of each
worker, sampled every second, with the RSS after the first quarter of the run to show whether it grows.

Usage: .venv/bin/python bench/scale.py [--calls 10000] [--corpora 7]   ->  bench/results/scale.json
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "scale.json"
MB = 2**20


class RssSampler:
    """Resident memory of a set of processes, sampled every second while a block runs."""

    def __init__(self, pids: dict[str, int]) -> None:
        import psutil

        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.samples: list[tuple[float, dict[str, int]]] = []

    @contextmanager
    def sampling(self) -> Iterator[None]:
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(1.0):
                self.samples.append((time.perf_counter(), {n: p.memory_info().rss for n, p in self.procs.items()}))

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def report(self) -> dict[str, dict[str, float]]:
        """Peak RSS per process, and the RSS a quarter of the way through (flat memory: the two are close)."""
        if not self.samples:
            return {}
        quarter = self.samples[len(self.samples) // 4][1]
        return {n: {"peak_mb": round(max(s[n] for _, s in self.samples) / MB), "at_quarter_mb": round(quarter[n] / MB),
                    "at_end_mb": round(self.samples[-1][1][n] / MB)} for n in self.procs}


def task_runs(flow_run_id: Any, task_prefix: str) -> list[Any]:
    """The flow run's task runs named task_prefix*, as Prefect recorded them."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs, offset = [], 0
        while batch := client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                                             limit=200, offset=offset):
            runs += batch
            offset += len(batch)
    return [r for r in runs if r.name.startswith(task_prefix)]


def measured(name: str, run: Callable[[], Any], task_prefix: str, workers: int,
             sampler: RssSampler) -> tuple[dict, Any]:
    """Run one flow (return_state) and describe its wall time, task time, overhead share and memory."""
    sampler.samples.clear()
    start = time.perf_counter()
    with sampler.sampling():
        state = run()
    wall, ended = time.perf_counter() - start, time.time()
    summary = state.result()
    runs = task_runs(state.state_details.flow_run_id, task_prefix)
    busy = sum(r.total_run_time.total_seconds() for r in runs)
    row = {"wall_s": round(wall, 1), "task_runs": len(runs), "task_seconds": round(busy, 1),
           "overhead_share": round(1 - busy / (workers * wall), 3), "rss": sampler.report(),
           "summary": summary.lines()}
    if runs:  # idle worker time before the first task and after the last (the rest lies between tasks)
        first = min(r.start_time.timestamp() for r in runs)
        row["idle_s"] = {"before_first_task": round(first - (ended - wall), 2),
                         "after_last_task": round(ended - max(r.end_time.timestamp() for r in runs), 2)}
    print(f"{name}: {json.dumps(row)}", flush=True)
    return row, summary


def synth_inbox(folder: Path, n_calls: int, distinct: int) -> float:
    """n_calls short calls: `distinct` synthesized ones copied under new names; returns seconds of audio."""
    import soundfile as sf

    from tasks.lib.synth import synth_calls

    seeds = folder.parent / "distinct-calls"
    synth_calls(seeds, n_calls=distinct, turns=2)
    originals = sorted(p for p in seeds.iterdir() if p.suffix != ".json")
    folder.mkdir(parents=True)
    audio_s = 0.0
    for i in range(n_calls):
        src = originals[i % len(originals)]
        shutil.copyfile(src, folder / f"c{i:05d}-{src.name}")
        audio_s += sf.info(str(src)).duration
    return audio_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--distinct-calls", type=int, default=100)
    parser.add_argument("--corpora", type=int, default=7, help="synthetic corpora of 1440 clips each")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32, help="calls per score batch (the CLI's default is 4)")
    args = parser.parse_args()
    from flows.settings import apply_settings, without_heartbeats

    apply_settings()  # before Prefect is imported, as the CLI does: its settings are read once
    with without_heartbeats():
        run(args)


def run(args: argparse.Namespace) -> None:
    """Ingest and build features, train, score the inbox twice; write the results."""
    from distributed import Client

    from flows.fanout import standing_cluster
    from flows.features import build_features
    from flows.ingest import ingest_corpus
    from flows.score import score_calls
    from flows.settings import session_server
    from flows.train import train_model
    from tasks.lib.synth import synth_corpus

    result: dict[str, Any] = {"workers": args.workers, "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp, session_server() as api_url, \
            standing_cluster(args.workers, api_url) as cluster, Client(cluster) as client:
        store, address = f"{tmp}/store", cluster.scheduler_address
        pids = {"flow": os.getpid(), **{f"worker{i}": pid for i, pid in enumerate(client.run(os.getpid).values())}}
        sampler = RssSampler(pids)

        start = time.perf_counter()
        names = [f"syn{k}" for k in range(args.corpora)]
        for k, name in enumerate(names):
            synth_corpus(Path(tmp, name), n_speakers=24, repetitions=2, seed=100 + k)
            ingest_corpus(kind="ravdess", path=f"{tmp}/{name}", name=name, store=store)
        result["ingest_wall_s"] = round(time.perf_counter() - start, 1)
        features, summary = measured("features", lambda: build_features(
            feature_set="functionals", corpus=names, store=store, dask_address=address, return_state=True),
            "feature-batch", args.workers, sampler)
        result["features"] = {**features, "files_per_s": round(summary.computed_rows / features["wall_s"], 1)}

        train_model(model="svm", corpus=names[:1], cv="holdout:syn0:01", store=store, name="scale",
                    feature_set="functionals", dask_address=address)
        audio_s = synth_inbox(Path(tmp, "inbox"), args.calls, args.distinct_calls)
        result["calls"], result["call_audio_hours"] = args.calls, round(audio_s / 3600, 2)

        def score() -> Any:
            return score_calls(inbox=f"{tmp}/inbox", model="scale", store=store, dask_address=address,
                               batch_size=args.batch_size, return_state=True)

        first, _ = measured("score", score, "score-call-batch", args.workers, sampler)
        result["score"] = {**first, "x_realtime": round(audio_s / first["wall_s"], 1)}
        result["rescore_unchanged"], _ = measured("rescore", score, "score-call-batch", args.workers, sampler)
    result["command"] = (f"python bench/scale.py --calls {args.calls} --distinct-calls {args.distinct_calls} "
                         f"--corpora {args.corpora} --workers {args.workers} --batch-size {args.batch_size}")
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
