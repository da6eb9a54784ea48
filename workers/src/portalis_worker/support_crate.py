"""The support crate (`portalis_py`, Python semantics in Rust) for checking and assembling crates.

Translated code that needs Python behaviour with no one-line Rust equivalent (the `re` module)
calls `portalis_py::...`. The crate ships inside the worker package (support/portalis_py, real
`.rs` files with their own `cargo test`) and has no dependencies, so:
- the rustc check of a module that uses it passes `--extern portalis_py=<rlib>`, built once per
  worker from the shipped sources (`rlib`), keyed by their digest and the compiler's version;
- an assembled crate that uses it gets a copy under `vendor/portalis_py` and a path dependency,
  so `cargo build --offline` works wherever the crate goes (`vendored_files`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "support" / "portalis_py"
CRATE_NAME = "portalis_py"
USE_MARKER = "portalis_py::"
VENDOR_DIR = "vendor/portalis_py"
_LOCK = threading.Lock()


def _files() -> dict[str, bytes]:
    return {
        str(p.relative_to(SOURCE)): p.read_bytes()
        for p in sorted(SOURCE.rglob("*"))
        if p.is_file() and p.suffix in (".rs", ".toml")
    }


def vendored_files() -> dict[str, bytes]:
    """Relative path (under the translated crate) -> content of the support crate's copy."""
    return {f"{VENDOR_DIR}/{rel}": content for rel, content in _files().items()}


def digest() -> str:
    h = hashlib.sha256()
    for rel, content in _files().items():
        h.update(rel.encode() + b"\0" + content + b"\0")
    return h.hexdigest()[:16]


def rlib(rustc: str, edition: str, cache_dir: Path) -> Path:
    """The compiled support crate for `rustc`, built into `cache_dir` on first use."""
    version = subprocess.run([rustc, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    key = hashlib.sha256(f"{digest()}\0{version}\0{edition}".encode()).hexdigest()[:16]
    target = cache_dir / f"lib{CRATE_NAME}-{key}.rlib"
    with _LOCK:
        if not target.exists():
            cache_dir.mkdir(parents=True, exist_ok=True)
            # Workers in other processes may build the same rlib into the same directory at once (the
            # pods of one node share it): each writes its own partial file and moves it into place
            # atomically, so a reader never sees half a file and no build overwrites another's.
            partial = target.with_name(f"{target.stem}.{os.getpid()}.{threading.get_ident()}.partial")
            subprocess.run(
                [
                    *(rustc, "--edition", edition, "--crate-type", "rlib", "--crate-name", CRATE_NAME),
                    *(
                        "-C",
                        "opt-level=1",
                        "-A",
                        "warnings",
                        "-o",
                        str(partial),
                        str(SOURCE / "src" / "lib.rs"),
                    ),
                ],
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            )
            os.replace(partial, target)
    return target


def extern_args(rustc: str, edition: str, cache_dir: Path) -> list[str]:
    return ["--extern", f"{CRATE_NAME}={rlib(rustc, edition, cache_dir)}"]
