"""Memory and time of the day report over many calls: the flow process's step that read every call's files.

Writes a synthetic day of N scored calls into a scratch store the way score-calls lays them out (one calls
file and one segments file per call, 2 channel rows and 12 segments each, a ledger file per 32 calls), then
runs the day report (`write_day_page`, overview only, as score-calls ends) in a fresh process and reports its
seconds and peak RSS, sampled every 10 ms.

  .venv/bin/python bench/day_report.py [--calls 10000]   ->  bench/results/day_report.json
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "day_report.json"
DATE = "2026-12-05"
REPORT = """
import json, sys, threading, time
sys.path.insert(0, {root!r})
import psutil
from tasks.lib.report import DayData, write_day_page
from tasks.lib.store import Store
process, peak = psutil.Process(), [0]
def sample():
    while True:
        peak[0] = max(peak[0], process.memory_info().rss)
        time.sleep(0.01)
threading.Thread(target=sample, daemon=True).start()
before, start = process.memory_info().rss, time.perf_counter()
write_day_page(Store({store!r}), DayData.load(Store({store!r}), {date!r}))
print(json.dumps({{"seconds": round(time.perf_counter() - start, 1), "rss_before_mb": round(before / 2**20),
                   "peak_rss_mb": round(max(peak[0], process.memory_info().rss) / 2**20),
                   "rss_after_mb": round(process.memory_info().rss / 2**20)}}))
"""


def rows(schema: pa.Schema, n: int, call_id: str, rng: np.random.Generator) -> pa.Table:
    """N plausible rows of a result table's file schema for one call."""
    values = {"call_id": [call_id] * n, "status": ["ok"] * n, "model": ["bench"] * n, "model_version": ["v0001"] * n,
              "path": [f"/inbox/{call_id}.wav"] * n, "emotion": list(rng.choice(["angry", "neutral", "sad"], n)),
              "dominant_emotion": ["neutral"] * n, "role": ["agent"] * n}
    columns = {}
    for field in schema:
        if field.name in values:
            columns[field.name] = pa.array(values[field.name], field.type)
        elif pa.types.is_timestamp(field.type):
            columns[field.name] = pa.array(np.full(n, 1_796_000_000_000_000)).cast(field.type)
        elif pa.types.is_boolean(field.type):
            columns[field.name] = pa.array(rng.random(n) > 0.1)
        elif pa.types.is_list(field.type):
            columns[field.name] = pa.array([[f"results/calls/{call_id}.parquet"]] * n, field.type)
        else:
            columns[field.name] = pa.array(rng.random(n) * 10).cast(field.type, safe=False)
    return pa.table(columns)


def write_day(store: Path, n_calls: int) -> None:
    from data_contracts import schemas

    rng = np.random.default_rng(0)
    for spec, per_call in ((schemas.CALLS_TABLE, 2), (schemas.SEGMENTS_TABLE, 12)):
        folder = store / spec.path / f"scored_date={DATE}"
        folder.mkdir(parents=True)
        for i in range(n_calls):
            pq.write_table(rows(spec.file_schema, per_call, f"c{i:05d}", rng), folder / f"c{i:05d}.parquet")
    ledger = store / schemas.LEDGER_TABLE.path
    ledger.mkdir(parents=True)
    for first in range(0, n_calls, 32):
        part = rows(schemas.LEDGER, 32, "", rng)
        ids = [f"c{i:05d}" for i in range(first, first + 32)]
        pq.write_table(part.set_column(0, "call_id", pa.array(ids)), ledger / f"part-{first:05d}.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_day(Path(tmp), args.calls)
        print(f"wrote a day of {args.calls} calls in {time.perf_counter() - start:.0f} s", flush=True)
        out = subprocess.run([sys.executable, "-c", REPORT.format(root=str(ROOT), store=tmp, date=DATE)],
                             check=True, capture_output=True, text=True).stdout
    result = {"calls": args.calls, **json.loads(out.strip().splitlines()[-1]),
              "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": f"python bench/day_report.py --calls {args.calls}"}
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
