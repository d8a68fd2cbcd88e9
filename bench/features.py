"""Feature-extraction throughput on the shared corpora, all measured in one run on the same files.

  plain    a sequential loop: librosa.load + MFCC-40 mean per file (the simplest seed's features),
           and the same loop in two processes over halves of the files: this machine's 2-core ceiling
  serflow  build-features `functionals` (~1.7k features/file, augmentation-ready, contract-checked,
           written to the Parquet store) on an existing Dask scheduler with 1 and with 2 warm workers,
           plus a cold run that starts its own LocalCluster (2 workers) inside the flow.

Usage: .venv/bin/python bench/features.py [--limit N]   ->  bench/results/features.json
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
RESULTS = ROOT / "bench" / "results" / "features.json"


def plain_loop(paths: list[str]) -> dict:
    import librosa

    start, audio_s = time.perf_counter(), 0.0
    for p in paths:
        y, sr = librosa.load(p)
        librosa.feature.mfcc(y=y, sr=sr, n_mfcc=40).mean(axis=1)
        audio_s += len(y) / sr
    return {"seconds": time.perf_counter() - start, "audio_s": audio_s}


def plain_loop_2proc(paths: list[str]) -> dict:
    """Two independent processes, no coordination: how far 2 cores scale on embarrassingly parallel work."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2, initializer=_single_threaded) as pool:
        list(pool.map(plain_loop, [paths[:2], paths[2:4]]))  # both processes up and warm before the clock
        start = time.perf_counter()
        halves = list(pool.map(plain_loop, [paths[0::2], paths[1::2]]))
    return {"seconds": time.perf_counter() - start, "audio_s": sum(h["audio_s"] for h in halves)}


