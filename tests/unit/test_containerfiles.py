"""Lint of images/*/Containerfile, and one version for the images, the chart and the operator's defaults.

The triton image cannot be built here (its base is on NVIDIA's registry), so these rules are what checks
it; the buildable images are also built and run by tests/integration/test_images.py.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from portalis_dev import images
from portalis_operator.manifests import MODEL_REPO_DIR
from portalis_operator.settings import Settings

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]
NAMES = sorted(p.parent.name for p in (REPO_ROOT / "images").glob("*/Containerfile"))
LABELS = ("title", "description", "version", "revision", "licenses", "source")


def _app_version() -> str:
    return str(yaml.safe_load((REPO_ROOT / "charts" / "portalis" / "Chart.yaml").read_text())["appVersion"])


def _instructions(name: str) -> list[tuple[str, str]]:
    text = (REPO_ROOT / "images" / name / "Containerfile").read_text()
    out = []
    for line in images._logical_lines(text):
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _stages(name: str) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for ins in _instructions(name):
        if ins[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def test_the_four_images_are_there() -> None:
    assert NAMES == ["operator", "triton", "triton-cpu", "worker"]
    assert set(images.SPECS) <= set(NAMES)
    assert set(images.DEFAULT_IMAGES) <= set(images.SPECS)


@pytest.mark.parametrize("name", NAMES)
def test_bases_are_build_arguments_with_pinned_defaults(name: str) -> None:
    args = {}
    for word, rest in _instructions(name):
        if word == "ARG" and "=" in rest:
            key, value = rest.split("=", 1)
            args[key] = value
        if word == "FROM":
            image = rest.split()[0]
            assert re.fullmatch(r"\$\{[A-Z_]+\}", image), f"FROM {image}: name the base through an ARG"
    bases = [v for k, v in args.items() if k.endswith("_IMAGE") and not v.startswith("$")]
    assert bases, "a default base image"
    for base in bases:
        assert ":" in base, f"{base}: pin a tag"
        assert not base.endswith(":latest"), f"{base}: pin a tag"


@pytest.mark.parametrize("name", NAMES)
def test_final_stage_is_non_root_labelled_and_read_only_friendly(name: str) -> None:
    final = _stages(name)[-1]
    words = [w for w, _ in final]
    users = [rest for w, rest in final if w == "USER"]
    assert users == ["65532:65532"], "the final stage runs as 65532 (uid:gid, numeric for runAsNonRoot)"
    assert words.index("USER") > max(i for i, w in enumerate(words) if w == "RUN"), "USER after every RUN"
    labels = " ".join(rest for w, rest in final if w == "LABEL")
    for key in LABELS:
        assert f"org.opencontainers.image.{key}=" in labels, key
    env = " ".join(rest for w, rest in final if w == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/tmp" in env
    assert "CMD" in words


@pytest.mark.parametrize("name", NAMES)
def test_no_downloads_or_add_and_copied_paths_exist(name: str) -> None:
    for word, rest in _instructions(name):
        assert word != "ADD", "COPY, not ADD (no URLs or archives unpacked implicitly)"
        if word == "RUN":
            assert not re.search(r"\b(curl|wget)\b", rest), "no downloads outside a package manager"
            assert "--trusted-host" not in rest
    containerfile = REPO_ROOT / "images" / name / "Containerfile"
    for rel in images.copied_paths(containerfile):
        assert (REPO_ROOT / rel).exists(), f"COPY {rel}: not in the repository"


@pytest.mark.parametrize("name", NAMES)
def test_version_argument_is_the_charts_app_version(name: str) -> None:
    defaults = [
        rest.split("=", 1)[1] for w, rest in _instructions(name) if w == "ARG" and rest.startswith("VERSION=")
    ]
    assert defaults == [_app_version()]


def test_one_version_for_images_chart_package_and_operator_defaults() -> None:
    version = _app_version()
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == version
    assert images.version() == version
    settings = Settings.model_fields
    assert settings["worker_image"].default == f"portalis/worker:{version}"
    assert settings["triton_image"].default == f"portalis/triton:{version}"
    values = yaml.safe_load((REPO_ROOT / "charts" / "portalis" / "values.yaml").read_text())
    assert f"{values['image']['repository']}:{version}" == images.reference("operator")
    assert f"{values['worker']['image']['repository']}:{version}" == images.reference("worker")
    assert f"{values['worker']['tritonImage']['repository']}:{version}" == images.reference("triton")


@pytest.mark.parametrize("name", ["triton", "triton-cpu"])
def test_triton_images_serve_the_model_repository_where_the_pod_expects_it(name: str) -> None:
    final = _stages(name)[-1]
    copies = [shlex.split(rest) for w, rest in final if w == "COPY"]
    targets = {c[-1] for c in copies if c[0].startswith("model_repo/")}
    # The typer and the embedder do work in a job; the random-weight translator is left out (docs/model.md).
    assert targets == {f"{MODEL_REPO_DIR}/typer", f"{MODEL_REPO_DIR}/embedder"}
    assert not any(c[0].startswith("model_repo/tools") for c in copies), "tools/ is not a model"
    cmd = [rest for w, rest in final if w == "CMD"][-1]
    assert cmd.startswith('["tritonserver"')
    assert f"--model-repository={MODEL_REPO_DIR}" in cmd


def test_worker_image_has_rust_and_the_operator_image_has_not() -> None:
    worker = images.packages(images.SPECS["worker"])
    operator = images.packages(images.SPECS["operator"])
    assert {"rustc-web", "cargo-web", "git", "python3"} <= set(worker)
    assert not {p for p in operator if "rust" in p or "cargo" in p}


def test_copied_paths_reads_continuations_and_skips_other_stages(tmp_path: Path) -> None:
    cf = tmp_path / "Containerfile"
    cf.write_text(
        "FROM x AS build\n# COPY ignored /x\nCOPY a b \\\n  c/ /dest/\nCOPY --from=build /opt /opt\n"
        "COPY --chown=1:1 d /d\n"
    )
    assert images.copied_paths(cf) == ["a", "b", "c", "d"]
