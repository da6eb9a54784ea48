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

from harness import wait_for
from portalis_dev.cluster import LocalCluster
from portalis_dev.layout import REPO_ROOT


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
def crds(cluster: LocalCluster, api_client: Any) -> list[str]:
    """The project's CRDs, installed server-side and Established; returns their names."""
    import yaml
    from kubernetes import client

    ext = client.ApiextensionsV1Api(api_client)
    names: list[str] = []
    for path in sorted((REPO_ROOT / "crds").glob("*.yaml")):
        body = yaml.safe_load(path.read_text())
        name = body["metadata"]["name"]
        try:
            current = ext.read_custom_resource_definition(name)
            body["metadata"]["resourceVersion"] = current.metadata.resource_version
            ext.replace_custom_resource_definition(name, body)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
            ext.create_custom_resource_definition(body)
        names.append(name)

    def established(name: str) -> bool:
        conds = ext.read_custom_resource_definition(name).status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conds)

    for name in names:
        wait_for(lambda n=name: established(n), timeout=30, what=f"CRD {name} Established")
    return names


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
