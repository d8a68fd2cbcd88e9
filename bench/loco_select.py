"""Choose a leave-one-corpus-out training recipe without looking at the held-out corpus.

For each held-out corpus H, each candidate recipe R and each label map, train the bench's `logreg` on one of
H's two training corpora alone with R's copies (that corpus's own bench folds) and score every recording of
the other one per file, both ways round (bench/accuracy.py's `hold_out`, the way its --loco rows are made).
R's score is the mean of the two UAs; the recipe with the higher score is the one chosen for H. This is
leave-one-domain-out model selection (Gulrajani & Lopez-Paz, "In Search of Lost Domain Generalization",
2021): H is never read. The chosen recipe's UA on H itself is then read from the three-corpus rows
bench/accuracy.py recorded (`--loco`).

  candidates  speedx2 (the default), speedx2 + tone
  label maps  LOCO_LABELS (calm folded into neutral) and calm left out (calm=,disgust=,surprised=,boredom=)

  .venv/bin/python bench/loco_select.py [--maps loco,calm-out] [--recipes 'speedx2,speedx2 tone']
      (after bench/accuracy.py --loco has built the bench store)  ->  bench/results/loco_select.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

# bench/ is on sys.path when run as a script
from accuracy import LOCO_LABELS, hold_out, load_results, loco_key, relabelled, safe

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "loco_select.json"
CORPORA = ["ravdess", "emodb", "casia"]
MAPS = {"loco": LOCO_LABELS, "calm-out": "calm=,disgust=,surprised=,boredom="}


def save(result: dict) -> None:
    OUT.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")


def inner_ua(store: str, train_on: str, test_on: str, recipe: str, labels: str, result: dict) -> float:
    """Per-file UA on `test_on` of the logreg trained on `train_on` alone (its own bench folds), measured once
    and saved at once: the results file carries it to the next run."""
    key, done = f"{train_on}->{test_on}|{recipe}|{labels}", result.setdefault("inner", {})
    if key not in done:
        name = f"select-{train_on}-to-{test_on}-{safe(recipe)}-{safe(labels)}"
        per_file, _, _ = hold_out(store, test_on, [train_on], "logreg", recipe, labels, name)
        done[key] = round(float(per_file["ua"]), 4)
        result["measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())  # of the last inner UA
        save(result)
        print(f"{key}: UA per file {done[key]:.3f}", flush=True)
    return done[key]


def outer_row(held: str, recipe: str, labels: str) -> dict | None:
    """bench/accuracy.py's three-corpus row for this held-out corpus, recipe and map (None if not run)."""
    shown, _ = relabelled("logreg", None if labels == LOCO_LABELS else labels)
    return load_results()["runs"].get(loco_key(held, [c for c in CORPORA if c != held], shown, recipe))


def main() -> None:
    from flows.settings import apply_settings, without_heartbeats

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", default=",".join(MAPS))
    parser.add_argument("--recipes", default="speedx2,speedx2 tone")
    parser.add_argument("--store", default=str(ROOT / "bench" / ".store"))
    args = parser.parse_args()
    apply_settings()
    result = json.loads(OUT.read_text()) if OUT.exists() else {}
    with without_heartbeats():
        for map_name in args.maps.split(","):
            labels = MAPS[map_name]
            for held in CORPORA:
                first, second = (c for c in CORPORA if c != held)
                scores = {recipe: (inner_ua(args.store, first, second, recipe, labels, result)
                                   + inner_ua(args.store, second, first, recipe, labels, result)) / 2
                          for recipe in args.recipes.split(",")}
                chosen, shown = max(scores, key=scores.get), {r: round(s, 4) for r, s in scores.items()}
                outer = outer_row(held, chosen, labels)
                result.setdefault("chosen", {}).setdefault(map_name, {})[held] = {
                    "inner_mean_ua": shown, "recipe": chosen,
                    "held_out_ua_per_file": round(outer["ua_per_file"], 4) if outer else None,
                    "held_out_row_measured_at": outer["measured_at"] if outer else None}
                print(f"{map_name}, {held} held out: chose {chosen!r} (inner mean UA {shown}); held-out UA per file "
                      + (f"{outer['ua_per_file']:.3f}" if outer else "not run"), flush=True)
                save(result)


if __name__ == "__main__":
    main()
