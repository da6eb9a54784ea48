"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from portalis_dev.cluster import LocalCluster
from portalis_dev.toolchain import binary

CHART = Path(__file__).resolve().parents[2] / "charts" / "portalis"


def run(*args: str | Path, stdin: str | None = None) -> str:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, check=True, timeout=120).stdout


@pytest.fixture(scope="module")
def worker_policies(cluster: LocalCluster) -> Iterator[None]:
    """The chart's worker-token policies (pods and ConfigMaps), applied; removed after the module."""
    release = f"cmout-{uuid.uuid4().hex[:6]}"
    rendered = run(
        binary("helm"), "template", release, str(CHART), "-n", "portalis-system", "--kube-version", "1.35.0"
    )
    docs = [
        d
        for d in yaml.safe_load_all(rendered)
        if d
        and d["kind"] in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
        and d["metadata"]["name"].endswith(("-worker-token", "-worker-output"))
    ]
    assert len(docs) == 4
    kubectl = binary("kubectl")
    run(
        kubectl,
        "apply",
        "--server-side",
        "--field-manager=portalis-tests",
        "-f",
        "-",
        stdin=yaml.safe_dump_all(docs),
    )
    yield
    for d in docs:
        run(kubectl, "delete", d["kind"].lower(), d["metadata"]["name"], "--ignore-not-found")
