"""The feature store's planning: cost-balanced batches."""
import numpy as np
import pytest

from tasks.lib.feature_store import Batch, WorkItem, balanced_batches, cost_s


def test_batches_balance_audio_seconds_across_workers():
    rng = np.random.default_rng(0)
    items = [WorkItem(f"{c}{i}", c, "s", f"/{c}{i}.wav", "none", float(d))
             for c, n in (("long", 900), ("short", 300)) for i, d in enumerate(rng.uniform(1, 8, n))]
    batches = balanced_batches(items, parallelism=6, max_batch_size=512)
    costs = [cost_s(b.items) for b in batches]
    assert len(batches) == 12 and max(costs) / min(costs) < 1.02  # 2 per worker, equal work
    assert costs == sorted(costs, reverse=True)  # biggest first: the last to finish are the smallest
    assert sorted(i.utterance_id for b in batches for i in b.items) == sorted(i.utterance_id for i in items)
    assert sum(len({i.corpus for i in b.items}) == 2 for b in batches) == 1  # one batch straddles the corpora
    capped = balanced_batches(items, parallelism=5, max_batch_size=100)
    assert len(capped) == 15 and max(len(b.items) for b in capped) <= 100
    # Runs of short files hold more files for the same cost: the cap adds whole rounds of batches
    # (4 would put 462 short files in one, 6 would put 308) so every worker still gets as many.
    mixed = [WorkItem(f"l{i}", "c", "s", "/l.wav", "none", 8.0) for i in range(300)] + \
            [WorkItem(f"s{i}", "c", "s", "/s.wav", "none", 0.1) for i in range(600)]
    capped = balanced_batches(mixed, parallelism=2, max_batch_size=300)
    capped_costs = [cost_s(b.items) for b in capped]
    assert len(capped) == 8 and max(len(b.items) for b in capped) <= 300
    assert max(capped_costs) / min(capped_costs) < 1.05


def test_batch_part_name_is_deterministic_in_its_keys():
    from tasks.lib.feature_store import Batch

    a = [WorkItem("c/1", "c", "s", "/1.wav", "none"), WorkItem("c/2", "c", "s", "/2.wav", "noise#0")]
    assert Batch(a).part_name == Batch(a[::-1]).part_name  # a retried batch overwrites its own part
    assert Batch(a).part_name != Batch(a[:1]).part_name


def test_compute_batch_extracts_together_and_quarantines_only_the_clip_that_fails(tmp_path, monkeypatch):
    import soundfile as sf

    from tasks.lib import feature_sets
    from tasks.lib.feature_store import CLIPS_PER_EXTRACT, compute_batch

    def mean_level(y, cfg):
        if np.abs(y).max() > 0.9:
            raise ValueError("too loud")
        return np.array([[float(np.abs(y).mean())]])

    calls = []

    def many(clips, cfg):
        calls.append(len(clips))
        return [mean_level(y, cfg) for y in clips]

    fake = feature_sets.FeatureSet("level", None, mean_level, frame_level=False, code_version=1, many_fn=many)
    monkeypatch.setitem(feature_sets.FEATURE_SETS, "level", fake)
    items = []
    for i in range(CLIPS_PER_EXTRACT + 3):
        path = tmp_path / f"{i}.wav"
        sf.write(path, np.full(1600, 0.95 if i == 5 else 0.01 * (i + 1), np.float32), 16_000, subtype="FLOAT")
        items.append(WorkItem(f"c/{i}", "c", "s", str(path), "none"))
    items.append(WorkItem("c/gone", "c", "s", str(tmp_path / "gone.wav"), "none"))
    rows, failures = compute_batch(Batch(items), "level")
    assert calls == [CLIPS_PER_EXTRACT, 3]  # each group in one call; the failed one again clip by clip
    assert sorted((f["utterance_id"], f["reason"]) for f in failures) == [("c/5", "feature_failed"),
                                                                          ("c/gone", "undecodable")]
    assert "too loud" in next(f["detail"] for f in failures if f["utterance_id"] == "c/5")
    assert [r["utterance_id"] for r in rows] == [f"c/{i}" for i in range(CLIPS_PER_EXTRACT + 3) if i != 5]
    assert rows[0]["features"][0] == pytest.approx(0.01, rel=1e-5)
