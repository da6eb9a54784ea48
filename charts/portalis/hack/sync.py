"""Copy the files the chart embeds from their sources of truth, or check that the copies are current.

Helm cannot read outside the chart, so the chart keeps byte-identical copies of the repository's CRDs
(`crds/*.yaml`), the Prometheus rules and the Grafana dashboard (`monitoring/`). Run from anywhere:

    python charts/portalis/hack/sync.py          # copy
    python charts/portalis/hack/sync.py --check  # exit 1 and name the stale copies (CI, tests)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

CHART = Path(__file__).resolve().parents[1]
REPO = CHART.parents[1]


def pairs() -> list[tuple[Path, Path]]:
    """(source, chart copy) for every synced file."""
    out = [(src, CHART / "files" / "crds" / src.name) for src in sorted((REPO / "crds").glob("*.yaml"))]
    out.append((REPO / "monitoring/rules/portalis.rules.yaml", CHART / "files/rules/portalis.rules.yaml"))
    out.append((REPO / "monitoring/dashboards/portalis.json", CHART / "files/dashboards/portalis.json"))
    return out


def stale() -> list[str]:
    """Chart copies that differ from their source, plus chart CRD copies whose source is gone."""
    bad = [
        str(dst.relative_to(REPO))
        for src, dst in pairs()
        if not dst.is_file() or dst.read_bytes() != src.read_bytes()
    ]
    known = {dst for _, dst in pairs()}
    for dst in sorted((CHART / "files" / "crds").glob("portalis.dev_*.yaml")):
        if dst not in known:
            bad.append(f"{dst.relative_to(REPO)} (no source in crds/)")
    return bad


def sync() -> None:
    known = {dst for _, dst in pairs()}
    for dst in (CHART / "files" / "crds").glob("portalis.dev_*.yaml"):
        if dst not in known:
            dst.unlink()
    for src, dst in pairs():
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale copies; exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        bad = stale()
        for name in bad:
            print(f"stale: {name}", file=sys.stderr)
        if bad:
            print("run: python charts/portalis/hack/sync.py", file=sys.stderr)
        return 1 if bad else 0
    sync()
    return 0


if __name__ == "__main__":
    sys.exit(main())
