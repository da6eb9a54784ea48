"""The type model on the GPU: the checkpoint on CUDA and the typer served with config.pbtxt
(KIND_GPU) answer as the CPU does.

Run on the device machine (tests/gpu/run_all.sh runs `pytest -m gpu tests/gpu`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest

pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] is not installed")
pytest.importorskip("nemo.core", reason="nemo_toolkit[core] is not installed")
pytest.importorskip("torch")

import torch

from portalis_dev.layout import REPO_ROOT
from portalis_worker.model.serving import TritonServer, serve
from portalis_worker.model.typer import TypeModel
from portalis_worker.model.typer_features import slot_texts
from portalis_worker.triton_client import TritonClient, TritonClientSettings
from portalis_worker.typeinfer.inference import functions

pytestmark = [pytest.mark.gpu, pytest.mark.timeout(600)]

CHECKPOINT = REPO_ROOT / "model_repo" / "typer" / "1" / "typer.nemo"


def slots() -> list[str]:
    """Slot texts of the worker's own source: real code, many shapes."""
    texts: list[str] = []
    for path in sorted((REPO_ROOT / "workers" / "src" / "portalis_worker" / "typeinfer").glob("*.py")):
        tree = ast.parse(path.read_text())
        texts += [s.text for q, f, p in functions(tree) for s in slot_texts(f, q, p)]
    return texts


def cpu_answers(texts: list[str]) -> list[list[tuple[str, float]]]:
    model = TypeModel.restore_from(str(CHECKPOINT), map_location=torch.device("cpu"))
    return model.predict(texts, 4)


def same(got: list[list[tuple[str, float]]], want: list[list[tuple[str, float]]]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g[0][0] == w[0][0]
        assert [s for _, s in g] == pytest.approx([s for _, s in w], abs=1e-4)


def test_the_checkpoint_on_cuda_answers_as_on_the_cpu() -> None:
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA device")
    texts = slots()
    gpu = TypeModel.restore_from(str(CHECKPOINT), map_location=torch.device("cuda:0"))
    same(gpu.predict(texts, 4), cpu_answers(texts))


@pytest.fixture(scope="module")
def gpu_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA device")
    work = tmp_path_factory.mktemp("typer-gpu")
    with serve(REPO_ROOT / "model_repo", work, models=("typer",), config_name=None) as server:
        yield server


def test_the_served_typer_on_kind_gpu_answers_as_the_cpu(gpu_server: TritonServer) -> None:
    texts = slots()
    with TritonClient(TritonClientSettings(url=gpu_server.grpc_url, timeout_s=300)) as client:
        cfg = client._client.get_model_config("typer", as_json=True)["config"]
        assert cfg["instance_group"][0]["kind"] == "KIND_GPU"
        same(client.infer_types(texts), cpu_answers(texts))
