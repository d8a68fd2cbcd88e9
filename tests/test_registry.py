"""Model registry: numbered versions, a champion, clear errors for unknown names and versions."""
import numpy as np
import pandas as pd
import pytest

from ser_models import registry
from ser_models.catalog import DEFAULT_VECTOR_SET, build_estimator
from ser_models.data import class_list
from ser_models.registry import RegistryError
from tasks.lib.store import Store
from tests.conftest import split

CARD = {"model": "svm", "feature_sets": [DEFAULT_VECTOR_SET], "corpora": ["syn"], "cv": "holdout:syn:04",
        "metrics": {"pooled": {"ua": 0.5, "wa": 0.5, "macro_f1": 0.5}}}


@pytest.fixture(scope="module")
def trained(data):
    train, test = split(data)
    est = build_estimator("svm")
    est.fit(train, None, class_list(data.rows["emotion"]))
    return est, test


def register(store: Store, est, name: str = "ser") -> registry.ModelRef:
    card = {**CARD, "classes": est.classes, "hyperparameters": est.hyperparameters()}
    return registry.register(store, name, est, card, pd.DataFrame({"fold": [0], "ua": [0.5]}), None)


def test_versions_count_up_and_newest_is_served_until_promoted(trained, tmp_path):
    store, (est, _) = Store(str(tmp_path)), trained
    first, second = register(store, est), register(store, est)
    assert (first.version, second.version) == ("v0001", "v0002")
    assert registry.resolve(store, "ser").version == "v0002"
    registry.promote(store, "ser", "v0001")
    assert registry.resolve(store, "ser").version == "v0001"
    assert registry.resolve(store, "ser:v0002").version == "v0002"
    listed = registry.list_models(store)
    assert listed[["version", "champion"]].values.tolist() == [["v0001", True], ["v0002", False]]


def test_loaded_version_predicts_like_the_trained_one(trained, tmp_path):
    store, (est, test) = Store(str(tmp_path)), trained
    ref = register(store, est)
    assert ref.card["code_version"].startswith("serflow ")
    assert np.allclose(registry.load(ref).predict_proba(test), est.predict_proba(test), atol=1e-6)


def test_unknown_names_and_versions_say_what_exists(trained, tmp_path):
    store, (est, _) = Store(str(tmp_path)), trained
    with pytest.raises(RegistryError, match="with versions: none"):
        registry.resolve(store, "ser")
    register(store, est)
    with pytest.raises(RegistryError, match=r"no model 'other' .* with versions: \['ser'\]"):
        registry.resolve(store, "other")
    with pytest.raises(RegistryError, match="versions: \\['v0001'\\]"):
        registry.promote(store, "ser", "v0009")
    (tmp_path / "models" / "killed" / "v0001").mkdir(parents=True)  # a first train, killed after its claim
    (tmp_path / "models" / "killed" / "v0001" / ".claim").write_text("{}")
    with pytest.raises(RegistryError, match=r"no version 'v0001' of model 'killed' .* with versions: \['ser'\]$"):
        registry.resolve(store, "killed:v0001")


def test_a_version_whose_card_never_landed_stays_invisible_and_its_number_is_skipped(trained, tmp_path):
    store, (est, _) = Store(str(tmp_path)), trained
    dead = tmp_path / "models" / "ser" / "v0001"
    dead.mkdir(parents=True)
    (dead / ".claim").write_text("{}")
    (dead / "weights.skops").write_bytes(b"half an upload")
    assert registry.versions(store, "ser") == [] and registry.list_models(store).empty
    assert register(store, est).version == "v0002" and registry.versions(store, "ser") == ["v0002"]


def test_registry_on_an_fsspec_url_serves_a_cached_copy(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("SERFLOW_MODEL_CACHE", str(tmp_path / "cache"))
    store, (est, test) = Store(f"memory://registry-{tmp_path.name}/store"), trained
    assert [register(store, est).version for _ in range(2)] == ["v0001", "v0002"]
    registry.promote(store, "ser", "v0001")
    ref = registry.resolve(store, None)
    assert ref.version == "v0001" and ref.url.startswith("memory://")
    assert ref.folder.is_relative_to(tmp_path / "cache") and (ref.folder / "model_card.json").exists()
    assert np.allclose(registry.load(ref).predict_proba(test), est.predict_proba(test), atol=1e-6)
    assert registry.list_models(store)["champion"].tolist() == [True, False]
