"""Every flow run publishes its outcome as Prefect artifacts, read back here through the Prefect client."""
import asyncio
import shutil

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterTags

from flows.score import score_calls
from tasks.artifacts import artifact_key
from tasks.lib.synth import synth_calls


async def _latest(key: str):
    async with get_client() as client:
        found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                            sort="CREATED_DESC", limit=1)
    return found[0] if found else None


async def _flow_run(flow_run_id):
    async with get_client() as client:
        return await client.read_flow_run(flow_run_id)


async def _names_tagged(*tags: str) -> set[str]:
    async with get_client() as client:
        runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=list(tags))))
    return {r.name for r in runs}


def latest(key: str):
    return asyncio.run(_latest(key))


def test_key_is_what_prefect_accepts():
    assert artifact_key("train", "My_Model.v2") == "train-my-model-v2"


@pytest.mark.timeout(600)
def test_four_flows_publish_artifacts(trained_store, tmp_path, dask_address):
    # trained_store ran ingest-corpus, build-features and train-model; score two calls into a copy of it
    store = shutil.copytree(trained_store, tmp_path / "store")
    synth_calls(tmp_path / "inbox", n_calls=2, turns=4)
    state = score_calls(inbox=str(tmp_path / "inbox"), model="ser", store=str(store), dask_address=dask_address,
                        return_state=True)
    run = asyncio.run(_flow_run(state.state_details.flow_run_id))
    assert "model:ser:v0001" in run.tags and run.name == f"score-calls {tmp_path / 'inbox'}"
    assert "train svm on ['syn']" in asyncio.run(_names_tagged("model:svm", "corpus:syn"))
    assert any(n.startswith("ingest ravdess") for n in asyncio.run(_names_tagged("corpus:syn")))
    ingest = latest("ingest-syn")
    assert ingest is not None and "accepted" in ingest.data and latest("ingest-syn-quarantine").type == "table"
    assert "rows computed" in latest("features-ge2e-layers").data
    train = latest("train-ser")
    assert "Confusion matrix" in train.data and "Recall per class" in train.data
    assert len(latest("train-ser-folds").data) >= 2  # one row per fold and serving mode, plus pooled
    score = latest("score-calls")
    assert "scored**: 2" in score.data and "Emotion share" in score.data
    assert latest("score-calls-top-negative-share").type == "table"
