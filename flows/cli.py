"""The `serflow` command line: argument parsing and one call per sub-command."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from flows.settings import apply_settings, without_heartbeats
from ser_models.catalog import DEFAULT_VECTOR_SET

MODEL_HELP = ("NAME[:VERSION] (default version: the champion, else the newest; default model: the most recently "
              "promoted, else the only one registered)")


class UserError(Exception):
    """Printed as one line without a traceback."""


def prefect_api_description() -> str:
    """Say which Prefect API this run reports to."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if url:
        return f"Prefect API: {url}"
    return "Prefect: no PREFECT_API_URL set, so this run starts a temporary local Prefect server"


@contextmanager
def _flow_session(args: argparse.Namespace) -> Iterator[None]:
    """Commands that run flows say which Prefect API they report to and run as a recorded session."""
    if not getattr(args, "runs_flows", False):
        yield
        return
    from flows.session import cli_session

    print(prefect_api_description(), file=sys.stderr)
    with cli_session():
        yield


def _key_values(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UserError(f"--option needs KEY=VALUE, got {pair!r}")
        out[key.replace("-", "_")] = value
    return out


def _date(text: str) -> str:
    """A YYYY-MM-DD date, checked here so a typo is a usage error, not an empty report."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None


def _csv(text: str | None) -> list[str] | None:
    return [t for t in text.split(",") if t] if text else None


def _print_lines(summary) -> None:
    print("\n".join(summary.lines()))


def cmd_synth_corpus(args: argparse.Namespace) -> None:
    from tasks.lib.synth import synth_corpus

    files = synth_corpus(Path(args.out), n_speakers=args.speakers, repetitions=args.repetitions, seed=args.seed)
    print(f"wrote {len(files)} files for {args.speakers} speakers under {args.out}")


def cmd_ingest(args: argparse.Namespace) -> None:
    from flows.ingest import ingest_corpus

    _print_lines(ingest_corpus(kind=args.kind, path=args.path, name=args.name, store=args.store,
                               options=_key_values(args.option), audio_cache=args.audio_cache))


def check_corpora(args: argparse.Namespace) -> None:
    """Each corpus named must have been ingested into the store; one line says which are there."""
    from tasks.lib.store import Store
    from tasks.lib.tables import ingested_corpora

    store = Store.open(args.store)
    ingested = set(ingested_corpora(store))
    missing = [c for c in _csv(args.corpus) or [] if c not in ingested]
    if missing or not ingested:
        raise UserError(f"no ingested utterances for corpora {missing or 'any'} in {store}; ingested: "
                        f"{sorted(ingested) or 'none'} (run `serflow ingest` first)")


def check_features(args: argparse.Namespace) -> None:
    """Unknown corpora, feature sets or augmentation presets fail here, before any server starts."""
    check_corpora(args)  # first: it needs no feature code imported
    from tasks.lib.augment import AugmentationRequest
    from tasks.lib.feature_sets import get_feature_set

    try:
        for name in _csv(args.feature_set) or []:
            get_feature_set(name)
        for text in args.augment:
            AugmentationRequest.parse(text)
    except ValueError as exc:
        raise UserError(str(exc)) from exc


def _cluster_args(args: argparse.Namespace) -> dict[str, Any]:
    """The --workers, --dask-address and --dashboard options, as flow parameters."""
    return {"workers": args.workers, "dask_address": args.dask_address, "dashboard": args.dashboard}


def cmd_features(args: argparse.Namespace) -> None:
    from flows.features import build_features

    batch = {"batch_size": args.batch_size} if args.batch_size else {}
    for feature_set in _csv(args.feature_set):
        _print_lines(build_features(feature_set=feature_set, corpus=_csv(args.corpus), augment=args.augment,
                                    augment_speakers=_csv(args.augment_speakers), store=args.store,
                                    show_progress=True, **batch, **_cluster_args(args)))


def check_train(args: argparse.Namespace) -> None:
    """The model, its feature sets, the label map and the presets are checked before any server starts."""
    from data_contracts.labels import parse_label_map
    from ser_models.catalog import DEFAULT_MEMBERS, build_estimator

    try:
        parse_label_map(args.labels)
        build_estimator(args.model, args.feature_set, 0, tuple(_csv(args.members) or DEFAULT_MEMBERS))
        if args.device == "cuda":  # only then is torch worth importing before the server starts
            from ser_models.training import resolve_device

            resolve_device(args.device)
    except (ValueError, KeyError) as exc:
        raise UserError(str(exc)) from exc
    check_corpora(args)
    args.augment = train_augmentation(args.augment)
    if args.augment:
        check_features(argparse.Namespace(feature_set=None, augment=args.augment, corpus=None, store=args.store))


def train_augmentation(augment: list[str] | None) -> list[str]:
    """--augment as given; without it, speed-perturbed copies (what a per-file score on unseen speakers
    needs, docs/models.md); `--augment none` alone trains on the recordings only."""
    from tasks.lib.augment import TRAIN_DEFAULT

    if augment is None:
        return list(TRAIN_DEFAULT)
    return [] if augment == ["none"] else augment


def cmd_train(args: argparse.Namespace) -> None:
    from flows.train import train_model

    _print_lines(train_model(model=args.model, corpus=_csv(args.corpus), feature_set=args.feature_set, cv=args.cv,
                             augment=args.augment, labels=args.labels, store=args.store, seed=args.seed,
                             members=_csv(args.members), name=args.name, max_epochs=args.max_epochs,
                             speaker_norm=args.speaker_norm, device=args.device, show_progress=True,
                             **_cluster_args(args)))


def cmd_models(args: argparse.Namespace) -> None:
    from ser_models import registry
    from tasks.lib.store import Store

    store = Store.open(args.store)
    if args.action == "promote":
        if not args.name or not args.version:
            raise UserError("usage: serflow models promote NAME VERSION")
        ref = registry.promote(store, args.name, args.version)
        print(f"{ref.name}: champion is now {ref.version}")
        return
    if args.action == "export":
        _export(store, args)
        return
    table = registry.list_models(store)
    print(table.round(3).to_string(index=False) if len(table) else f"no models registered in {store}")


def _export(store, args: argparse.Namespace) -> None:
    """`models export NAME[:VERSION] --onnx OUT`: the graph, card and guard of a torch model in one folder."""
    from ser_models.inference import load_model
    from ser_models.onnx_export import GRAPH, export_bundle

    if not args.name or not args.onnx or args.version:
        raise UserError("usage: serflow models export NAME[:VERSION] --onnx OUT_FOLDER")
    model = load_model(store, args.name)
    try:
        out = export_bundle(model.estimator, model.card, model.ref.folder, Path(args.onnx))
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    print(f"{model.ref.name}:{model.ref.version} -> {out} ({(out / GRAPH).stat().st_size / 1e6:.2f} MB graph); "
          f"serve it with: serflow predict FILES --onnx {out}")


def cmd_predict(args: argparse.Namespace) -> None:
    import json

    from ser_models.domain import collapse_warning
    from ser_models.inference import load_bundle, load_model, predict_files
    from tasks.lib.store import Store

    model = load_bundle(Path(args.onnx)) if args.onnx else load_model(Store.open(args.store), args.model)
    print(f"model: {model.ref.name}:{model.ref.version}", file=sys.stderr)
    results = predict_files(model, args.files, args.group_by)
    print(json.dumps(results, indent=2) if args.json else "\n".join(map(_prediction_line, results)))
    outside = [r["path"] for r in results if r.get("in_domain") is False]
    if outside:
        print(f"warning: {len(outside)} of {len(results)} files are out of domain (unlike the model's training "
              f"audio; their predictions are unreliable): {', '.join(outside[:5])}", file=sys.stderr)
    warning = collapse_warning([r["emotion"] for r in results if "emotion" in r], "files")
    if warning:
        print(f"warning: {warning}", file=sys.stderr)


def _prediction_line(r: dict) -> str:
    if "error" in r:
        return f"{r['path']}: error: {r['error']}"
    probs = "  ".join(f"{c}={p:.2f}" for c, p in sorted(r["probabilities"].items(), key=lambda kv: -kv[1]))
    domain = "" if r["in_domain"] is None else f"  domain_score={r['domain_score']:.3f}" + ("" if r["in_domain"] else " OUT OF DOMAIN")
    reasons = {"clipped": lambda: f"clipped: {r['clipped_share']:.1%} of samples at full scale",
               "narrowband": lambda: "narrowband: through a phone line",
               "noise_floor": lambda: f"noise floor only {-r['noise_floor_db']:.0f} dB under the speech"}
    domain += "".join(f" ({reasons[check]()})" for check in r["failed_audio_checks"])
    return f"{r['path']}: {r['emotion']} ({r['confidence']:.2f})  [{probs}]{domain}  {r['model']}"


def check_model(args: argparse.Namespace) -> None:
    """The model resolves (the named one, or the default) before any server starts; the flow gets NAME:VERSION."""
    from ser_models.registry import resolve
    from tasks.lib.store import Store

    if getattr(args, "onnx", None):  # predict --onnx serves an exported bundle, not the registry
        return
    ref = resolve(Store.open(args.store), args.model)
    args.model = f"{ref.name}:{ref.version}"


def cmd_score_calls(args: argparse.Namespace) -> None:
    from flows.score import score_calls

    _print_lines(score_calls(inbox=args.inbox, model=args.model, store=args.store, batch_size=args.batch_size,
                             agent_channel=args.agent_channel, vad_sample_rate=args.vad_sample_rate,
                             show_progress=True, **_cluster_args(args)))


def cmd_report(args: argparse.Namespace) -> None:
    from tasks.lib.day import today
    from tasks.lib.report import write_report
    from tasks.lib.store import Store

    store = Store.open(args.store)
    print(store.url_of(write_report(store, args.date or today(), args.model)))


def cmd_synth_calls(args: argparse.Namespace) -> None:
    from tasks.lib.synth import call_labels_path, synth_calls

    synth_calls(Path(args.out), n_calls=args.calls, seed=args.seed)
    print(f"wrote {args.calls} calls under {args.out} and their utterance labels to {call_labels_path(Path(args.out))}")


def cmd_demo(args: argparse.Namespace) -> None:
    from flows.demo import demo
    from tasks.demo import report

    print(report(demo(data_dir=args.data, store=args.store)))


def shared_parents() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The options every command that touches the store, or runs batches on Dask, shares."""
    from tasks.lib.store import default_store

    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", default=default_store(), help="store root: path or fsspec URL")
    dask = argparse.ArgumentParser(add_help=False)
    dask.add_argument("--workers", type=int, help="LocalCluster worker processes (default: CPU count)")
    dask.add_argument("--dask-address", help="an existing dask.distributed scheduler, e.g. tcp://host:8786")
    dask.add_argument("--dashboard", nargs="?", const=":8787", metavar="[HOST]:PORT",
                      help="serve the LocalCluster's Dask dashboard (default :8787; off unless given)")
    return store, dask


def add_synth_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth-corpus", help="write the built-in synthetic RAVDESS-style corpus")
    p.add_argument("out")
    p.add_argument("--speakers", type=int, default=8)
    p.add_argument("--repetitions", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_synth_corpus)
    p = sub.add_parser("synth-calls", help="write synthetic calls with known utterance labels")
    p.add_argument("out")
    p.add_argument("--calls", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_synth_calls)


def add_ingest(sub: argparse._SubParsersAction, store: argparse.ArgumentParser) -> None:
    from tasks.lib.corpora import RECIPES

    p = sub.add_parser("ingest", parents=[store], help="ingest a labelled corpus into the utterances manifest")
    p.add_argument("kind", choices=sorted(RECIPES))
    p.add_argument("path", help="corpus folder (or the CSV file for kind 'csv')")
    p.add_argument("--name", help="corpus name in the store (default: the kind)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="recipe option, e.g. speaker_regex='(?P<speaker>spk\\d+)' for 'folders'")
    p.add_argument("--no-audio-cache", dest="audio_cache", action="store_false",
                   help="do not keep decoded 16 kHz audio in the store (feature runs then decode each file)")
    p.set_defaults(func=cmd_ingest, runs_flows=True)


def add_features(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("features", parents=parents,
                       help="augment and extract features into the feature store (over Dask)")
    p.add_argument("--feature-set", default=DEFAULT_VECTOR_SET,
                   help=f"comma list of feature sets: {DEFAULT_VECTOR_SET} (what mlp/svm/logreg/rf read by default), "
                   "functionals_ge2e, functionals, ge2e, logmel, mfcc_seq, mfcc40_mean (docs/models.md)")
    p.add_argument("--augment", action="append", default=[], metavar="PRESET[xN]",
                   help="augmented copies, e.g. noisex2; presets in docs/models.md")
    p.add_argument("--augment-speakers", help="comma list of speaker_ids that may be augmented, or 'all'")
    p.add_argument("--corpus", help="comma list of corpora (default: all ingested)")
    p.add_argument("--batch-size", type=int,
                   help="most files per Prefect task (default 1024; batches are cut by audio length, 2 per worker)")
    p.set_defaults(func=cmd_features, check=check_features, runs_flows=True)


def add_train(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("train", parents=parents, help="cross-validate a model speaker-independently and register it")
    p.add_argument("--model", required=True, help="mlp, svm, svm_linear, logreg, rf, cnn, cl or ensemble")
    p.add_argument("--corpus", required=True, help="comma list of ingested corpora")
    p.add_argument("--feature-set", help=f"for mlp/svm/logreg/rf: {DEFAULT_VECTOR_SET} (default), functionals_ge2e, functionals, ge2e or "
                   "mfcc40_mean; for cl: "
                   "CNN_INPUT+LSTM_INPUT, logmel+mfcc_seq by default")
    p.add_argument("--cv", default="loso",
                   help="loso | speaker-kfold:K | holdout:<speaker,...> | random:0.2 (speaker-DEPENDENT, labelled so)")
    p.add_argument("--augment", action="append", metavar="PRESET[xN]",
                   help="augmented copies of training speakers' audio (default: speedx2; 'none' for no copies)")
    p.add_argument("--labels", help="label map: calm_as_neutral, or inline 'calm=neutral,surprised='")
    p.add_argument("--members", help="ensemble members (default mlp,svm,rf)")
    p.add_argument("--name", help="registry name (default: the model)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-epochs", type=int, help="cap on torch training epochs (quick runs)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where cnn, cl and mlp train (auto: a CUDA GPU when torch sees one, else the CPU)")
    p.add_argument("--speaker-norm", action="store_true",
                   help="standardise features per speaker (better cross-validated UA; hurts calls whose "
                        "channels hold one emotion or two voices, see docs/models.md)")
    p.set_defaults(func=cmd_train, check=check_train, runs_flows=True)


def add_serving(sub: argparse._SubParsersAction, store: argparse.ArgumentParser,
                dask: argparse.ArgumentParser) -> None:
    p = sub.add_parser("models", parents=[store], help="list registered models, or promote a version to champion")
    p.add_argument("action", choices=["list", "promote", "export"])
    p.add_argument("name", nargs="?", help="NAME (promote), NAME[:VERSION] (export)")
    p.add_argument("version", nargs="?")
    p.add_argument("--onnx", metavar="OUT_FOLDER", help="export: write the ONNX graph, card and guard here")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("predict", parents=[store], help="emotion probabilities for audio files")
    p.add_argument("files", nargs="+")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--onnx", metavar="BUNDLE", help="serve an exported ONNX bundle with onnxruntime instead of --model")
    p.add_argument("--json", action="store_true")
    p.add_argument("--group-by", metavar="REGEX|all",
                   help="speaker normalisation context: 'all' files as one speaker, or a regex whose first group "
                        "names the speaker in each path (default: each file alone, as served)")
    p.set_defaults(func=cmd_predict, check=check_model)
    p = sub.add_parser("score-calls", parents=[store, dask], help="score new or changed call recordings in an inbox")
    p.add_argument("inbox", help="folder or fsspec URL of call recordings")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--batch-size", type=int, default=4, help="calls per Prefect task")
    p.add_argument("--agent-channel", type=int, choices=[0, 1], default=0,
                   help="stereo calls: the agent's channel (0 or 1); the other channel is the customer's")
    p.add_argument("--vad-sample-rate", type=int, choices=[8000, 16000], default=8000,
                   help="silero's 8 kHz model (default; phone audio carries nothing above 4 kHz) or its 16 kHz one")
    p.set_defaults(func=cmd_score_calls, check=check_model, runs_flows=True)
    p = sub.add_parser("report", parents=[store], help="write the HTML report of one day's scored calls")
    p.add_argument("--date", metavar="YYYY-MM-DD", type=_date, help="scored_date of the calls (default: today, UTC)")
    p.add_argument("--model", metavar="NAME:VERSION", help="default: the version that scored the day's latest call")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("demo", parents=[store], help="run the whole chain on built-in synthetic data")
    p.add_argument("--data", default="demo-data", help="where the synthetic corpus and calls are written")
    p.set_defaults(func=cmd_demo, runs_flows=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="serflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    store, dask = shared_parents()
    add_synth_commands(sub)
    add_ingest(sub, store)
    add_features(sub, [store, dask])
    add_train(sub, [store, dask])
    add_serving(sub, store, dask)
    return parser


def main(argv: list[str] | None = None) -> int:
    apply_settings()
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "check", None):
            args.check(args)
        with without_heartbeats(), _flow_session(args):
            args.func(args)
    except Exception as exc:
        if not _is_user_error(exc):
            raise
        print(f"serflow: error: {exc}", file=sys.stderr)
        return 2
    return 0


# Errors that are the user's to fix, by module; looked up only in modules already imported (an error can only
# come from a module that ran), so a fast failure never pays for importing the rest of the pipeline.
USER_ERRORS = {"data_contracts.suites": "ContractViolation", "ser_models.registry": "RegistryError",
               "tasks.features": "FeatureError", "tasks.ingest": "IngestError", "tasks.lib.lock": "StoreLocked",
               "tasks.lib.store": "InvalidName", "tasks.train": "TrainError"}


def _is_user_error(exc: Exception) -> bool:
    return isinstance(exc, UserError) or any(
        isinstance(exc, getattr(sys.modules[module], name)) for module, name in USER_ERRORS.items()
        if module in sys.modules)


if __name__ == "__main__":
    sys.exit(main())
