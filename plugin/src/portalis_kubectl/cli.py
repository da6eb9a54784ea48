"""`kubectl-portalis`: argument parsing, the session, and turning every error into one line and an exit
code (errors.Exit; docs/kubectl-plugin.md).

kubectl runs this executable for `kubectl portalis ...` with the arguments that follow `portalis`, so
the kubectl-style flags (-n, --context, --kubeconfig) are accepted before or after the command.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from portalis_kubectl.commands import fetch, queue, report, status, submit, watch
from portalis_kubectl.errors import Exit, PluginError
from portalis_kubectl.kube import connect

COMMANDS = (submit, status, watch, report, fetch, queue)


def parser() -> argparse.ArgumentParser:
    def common(default: object) -> argparse.ArgumentParser:
        p = argparse.ArgumentParser(add_help=False)
        p.add_argument("-n", "--namespace", default=default, help="namespace (default: the context's)")
        p.add_argument("--context", default=default, help="kubeconfig context (default: the current one)")
        p.add_argument(
            "--kubeconfig", default=default, help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
        )
        return p

    top = argparse.ArgumentParser(
        prog="kubectl portalis",
        parents=[common(None)],
        description="Submit Python codebases for translation to Rust and follow them (Portalis).",
        epilog="exit codes: 0 ok, 1 job failed, 2 usage, 3 not found, 4 API error, 5 timeout, "
        "6 transfer failed, 130 interrupted",
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inner = common(argparse.SUPPRESS)  # after the command: overrides only when given
    for command in COMMANDS:
        command.add(sub, inner)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    logging.getLogger("kubernetes").setLevel(logging.ERROR)
    args_list = list(sys.argv[1:] if argv is None else argv)
    p = parser()
    args = p.parse_args(args_list)  # exits 2 with a one-line usage error
    args.namespace_given = args.namespace is not None
    try:
        session = connect(args.kubeconfig, args.context, args.namespace)
        return int(args.run(args, session))
    except PluginError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return int(Exit.INTERRUPTED)
    except BrokenPipeError:
        return int(Exit.OK)


if __name__ == "__main__":
    sys.exit(main())
