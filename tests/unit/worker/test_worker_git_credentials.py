"""Private git sources (git_credentials.py; issue 13, item 10): credentials from the mounted Secret reach
git only when it asks, never in a command line or an environment variable."""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from portalis_worker.git_credentials import DEFAULT_USERNAME, git_auth
from portalis_worker.sources import SourceError, fetch_git

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(shutil.which("git") is None, reason="git not installed"),
]

TOKEN = "s3cr3t-token-value"


def _secret(tmp_path: Path, **files: str) -> Path:
    d = tmp_path / "git-credentials"
    d.mkdir()
    for name, value in files.items():
        (d / name.replace("ssh_", "ssh-")).write_text(value)  # the Secret's key: ssh-privatekey
    return d


def _fill(config: list[str]) -> dict[str, str]:
    """Ask git's own credential machinery, as `git fetch` does."""
    proc = subprocess.run(
        ["git", *config, "credential", "fill"],
        input="protocol=https\nhost=git.example.com\n\n",
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"},
    )
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def test_a_basic_auth_secret_answers_git_and_is_in_no_argument_or_variable(tmp_path: Path) -> None:
    auth = git_auth(_secret(tmp_path, username="ci-bot", password=TOKEN), tmp_path)
    assert _fill(auth.config) == {
        "protocol": "https",
        "host": "git.example.com",
        "username": "ci-bot",
        "password": TOKEN,
    }
    assert not any(TOKEN in a for a in auth.config)
    assert not any(TOKEN in v for v in auth.env.values())


def test_a_bare_token_gets_the_usual_username(tmp_path: Path) -> None:
    auth = git_auth(_secret(tmp_path, token=TOKEN), tmp_path)
    got = _fill(auth.config)
    assert (got["username"], got["password"]) == (DEFAULT_USERNAME, TOKEN)


def test_no_secret_no_settings(tmp_path: Path) -> None:
    for directory in (None, tmp_path / "absent"):
        auth = git_auth(directory, tmp_path)
        assert (auth.config, auth.env) == ([], {})


def test_an_ssh_key_is_read_from_a_private_copy_that_is_removed(tmp_path: Path) -> None:
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n"
    secret = _secret(tmp_path, ssh_privatekey=key, known_hosts="git.example.com ssh-ed25519 AAAA\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    auth = git_auth(secret, scratch)
    command = auth.env["GIT_SSH_COMMAND"]
    assert "not-a-real-key" not in command
    (copy,) = scratch.glob("git-key-*")
    assert copy.read_text() == key
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert f"-i {copy}" in command
    assert f"UserKnownHostsFile={secret / 'known_hosts'}" in command
    assert "StrictHostKeyChecking=yes" in command
    auth.close()
    assert not copy.exists()


class _BasicAuthHandler(SimpleHTTPRequestHandler):
    """Serves a repository over git's dumb HTTP protocol, to ci-bot:TOKEN only."""

    def do_GET(self) -> None:
        expected = "Basic " + base64.b64encode(f"ci-bot:{TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def private_remote(tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    work = tmp_path / "work"
    work.mkdir()
    (work / "m.py").write_text("x = 1\n")
    for args in (["init", "--quiet", "-b", "main"], ["add", "."], ["commit", "--quiet", "-m", "one"]):
        subprocess.run(["git", *args], cwd=work, env=env, check=True, capture_output=True)
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(["git", "clone", "--quiet", "--bare", str(work), str(served / "repo.git")], check=True)
    subprocess.run(["git", "update-server-info"], cwd=served / "repo.git", check=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_BasicAuthHandler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/repo.git"
    finally:
        server.shutdown()


def test_a_private_repository_is_fetched_with_its_secret_and_refused_without(
    private_remote: str, tmp_path: Path
) -> None:
    with pytest.raises(SourceError):
        fetch_git(private_remote, "main", tmp_path / "without")
    secret = _secret(tmp_path, username="ci-bot", password=TOKEN)
    commit = fetch_git(private_remote, "main", tmp_path / "dest", credentials=secret, scratch=tmp_path)
    assert len(commit) == 40
    assert (tmp_path / "dest" / "m.py").read_text() == "x = 1\n"
    # nothing of the credentials is left in the checkout's configuration
    assert TOKEN not in (tmp_path / "dest" / ".git" / "config").read_text()
