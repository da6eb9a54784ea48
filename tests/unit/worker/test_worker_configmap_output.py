"""ConfigMap output, the pure parts and the shard's side against an in-memory API (issue 13, item 3)."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest
from worker_builders import assignment, small_project

from portalis_worker.configmap_output import (
    ApiUnavailable,
    ConfigMapOutput,
    OutputRefused,
    check_size,
    pack_crate,
    pack_ledger,
    unpack_crate,
    unpack_ledger,
)
from portalis_worker.ledger import ledger_path
from portalis_worker.protocol import CONFIGMAP_MAX_BYTES, LEDGER_KEY, WRITERS_ANNOTATION

pytestmark = pytest.mark.unit


def test_a_packed_crate_is_the_same_bytes_whoever_packs_it_and_unpacks_to_its_files() -> None:
    files = {"src/lib.rs": b"pub fn f() {}\n", "Cargo.toml": b"[package]\n", "src/a/b.rs": b""}
    assert pack_crate(files) == pack_crate(dict(reversed(list(files.items()))))
    assert unpack_crate(pack_crate(files)) == files


def test_a_packed_ledger_leaves_out_a_torn_last_record() -> None:
    assert unpack_ledger(pack_ledger(b"a\nb\ntorn")) == b"a\nb\n"


def test_a_value_over_the_configmap_limit_is_refused_with_a_message_that_says_what_to_do() -> None:
    check_size("x", b"0" * CONFIGMAP_MAX_BYTES)
    with pytest.raises(OutputRefused, match="persistentVolumeClaim"):
        check_size("x", b"0" * (CONFIGMAP_MAX_BYTES + 1))


class FakeApi:
    """ConfigMaps by name; `down` makes every call unavailable (the API server stopped)."""

    def __init__(self, maps: dict[str, dict[str, Any]]):
        self.maps = maps
        self.down = 0

    def get(self, name: str) -> dict[str, Any] | None:
        if self.down:
            self.down -= 1
            raise ApiUnavailable("connection refused")
        return copy.deepcopy(self.maps.get(name))

    def replace(self, body: dict[str, Any]) -> dict[str, Any]:
        self.maps[body["metadata"]["name"]] = copy.deepcopy(body)
        return body


def cm(name: str, writers: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "annotations": {WRITERS_ANNOTATION: writers}}}


def output_of(tmp: Path, api: FakeApi, shard: int = 0) -> ConfigMapOutput:
    a = assignment(
        tmp,
        small_project(tmp / "src"),
        PORTALIS_SHARD_INDEX=str(shard),
        PORTALIS_SHARD_COUNT="2",
        PORTALIS_POD_NAME=f"j-w{shard}",
        PORTALIS_OUTPUT_CONFIGMAP="out",
        PORTALIS_LEDGER_CONFIGMAPS='["j-w0-ledger", "j-w1-ledger"]',
    )
    return ConfigMapOutput(a, api, sleep=lambda s: None)  # type: ignore[arg-type]


def test_an_output_configmap_that_is_not_the_jobs_is_refused_at_start(tmp_path: Path) -> None:
    api = FakeApi({"out": cm("out", "someone-else"), "j-w0-ledger": cm("j-w0-ledger", "j-w0")})
    with pytest.raises(OutputRefused, match="not this job's output"):
        output_of(tmp_path, api).check_writable()


def test_a_ledger_mirrored_through_an_outage_is_restored_by_a_replacement_pod(tmp_path: Path) -> None:
    api = FakeApi({"out": cm("out", "j-w0,j-w1"), "j-w0-ledger": cm("j-w0-ledger", "j-w0")})
    first = output_of(tmp_path / "a", api)
    first.check_writable()
    local = ledger_path(first.assignment.ledger_dir, 0)
    local.parent.mkdir(parents=True)
    local.write_bytes(b"record 1\nrecord 2\n")
    api.down = 3  # three refused calls, then the API server answers again
    first.mirror_ledger(final=True)
    stored = base64.b64decode(api.maps["j-w0-ledger"]["binaryData"][LEDGER_KEY])
    assert unpack_ledger(stored) == b"record 1\nrecord 2\n"
    assert api.maps["j-w0-ledger"]["metadata"]["annotations"] == {WRITERS_ANNOTATION: "j-w0"}  # kept
    second = output_of(tmp_path / "b", api)  # a new pod: an empty ledger directory
    assert second.restore_ledger()
    assert ledger_path(second.assignment.ledger_dir, 0).read_bytes() == b"record 1\nrecord 2\n"
