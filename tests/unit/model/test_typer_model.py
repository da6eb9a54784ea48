"""TypeModel: the committed checkpoint restores through NeMo's guard, predicts, exports to ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("nemo.core", reason="nemo_toolkit[core] is not installed (the 'serving' extra)")

import torch
from nemo.core import ModelPT
from nemo.core.classes.common import UnsafeTargetError

from portalis_dev.layout import REPO_ROOT
from portalis_worker.model.typer import TypeModel, typer_config
from portalis_worker.model.typer_features import BUCKETS, batch_ids, token_ids

CHECKPOINT = REPO_ROOT / "model_repo" / "typer" / "1" / "typer.nemo"
CARD = REPO_ROOT / "model_repo" / "typer" / "data_card.json"


@pytest.fixture(scope="module")
def model() -> TypeModel:
    return TypeModel.restore_from(str(CHECKPOINT), map_location=torch.device("cpu"))


def test_the_committed_checkpoint_is_small_and_matches_its_data_card(model: TypeModel) -> None:
    card = json.loads(CARD.read_text())
    assert CHECKPOINT.stat().st_size <= 20 * 1024 * 1024
    assert model.labels == card["labels"]
    assert card["accuracy"]["all"]["top1"] > card["accuracy"]["all"]["baseline_top1"]


def test_predictions_are_ranked_probabilities(model: TypeModel) -> None:
    rows = model.predict(["param text fn render nodefault .replace", "param verbose fn run default:bool"], 4)
    assert len(rows) == 2
    for row in rows:
        assert len(row) == 4
        scores = [s for _, s in row]
        assert scores == sorted(scores, reverse=True)
        assert 0.0 < sum(scores) <= 1.0 + 1e-6
    assert rows[0][0][0] == "str"
    assert rows[1][0][0] == "bool"
    assert model.predict([], 4) == []


def test_padding_does_not_change_a_rows_answer(model: TypeModel) -> None:
    short = "param n fn count nodefault arg:range"
    alone = model(torch.tensor(batch_ids([short])))
    padded = model(torch.tensor(batch_ids([short, short + " x" * 40])))
    assert torch.allclose(alone[0], padded[0], atol=1e-5)


def test_token_ids_are_stable_hashes_in_range() -> None:
    ids = token_ids("param text fn render")
    assert ids == token_ids("param text fn render")
    assert all(1 <= i < BUCKETS for i in ids)


def test_restore_refuses_a_foreign_target_and_plain_modelpt(tmp_path: Path) -> None:
    other = TypeModel(typer_config(["int", "str"]))
    path = tmp_path / "t.nemo"
    other.save_to(str(path))
    with pytest.raises(UnsafeTargetError):
        ModelPT.restore_from(str(path), map_location=torch.device("cpu"))
    cfg = typer_config(["int"])
    cfg.target = "os.system"
    with pytest.raises(UnsafeTargetError):
        TypeModel.from_config_dict(cfg)


def test_onnx_export_through_nemo_matches_torch(model: TypeModel, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    path = tmp_path / "typer.onnx"
    model.export(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["ids"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    (ids,) = model.input_example(batch=5, length=23)  # other shapes than the trace: dynamic axes
    expected = model(ids).detach().numpy()
    (got,) = session.run(None, {"ids": ids.numpy()})
    assert got.shape == (5, len(model.labels))
    assert abs(got - expected).max() < 1e-4
