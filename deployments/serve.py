"""Serve all serflow deployments from one long-running process (a small setup without a work pool).

  .venv/bin/python deployments/serve.py --inbox ./inbox --store ./serflow-store --model mlp
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from prefect import serve  # noqa: E402

from flows.features import build_features  # noqa: E402
from flows.ingest import ingest_corpus  # noqa: E402
from flows.score import score_calls  # noqa: E402
from flows.train import train_model  # noqa: E402
from tasks.store import default_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inbox", default=os.environ.get("SERFLOW_INBOX", "./inbox"))
    parser.add_argument("--store", default=default_store())
    parser.add_argument("--model", default=os.environ.get("SERFLOW_MODEL", "mlp"))
    parser.add_argument("--cron", default="*/15 * * * *", help="score-calls schedule ('' for none)")
    args = parser.parse_args()
    store = str(Path(args.store).resolve()) if "://" not in args.store else args.store
    inbox = str(Path(args.inbox).resolve()) if "://" not in args.inbox else args.inbox
    serve(
        score_calls.to_deployment(name="score-calls", cron=args.cron or None,
                                  parameters={"inbox": inbox, "store": store, "model": args.model}),
        ingest_corpus.to_deployment(name="ingest-corpus", parameters={"kind": "ravdess", "path": "./corpus", "store": store}),
        build_features.to_deployment(name="build-features", parameters={"store": store}),
        train_model.to_deployment(name="train-model", parameters={"model": "mlp", "corpus": ["ravdess"], "store": store}),
    )


if __name__ == "__main__":
    main()