def _single_threaded() -> None:
    """One BLAS/OpenMP thread per process, as Dask workers have: two processes on two cores, no oversubscription."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def warm_worker(paths: list[str]) -> None:
    """Run one small real batch through the Prefect task, as a long-lived worker already would have:
    imports, JIT, the task engine's API client, GX's context, the Ogg decoder and the Parquet writer."""
    from tasks.features import get_feature_set
    from tasks.features.build import Batch, WorkItem, build_feature_batch

    with tempfile.TemporaryDirectory() as scratch:
        items = [WorkItem(f"warm{i}", "warm", p, "none") for i, p in enumerate(paths)]
        build_feature_batch(scratch, Batch("warm", items), "functionals", get_feature_set("functionals").config_hash, [])


def serflow_run(store: str, api_url: str, workers: int | None = None, cluster: bool = True,
                batch_size: int = 512, warm_paths: list[str] | None = None) -> dict:
    from dask.distributed import Client, LocalCluster

    from flows.features import build_features

    shutil.rmtree(Path(store) / "features", ignore_errors=True)
    if not cluster:  # cold: the flow starts and stops its own LocalCluster
        start = time.perf_counter()
        summary = build_features(feature_set="functionals", store=store, workers=workers, batch_size=batch_size)
        return {"seconds": time.perf_counter() - start, "audio_s": summary.audio_s, "rows": summary.computed_rows}
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      env={"PREFECT_API_URL": api_url, "GX_ANALYTICS_ENABLED": "false"}) as lc, Client(lc) as client:
        client.run(warm_worker, warm_paths)
        start = time.perf_counter()
        summary = build_features(feature_set="functionals", store=store, dask_address=lc.scheduler_address,
                                 batch_size=batch_size)
        return {"seconds": time.perf_counter() - start, "audio_s": summary.audio_s, "rows": summary.computed_rows}


def with_steal(run_fn, *args, **kwargs) -> dict:
    """Run one measurement and record the share of CPU time the hypervisor took away meanwhile
    (this VM's timings drift with it)."""
    import psutil  # dask.distributed's own dependency

    before = psutil.cpu_times()
    run = run_fn(*args, **kwargs)
    after = psutil.cpu_times()
    if hasattr(after, "steal"):  # Linux only
        total = sum(after[:8]) - sum(before[:8])  # guest time is already inside user/nice
        run["steal_pct"] = 100 * (after.steal - before.steal) / max(total, 1e-9)
    return run


def rates(run: dict, n_files: int) -> dict:
    return {**{k: round(v, 2) for k, v in run.items()}, "files_per_s": round(n_files / run["seconds"], 2),
            "x_realtime": round(run["audio_s"] / run["seconds"], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="use only the first N files per corpus (a quick check)")
    parser.add_argument("--batch-size", type=int, default=512, help="most files per feature task")
    args = parser.parse_args()
    if not CORPORA.is_dir():
        sys.exit(f"{CORPORA} not found: this benchmark needs the shared corpora")
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    from flows.ingest import ingest_corpus

    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=120):
        api_url = PREFECT_API_URL.value()
        corpora = {}
        for name in ("emodb", "ravdess"):
            src = CORPORA / name
            if args.limit:  # a smaller copy with the same layout
                files = sorted(src.rglob("*.ogg"))[: args.limit]
                for f in files:
                    (Path(tmp, "src", name) / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(f, Path(tmp, "src", name) / f.relative_to(src))
                src = Path(tmp, "src", name)
            corpora[name] = src
            ingest_corpus(kind=name, path=str(src), store=tmp + "/store")
        from tasks.ingest import read_manifest
        from tasks.store import Store

        paths = read_manifest(Store(tmp + "/store"))["path"].tolist()
        n = len(paths)
        print(f"{n} files from {', '.join(corpora)}", flush=True)
        plain_loop(paths[:2])  # imports and first calls before the clock, as the warm runs have
        runs = {"plain_loop_mfcc40_mean": with_steal(plain_loop, paths)}
        print("plain", rates(runs["plain_loop_mfcc40_mean"], n), flush=True)
        runs["plain_loop_mfcc40_mean_2proc"] = with_steal(plain_loop_2proc, paths)
        print("plain x2", rates(runs["plain_loop_mfcc40_mean_2proc"], n), flush=True)
        for workers in (1, 2):
            runs[f"serflow_functionals_{workers}w_warm"] = with_steal(serflow_run, tmp + "/store", api_url, workers,
                                                                      batch_size=args.batch_size, warm_paths=paths[:2])
            print(workers, rates(runs[f"serflow_functionals_{workers}w_warm"], n), flush=True)
        runs["serflow_functionals_2w_cold"] = with_steal(serflow_run, tmp + "/store", api_url, 2, cluster=False,
                                                         batch_size=args.batch_size)
    out = {name: rates(run, n) for name, run in runs.items()}
    fps = {k: v["files_per_s"] for k, v in out.items()}
    result = {
        "files": n, "audio_minutes": round(runs["plain_loop_mfcc40_mean"]["audio_s"] / 60, 1),
        "cpu_count": os.cpu_count(), "runs": out,
        "ratios": {
            "serflow_2w_warm_vs_plain": round(fps["serflow_functionals_2w_warm"] / fps["plain_loop_mfcc40_mean"], 2),
            "serflow_2w_cold_vs_plain": round(fps["serflow_functionals_2w_cold"] / fps["plain_loop_mfcc40_mean"], 2),
            "serflow_1w_to_2w_warm": round(fps["serflow_functionals_2w_warm"] / fps["serflow_functionals_1w_warm"], 2),
            "plain_1proc_to_2proc": round(fps["plain_loop_mfcc40_mean_2proc"] / fps["plain_loop_mfcc40_mean"], 2),
        },
        "batch_size": args.batch_size,
        "command": "python bench/features.py" + (f" --limit {args.limit}" if args.limit else "")
                   + (f" --batch-size {args.batch_size}" if args.batch_size != 512 else ""),
    }
    print(json.dumps(result, indent=2))
    if not args.limit:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
