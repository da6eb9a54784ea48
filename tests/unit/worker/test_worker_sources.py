"""Source listing: globs, exclusions, escapes through paths and symlinks, git checkouts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from portalis_worker.sources import SourceError, fetch_git, list_sources, resolve_root, selected

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("path", "include", "exclude", "expected"),
    [
        ("a.py", ["**/*.py"], [], True),
        ("pkg/sub/a.py", ["**/*.py"], [], True),
        ("pkg/a.txt", ["**/*.py"], [], False),
        ("pkg/tests/test_a.py", ["**/*.py"], ["**/tests/**"], False),
        ("tests/test_a.py", ["**/*.py"], ["**/tests/**"], False),
        ("pkg/a.py", ["pkg/*.py"], [], True),
        ("pkg/sub/a.py", ["pkg/*.py"], [], False),
        ("pkg/a1.py", ["pkg/a?.py"], [], True),
        ("pkg/ab.py", ["pkg/a[0-9].py"], [], False),
        ("x.py", ["**/*.py"], ["x.py"], False),
    ],
)
def test_globs(path: str, include: list[str], exclude: list[str], expected: bool) -> None:
    assert selected(path, include, exclude) is expected


def test_listing_is_sorted_filtered_and_skips_configmap_bookkeeping(tmp_path: Path) -> None:
    root = tmp_path / "src"
    for rel in ["b.py", "a/z.py", "a/y.txt", "tests/t.py", "..2024_01_01/hidden.py", ".git/x.py"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x = 1\n")
    files = list_sources(root, ["**/*.py"], ["tests/**"])
    assert [f.path for f in files] == ["a/z.py", "b.py"]


def test_symlinks_escaping_the_root_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "src"
    root.mkdir()
    secret = tmp_path / "secret.py"
    secret.write_text("password = 1\n")
    (root / "inside.py").write_text("x = 1\n")
    (root / "link_out.py").symlink_to(secret)
    (root / "link_in.py").symlink_to(root / "inside.py")
    (tmp_path / "outdir").mkdir()
    (tmp_path / "outdir" / "o.py").write_text("y = 2\n")
    (root / "dirlink").symlink_to(tmp_path / "outdir", target_is_directory=True)
    files = {f.path: f for f in list_sources(root, ["**/*.py"], [])}
    assert set(files) == {"inside.py", "link_in.py", "link_out.py"}
    assert files["link_out.py"].escapes
    assert not files["link_in.py"].escapes


def test_resolve_root_refuses_escapes(tmp_path: Path) -> None:
    (tmp_path / "base" / "sub").mkdir(parents=True)
    assert resolve_root(tmp_path / "base", "/sub") == tmp_path / "base" / "sub"
    with pytest.raises(SourceError):
        resolve_root(tmp_path / "base", "/../")
    (tmp_path / "base" / "up").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(SourceError):
        resolve_root(tmp_path / "base", "up")


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_git_checkout_from_a_local_repository(tmp_path: Path) -> None:
    repo = tmp_path / "origin"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "m.py").write_text("def f() -> int:\n    return 1\n")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "--quiet", "-b", "main")
    git("add", ".")
    git("commit", "--quiet", "-m", "one")
    git("tag", "v1")
    first = git("rev-parse", "HEAD")
    (repo / "src" / "n.py").write_text("x = 2\n")
    git("add", ".")
    git("commit", "--quiet", "-m", "two")

    dest = tmp_path / "source" / "repo"
    assert fetch_git(f"file://{repo}", "v1", dest) == first
    assert [f.path for f in list_sources(resolve_root(dest, "/src"), ["**/*.py"], [])] == ["m.py"]
    head = fetch_git(f"file://{repo}", "main", dest)
    assert head != first
    # a resumed shard checks out the commit pinned in its ledger, wherever the branch moved since
    assert fetch_git(f"file://{repo}", "main", dest, pinned_commit=first) == first
    with pytest.raises(SourceError):
        fetch_git(f"file://{tmp_path}/missing", None, dest)


def test_a_git_timeout_is_a_source_error_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 13, item 9: TimeoutExpired escaped, the worker exited 1 (unexpected error) instead of 3.
    from portalis_worker import sources

    def hang(cmd: list[str], **kw: object) -> None:
        raise subprocess.TimeoutExpired(cmd, float(kw["timeout"]))  # type: ignore[arg-type]

    monkeypatch.setattr(sources.subprocess, "run", hang)
    with pytest.raises(sources.SourceError, match="did not finish within 600 s"):
        sources._git(["fetch", "origin"])


def _one_commit_repo(root: Path) -> Path:
    repo = root / "origin"
    repo.mkdir(parents=True)
    (repo / "m.py").write_text("x = 1\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (["init", "--quiet", "-b", "main"], ["add", "."], ["commit", "--quiet", "-m", "one"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return repo


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_a_ref_is_never_read_as_a_git_option(tmp_path: Path) -> None:
    # Issue 13, item 10: the ref went to `git fetch` as a plain argument, so `--upload-pack=<command>`
    # ran that command (on a file:// or ssh remote) in the worker.
    repo = _one_commit_repo(tmp_path)
    marker = tmp_path / "ran"
    with pytest.raises(SourceError):
        fetch_git(f"file://{repo}", f"--upload-pack=touch {marker}", tmp_path / "dest")
    assert not marker.exists()


def test_every_user_supplied_git_argument_follows_end_of_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from portalis_worker import sources

    calls: list[list[str]] = []

    def record(args: list[str], cwd: Path | None = None, auth: object = None) -> str:
        calls.append(args)
        if args[0] == "fetch" and "--depth" in args:
            raise SourceError("shallow fetch refused")  # take the fallback path too
        if args[0] == "rev-parse" and args[-1].startswith("release-1"):
            raise SourceError("no such commit")
        return "0" * 40

    monkeypatch.setattr(sources, "_git", record)
    monkeypatch.setattr(sources.shutil, "which", lambda _: "/bin/git")
    url, ref = "https://example.com/app.git", "release-1"
    sources.fetch_git(url, ref, tmp_path / "dest")
    for args in calls:
        for value in (url, ref, f"{ref}^{{commit}}", f"origin/{ref}^{{commit}}"):
            if value in args:
                assert "--end-of-options" in args, args
                assert args.index("--end-of-options") < args.index(value), args
    seen = {value for args in calls for value in args}
    assert {url, ref, f"{ref}^{{commit}}", f"origin/{ref}^{{commit}}"} <= seen
