"""The assignment from the environment: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from worker_builders import worker_env

from portalis_worker.assignment import AssignmentError, BackendMode, load_assignment

pytestmark = pytest.mark.unit


def test_valid_environment(tmp_path: Path) -> None:
    env = worker_env(
        tmp_path,
        tmp_path / "src",
        PORTALIS_BACKEND="auto",
        PORTALIS_EXCLUDE='["**/tests/**"]',
        PORTALIS_MODEL_VERSION="",
        PORTALIS_GIT_REF="",
    )
    a = load_assignment(env)
    assert a.backend is BackendMode.AUTO
    assert a.exclude == ("**/tests/**",)
    assert a.model_version is None
    assert a.git_ref is None
    assert a.triton_url == "localhost:8001"
    assert a.fingerprint() == load_assignment(env).fingerprint()
    assert a.fingerprint() != load_assignment({**env, "PORTALIS_SHARD_COUNT": "2"}).fingerprint()


@pytest.mark.parametrize(
    ("var", "value", "needle"),
    [
        ("PORTALIS_SHARD_INDEX", "x", "PORTALIS_SHARD_INDEX"),
        ("PORTALIS_SHARD_INDEX", "5", "PORTALIS_SHARD_COUNT"),
        ("PORTALIS_BACKEND", "gpu", "PORTALIS_BACKEND"),
        ("PORTALIS_INCLUDE", "**/*.py", "PORTALIS_INCLUDE"),
        ("PORTALIS_EXCLUDE", '["../x"]', "PORTALIS_EXCLUDE"),
        ("PORTALIS_RUST_EDITION", "2020", "PORTALIS_RUST_EDITION"),
        ("PORTALIS_CRATE_NAME", "9bad", "PORTALIS_CRATE_NAME"),
        ("PORTALIS_CHECKPOINT_INTERVAL_SECONDS", "0", "PORTALIS_CHECKPOINT_INTERVAL_SECONDS"),
        ("PORTALIS_GIT_PATH", "/a/../..", "PORTALIS_GIT_PATH"),
        ("PORTALIS_METRICS_PORT", "70000", "PORTALIS_METRICS_PORT"),
    ],
)
def test_errors_name_the_variable(tmp_path: Path, var: str, value: str, needle: str) -> None:
    env = worker_env(tmp_path, tmp_path / "src", **{var: value})
    with pytest.raises(AssignmentError, match=needle):
        load_assignment(env)


def test_missing_variables_are_all_listed(tmp_path: Path) -> None:
    env = worker_env(tmp_path, tmp_path / "src")
    del env["PORTALIS_JOB_NAME"], env["PORTALIS_LEDGER_DIR"]
    with pytest.raises(AssignmentError) as info:
        load_assignment(env)
    assert "PORTALIS_JOB_NAME" in str(info.value)
    assert "PORTALIS_LEDGER_DIR" in str(info.value)
