"""Builds the container images of `images/` daemonless, cached on a digest of their inputs.

No Docker here, so each image is built the way docs/install.md describes for a machine without a
registry: buildah (chroot isolation, vfs storage, both work as root without a daemon or overlay) on a
Debian root filesystem that mmdebstrap makes from the image's `packages.txt` (its unshare mode, which
cannot touch the host's /dev), with Python dependencies from a wheelhouse built here, because pip inside
the build cannot reach the package index. The Containerfiles are the ones users build with docker or
podman; only build arguments differ (BASE_IMAGE, PIP_NO_INDEX).

Everything lives under the user cache dir (`images/`), so clean clones and CI reuse it:
- `base/<name>-<key>.tar`: the root filesystem, keyed by the Debian suite and package list;
- `wheels/<key>/`: the wheelhouse, keyed by pyproject.toml, the extra requirements and the versions
  pinned by the running environment (so images get what the tests ran with);
- `storage/`: buildah's image store; `archives/<name>-<version>-<digest>.oci.tar` with a `.json`
  record beside it (input digest, image id, size, build time).
An image whose input digest (Containerfile, packages, the files it copies, base and wheelhouse keys,
version) has an archive is not built again. `export` links the archives into `build/images/`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from portalis_dev.layout import REPO_ROOT, cache_dir

Progress = Callable[[str], None]

IMAGES_DIR = REPO_ROOT / "images"
CHART_FILE = REPO_ROOT / "charts" / "portalis" / "Chart.yaml"
EXPORT_DIR = REPO_ROOT / "build" / "images"
SUITE = "bookworm"
# Bump when a build step here changes what an image contains: every digest changes with it.
RECIPE = "1"
# Documentation, manual pages and translations are not needed in a container.
DPKG_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*")
# Host commands the build needs -> the Debian package that provides each.
HOST_PACKAGES = {
    "buildah": "buildah",
    "mmdebstrap": "mmdebstrap",
    "skopeo": "skopeo",
    "crun": "crun",
    "newuidmap": "uidmap",
}
REPOSITORY = "portalis"
# The images `make images` builds: triton needs NVIDIA's registry, triton-cpu a multi-GB torch wheelhouse.
DEFAULT_IMAGES = ("operator", "worker")


class ImageBuildError(RuntimeError):
    """A step of an image build failed; the message names the step and the log to read."""


@dataclass(frozen=True)
class ImageSpec:
    """One buildable image: `images/<name>/Containerfile` and `packages.txt`."""

    name: str
    requirements: tuple[str, ...] = ()
    """Python requirements the Containerfile installs beyond the project's own dependencies."""
    extras: tuple[str, ...] = ()
    """The project's optional dependency groups the image installs (`/src[serving]`)."""
    build_base: str | None = None
    """The image whose Debian base the Containerfile's build stage uses (BUILD_BASE_IMAGE); a smaller
    one than the image's own saves copying its root filesystem (vfs copies every layer)."""
    unpinned: tuple[str, ...] = ()
    """Wheels fetched without dependencies or the environment's pins (their own exact versions)."""

    @property
    def containerfile(self) -> Path:
        return IMAGES_DIR / self.name / "Containerfile"

    @property
    def packages_file(self) -> Path:
        return IMAGES_DIR / self.name / "packages.txt"


SPECS: dict[str, ImageSpec] = {
    s.name: s
    for s in (
        ImageSpec("operator"),
        ImageSpec("worker", requirements=("tritonclient[grpc]",), build_base="operator"),
        ImageSpec(
            "triton-cpu",
            extras=("serving",),
            unpinned=("nvidia-pytriton==0.7.0", "numpy==1.26.4"),
        ),
    )
}


@dataclass(frozen=True)
class BuildRecord:
    """What one build produced, written beside its archive."""

    name: str
    reference: str
    version: str
    input_digest: str
    image_id: str
    archive: str
    size_bytes: int
    archive_bytes: int
    build_seconds: float
    packages: dict[str, str]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def version() -> str:
    """The one version of the images, the chart's appVersion."""
    return str(yaml.safe_load(CHART_FILE.read_text())["appVersion"])


def reference(name: str, ver: str | None = None) -> str:
    return f"{REPOSITORY}/{name}:{ver or version()}"


def images_cache() -> Path:
    return cache_dir() / "images"


