"""Where things live on disk: the repository, the build cache and a control plane's state directory."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
GOMOD_DIR = REPO_ROOT / "localcluster" / "gomod"


def cache_dir() -> Path:
    """Binaries built from source, outside the repository so clean clones reuse them."""
    override = os.environ.get("PORTALIS_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "portalis"


def default_state_dir() -> Path:
    """The embedded default control plane's data, logs, certificates and pid files."""
    override = os.environ.get("PORTALIS_STATE_DIR")
    if override:
        return Path(override)
    return REPO_ROOT / ".state" / "cluster"
