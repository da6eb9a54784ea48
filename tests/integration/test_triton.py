"""A real Triton server on CPU (the nvidia-pytriton wheel's tritonserver) serving model_repo/.

One server per session, on free loopback ports, with a tiny random checkpoint made here; each
model's ``configs/cpu.pbtxt`` is chosen with ``--model-config-name=cpu``. The client under test is
``portalis_worker.triton_client``: health, readiness, batched requests, priorities, timeouts,
retries and the errors for a missing server or model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] is not installed (the 'serving' extra)")
pytest.importorskip("nemo.core", reason="nemo_toolkit[core] is not installed (the 'serving' extra)")

import torch
from tritonclient.utils import InferenceServerException

from portalis_dev.layout import REPO_ROOT
from portalis_kernels.featurize import FeatureConfig, featurize
from portalis_kernels.minhash import MinHashConfig, minhash_signatures
from portalis_worker.model.checkpoints import make_tiny_checkpoint
from portalis_worker.model.serving import (
    TritonDistribution,
    TritonServer,
    free_port,
    serve,
    stage_repository,
)
from portalis_worker.model.serving import TritonUnavailableError as ServerMissing
from portalis_worker.model.translator import ByteTranslatorModel
from portalis_worker.triton_client import (
    ModelNotReadyError,
    Priority,
    TritonClient,
    TritonClientSettings,
    TritonTimeoutError,
    TritonUnavailableError,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

try:  # only the wheel's files are used (found, not imported): pytriton's Python API is not needed
    TritonDistribution.find()
except ServerMissing as exc:
    pytest.skip(f"{exc} (the 'serving' extra)", allow_module_level=True)

SOURCES = [f"def f{i}(x):\n    return x * {i}\n" for i in range(40)]  # > max_batch_size 32: two requests


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "translator.nemo", seed=7)


@pytest.fixture(scope="session")
def triton(tmp_path_factory: pytest.TempPathFactory, checkpoint: Path) -> Iterator[TritonServer]:
    root = tmp_path_factory.mktemp("triton")
    models = ("translator", "embedder")
    repo = stage_repository(REPO_ROOT / "model_repo", root / "repo", checkpoint, models)
    with serve(repo, root / "work", models=models) as server:
        yield server


@pytest.fixture
def client(triton: TritonServer) -> Iterator[TritonClient]:
    with TritonClient(TritonClientSettings(url=triton.grpc_url, timeout_s=60)) as c:
        yield c


def test_health_and_model_readiness(client: TritonClient) -> None:
    assert client.is_live()
    assert client.is_ready()
    assert client.model_ready("translator")
    assert client.model_ready("embedder")
    assert not client.model_ready("no_such_model")


def test_cpu_config_was_selected(client: TritonClient) -> None:
    cfg = client._client.get_model_config("translator", as_json=True)["config"]
    assert cfg["instance_group"][0]["kind"] == "KIND_CPU"
    assert cfg["dynamic_batching"]["priority_levels"] == "2"
    assert cfg["parameters"]["max_new_tokens"]["string_value"] == "64"


def test_batched_translation_matches_the_local_model(client: TritonClient, checkpoint: Path) -> None:
    got = client.translate_batch(SOURCES)
    assert len(got) == len(SOURCES)
    local = ByteTranslatorModel.restore_from(str(checkpoint), map_location=torch.device("cpu"))
    expected = local.translate([s.encode() for s in SOURCES], 64, 1024)
    assert got == [e.decode("utf-8", errors="replace") for e in expected]


def test_interactive_priority_is_accepted(client: TritonClient) -> None:
    assert len(client.translate_batch(SOURCES[:3], priority=Priority.INTERACTIVE)) == 3
    assert client.translate_batch([]) == []


def test_embedder_serves_our_kernels(client: TritonClient) -> None:
    emb = client.embed(SOURCES)
    assert emb.shape == (len(SOURCES), 1024)
    assert emb.dtype == np.float32
    np.testing.assert_array_equal(emb, featurize(SOURCES, FeatureConfig(), backend="numpy"))
    sig = client.minhash(SOURCES[:5])
    np.testing.assert_array_equal(sig, minhash_signatures(SOURCES[:5], MinHashConfig(), backend="numpy"))


def test_the_translation_memory_signs_with_the_embedder(client: TritonClient) -> None:
    """The worker's signer (memory.FallbackSigner) gets the embedder's MinHash, the same bits as the
    kernel in process, so memory entries signed either way compare."""
    from portalis_worker.memory import FallbackSigner, LocalSigner

    signer = FallbackSigner(client)
    sigs = signer.minhash(SOURCES)
    assert (signer.served, signer.local_count) == (len(SOURCES), 0)
    np.testing.assert_array_equal(sigs, LocalSigner().minhash(SOURCES))


def test_repeated_request_is_served_from_the_response_cache(client: TritonClient) -> None:
    def hits() -> int:
        stats = client._client.get_inference_statistics("translator", as_json=True)
        return int(stats["model_stats"][0]["inference_stats"].get("cache_hit", {}).get("count", 0))

    unit = ["def cached():\n    return 42\n"]
    before = hits()
    first = client.translate_batch(unit)
    assert client.translate_batch(unit) == first
    assert hits() == before + 1


def test_request_past_its_deadline_raises_timeout(triton: TritonServer) -> None:
    settings = TritonClientSettings(url=triton.grpc_url, attempts=3, backoff_initial_s=0.01)
    with TritonClient(settings) as c, pytest.raises(TritonTimeoutError):
        c.translate_batch([f"def slow_{i}(): pass" for i in range(8)], timeout_s=0.001)


class _FlakyGrpc:
    """Delegates to a real client after failing the first ``failures`` infer calls as UNAVAILABLE."""

    def __init__(self, real: Any, failures: int) -> None:
        self.real, self.failures, self.calls = real, failures, 0

    def infer(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise InferenceServerException("Exceeds maximum queue size", status="StatusCode.UNAVAILABLE")
        return self.real.infer(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_transient_unavailable_is_retried(triton: TritonServer) -> None:
    import tritonclient.grpc as grpcclient

    flaky = _FlakyGrpc(grpcclient.InferenceServerClient(triton.grpc_url), failures=2)
    settings = TritonClientSettings(url=triton.grpc_url, attempts=3, backoff_initial_s=0.01)
    with TritonClient(settings, grpc_client=flaky) as c:
        assert len(c.translate_batch(SOURCES[:2])) == 2
    assert flaky.calls == 3


def test_retries_give_up_with_unavailable(triton: TritonServer) -> None:
    import tritonclient.grpc as grpcclient

    flaky = _FlakyGrpc(grpcclient.InferenceServerClient(triton.grpc_url), failures=10)
    settings = TritonClientSettings(url=triton.grpc_url, attempts=2, backoff_initial_s=0.01)
    with TritonClient(settings, grpc_client=flaky) as c, pytest.raises(TritonUnavailableError):
        c.translate_batch(SOURCES[:2])
    assert flaky.calls == 2


def test_missing_model_is_a_clear_error(triton: TritonServer) -> None:
    settings = TritonClientSettings(url=triton.grpc_url, translator_model="translator_v9", attempts=3)
    with TritonClient(settings) as c:
        with pytest.raises(ModelNotReadyError, match="translator_v9"):
            c.translate_batch(SOURCES[:1])
        with pytest.raises(ModelNotReadyError, match="translator_v9"):
            c.require_model("translator_v9")


def test_server_down_is_a_clear_error() -> None:
    url = f"127.0.0.1:{free_port()}"  # nobody listens here
    settings = TritonClientSettings(url=url, attempts=2, backoff_initial_s=0.01, timeout_s=5)
    with TritonClient(settings) as c:
        assert not c.is_live()
        assert not c.model_ready("translator")
        with pytest.raises(TritonUnavailableError, match=url):
            c.translate_batch(SOURCES[:1])
        with pytest.raises(TritonUnavailableError, match="not reachable"):
            c.require_model("translator")


def test_the_jobs_model_version_is_the_version_asked(triton: TritonServer) -> None:
    # spec.model.version reaches Triton: version 1 (the one in model_repo) answers, an absent one is a
    # clear error that names the version (before, the version was ignored and the latest answered)
    one = TritonClientSettings(url=triton.grpc_url, translator_version="1", attempts=1)
    with TritonClient(one) as c:
        c.require_model("translator")
        assert len(c.translate_batch(SOURCES[:1])) == 1
    nine = TritonClientSettings(url=triton.grpc_url, translator_version="9", attempts=1)
    with TritonClient(nine) as c:
        assert not c.model_ready("translator")
        assert c.model_ready("embedder"), "the version is the translator's only"
        with pytest.raises(ModelNotReadyError, match="'translator' version 9"):
            c.require_model("translator")
        with pytest.raises(ModelNotReadyError, match="translator"):
            c.translate_batch(SOURCES[:1])
