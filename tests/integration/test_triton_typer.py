"""The type model served by a real Triton server on CPU, from the checked-in model_repo/typer.

The committed checkpoint (model_repo/typer/1/typer.nemo) is served as a pod serves it, with the CPU
config; answers must equal the local model's, rows are batched past max_batch_size, and the worker's
type inference takes the model's candidates (recorded as `model`) through the real client. The worker
process itself, pointed at the server: `auto` records the model's types in its ledger, `model` exits 7
(the server answers without the translator).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] is not installed (the 'serving' extra)")
pytest.importorskip("nemo.core", reason="nemo_toolkit[core] is not installed (the 'serving' extra)")

import torch

from portalis_dev.layout import REPO_ROOT
from portalis_worker.ledger import LocalFileStore, ledger_path
from portalis_worker.model.serving import TritonDistribution, TritonServer, serve
from portalis_worker.model.serving import TritonUnavailableError as ServerMissing
from portalis_worker.model.typer import TypeModel
from portalis_worker.model.typer_features import slot_texts
from portalis_worker.protocol import WorkerExit
from portalis_worker.triton_client import TritonClient, TritonClientSettings
from portalis_worker.typeinfer.inference import functions

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

try:
    TritonDistribution.find()
except ServerMissing as exc:
    pytest.skip(f"{exc} (the 'serving' extra)", allow_module_level=True)

CHECKPOINT = REPO_ROOT / "model_repo" / "typer" / "1" / "typer.nemo"
SOURCE = """
def render(template, values, strict=False):
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", str(value))
    if strict and "{" in out:
        raise ValueError(out)
    return out

def mean(xs):
    return sum(xs) / len(xs) if xs else 0.0

def lookup(table, name, default=None):
    return table.get(name, default)
"""


def texts() -> list[str]:
    tree = ast.parse(SOURCE)
    return [s.text for q, f, p in functions(tree) for s in slot_texts(f, q, p)]


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    with serve(REPO_ROOT / "model_repo", tmp_path_factory.mktemp("typer"), models=("typer",)) as server:
        yield server


@pytest.fixture
def client(triton: TritonServer) -> Iterator[TritonClient]:
    with TritonClient(TritonClientSettings(url=triton.grpc_url, timeout_s=60)) as c:
        yield c


def test_the_served_typer_answers_like_the_local_model(client: TritonClient) -> None:
    assert client.model_ready("typer")
    cfg = client._client.get_model_config("typer", as_json=True)["config"]
    assert cfg["instance_group"][0]["kind"] == "KIND_CPU"
    slots = texts() * 50  # 500 rows: more than max_batch_size 128, so several requests
    got = client.infer_types(slots)
    local = TypeModel.restore_from(str(CHECKPOINT), map_location=torch.device("cpu"))
    expected = local.predict(slots, 4)
    assert len(got) == len(slots)
    for served, mine in zip(got, expected, strict=True):
        assert [t for t, _ in served] == [t for t, _ in mine]
        assert [s for _, s in served] == pytest.approx([s for _, s in mine], abs=1e-5)
    first = dict(zip(texts(), got, strict=False))
    # What the held-out figures promise, on an unseen function: a str template, a bool flag.
    assert first[texts()[0]][0][0] == "str"
    assert first[texts()[2]][0][0] == "bool"


def test_inference_takes_the_served_models_candidates(client: TritonClient) -> None:
    from portalis_worker.typed_rules import InferredTypes
    from portalis_worker.typeinfer import Slot
    from portalis_worker.units import split_source

    units = [u for u in split_source("m.py", SOURCE) if not u.name.startswith("<")]
    with_model = InferredTypes(model=client)
    with_model.prepare(units)
    assert with_model.model_calls == 1  # one request for every open slot of the batch
    assert with_model.model_failures == 0
    rules_only = InferredTypes()
    (render,) = [u for u in units if u.name == "render"]
    template = Slot("render", "template")
    # Nothing in the body says what `template` is (it is only rebound): the rules fall back to
    # their most common guess, and the model, which reads the names, settles it.
    assert rules_only.options(render)[0].chosen[template].text == "int"
    assert rules_only.options(render)[0].chosen[template].source == "default"
    best = with_model.options(render)[0].chosen[template]
    assert best.text == "str"
    assert best.source == "model"


def run_worker(tmp: Path, url: str, backend: str) -> tuple[int, list[dict[str, Any]], str]:
    """`portalis-worker` (its real entry point) on SOURCE with the model server at `url`: exit code,
    the ledger's unit records, stderr."""
    src = tmp / "src" / "app"
    src.mkdir(parents=True)
    (src / "text.py").write_text(SOURCE)
    env = {
        **os.environ,
        "PORTALIS_JOB_NAME": "typer",
        "PORTALIS_SHARD_INDEX": "0",
        "PORTALIS_SHARD_COUNT": "1",
        "PORTALIS_BACKEND": backend,
        "PORTALIS_CRATE_NAME": "typer_job",
        "PORTALIS_SOURCE_DIR": str(tmp / "src"),
        "PORTALIS_OUTPUT_DIR": str(tmp / "out"),
        "PORTALIS_LEDGER_DIR": str(tmp / "ledger"),
        "PORTALIS_SCRATCH_DIR": str(tmp),
        "PORTALIS_METRICS_PORT": "0",
        "PORTALIS_SERVICE_ACCOUNT_DIR": str(tmp / "none"),
        "PORTALIS_TRITON_URL": url,
        "PORTALIS_MODEL_WAIT_SECONDS": "2",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "portalis_worker.main"], env=env, capture_output=True, text=True, timeout=300
    )
    units = [r for r in LocalFileStore(ledger_path(tmp / "ledger", 0)).read() if r.get("kind") == "unit"]
    return proc.returncode, units, proc.stderr


def test_the_worker_in_auto_mode_records_the_served_models_types(
    triton: TritonServer, tmp_path: Path
) -> None:
    code, units, err = run_worker(tmp_path, triton.grpc_url, "auto")
    assert code == WorkerExit.OK, err[-3000:]
    (render,) = [r for r in units if r["name"] == "render"]
    assert render["status"] == "translated"
    assert render["types"]["render.template"]["type"] == "str"
    assert render["types"]["render.template"]["source"] == "model"


def test_the_worker_in_model_mode_exits_7_when_the_server_lacks_the_model(
    triton: TritonServer, tmp_path: Path
) -> None:
    """The sidecar answers, without `portalis-translator` (no trained translator is served): retrying
    cannot help, and the worker says which model is missing."""
    code, units, err = run_worker(tmp_path, triton.grpc_url, "model")
    assert code == WorkerExit.MODEL_NOT_SERVED, err[-3000:]
    assert "does not serve model 'portalis-translator'" in err
    assert not units
