"""Builds the pinned control-plane binaries from Go modules once, and finds them afterwards.

Each tool lands in its own cache folder named by version and a key over everything that affects the
build (wrapper go.mod/go.sum, ldflags, Go version), so a pinned-version change rebuilds and nothing else
does. Builds go to a temporary folder first and are renamed into place, so an interrupted build never
leaves a half-filled folder that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from portalis_dev.layout import GOMOD_DIR, cache_dir
from portalis_dev.versions import KUEUE, KWOK, OPTIONAL_TOOLS, TOOLS, Tool, tool

Progress = Callable[[str], None]

# The kwok stages (shipped inside the kwok module) that give simulated nodes and pods their lifecycle.
KWOK_STAGES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)
KWOK_STAGES_FILE = "kwok-stages.yaml"
# Kueue's CRDs (config/components/crd/bases of its module), all in one file beside the binary.
KUEUE_CRD_DIR = "config/components/crd/bases"
KUEUE_CRDS_FILE = "kueue-crds.yaml"


class BuildError(RuntimeError):
    """A tool failed to build; the message names the tool and the log to read."""


def _stderr(msg: str) -> None:
    # One write per line: builds run in threads, and print() writes the text and the newline apart.
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def _go_version() -> str:
    try:
        out = subprocess.run(["go", "env", "GOVERSION"], check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise BuildError(
            "the Go toolchain ('go') is not on PATH; it is needed once to build the tools"
        ) from exc
    return out.stdout.strip()


def build_key(t: Tool, go_version: str) -> str:
    h = hashlib.sha256()
    h.update(f"{t.version}|{go_version}|{' '.join(t.ldflags)}|{t.packages}|{t.install}".encode())
    # Only when set, so that the keys (and caches) of the tools without them stay as they were.
    if t.tags:
        h.update(f"|tags={','.join(t.tags)}".encode())
    if t.source_files:
        h.update(f"|source_files={t.source_files}".encode())
    if t.wrapper:
        for name in ("go.mod", "go.sum"):
            h.update((GOMOD_DIR / t.wrapper / name).read_bytes())
    return h.hexdigest()[:12]


def tool_dir(t: Tool, go_version: str | None = None) -> Path:
    return cache_dir() / "bin" / f"{t.name}-{t.version}-{build_key(t, go_version or _go_version())}"


def _complete(d: Path, t: Tool) -> bool:
    return all((d / b).is_file() and os.access(d / b, os.X_OK) for b in t.binaries)


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    return env


def _run_logged(
    cmd: list[str],
    cwd: Path | None,
    env: dict[str, str],
    log: Path,
    label: str,
    progress: Progress,
    cold_seconds: int = 0,
) -> None:
    started = time.monotonic()
    with log.open("w") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT)
        last_report = started
        while proc.poll() is None:
            time.sleep(1)
            if time.monotonic() - last_report >= 60:
                last_report = time.monotonic()
                cold = f"; a cold build takes about {cold_seconds} s here" if cold_seconds else ""
                progress(f"  ... still building {label} ({int(last_report - started)} s so far{cold})")
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise BuildError(f"building {label} failed (exit {proc.returncode}); log: {log}\n" + "\n".join(tail))


def _module_dir(module: str, version: str, env: dict[str, str]) -> Path:
    """The module's source in the module cache, downloaded first when needed."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return Path(json.loads(out.stdout)["Dir"])


def _copy_kwok_stages(dest: Path, env: dict[str, str]) -> None:
    module_dir = _module_dir("sigs.k8s.io/kwok", KWOK, env)
    docs = [(module_dir / rel).read_text().strip() for rel in KWOK_STAGES]
    (dest / KWOK_STAGES_FILE).write_text("\n---\n".join(docs) + "\n")


def _copy_kueue_crds(dest: Path, env: dict[str, str]) -> None:
    crd_dir = _module_dir("sigs.k8s.io/kueue", KUEUE, env) / KUEUE_CRD_DIR
    docs = [p.read_text().strip() for p in sorted(crd_dir.glob("*.yaml"))]
    if not docs:
        raise BuildError(f"no CRDs in {crd_dir}")
    (dest / KUEUE_CRDS_FILE).write_text("\n---\n".join(docs) + "\n")


