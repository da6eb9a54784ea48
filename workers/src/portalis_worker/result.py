"""The job's result as the assembling shard reports it: the crate's digest, whether it builds, the unit
counts and failure reasons from its translation report (`protocol.ResultReport`, the pod annotation
`portalis.dev/result`; docs/api.md).

Every shard that assembles the crate reports the same result (the crate is a pure function of the
ledgers), so the operator may read it from any of them.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from portalis_worker import support_crate
from portalis_worker.protocol import ResultReport, tree_digest

LOG = logging.getLogger(__name__)

BUILD_TIMEOUT_SECONDS = 600.0
REPORT_FILE = "translation_report.json"


def crate_builds(
    crate: Mapping[str, bytes], crate_name: str, rustc: str, edition: str, scratch_dir: Path
) -> bool | None:
    """Whether `rustc` builds the crate's library (`src/lib.rs`, with the vendored support crate when it
    is used): a full type and borrow check (`--emit=metadata`, what `cargo check` runs), no codegen.
    None when rustc could not be run at all (then nothing is claimed)."""
    scratch_dir.mkdir(parents=True, exist_ok=True)
    ident = re.sub(r"[^A-Za-z0-9_]", "_", crate_name)
    try:
        extern: list[str] = []
        if any(
            support_crate.USE_MARKER in v.decode("utf-8", "replace")
            for k, v in crate.items()
            if k.endswith(".rs")
        ):
            extern = support_crate.extern_args(rustc, edition, scratch_dir / "support")
        with tempfile.TemporaryDirectory(prefix="portalis-build-", dir=scratch_dir) as tmp:
            root = Path(tmp)
            for rel, content in crate.items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(content)
            proc = subprocess.run(
                [
                    *(rustc, "--edition", edition, "--crate-type", "lib", "--crate-name", ident),
                    *("-A", "warnings", "--emit=metadata", "--out-dir", str(root / "out"), *extern),
                    str(root / "src" / "lib.rs"),
                ],
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_SECONDS,
                check=False,
            )
    except (OSError, subprocess.SubprocessError) as exc:
        LOG.warning("could not check that the crate builds", extra={"error": str(exc)})
        return None
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if ln.startswith("error")), "")
        LOG.warning("the crate does not build", extra={"crate": crate_name, "error": first[:300]})
    return proc.returncode == 0


def result_of(crate: Mapping[str, bytes], builds: bool | None) -> ResultReport:
    """The result of an assembled crate (its files, as `crate.render` returned them)."""
    report = json.loads(crate[REPORT_FILE])
    return ResultReport.from_translation_report(report, tree_digest(crate), len(crate), builds)
