"""Pure rules of the local node agent: how a container's command line is mapped onto the host."""

from __future__ import annotations

from pathlib import Path

import pytest

from portalis_dev.agent.environment import Mount, container_argv

pytestmark = pytest.mark.unit


def test_the_program_is_a_host_path_and_is_never_rewritten() -> None:
    mounts = [Mount("/tmp", Path("/state/pods/p/volumes/scratch"))]
    argv = container_argv(
        {"command": ["/tmp/checkout/.venv/bin/python"], "args": ["/tmp/in.txt", "--out=/tmp/o"]}, {}, mounts
    )
    assert argv == [
        "/tmp/checkout/.venv/bin/python",
        "/state/pods/p/volumes/scratch/in.txt",
        "--out=/state/pods/p/volumes/scratch/o",
    ]


def test_args_alone_run_the_first_arg_as_the_program() -> None:
    mounts = [Mount("/data", Path("/local/data"))]
    assert container_argv({"args": ["portalis-worker", "/data/x"]}, {}, mounts) == [
        "portalis-worker",
        "/local/data/x",
    ]
