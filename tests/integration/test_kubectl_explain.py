"""`kubectl explain` explains every field of our CRDs on a real API server (issue 16, item 3).

`--recursive` lists the fields the server publishes (from the installed CRDs' OpenAPI schema); each one
is then explained on its own, and its DESCRIPTION must not be empty.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from portalis_dev.cluster import LocalCluster
from portalis_dev.toolchain import binary

pytestmark = pytest.mark.integration

FIELD = re.compile(r"^(?P<indent> *)(?P<name>[A-Za-z0-9_]+)\t<")


def kubectl(cluster: LocalCluster, *args: str) -> str:
    return subprocess.run(
        [str(binary("kubectl")), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **cluster.env()},
        check=True,
        timeout=60,
    ).stdout


def field_paths(recursive: str) -> list[str]:
    """Dotted paths of the FIELDS section of `kubectl explain --recursive` (two spaces per level)."""
    paths: list[str] = []
    stack: list[str] = []
    section = recursive.split("FIELDS:", 1)[1]
    for line in section.splitlines():
        m = FIELD.match(line)
        if m is None:
            continue  # enum lines, blank lines
        depth = len(m.group("indent")) // 2 - 1
        del stack[depth:]
        stack.append(m.group("name"))
        paths.append(".".join(stack))
    return paths


def description(explained: str) -> str:
    text = explained.split("DESCRIPTION:", 1)[1]
    return text.split("FIELDS:", 1)[0].strip()


@pytest.mark.parametrize("resource", ["translationjob", "gpupool"])
def test_kubectl_explain_describes_every_field(cluster: LocalCluster, crds: list[str], resource: str) -> None:
    paths = field_paths(kubectl(cluster, "explain", resource, "--recursive"))
    assert "spec" in paths
    assert len(paths) > 40
    if resource == "translationjob":
        assert {"spec.source.git.ref", "status.result.crate.digest"} <= set(paths)
    bare = [p for p in paths if not description(kubectl(cluster, "explain", f"{resource}.{p}"))]
    assert bare == [], f"kubectl explain {resource}: fields without a description: {bare}"


def test_field_paths_reads_the_recursive_layout() -> None:
    sample = (
        "FIELD: spec <Object>\n\nFIELDS:\n  a\t<Object>\n    b\t<string>\n    enum: x, y\n"
        "  c\t<[]Object>\n    d\t<integer> -required-\n"
    )
    assert field_paths(sample) == ["a", "a.b", "c", "c.d"]
