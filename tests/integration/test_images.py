"""The container images hold what their pods need, and nothing of the machine that runs them.

Builds the images with `portalis_dev.images` (or takes them from the cache when their inputs did not
change: a cold build takes several minutes, docs/install.md) and runs commands in them with
`portalis_dev.imagerun`: read-only root filesystem, tmpfs /tmp, the image's USER and environment, no
host files but the bind mounts a test names.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from portalis_dev import imagerun, images
from portalis_dev.imagerun import Bind

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE, OUTPUT, LEDGER = "/var/lib/portalis/source", "/var/lib/portalis/output", "/var/lib/portalis/ledger"

PACKAGE = {
    "geometry/__init__.py": "from .shapes import area, perimeter\n",
    "geometry/shapes.py": (
        "def area(width: int, height: int) -> int:\n"
        "    return width * height\n\n\n"
        "def perimeter(width: int, height: int) -> int:\n"
        "    return 2 * (width + height)\n"
    ),
}


@pytest.fixture(scope="module")
def built() -> Iterator[dict[str, images.BuildRecord]]:
    if os.geteuid() != 0:
        pytest.skip("building and running images needs root (buildah chroot isolation, namespaces)")
    records = images.build(["operator", "worker"])
    return {r.name: r for r in records}


def _run(ref: str, script: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return imagerun.run(ref, ["sh", "-c", script], **kw)  # type: ignore[arg-type]


def _writable_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, 65532, 65532)
    return path


def test_worker_image_runs_as_65532_with_its_own_files_only(
    built: dict[str, images.BuildRecord], tmp_path: Path
) -> None:
    marker = tmp_path / "host-only"
    marker.write_text("the host's file")
    ref = built["worker"].reference
    proc = _run(
        ref,
        f"id -u; id -g; rustc --version; cargo --version; git --version; "
        f"test -e {marker} && echo HOST-VISIBLE; test -e {REPO_ROOT}/pyproject.toml && echo REPO-VISIBLE; "
        "touch /rootfs-write 2>/dev/null && echo ROOT-WRITABLE; touch /tmp/ok && echo tmp-writable; "
        "portalis-worker; echo worker-exit=$?",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["65532", "65532"]
    assert lines[2].startswith("rustc 1.9"), lines[2]
    assert lines[3].startswith("cargo 1.9"), lines[3]
    assert "HOST-VISIBLE" not in lines
    assert "REPO-VISIBLE" not in lines
    assert "ROOT-WRITABLE" not in lines
    assert "tmp-writable" in lines
    # Without its assignment (the pod's environment) the worker says so and exits 2 (invalid config).
    assert "worker-exit=2" in lines
    assert "PORTALIS_JOB_NAME" in proc.stderr


def test_worker_image_translates_a_package_and_its_crate_builds_offline(
    built: dict[str, images.BuildRecord], tmp_path: Path
) -> None:
    source = tmp_path / "source"
    for rel, text in PACKAGE.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text(text)
    output, ledger = _writable_dir(tmp_path / "output"), _writable_dir(tmp_path / "ledger")
    env = {
        "PORTALIS_JOB_NAME": "images",
        "PORTALIS_JOB_NAMESPACE": "test",
        "PORTALIS_SHARD_INDEX": "0",
        "PORTALIS_SHARD_COUNT": "1",
        "PORTALIS_BACKEND": "rules",
        "PORTALIS_CRATE_NAME": "geometry",
        "PORTALIS_RUST_EDITION": "2021",
        "PORTALIS_SOURCE_DIR": SOURCE,
        "PORTALIS_OUTPUT_DIR": OUTPUT,
        "PORTALIS_LEDGER_DIR": LEDGER,
        "PORTALIS_INCLUDE": '["**/*.py"]',
        "PORTALIS_EXCLUDE": "[]",
        "PORTALIS_METRICS_PORT": "0",
    }
    binds = [
        Bind(source, SOURCE),
        Bind(output, OUTPUT, read_only=False),
        Bind(ledger, LEDGER, read_only=False),
    ]
    ref = built["worker"].reference
    shard = imagerun.run(ref, ["portalis-worker"], binds=binds, env=env, timeout=600)
    assert shard.returncode == 0, shard.stderr[-4000:]
    assert (output / "geometry" / "Cargo.toml").is_file(), sorted(str(p) for p in output.rglob("*"))
    # The crate builds with cargo inside the image without a registry, and so does the support crate that
    # crates using Python semantics vendor (it ships inside the worker package; built from a copy, as the
    # package directory is read-only).
    support = "$(python3 -c 'import portalis_worker.support_crate as s; print(s.__file__)')"
    build = _run(
        ref,
        f"cargo build --offline --quiet --manifest-path {OUTPUT}/geometry/Cargo.toml --target-dir /tmp/t1 "
        f'&& cp -r "$(dirname {support})/support/portalis_py" /tmp/support '
        "&& cargo build --offline --quiet --manifest-path /tmp/support/Cargo.toml && echo crate-built",
        binds=binds,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    assert "crate-built" in build.stdout


def test_operator_image_has_the_operator_and_no_worker_runtime(built: dict[str, images.BuildRecord]) -> None:
    proc = _run(
        built["operator"].reference,
        "id -u; python3 -c 'import portalis_operator.handlers; print(\"operator-ok\")'; "
        "command -v portalis-operator >/dev/null && echo has-operator; "
        "command -v portalis-worker >/dev/null && echo HAS-WORKER; "
        "command -v rustc >/dev/null && echo HAS-RUSTC; "
        "python3 -c 'import torch' 2>/dev/null && echo HAS-TORCH; true",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "65532"
    assert "operator-ok" in lines
    assert "has-operator" in lines
    assert not {"HAS-WORKER", "HAS-RUSTC", "HAS-TORCH"} & set(lines)


@pytest.mark.parametrize("name", ["operator", "worker"])
def test_archive_carries_the_charts_version_and_user(built: dict[str, images.BuildRecord], name: str) -> None:
    record = built[name]
    app_version = yaml.safe_load((REPO_ROOT / "charts" / "portalis" / "Chart.yaml").read_text())["appVersion"]
    assert record.reference == f"portalis/{name}:{app_version}"
    out = subprocess.run(
        ["skopeo", "inspect", "--config", f"oci-archive:{record.archive}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    config = json.loads(out)["config"]
    assert config["User"] == "65532:65532"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == app_version
    assert labels["org.opencontainers.image.title"] == f"portalis-{name}"
    assert record.packages, "the build records its Debian package versions"