def packages(spec: ImageSpec) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in spec.packages_file.read_text().splitlines())
    return [line for line in lines if line]


def _logical_lines(text: str) -> Iterator[str]:
    """Containerfile instructions with continuation lines joined and comments dropped."""
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        yield buf + line
        buf = ""
    if buf:
        yield buf


def copied_paths(containerfile: Path) -> list[str]:
    """Repository paths a Containerfile COPYs from its build context (not from another stage)."""
    paths: list[str] = []
    for line in _logical_lines(containerfile.read_text()):
        words = shlex.split(line)
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from") for w in words[1:]):
            continue
        paths += [a.rstrip("/") for a in args[:-1]]
    return list(dict.fromkeys(paths))


def _context_files(spec: ImageSpec) -> list[str]:
    """The files a build sees: what git tracks or would track under the copied paths (no caches)."""
    rels = [p for p in copied_paths(spec.containerfile) if p != "images/wheelhouse"]
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", *rels],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return sorted({f for f in out.split("\0") if f and (REPO_ROOT / f).is_file()})


def _digest(parts: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.hexdigest()


def base_key(spec: ImageSpec) -> str:
    return _digest(
        [
            RECIPE.encode(),
            SUITE.encode(),
            *(p.encode() for p in packages(spec)),
            *map(str.encode, DPKG_EXCLUDES),
        ]
    )[:16]


def _constraints() -> str:
    """Versions pinned by the running environment (the one the tests use), as pip constraints."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pins = sorted(line for line in out.splitlines() if "==" in line and not line.startswith("-"))
    return "\n".join(pins) + "\n"


def _requirements(spec: ImageSpec) -> list[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    build = project["build-system"]["requires"]
    extras = [r for e in spec.extras for r in project["project"]["optional-dependencies"][e]]
    return [*build, *project["project"]["dependencies"], *extras, *spec.requirements]


def wheels_key(spec: ImageSpec, constraints: str) -> str:
    reqs = [*_requirements(spec), "--", *spec.unpinned]
    return _digest([RECIPE.encode(), *(r.encode() for r in reqs), constraints.encode()])[:16]


def input_digest(spec: ImageSpec, ver: str, constraints: str) -> str:
    bases = [base_key(s) for s in (spec, SPECS.get(spec.build_base or "")) if s is not None]
    parts = [RECIPE.encode(), ver.encode(), *map(str.encode, bases), wheels_key(spec, constraints).encode()]
    for rel in _context_files(spec):
        parts += [rel.encode(), (REPO_ROOT / rel).read_bytes()]
    return _digest(parts)


def ensure_host_tools(progress: Progress = _stderr) -> None:
    """Install the Debian packages the build needs when a command is missing (apt-get, as root)."""
    missing = sorted({pkg for cmd, pkg in HOST_PACKAGES.items() if shutil.which(cmd) is None})
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ImageBuildError(f"building images needs the Debian packages {missing}; install them as root")
    progress(f"portalis-dev: installing {' '.join(missing)} with apt-get (one-time)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ImageBuildError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def buildah(*args: str) -> list[str]:
    """A buildah command line on our own image store (never the host's default one)."""
    root = images_cache()
    return [
        "buildah",
        "--root",
        str(root / "storage"),
        "--runroot",
        str(root / "run"),
        "--storage-driver",
        "vfs",
        *args,
    ]


def _run(cmd: Sequence[str], log: Path, label: str, **kw: object) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as fh:
        fh.write("$ " + shlex.join(cmd) + "\n")
        fh.flush()
        proc = subprocess.run(list(cmd), stdout=fh, stderr=subprocess.STDOUT, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-20:]
        raise ImageBuildError(f"{label} failed (exit {proc.returncode}); log: {log}\n" + "\n".join(tail))


def _image_exists(ref: str) -> bool:
    return subprocess.run(buildah("inspect", "--type", "image", ref), capture_output=True).returncode == 0


def _debian_sources() -> Path:
    """The host's Debian apt sources, which mmdebstrap pastes into the new root filesystem."""
    for candidate in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if candidate.is_file() and candidate.read_text().strip():
            return candidate
    raise ImageBuildError("no Debian apt sources found on this host (mmdebstrap needs a mirror)")


def ensure_base(spec: ImageSpec, log: Path, progress: Progress) -> str:
    """The image's Debian base in buildah's store (made by mmdebstrap once); returns its reference."""
    key = base_key(spec)
    ref = f"localhost/{REPOSITORY}-base/{spec.name}:{key}"
    if _image_exists(ref):
        return ref
    tar = images_cache() / "base" / f"{spec.name}-{key}.tar"
    if not tar.is_file():
        progress(f"portalis-dev: making the {SUITE} root filesystem of {spec.name} with mmdebstrap")
        tar.parent.mkdir(parents=True, exist_ok=True)
        partial = tar.with_suffix(f".partial-{os.getpid()}.tar")
        cmd = [
            "mmdebstrap",
            "--mode=unshare",
            "--variant=minbase",
            f"--include={','.join(packages(spec))}",
            *(f"--dpkgopt=path-exclude={p}" for p in DPKG_EXCLUDES),
            # The image carries no apt sources of the machine that built it, and no package lists.
            "--customize-hook=rm -f $1/etc/apt/sources.list $1/etc/apt/sources.list.d/*",
            SUITE,
            str(partial),
            str(_debian_sources()),
        ]
        _run(cmd, log, f"mmdebstrap for {spec.name}")
        partial.rename(tar)
    ctr = subprocess.run(
        buildah("from", "scratch"), check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        _run(buildah("add", ctr, str(tar), "/"), log, f"importing the base of {spec.name}")
        _run(buildah("config", "--cmd", "/bin/sh", ctr), log, "configuring the base")
        _run(buildah("commit", "--quiet", "--rm", ctr, ref), log, "committing the base")
    except ImageBuildError:
        subprocess.run(buildah("rm", ctr), capture_output=True)
        raise
    return ref


def ensure_wheels(spec: ImageSpec, constraints: str, log: Path, progress: Progress) -> Path:
    """The wheelhouse of the image's Python dependencies, built with pip on the host once per key."""
    final = images_cache() / "wheels" / wheels_key(spec, constraints)
    if (final / ".complete").is_file():
        return final
    progress(f"portalis-dev: building the wheelhouse of {spec.name} with pip")
    staging = final.with_name(final.name + f".partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "constraints.txt").write_text(constraints)
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check"]
    cmd += ["--wheel-dir", str(staging), "--constraint", str(staging / "constraints.txt")]
    _run([*cmd, *_requirements(spec)], log, f"pip wheel for {spec.name}")
    if spec.unpinned:
        cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps"]
        _run([*cmd, "--wheel-dir", str(staging), *spec.unpinned], log, f"pip wheel for {spec.name}")
    (staging / "constraints.txt").unlink()
    (staging / ".complete").write_text("")
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    return final


def _stage_context(spec: ImageSpec, wheels: Path, dest: Path) -> None:
    """A build context with the repository's layout, holding only what the Containerfile copies."""
    for rel in [*_context_files(spec), str(spec.containerfile.relative_to(REPO_ROOT))]:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / rel, target)
    house = dest / "images" / "wheelhouse"
    house.mkdir(parents=True, exist_ok=True)
    for whl in wheels.glob("*.whl"):
        os.link(whl, house / whl.name) if whl.stat().st_dev == house.stat().st_dev else shutil.copy2(
            whl, house / whl.name
        )


def _revision() -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def _image_size(ref: str) -> int:
    """Bytes of the image's layers as stored (uncompressed tars): what a node unpacks."""
    out = subprocess.run(
        buildah("inspect", "--type", "image", ref), check=True, capture_output=True, text=True
    )
    manifest = json.loads(json.loads(out.stdout)["Manifest"])
    return sum(int(layer["size"]) for layer in manifest["layers"])


def _base_packages(spec: ImageSpec) -> dict[str, str]:
    """Debian package versions of the image (its base's: the Containerfile adds none where the base has
    them all), read from the base tarball's dpkg status; docs/install.md lists them."""
    tar = images_cache() / "base" / f"{spec.name}-{base_key(spec)}.tar"
    if not tar.is_file():
        return {}
    status = subprocess.run(
        ["tar", "-xOf", str(tar), "./var/lib/dpkg/status"], check=True, capture_output=True, text=True
    ).stdout
    found: dict[str, str] = {}
    for para in status.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in para.splitlines() if ": " in line and line[0] != " ")
        if "Package" in fields and "Version" in fields and fields.get("Status", "").endswith(" installed"):
            found[fields["Package"]] = fields["Version"]
    return found


def _record_path(archive: Path) -> Path:
    return archive.with_suffix(".json")


def archive_path(name: str, ver: str, digest: str) -> Path:
    return images_cache() / "archives" / f"{name}-{ver}-{digest[:16]}.oci.tar"


@contextlib.contextmanager
def _lock() -> Iterator[None]:
    """One image build at a time on this machine (make images and a test may start together)."""
    path = images_cache() / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_image(spec: ImageSpec, progress: Progress = _stderr) -> BuildRecord:
    """Build one image unless an archive for its input digest exists; return its record."""
    ver = version()
    constraints = _constraints()
    digest = input_digest(spec, ver, constraints)
    archive = archive_path(spec.name, ver, digest)
    ref = reference(spec.name, ver)
    if archive.is_file() and _record_path(archive).is_file() and _image_exists(ref):
        return BuildRecord(**json.loads(_record_path(archive).read_text()))
    log = images_cache() / "logs" / f"build-{spec.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    started = time.monotonic()
    base = ensure_base(spec, log, progress)
    build_base = ensure_base(SPECS[spec.build_base], log, progress) if spec.build_base else base
    wheels = ensure_wheels(spec, constraints, log, progress)
    progress(f"portalis-dev: building {ref} with buildah (log: {log})")
    context = images_cache() / "contexts" / spec.name
    shutil.rmtree(context, ignore_errors=True)
    _stage_context(spec, wheels, context)
    try:
        _run(
            buildah(
                "bud",
                "--isolation",
                "chroot",
                "--pull=never",
                "--format",
                "oci",
                "--file",
                str(context / spec.containerfile.relative_to(REPO_ROOT)),
                "--build-arg",
                f"BASE_IMAGE={base}",
                "--build-arg",
                f"BUILD_BASE_IMAGE={build_base}",
                "--build-arg",
                "PIP_NO_INDEX=1",
                "--build-arg",
                f"VERSION={ver}",
                "--build-arg",
                f"REVISION={_revision()}",
                "--tag",
                ref,
                str(context),
            ),
            log,
            f"buildah bud of {spec.name}",
        )
    finally:
        shutil.rmtree(context, ignore_errors=True)
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + f".partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    _run(buildah("push", ref, f"oci-archive:{partial}:{ref}"), log, f"exporting {spec.name}")
    partial.rename(archive)
    for old in archive.parent.glob(f"{spec.name}-{ver}-*.oci.tar"):
        if old != archive:
            old.unlink(missing_ok=True)
            _record_path(old).unlink(missing_ok=True)
    # The previous build of this tag is now untagged: drop it (vfs keeps full copies of every layer).
    subprocess.run(buildah("rmi", "--prune"), capture_output=True)
    image_id = subprocess.run(
        buildah("inspect", "--type", "image", "--format", "{{.FromImageID}}", ref),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    record = BuildRecord(
        name=spec.name,
        reference=ref,
        version=ver,
        input_digest=digest,
        image_id=image_id,
        archive=str(archive),
        size_bytes=_image_size(ref),
        archive_bytes=archive.stat().st_size,
        build_seconds=round(time.monotonic() - started, 1),
        packages=_base_packages(spec),
    )
    _record_path(archive).write_text(json.dumps(asdict(record), indent=2) + "\n")
    progress(f"portalis-dev: built {ref} in {record.build_seconds:.0f} s ({record.size_bytes / 1e6:.0f} MB)")
    return record


def build(names: Sequence[str] = DEFAULT_IMAGES, progress: Progress = _stderr) -> list[BuildRecord]:
    """Build (or find cached) the named images; the host tools are installed first when missing."""
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        raise ImageBuildError(f"not buildable here: {unknown} (buildable: {sorted(SPECS)})")
    ensure_host_tools(progress)
    with _lock():
        return [build_image(SPECS[n], progress) for n in names]


def export(records: Sequence[BuildRecord], dest: Path = EXPORT_DIR) -> list[Path]:
    """Link (or copy) the archives to `dest` as <name>-<version>.oci.tar."""
    dest.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for r in records:
        target = dest / f"{r.name}-{r.version}.oci.tar"
        target.unlink(missing_ok=True)
        try:
            os.link(r.archive, target)
        except OSError:
            shutil.copy2(r.archive, target)
        out.append(target)
    return out