def build_tool(t: Tool, progress: Progress = _stderr) -> Path:
    """Build one tool into its cache folder (no-op when already there) and return the folder."""
    go_version = _go_version()
    final = tool_dir(t, go_version)
    if _complete(final, t):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    log = cache_dir() / "logs" / f"build-{t.name}-{t.version}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = _go_env()
    ldflags = " ".join(("-s", "-w", *t.ldflags))
    tags = ["-tags", ",".join(t.tags)] if t.tags else []
    progress(f"portalis-dev: building {t.name} {t.version} from Go modules (one-time; log: {log})")
    started = time.monotonic()
    if t.wrapper and t.scratch_module:
        module = final.parent / f".{final.name}.module-{os.getpid()}"
        shutil.rmtree(module, ignore_errors=True)
        shutil.copytree(GOMOD_DIR / t.wrapper, module)
        cmd = ["go", "build", "-mod=mod", "-trimpath", *tags, "-ldflags", ldflags, "-o", str(staging) + "/"]
        try:
            _run_logged(
                [*cmd, *t.packages], module, env, log, f"{t.name} {t.version}", progress, t.cold_seconds
            )
        finally:
            shutil.rmtree(module, ignore_errors=True)
    elif t.source_files:
        assert t.install is not None
        module = final.parent / f".{final.name}.source-{os.getpid()}"
        shutil.rmtree(module, ignore_errors=True)
        shutil.copytree(_module_dir(t.install, t.version, env), module)
        for path in [module, *module.rglob("*")]:  # the module cache is read-only
            path.chmod(path.stat().st_mode | 0o200)
        for rel, text in t.source_files:
            (module / rel).parent.mkdir(parents=True, exist_ok=True)
            (module / rel).write_text(text)
        cmd = ["go", "build", "-trimpath", *tags, "-ldflags", ldflags, "-o", str(staging) + "/", *t.packages]
        try:
            _run_logged(cmd, module, env, log, f"{t.name} {t.version}", progress, t.cold_seconds)
        finally:
            shutil.rmtree(module, ignore_errors=True)
    elif t.wrapper:
        cmd = ["go", "build", "-trimpath", *tags, "-ldflags", ldflags, "-o", str(staging) + "/", *t.packages]
        _run_logged(cmd, GOMOD_DIR / t.wrapper, env, log, f"{t.name} {t.version}", progress, t.cold_seconds)
    else:
        assert t.install is not None
        env["GOBIN"] = str(staging)
        cmd = ["go", "install", "-trimpath", *tags, "-ldflags", ldflags, f"{t.install}@{t.version}"]
        _run_logged(cmd, None, env, log, f"{t.name} {t.version}", progress, t.cold_seconds)
    for src, dst in t.renames:
        (staging / src).rename(staging / dst)
    if t.name == "kwok":
        _copy_kwok_stages(staging, env)
    if t.name == "kueue":
        _copy_kueue_crds(staging, env)
    if not _complete(staging, t):
        raise BuildError(f"building {t.name} produced no {', '.join(t.binaries)}; log: {log}")
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    progress(f"portalis-dev: built {t.name} {t.version} in {time.monotonic() - started:.0f} s")
    return final


def _minutes(seconds: float) -> str:
    return "under a minute" if seconds < 60 else f"about {round(seconds / 60)} min"


def _time_left(estimate: float, elapsed: float) -> str:
    if elapsed < estimate:
        return f"{_minutes(estimate - elapsed)} left on an idle machine"
    # Other work shares the cores: say so rather than promise a minute that will not come.
    load = os.getloadavg()[0]
    return f"past the {_minutes(estimate)} estimate for an idle machine; load average {load:.0f}"


def ensure_built(
    names: Iterable[str] | None = None, progress: Progress = _stderr, parallel: int = 3
) -> dict[str, Path]:
    """Make sure the named tools (all by default) are built; return binary name -> path.

    Missing tools are built up to `parallel` at a time: one build's module downloads and linking overlap
    another's compiling, which shortens a cold first run even on 2 cores (the Go build cache is safe to share
    between concurrent builds). A plan line and one line per finished tool estimate the time left from each
    tool's measured cold build time (`Tool.cold_seconds`)."""
    wanted = [tool(n) for n in names] if names is not None else list(TOOLS)
    go_version = _go_version()
    missing = [t for t in wanted if not _complete(tool_dir(t, go_version), t)]
    if missing:
        # Concurrent builds share 2 cores: the estimate is the CPU time of them all, not the longest one.
        estimate = sum(t.cold_seconds for t in missing)
        names_text = ", ".join(t.name for t in missing)
        at_once = min(parallel, len(missing))
        progress(
            f"portalis-dev: {len(missing)} tool(s) to build once ({names_text}), {at_once} at a time; "
            f"{_minutes(estimate)} on a cold 2-core machine, less with warm Go caches"
        )
        started = time.monotonic()
        left = {t.name: t.cold_seconds for t in missing}
        with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="go-build") as pool:
            futures = {pool.submit(build_tool, t, progress): t for t in missing}
            try:
                for done, future in enumerate(as_completed(futures), 1):
                    t = futures[future]
                    future.result()
                    left.pop(t.name)
                    if left:
                        progress(
                            f"portalis-dev: [{done}/{len(missing)}] {t.name} ready; still building "
                            f"{', '.join(left)} ({_time_left(estimate, time.monotonic() - started)})"
                        )
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    paths: dict[str, Path] = {}
    for t in wanted:
        d = build_tool(t, progress)  # a no-op now; also returns the folder
        for b in t.binaries:
            paths[b] = d / b
    return paths


def binary(name: str) -> Path:
    """Path of one built binary; raises BuildError naming the command to run when it is missing."""
    go_version = _go_version()
    for t in TOOLS + OPTIONAL_TOOLS:
        if name in t.binaries:
            path = tool_dir(t, go_version) / name
            if not path.is_file():
                raise BuildError(f"{name} is not built yet: run `portalis-dev build`")
            return path
    raise KeyError(f"no pinned tool provides {name!r}")


def kwok_stages_file() -> Path:
    return tool_dir(tool("kwok")) / KWOK_STAGES_FILE


def kueue_crds_file() -> Path:
    return tool_dir(tool("kueue")) / KUEUE_CRDS_FILE


def main(argv: list[str] | None = None) -> int:
    """`python -m portalis_dev.toolchain [TOOL ...]`: builds with the standard library alone, so that
    `make demo` can build the Go tools while pip is still installing the virtual environment."""
    try:
        ensure_built((argv if argv is not None else sys.argv[1:]) or None)
    except BuildError as exc:
        _stderr(f"portalis-dev: {exc}")
        return 1
    return 0


def bin_dirs() -> list[Path]:
    go_version = _go_version()
    return [tool_dir(t, go_version) for t in TOOLS]


if __name__ == "__main__":
    sys.exit(main())
