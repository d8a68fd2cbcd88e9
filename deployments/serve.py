"""Serve all serflow deployments from one long-running process (a small setup without a work pool).

  .venv/bin/python deployments/serve.py --inbox ./inbox --store ./serflow-store --model svm
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path


def _absolute(location: str) -> str:
    """Deployment runs may start in another folder: local paths are made absolute, URLs kept."""
    return location if "://" in location else str(Path(location).resolve())


def main() -> None:
    from flows.settings import apply_settings
    from tasks.lib.store import default_store

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inbox", default=os.environ.get("SERFLOW_INBOX", "./inbox"))
    parser.add_argument("--store", default=default_store())
    parser.add_argument("--model", default=os.environ.get("SERFLOW_MODEL"),
                        help="NAME[:VERSION] (default: the most recently promoted model)")
    parser.add_argument("--cron", default="*/15 * * * *", help="score-calls schedule ('' for none)")
    args = parser.parse_args()
    apply_settings()
    from prefect import serve

    from flows.features import build_features
    from flows.ingest import ingest_corpus
    from flows.score import score_calls
    from flows.train import train_model

    store, inbox = _absolute(args.store), _absolute(args.inbox)
    serve(
        score_calls.to_deployment(name="score-calls", cron=args.cron or None,
                                  parameters={"inbox": inbox, "store": store, "model": args.model}),
        ingest_corpus.to_deployment(name="ingest-corpus", parameters={"kind": "ravdess", "path": "./corpus", "store": store}),
        build_features.to_deployment(name="build-features", parameters={"store": store}),
        train_model.to_deployment(name="train-model", parameters={"model": "mlp", "corpus": ["ravdess"], "store": store}),
    )


if __name__ == "__main__":
    main()
