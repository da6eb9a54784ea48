"""Where the Python comes from: a directory (ConfigMap mount or PVC path) or a git checkout.

Listing is deterministic (sorted POSIX paths relative to the source root) and never leaves the root:
a path or symlink that resolves outside it is reported as an escape, never read. Symlinked
directories are not descended into. Kubernetes' ConfigMap bookkeeping entries (names starting with
`..`) and `.git` are skipped.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from portalis_worker.git_credentials import GitAuth, git_auth

LOG = logging.getLogger(__name__)

SKIPPED_DIRS = frozenset({".git", "__pycache__"})


class SourceError(RuntimeError):
    """The source cannot be obtained (bad root, failed clone): a permanent error of the job."""


@dataclass(frozen=True)
class SourceFile:
    path: str
    """POSIX path relative to the source root: the file's identity everywhere (ledger, shards, crate)."""
    absolute: Path
    escapes: bool = False
    """The path resolves outside the root (a symlink out of it): never read, reported as failed."""


@lru_cache(maxsize=256)
def glob_regex(glob: str) -> re.Pattern[str]:
    """A glob over relative POSIX paths: `**` spans directories, `*` and `?` stay within one."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = glob.find("]", i + 2)
            if end < 0:
                out.append(re.escape(c))
                i += 1
            else:
                body = glob[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z")


def selected(path: str, include: Iterable[str], exclude: Iterable[str]) -> bool:
    """Included by some include glob and by no exclude glob (exclude wins)."""
    return any(glob_regex(g).match(path) for g in include) and not any(
        glob_regex(g).match(path) for g in exclude
    )


def within(root: Path, candidate: Path) -> bool:
    """`candidate`, with every symlink resolved, lies inside `root` (itself resolved)."""
    real_root = root.resolve()
    try:
        candidate.resolve().relative_to(real_root)
    except (ValueError, RuntimeError, OSError):
        return False
    return True


def list_sources(root: Path, include: Iterable[str], exclude: Iterable[str]) -> list[SourceFile]:
    """Every selected regular file under `root`, sorted by relative path."""
    include, exclude = tuple(include), tuple(exclude)
    if not root.is_dir():
        raise SourceError(f"source root {root.name!r} is not a directory")
    found: list[SourceFile] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("..") and d not in SKIPPED_DIRS)
        base = Path(dirpath)
        for name in filenames:
            if name.startswith(".."):
                continue
            full = base / name
            rel = full.relative_to(root).as_posix()
            if not selected(rel, include, exclude):
                continue
            if not within(root, full):
                LOG.warning("source path escapes the root; not read", extra={"path": rel})
                found.append(SourceFile(rel, full, escapes=True))
                continue
            if full.is_file():
                found.append(SourceFile(rel, full))
    found.sort(key=lambda f: f.path)
    return found


def resolve_root(base: Path, sub: str) -> Path:
    """`base/sub`, refused when it resolves outside `base`."""
    root = base / sub.strip("/") if sub.strip("/") else base
    if not within(base, root):
        raise SourceError(f"source path {sub!r} escapes the source directory")
    return root


GIT_TIMEOUT_SECONDS = 600


def _git(args: list[str], cwd: Path | None = None, auth: GitAuth | None = None) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    config: list[str] = []
    if auth is not None:
        env.update(auth.env)
        config = auth.config
    try:
        proc = subprocess.run(
            ["git", *config, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # a source error (exit 3, retried), not a crash (exit 1)
        raise SourceError(f"git {args[0]} did not finish within {GIT_TIMEOUT_SECONDS} s") from exc
    if proc.returncode != 0:
        raise SourceError(f"git {args[0]} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout.strip()


def fetch_git(
    url: str,
    ref: str | None,
    dest: Path,
    pinned_commit: str | None = None,
    credentials: Path | None = None,
    scratch: Path | None = None,
) -> str:
    """Check out `ref` (or the pinned commit of an earlier run of this shard) into `dest`.

    Returns the commit. A shallow fetch of the ref is tried first; a full fetch is the fallback (some
    servers refuse to serve a bare commit id). `dest` is ours: it is emptied first. `credentials` is the
    mounted Secret of `credentialsSecretRef` (git_credentials.py), given to git only when it fetches.
    """
    auth = git_auth(credentials, scratch or dest.parent)
    try:
        return _fetch(url, ref, dest, pinned_commit, auth)
    finally:
        auth.close()


def _fetch(url: str, ref: str | None, dest: Path, pinned_commit: str | None, auth: GitAuth) -> str:
    if shutil.which("git") is None:
        raise SourceError("git is not installed in the worker image")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    # The URL and the ref come from the job's spec: `--end-of-options` (git 2.24+) before them, so that
    # neither can be read as an option (`--upload-pack=<command>` runs that command on file:// and ssh
    # remotes). The CRD refuses such refs too (docs/api.md); this holds without it.
    _git(["init", "--quiet", str(dest)])
    _git(["remote", "add", "--end-of-options", "origin", url], cwd=dest)
    want = pinned_commit or ref or "HEAD"
    try:
        _git(["fetch", "--quiet", "--depth", "1", "--end-of-options", "origin", want], cwd=dest, auth=auth)
        _git(["checkout", "--quiet", "--detach", "FETCH_HEAD"], cwd=dest)
    except SourceError:
        LOG.info("shallow fetch of the ref failed; fetching everything", extra={"ref": want})
        _git(
            ["fetch", "--quiet", "--tags", "origin", "+refs/heads/*:refs/remotes/origin/*"],
            cwd=dest,
            auth=auth,
        )
        # `git checkout` before 2.43 takes no `--end-of-options`: resolve the name to a commit id
        # first (rev-parse takes it), and check out the id.
        try:
            commit = _git(["rev-parse", "--verify", "--end-of-options", f"{want}^{{commit}}"], cwd=dest)
        except SourceError:
            commit = _git(
                ["rev-parse", "--verify", "--end-of-options", f"origin/{want}^{{commit}}"], cwd=dest
            )
        _git(["checkout", "--quiet", "--detach", commit], cwd=dest)
    return _git(["rev-parse", "HEAD"], cwd=dest)
