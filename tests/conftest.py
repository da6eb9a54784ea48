"""Fixtures for every test layer: the session's control plane, a namespace per test, API clients."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from harness import wait_for
from portalis_dev.cluster import LocalCluster
from portalis_dev.demo import Clients, install_crds
from portalis_dev.layout import REPO_ROOT

# No per-example time limit: hypothesis's default (200 ms) is a timed assertion, and on a shared, loaded
# machine a test of pure logic failed on it (test_manifests under a benchmark). Performance is measured in
# benchmarks/.
settings.register_profile("portalis", deadline=None)
settings.load_profile("portalis")


def _gpu_present() -> bool:
    return shutil.which("nvidia-smi") is not None or Path("/dev/nvidia0").exists()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _gpu_present():
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU: run tests/gpu/run_all.sh on the device machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    """The session's control plane.

    With PORTALIS_TEST_STATE_DIR set, that control plane is reused when already up (and left running);
    otherwise a private one is started in a fresh state directory and stopped at the end, so two test
    sessions never share or collide.
    """
    shared = os.environ.get("PORTALIS_TEST_STATE_DIR")
    state = Path(shared) if shared else REPO_ROOT / ".state" / f"test-{uuid.uuid4().hex[:8]}"
    c = LocalCluster(state)
    was_up = c.status().up
    if not was_up:
        c.up(progress=lambda m: print(f"[control plane] {m}"))
    os.environ["KUBECONFIG"] = str(c.kubeconfig)  # kopf and kubectl in tests read it
    os.environ["PATH"] = c.env()["PATH"]
    try:
        yield c
    finally:
        if not was_up and not shared:
            c.down(progress=lambda m: None)
            shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def api_client(cluster: LocalCluster) -> Any:
    from kubernetes import config

    return config.new_client_from_config(str(cluster.kubeconfig))


@pytest.fixture(scope="session")
def core(api_client: Any) -> Any:
    from kubernetes import client

    return client.CoreV1Api(api_client)


@pytest.fixture(scope="session")
def clients(cluster: LocalCluster) -> Clients:
    return Clients.of(cluster)


@pytest.fixture(scope="session")
def crds(clients: Clients) -> list[str]:
    """The project's CRDs, installed server-side and Established; returns their names."""
    return install_crds(clients)


@pytest.fixture(scope="session")
def capi_crds(clients: Clients) -> list[str]:
    """A minimal Cluster API MachineDeployment/Machine CRD pair (with a real scale subresource)."""
    return install_crds(
        clients, paths=[REPO_ROOT / "tests" / "integration" / "fixtures" / "cluster-api-crds.yaml"]
    )


@pytest.fixture
def namespace(request: pytest.FixtureRequest, core: Any) -> Iterator[str]:
    """A fresh namespace for one test, usable (default ServiceAccount present), deleted afterwards."""
    base = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    name = f"{base}-{uuid.uuid4().hex[:5]}"
    core.create_namespace({"metadata": {"name": name, "labels": {"portalis.dev/test": "true"}}})
    wait_for(
        lambda: core.read_namespaced_service_account("default", name),
        timeout=30,
        what=f"default ServiceAccount in {name}",
    )
    yield name
    core.delete_namespace(name)
