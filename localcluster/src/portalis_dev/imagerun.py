"""Runs a command inside a built image the way a restricted pod runs it, for tests and by hand.

crun refuses this machine's hybrid cgroup layout (docs/install.md), so this is a small runtime of our
own: a fresh buildah working container from the image, then, in new mount, PID, network, IPC and UTS
namespaces, its root filesystem mounted read-only with a tmpfs /tmp, a fresh /proc and a minimal /dev,
and the command started by chroot as the image's USER with no-new-privileges and no capabilities (the
switch to a non-zero uid clears them) and only the image's environment. Nothing of the host is visible
but what `binds` names. The working container is removed afterwards.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from portalis_dev.images import buildah

# Runs as root inside the new namespaces: $1 the root filesystem, $2 the user, $3 the working
# directory, $4 the bind mounts (lines of source TAB target TAB ro|rw), then env and argv. Mount points
# are made first (the working container's root is still writable), then the root is made read-only,
# then the binds go on top (a bind of the root made after them would hide them).
_SETUP = r"""
set -eu
root=$1; user=$2; cwd=$3; binds=$4; shift 4
tab=$(printf '\t')
printf '%s\n' "$binds" | while IFS="$tab" read -r src dst mode; do
  if [ -n "$dst" ]; then mkdir -p "$root$dst"; fi
done
mount --bind "$root" "$root"
mount -o remount,bind,ro "$root"
printf '%s\n' "$binds" | while IFS="$tab" read -r src dst mode; do
  [ -n "$dst" ] || continue
  mount --bind "$src" "$root$dst"
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$root$dst"; fi
done
mount -t proc proc "$root/proc"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
mount -t tmpfs -o mode=755,nosuid tmpfs "$root/dev"
for d in null zero full random urandom; do
  touch "$root/dev/$d"
  mount --bind "/dev/$d" "$root/dev/$d"
done
exec setpriv --no-new-privs chroot --userspec="$user" --groups= "$root" /usr/bin/env -i -C "$cwd" "$@"
"""


@dataclass(frozen=True)
class Bind:
    source: Path
    target: str
    read_only: bool = True


def image_config(ref: str) -> dict[str, object]:
    """The image's OCI config (User, Env, WorkingDir, Cmd, Labels)."""
    out = subprocess.run(
        buildah("inspect", "--type", "image", ref), check=True, capture_output=True, text=True
    ).stdout
    config: dict[str, object] = json.loads(out)["OCIv1"].get("config") or {}
    return config


def run(
    ref: str,
    argv: Sequence[str],
    *,
    binds: Sequence[Bind] = (),
    env: Mapping[str, str] | None = None,
    user: str | None = None,
    timeout: float = 300.0,
) -> subprocess.CompletedProcess[str]:
    """Run argv in the image `ref` (from our buildah store); returns the finished process."""
    config = image_config(ref)
    image_env = [str(e) for e in config.get("Env") or []]  # type: ignore[attr-defined]
    merged = dict(e.split("=", 1) for e in image_env)
    merged.update(env or {})
    run_as = user or str(config.get("User") or "0:0")
    if ":" not in run_as:
        run_as += f":{run_as}"
    cwd = str(config.get("WorkingDir") or "/")
    ctr = subprocess.run(
        buildah("from", "--pull=never", ref), check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        root = subprocess.run(
            buildah("mount", ctr), check=True, capture_output=True, text=True
        ).stdout.strip()
        bind_lines = "\n".join(f"{b.source}\t{b.target}\t{'ro' if b.read_only else 'rw'}" for b in binds)
        cmd = [
            "unshare",
            "--mount",
            "--pid",
            "--fork",
            "--net",
            "--ipc",
            "--uts",
            "--propagation",
            "private",
            "sh",
            "-c",
            _SETUP,
            "imagerun",
            root,
            run_as,
            cwd,
            bind_lines,
            *(f"{k}={v}" for k, v in merged.items()),
            *argv,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    finally:
        subprocess.run(buildah("rm", ctr), capture_output=True)
