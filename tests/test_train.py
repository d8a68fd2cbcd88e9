"""Training, registry and prediction on the tiny synthetic corpus."""
import json

import numpy as np
import pandas as pd
import pytest

from flows.cli import main
from flows.ingest import ingest_corpus
from flows.train import train_model
from ser_models import registry
from ser_models.catalog import DEFAULT_VECTOR_SET, build_estimator
from ser_models.data import load_feature_data
from ser_models.domain import NOISE_FLOOR_LIMIT_DB
from ser_models.evaluation import fold_indices, make_folds
from ser_models.inference import features_of, load_model
from tasks.lib.audio import load, write_wav
from tasks.lib.feature_sets import get_feature_set
from tasks.lib.store import Store
from tasks.train import split_validation
from tests.shifts import clipped_gain, noise_floor

CHANCE = 1 / 8


@pytest.fixture(scope="module")
def store(small_corpus, tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("train-store"))
    ingest_corpus(kind="ravdess", path=str(small_corpus), name="syn", store=root)
    return root


def test_flow_cross_validates_and_registers(store, dask_address):
    summary = train_model(model="mlp", corpus=["syn"], cv="holdout:syn:04", store=store, max_epochs=12, dask_address=dask_address)
    pooled = summary.table.set_index("fold").loc["pooled"]
    assert pooled["n"] == 30 and pooled["ua"] >= 3 * CHANCE, summary.lines()
    card = registry.resolve(Store(store), "mlp").card
    assert card["speaker_independent"] and card["speakers"] == [f"syn:0{i}" for i in range(1, 5)]
    assert card["feature_config_hashes"] == {DEFAULT_VECTOR_SET: get_feature_set(DEFAULT_VECTOR_SET).config_hash}
    assert card["metrics"]["pooled"]["ua"] == pytest.approx(pooled["ua"])
    assert card["hyperparameters"]["train"]["max_epochs"] == 12


def test_same_command_same_numbers(store, dask_address):
    run = dict(model="mlp", corpus=["syn"], cv="speaker-kfold:2", store=store, name="mlp-repeat", max_epochs=10,
               dask_address=dask_address)
    a, b = train_model(**run), train_model(**run)
    assert a.table[["ua", "wa", "macro_f1"]].equals(b.table[["ua", "wa", "macro_f1"]])
    assert (a.version, b.version) == ("v0001", "v0002")


def test_augmented_training_and_label_map(store, dask_address):
    summary = train_model(model="svm", corpus=["syn"], cv="holdout:syn:01", augment=["noise"],
                          labels="calm_as_neutral", store=store, name="svm-aug", dask_address=dask_address)
    card = registry.resolve(Store(store), "svm-aug").card
    assert "calm" not in card["classes"] and card["augment"] == ["noise"]
    assert card["domain_guard"]["narrowband_seen"] is False  # noise copies and 16 kHz recordings: no phone line
    assert card["domain_guard"]["max_noise_floor_db"] is None  # noise copies: a noise floor is in domain
    assert summary.table.set_index("fold").loc["pooled", "n"] == 30


def test_registry_round_trip_and_champion(store, small_corpus):
    ref = registry.resolve(Store(store), "mlp-repeat")
    assert ref.version == "v0002"  # newest without a champion
    registry.promote(Store(store), "mlp-repeat", "v0001")
    assert registry.resolve(Store(store), "mlp-repeat").version == "v0001"
    model = load_model(Store(store), "mlp-repeat")
    data = load_feature_data(Store(store), (DEFAULT_VECTOR_SET,), ["syn"], {})
    first = data.subset(np.arange(5))
    again = registry.load(ref).predict_proba(first)
    assert again.shape == (5, len(model.classes)) and np.allclose(again.sum(1), 1, atol=1e-5)
    clip = load(str(sorted(small_corpus.rglob("*.wav"))[0]))
    direct = model.estimator.predict_proba(features_of([clip], (DEFAULT_VECTOR_SET,)))
    assert np.isclose(direct.sum(), 1, atol=1e-5)
    listing = registry.list_models(Store(store))
    assert listing.query("name == 'mlp-repeat' and champion").version.tolist() == ["v0001"]
    assert (ref.folder / "confusion.png").stat().st_size > 1000 and (ref.folder / "metrics.parquet").exists()
    with pytest.raises(registry.RegistryError, match="no version"):
        registry.resolve(Store(store), "mlp-repeat:v0099")


