"""`python -m portalis_dev.agent --nodes spot=1,on-demand=1 [--pool NAME] [--state-dir DIR]`."""

from __future__ import annotations

import argparse
import sys

from portalis_dev.agent.managed import main


def _parser() -> argparse.ArgumentParser:
    from portalis_dev.agent.config import add_arguments

    p = argparse.ArgumentParser(prog="python -m portalis_dev.agent", description="local node agent")
    p.add_argument("--state-dir", help="control-plane state directory (default: .state/cluster in the repo)")
    add_arguments(p)
    return p


if __name__ == "__main__":
    sys.exit(main(_parser().parse_args()))
