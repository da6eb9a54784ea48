"""The Triton sidecar of a worker pod on the node agent: the real `tritonserver` of the nvidia-pytriton
wheel on CPU, serving the repository's `model_repo/typer` (the committed checkpoint) and `embedder` (our
kernels' MinHash for the translation memory).

The agent runs pods' containers as host processes and maps a container's program through its command
map, so an e2e test starts its agent with `--command-map tritonserver=<python> <this file>`: the pod's
sidecar (`manifests._triton_sidecar`: `tritonserver --model-repository=/models --grpc-port=8001 ...`)
then runs this, which keeps the pod's ports, replaces the image's `/models` (absent on the host) with
the checked-in repository, selects the CPU configs, and execs the server, so that the process the agent
watches and kills is tritonserver itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from portalis_worker.model.serving import ServerOptions, TritonDistribution, TritonServer, stub_environment

REPO = Path(__file__).resolve().parents[2]
PORT_FLAGS = {"--grpc-port": "grpc_port", "--http-port": "http_port", "--metrics-port": "metrics_port"}


def options(argv: Sequence[str]) -> ServerOptions:
    """The server's options from the pod's arguments: its ports; everything else is ours."""
    ports: dict[str, int] = {}
    for arg in argv:
        flag, _, value = arg.partition("=")
        if flag in PORT_FLAGS:
            ports[PORT_FLAGS[flag]] = int(value)
    missing = sorted(set(PORT_FLAGS) - {f for f, k in PORT_FLAGS.items() if k in ports})
    if missing:
        raise SystemExit(f"triton_sidecar: the pod's arguments lack {missing}: {list(argv)}")
    return ServerOptions(
        model_repository=REPO / "model_repo", models=("typer", "embedder"), config_name="cpu", **ports
    )


def main(argv: Sequence[str]) -> None:
    opts = options(argv)
    work = Path.cwd()  # the agent's directory for this container
    server = TritonServer(opts, work, TritonDistribution.find(), stub_environment())
    command = opts.command(server.dist, server.dist.prepare_backends(work))
    print(f"triton_sidecar: exec {' '.join(command)}", flush=True)
    os.execve(command[0], command, server.environment())


if __name__ == "__main__":
    main(sys.argv[1:])
