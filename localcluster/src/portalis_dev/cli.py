"""`portalis-dev`: build, start, stop and inspect the local control plane and its simulated DGX nodes."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from portalis_dev import nodes
from portalis_dev.cluster import ClusterError, LocalCluster
from portalis_dev.layout import default_state_dir
from portalis_dev.toolchain import BuildError, binary, ensure_built


def _cluster(args: argparse.Namespace) -> LocalCluster:
    return LocalCluster(Path(args.state_dir) if args.state_dir else default_state_dir())


def _core_api(c: LocalCluster) -> Any:
    from kubernetes import client, config

    return client.CoreV1Api(config.new_client_from_config(str(c.kubeconfig)))


def cmd_build(args: argparse.Namespace) -> int:
    ensure_built(args.tools or None)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    c = _cluster(args)
    c.up(apiserver_port=args.port)
    if args.spot or args.on_demand:
        api = _core_api(c)
        current = nodes.list_simulated(api)
        wanted: tuple[tuple[nodes.CapacityType, int], ...] = (
            ("spot", args.spot),
            ("on-demand", args.on_demand),
        )
        for ct, want in wanted:
            have = sum(1 for n in current if n.metadata.labels[nodes.CAPACITY_TYPE_LABEL] == ct)
            if want > have:
                nodes.add_nodes(api, ct, want - have)
    if args.real_nodes or args.real_spot:
        from portalis_dev import realnode

        existing = [realnode.spec_of(n) for n in realnode.nodes_of(c.state_dir)]
        real_have = {
            ct: sum(1 for n in existing if n.pool == args.real_pool and n.capacity_type == ct)
            for ct in ("spot", "on-demand")
        }
        counts = {
            "spot": max(0, args.real_spot - real_have["spot"]),
            "on-demand": max(0, args.real_nodes - real_have["on-demand"]),
        }
        specs = realnode.pool_specs(args.real_pool, counts, [n.name for n in existing])
        if specs:
            realnode.add_nodes(c.state_dir, c.kubeconfig, specs)
    print(f"export KUBECONFIG={c.kubeconfig}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from portalis_dev import realnode

    c = _cluster(args)
    for node in realnode.nodes_of(c.state_dir):
        realnode.stop(node)
    c.down()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    st = _cluster(args).status()
    print(f"state:  {st.state_dir}")
    print(f"server: {st.server or '-'}  ready: {st.ready}")
    for name, running in st.running.items():
        print(f"  {name:<24} {'running' if running else 'stopped'}")
    return 0 if st.up else 3


def cmd_env(args: argparse.Namespace) -> int:
    for k, v in _cluster(args).env().items():
        print(f"export {k}={shlex.quote(v)}")
    return 0


def cmd_nodes(args: argparse.Namespace) -> int:
    c = _cluster(args)
    api = _core_api(c)
    if args.action == "add":
        names = nodes.add_nodes(api, args.capacity_type, args.count, pool=args.pool)
        print("\n".join(names))
    elif args.action == "remove":
        for name in args.names:
            nodes.remove_node(api, name)
            print(f"removed {name}")
    return _kubectl(c, ["get", "nodes", "-L", f"{nodes.CAPACITY_TYPE_LABEL},{nodes.ZONE_LABEL}"])


def _kubectl(c: LocalCluster, argv: list[str]) -> int:
    env = dict(os.environ)
    env.update(c.env())
    return subprocess.call([str(binary("kubectl")), *argv], env=env)


def cmd_kubectl(args: argparse.Namespace) -> int:
    return _kubectl(_cluster(args), args.argv)


def cmd_agent(args: argparse.Namespace) -> int:
    from portalis_dev.agent.managed import main as agent_main

    return agent_main(args)


def cmd_images(args: argparse.Namespace) -> int:
    from portalis_dev import images

    try:
        records = images.build(args.names or images.DEFAULT_IMAGES)
    except images.ImageBuildError as exc:
        print(f"portalis-dev: {exc}", file=sys.stderr)
        return 1
    for record, archive in zip(records, images.export(records), strict=True):
        print(f"{record.reference}\t{record.size_bytes / 1e6:.0f} MB\t{archive}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from portalis_dev import demo

    nodes = {"spot": args.spot, "on-demand": args.on_demand}
    state_dir = Path(args.state_dir) if args.state_dir else None
    return demo.main(state_dir, timeout=args.timeout, nodes=nodes, real_nodes=args.real_nodes)


def cmd_story(args: argparse.Namespace) -> int:
    from portalis_dev import story

    return story.main(Path(args.state_dir) if args.state_dir else None)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="portalis-dev", description=__doc__)
    p.add_argument("--state-dir", help="control-plane state directory (default: .state/cluster in the repo)")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build the pinned binaries from Go modules (cached; no-op when built)")
    b.add_argument("tools", nargs="*", help="tools to build (default: all)")
    b.set_defaults(func=cmd_build)

    u = sub.add_parser("up", help="start the control plane (builds first if needed)")
    u.add_argument("--port", type=int, help="API server port (default: a free one)")
    u.add_argument("--spot", type=int, default=0, help="ensure at least this many simulated spot DGX nodes")
    u.add_argument("--on-demand", type=int, default=0, help="ensure at least this many on-demand DGX nodes")
    u.add_argument(
        "--real-nodes",
        type=int,
        default=0,
        help="ensure at least this many on-demand real kubelet nodes (our images loaded; root only)",
    )
    u.add_argument("--real-spot", type=int, default=0, help="ensure at least this many spot real nodes")
    u.add_argument("--real-pool", default="default", help="the pool label of the real nodes")
    u.set_defaults(func=cmd_up)

    sub.add_parser("down", help="stop every process of the control plane").set_defaults(func=cmd_down)
    sub.add_parser("status", help="show which components run (exit 3 when not up)").set_defaults(
        func=cmd_status
    )
    sub.add_parser("env", help="print KUBECONFIG and PATH exports for a shell").set_defaults(func=cmd_env)

    n = sub.add_parser("nodes", help="list, add or remove simulated DGX nodes")
    nsub = n.add_subparsers(dest="action")
    add = nsub.add_parser("add")
    add.add_argument("capacity_type", choices=["spot", "on-demand"])
    add.add_argument("count", type=int, nargs="?", default=1)
    add.add_argument("--pool", default="default")
    rm = nsub.add_parser("remove")
    rm.add_argument("names", nargs="+")
    n.set_defaults(func=cmd_nodes, action="list")

    from portalis_dev.agent.config import add_arguments as add_agent_arguments

    a = sub.add_parser("agent", help="run the local node agent (nodes whose pods run as local processes)")
    a.add_argument("--state-dir", default=argparse.SUPPRESS, help="as the global --state-dir")
    add_agent_arguments(a)
    a.set_defaults(func=cmd_agent)

    d = sub.add_parser(
        "demo", help="translate examples/sample-project end to end: control plane, agent, operator, job"
    )
    d.add_argument("--spot", type=int, default=2, help="spot nodes of the demo's node agent")
    d.add_argument("--on-demand", type=int, default=1, help="on-demand nodes of the demo's node agent")
    d.add_argument("--timeout", type=float, default=240.0, help="seconds the job may take")
    d.add_argument(
        "--real-nodes",
        action="store_true",
        help="run the workers from the worker image on real kubelet nodes instead of the node agent (root)",
    )
    d.set_defaults(func=cmd_demo)

    s = sub.add_parser(
        "story",
        help="the mission as a story (make demo): preemption, scale-out at 75%% spot, a spot reclaim, "
        "two jobs that succeed; every step checked",
    )
    s.set_defaults(func=cmd_story)

    i = sub.add_parser(
        "images", help="build the container images (buildah; cached on their inputs) and export OCI archives"
    )
    i.add_argument("names", nargs="*", help="images to build (default: operator worker)")
    i.set_defaults(func=cmd_images)

    k = sub.add_parser("kubectl", help="run the built kubectl against this control plane")
    k.add_argument("argv", nargs=argparse.REMAINDER)
    k.set_defaults(func=cmd_kubectl)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ClusterError, BuildError) as exc:
        print(f"portalis-dev: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