def test_predict_cli_json(store, small_corpus, capsys):
    wav = str(small_corpus / "Actor_04" / "03-01-05-02-01-01-04.wav")  # angry, strong
    assert main(["predict", wav, "--model", "svm-aug", "--json", "--store", store]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["emotion"] in result["probabilities"] and abs(sum(result["probabilities"].values()) - 1) < 1e-3
    assert result["model"] == "svm-aug:v0001" and result["clipped_share"] == 0.0
    assert main(["predict", wav, "--model", "nosuchmodel", "--store", store]) == 2
    assert "no model 'nosuchmodel'" in capsys.readouterr().err


def test_predict_flags_a_saturated_recording(store, small_corpus, capsys, tmp_path):
    wav = small_corpus / "Actor_04" / "03-01-05-02-01-01-04.wav"
    hot = tmp_path / "hot.wav"
    write_wav(str(hot), clipped_gain(load(str(wav))), 16_000)
    assert main(["predict", str(hot), "--model", "svm-aug", "--store", store]) == 0
    out = capsys.readouterr()
    assert "OUT OF DOMAIN (clipped:" in out.out and "1 of 1 files are out of domain" in out.err


@pytest.mark.parametrize("model,members", [("svm", ()), ("ensemble", ("svm", "logreg")), ("mlp", ()),
                                           ("ensemble", ("svm", "mlp"))])
def test_only_a_model_that_stops_early_gives_up_copies_for_validation(model, members):
    rows = pd.DataFrame([{"utterance_id": f"c/s{s}/u{u}", "speaker_id": f"c:{s}", "augmentation": a}
                         for s in range(5) for u in range(2) for a in ("none", "speed#0", "speed#1")])
    plan = make_folds(rows, "loso")
    train, _ = fold_indices(rows, plan.folds[0], True)
    est = build_estimator(model, DEFAULT_VECTOR_SET, members=members or ("svm", "logreg"))
    fit, val = split_validation(est, rows, train, plan, seed=0)
    if est.stops_early:  # validation speakers are tested on their recordings alone; their copies go unused
        assert len(val) and (rows.iloc[val].augmentation == "none").all() and len(fit) + len(val) < len(train)
    else:  # every training speaker's copies are trained on
        assert list(fit) == list(train) and len(val) == 0
    assert est.stops_early == (model == "mlp" or "mlp" in members)


def test_predict_flags_a_noise_floor_training_never_had(trained_store, small_corpus, capsys, tmp_path):
    """`ser` heard phone copies but no added noise: a clip over a 5 dB SNR floor is out of domain, and says why."""
    noisy = tmp_path / "noisy.wav"
    write_wav(str(noisy), noise_floor(load(str(small_corpus / "Actor_04" / "03-01-05-02-01-01-04.wav")), 5.0), 16_000)
    assert main(["predict", str(noisy), "--model", "ser", "--json", "--store", trained_store]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    limit = registry.resolve(Store(trained_store), "ser").card["domain_guard"]["max_noise_floor_db"]
    assert result["in_domain"] is False and result["noise_floor_db"] > limit
    assert main(["predict", str(noisy), "--model", "ser", "--store", trained_store]) == 0
    assert "OUT OF DOMAIN (noise floor only" in capsys.readouterr().out


def test_a_model_trained_on_phone_copies_keeps_phone_audio_in_domain(trained_store):
    """The guard's phone-band check stands down for a model whose training heard the `telephone` preset."""
    card = registry.resolve(Store(trained_store), "ser").card
    assert card["augment"] == ["telephone"] and card["domain_guard"]["narrowband_seen"] is True
    assert card["domain_guard"]["max_noise_floor_db"] >= NOISE_FLOOR_LIMIT_DB  # no noise copies: floors judged


def test_noise_floors_skip_a_recording_gone_since_ingestion(tmp_path, small_corpus):
    """The guard's floor limit comes from the recordings still readable; added-noise copies mean no limit."""
    from tasks.train import recorded_noise_floors

    wav = str(small_corpus / "Actor_04" / "03-01-05-02-01-01-04.wav")
    recorded = pd.DataFrame({"audio_sha256": ["a" * 64, "b" * 64], "sample_rate": 16_000, "channels": 1,
                             "path": [wav, str(tmp_path / "gone.wav")]})
    store = Store(str(tmp_path / "store"))
    floors = recorded_noise_floors(store, recorded, pd.DataFrame({"augmentation": ["none", "speed#0"]}))
    assert len(floors) == 1 and floors[0] < -27
    assert recorded_noise_floors(store, recorded, pd.DataFrame({"augmentation": ["none", "noise#0"]})) is None
