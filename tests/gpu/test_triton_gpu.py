"""Triton on the GPU (each model's config.pbtxt, KIND_GPU): outputs match the CPU path.

Run on the device machine (tests/gpu/run_all.sh). The translator's outputs are compared with the
same checkpoint decoded by PyTorch on the CPU; the embedder's CUDA kernels with their NumPy oracles.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] is not installed")
pytest.importorskip("nemo.core", reason="nemo_toolkit[core] is not installed")
pytest.importorskip("torch")

import torch

from portalis_dev.layout import REPO_ROOT
from portalis_kernels.featurize import FeatureConfig, featurize
from portalis_kernels.minhash import MinHashConfig, minhash_signatures
from portalis_worker.model.checkpoints import make_tiny_checkpoint
from portalis_worker.model.serving import TritonServer, serve, stage_repository
from portalis_worker.model.translator import ByteTranslatorModel
from portalis_worker.triton_client import TritonClient, TritonClientSettings

pytestmark = [pytest.mark.gpu, pytest.mark.timeout(600)]

SOURCES = [f"def g{i}(items):\n    return [x * {i} for x in items if x]\n" for i in range(48)]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "translator.nemo", seed=5)


@pytest.fixture(scope="module")
def gpu_server(tmp_path_factory: pytest.TempPathFactory, checkpoint: Path) -> Iterator[TritonServer]:
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA device")
    root = tmp_path_factory.mktemp("triton-gpu")
    models = ("translator", "embedder")
    repo = stage_repository(REPO_ROOT / "model_repo", root / "repo", checkpoint, models)
    with serve(repo, root / "work", models=models, config_name=None) as server:  # config.pbtxt: KIND_GPU
        yield server


@pytest.fixture
def client(gpu_server: TritonServer) -> Iterator[TritonClient]:
    with TritonClient(TritonClientSettings(url=gpu_server.grpc_url, timeout_s=300)) as c:
        yield c


def test_gpu_instances_are_loaded(client: TritonClient) -> None:
    for model in ("translator", "embedder"):
        cfg = client._client.get_model_config(model, as_json=True)["config"]
        assert cfg["instance_group"][0]["kind"] == "KIND_GPU"
        assert client.model_ready(model)


def test_translator_on_gpu_matches_cpu(client: TritonClient, checkpoint: Path) -> None:
    got = client.translate_batch(SOURCES)
    cpu = ByteTranslatorModel.restore_from(str(checkpoint), map_location=torch.device("cpu"))
    expected = [
        e.decode("utf-8", errors="replace") for e in cpu.translate([s.encode() for s in SOURCES], 256, 1024)
    ]
    same = sum(g == e for g, e in zip(got, expected, strict=True))
    # Float32 on different hardware may flip an argmax near a tie in a long random decode; a real
    # divergence (wrong weights, masks, device handling) changes nearly every row.
    assert same >= int(0.9 * len(SOURCES)), f"only {same}/{len(SOURCES)} rows match the CPU decode"


def test_embedder_cuda_kernels_match_numpy(client: TritonClient) -> None:
    emb = client.embed(SOURCES)
    np.testing.assert_allclose(emb, featurize(SOURCES, FeatureConfig(), backend="numpy"), atol=1e-6)
    sig = client.minhash(SOURCES)
    np.testing.assert_array_equal(sig, minhash_signatures(SOURCES, MinHashConfig(), backend="numpy"))


def test_the_translation_memory_signs_on_the_gpu_embedder(client: TritonClient) -> None:
    """The kernels in their worker path: the translation memory's signer (memory.FallbackSigner, as the
    worker builds it over the pod's Triton) gets every signature from the embedder on KIND_GPU (none
    signed in process), the same bits as the in-process kernel; the CPU twin is in
    tests/integration/test_triton.py."""
    from portalis_worker.memory import FallbackSigner, LocalSigner

    signer = FallbackSigner(client)
    sigs = signer.minhash(SOURCES)
    assert (signer.served, signer.local_count) == (len(SOURCES), 0)
    np.testing.assert_array_equal(sigs, LocalSigner().minhash(SOURCES))
