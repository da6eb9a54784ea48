"""`kubectl portalis` against the real API server, without workers (issue 16): a git submit creates the
job it should, `queue` orders jobs across namespaces, `watch` times out with its exit code, `fetch` of a
job without a PVC output says so. The full workflow with workers is tests/e2e/test_kubectl_plugin.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portalis_dev.cluster import LocalCluster
from portalis_dev.toolchain import binary

pytestmark = pytest.mark.integration


def plugin(cluster: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **cluster.env()}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        [str(binary("kubectl")), "portalis", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def second_namespace(core: Any) -> Iterator[str]:
    name = f"plugin-other-{uuid.uuid4().hex[:5]}"
    core.create_namespace({"metadata": {"name": name, "labels": {"portalis.dev/test": "true"}}})
    yield name
    core.delete_namespace(name)


def test_git_submit_queue_watch_and_fetch_errors(
    cluster: LocalCluster, crds: list[str], core: Any, namespace: str, second_namespace: str
) -> None:
    url = "https://git.example.invalid/team/billing.git"
    first = plugin(
        cluster, "-n", namespace, "submit", url, "--git-ref", "v2.3.0", "--git-path", "/src",
        "--output-claim", "crates", "--priority", "low", "--parallelism", "2", "--name", "billing",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert first.stdout == "billing\n"
    job = json.loads(plugin(cluster, "-n", namespace, "status", "billing", "-o", "json").stdout)
    assert job["spec"]["source"] == {
        "git": {"url": url, "ref": "v2.3.0", "path": "/src"},
        "include": ["**/*.py"],
        "exclude": [],
    }
    assert job["spec"]["output"]["persistentVolumeClaim"] == {
        "claimName": "crates",
        "path": "/portalis/crates/billing",
    }
    assert job["spec"]["target"]["crateName"] == "billing"
    assert (job["spec"]["priority"], job["spec"]["parallelism"]) == ("low", 2)

    urgent = plugin(
        cluster, "--namespace", second_namespace, "submit", url, "--output-claim", "crates",
        "--priority", "critical", "--name", "urgent",
    )  # fmt: skip
    assert urgent.returncode == 0, urgent.stderr
    queue = plugin(cluster, "queue")
    assert queue.returncode == 0, queue.stderr
    rows = [line.split() for line in queue.stdout.splitlines()]
    assert rows[0][:4] == ["NAMESPACE", "NAME", "PRIORITY", "PHASE"]
    names = [r[1] for r in rows[1:]]
    assert names.index("urgent") < names.index("billing")  # by priority, across namespaces
    only = plugin(cluster, "-n", namespace, "queue", "-o", "json")
    assert [j["metadata"]["name"] for j in json.loads(only.stdout)["items"]] == ["billing"]

    again = plugin(cluster, "-n", namespace, "submit", url, "--output-claim", "crates", "--name", "billing")
    assert again.returncode == 2
    assert again.stderr == 'error: translationjob "billing" already exists\n'
    # a local directory under a taken name is refused before its upload could replace that job's source
    local = plugin(
        cluster, "-n", namespace, "submit", str(Path(__file__).parent), "--claim", "c", "--name", "billing"
    )
    assert local.returncode == 2
    assert local.stderr == 'error: translationjob "billing" already exists\n'
    assert not any(
        cm.metadata.name.startswith("billing-upload")
        for cm in core.list_namespaced_config_map(namespace).items
    )

    watched = plugin(cluster, "-n", namespace, "watch", "billing", "--timeout", "2")
    assert watched.returncode == 5  # no operator here: it stays Pending
    assert watched.stderr.strip().splitlines()[-1].startswith("error: timed out after 2 s following billing")

    no_claim = plugin(cluster, "-n", namespace, "submit", url)
    assert no_claim.returncode == 2
    assert "--output-claim" in no_claim.stderr

    cm = {
        "apiVersion": "portalis.dev/v1alpha1",
        "kind": "TranslationJob",
        "metadata": {"name": "small"},
        "spec": {
            "source": {"git": {"url": url}},
            "output": {"configMap": {"name": "out"}},
            "target": {"crateName": "c"},
        },
    }
    created = subprocess.run(
        [str(binary("kubectl")), "create", "-n", namespace, "-f", "-"],
        input=json.dumps(cm),
        capture_output=True,
        text=True,
        env={**os.environ, **cluster.env()},
        check=False,
    )
    assert created.returncode == 0, created.stderr
    fetched = plugin(cluster, "-n", namespace, "fetch", "small", "-o", "out")
    assert fetched.returncode == 3
    assert "ConfigMap" in fetched.stderr
