"""Credentials for a private git source, read from the Secret the job names (`credentialsSecretRef`).

The operator mounts that Secret read-only into the worker container only (never Triton's), at the
directory named by PORTALIS_GIT_CREDENTIALS_DIR; no credential is ever in the pod's environment, the job's
spec or its status. The worker hands them to git at the moment git asks, so they never appear in a
command line (visible in /proc) or an environment variable either:
- HTTPS (a `kubernetes.io/basic-auth` Secret: `username`, `password`; or a bare `token`): a credential
  helper that reads the files when git asks (`git credential` protocol, the `get` action only);
- SSH (a `kubernetes.io/ssh-auth` Secret: `ssh-privatekey`, optional `known_hosts`): ssh reads the key
  from a private copy (mode 0600, which ssh demands and a Secret volume cannot give the worker's user);
  host keys are checked against `known_hosts` when given, else accepted on first use.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_USERNAME = "x-access-token"  # what GitHub, GitLab and Gitea accept with a token as the password


@dataclass
class GitAuth:
    """What to add to every git command: `-c` settings and environment (paths only, never secrets)."""

    config: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    _key_copy: Path | None = None

    def close(self) -> None:
        if self._key_copy is not None:
            self._key_copy.unlink(missing_ok=True)
            self._key_copy = None


def _helper(directory: Path) -> str:
    """A shell credential helper: answers `get` with the Secret's files, read when git asks."""
    d = shlex.quote(str(directory))
    username = f"$(cat {d}/username 2>/dev/null || echo {DEFAULT_USERNAME})"
    password = f"$(cat {d}/password 2>/dev/null || cat {d}/token 2>/dev/null)"
    return f'!f() {{ test "$1" = get || exit 0; echo "username={username}"; echo "password={password}"; }}; f'


def git_auth(directory: Path | None, scratch: Path) -> GitAuth:
    """The settings for the credentials in `directory` (None or empty: no credentials)."""
    auth = GitAuth()
    if directory is None or not directory.is_dir():
        return auth
    if any((directory / name).is_file() for name in ("password", "token")):
        # An empty helper first drops any helper configured elsewhere (a global ~/.gitconfig).
        auth.config += ["-c", "credential.helper=", "-c", f"credential.helper={_helper(directory)}"]
    key = directory / "ssh-privatekey"
    if key.is_file():
        fd, name = tempfile.mkstemp(prefix="git-key-", dir=scratch)
        with os.fdopen(fd, "wb") as out:  # mkstemp creates it 0600
            out.write(key.read_bytes())
        auth._key_copy = Path(name)
        known = directory / "known_hosts"
        hosts = (
            ["-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes"]
            if known.is_file()
            else [
                "-o",
                f"UserKnownHostsFile={scratch / 'known_hosts'}",
                "-o",
                "StrictHostKeyChecking=accept-new",
            ]
        )
        command = ["ssh", "-i", name, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", *hosts]
        auth.env["GIT_SSH_COMMAND"] = shlex.join(command)
    return auth
