"""How `ensure_built` plans builds: only the missing tools, concurrently, with a plan and time-left lines.

The builds themselves are replaced by a fake that records what was asked (the real ones are exercised by
every test that runs a binary); what is tested here is the orchestration around them.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from portalis_dev import toolchain
from portalis_dev.versions import DEMO_TOOLS, TOOLS, Tool, tool

pytestmark = pytest.mark.unit


@pytest.fixture
def fake_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Tools in `built` count as present; build_tool records calls, and blocks on `gate` when set, so a test
    can see two builds in flight at once."""
    state: dict[str, object] = {"built": set(), "calls": [], "in_flight": 0, "peak": 0, "fail": None}
    lock = threading.Lock()
    both_started = threading.Barrier(2, timeout=10)

    def tool_dir(t: Tool, go_version: str | None = None) -> Path:
        return tmp_path / t.name

    def complete(d: Path, t: Tool) -> bool:
        return t.name in state["built"]  # type: ignore[operator]

    def build_tool(t: Tool, progress: toolchain.Progress = print) -> Path:
        if t.name in state["built"]:  # type: ignore[operator]
            return tmp_path / t.name
        with lock:
            state["calls"].append(t.name)  # type: ignore[attr-defined]
            state["in_flight"] = int(state["in_flight"]) + 1  # type: ignore[call-overload]
            state["peak"] = max(int(state["peak"]), int(state["in_flight"]))  # type: ignore[call-overload]
        if t.name in ("etcd", "kwok"):
            both_started.wait()  # returns only when both builds run at the same time
        if state["fail"] == t.name:
            raise toolchain.BuildError(f"building {t.name} failed")
        with lock:
            state["in_flight"] = int(state["in_flight"]) - 1  # type: ignore[call-overload]
            state["built"].add(t.name)  # type: ignore[attr-defined]
        return tmp_path / t.name

    monkeypatch.setattr(toolchain, "_go_version", lambda: "go-test")
    monkeypatch.setattr(toolchain, "tool_dir", tool_dir)
    monkeypatch.setattr(toolchain, "_complete", complete)
    monkeypatch.setattr(toolchain, "build_tool", build_tool)
    return state


def test_only_missing_tools_are_built_concurrently_with_a_plan(fake_builds: dict[str, object]) -> None:
    fake_builds["built"] = {"kubernetes"}
    lines: list[str] = []
    paths = toolchain.ensure_built(DEMO_TOOLS, progress=lines.append)
    assert sorted(fake_builds["calls"]) == ["etcd", "kwok"]  # type: ignore[call-overload]
    assert fake_builds["peak"] == 2
    assert set(paths) == {b for name in DEMO_TOOLS for b in tool(name).binaries}
    assert lines[0].startswith("portalis-dev: 2 tool(s) to build once (etcd, kwok), 2 at a time; ")
    assert "on a cold 2-core machine" in lines[0]
    assert len([line for line in lines if "ready; still building" in line]) == 1


def test_nothing_to_build_prints_nothing(fake_builds: dict[str, object]) -> None:
    fake_builds["built"] = {t.name for t in TOOLS}
    lines: list[str] = []
    toolchain.ensure_built(DEMO_TOOLS, progress=lines.append)
    assert lines == []
    assert fake_builds["calls"] == []


def test_a_failed_build_fails_the_whole(fake_builds: dict[str, object]) -> None:
    fake_builds["built"] = {"kubernetes"}
    fake_builds["fail"] = "kwok"
    with pytest.raises(toolchain.BuildError, match="kwok"):
        toolchain.ensure_built(DEMO_TOOLS, progress=lambda m: None)


def test_time_left_admits_a_busy_machine() -> None:
    assert toolchain._time_left(400, 100) == "about 5 min left on an idle machine"
    assert toolchain._time_left(400, 380) == "under a minute left on an idle machine"
    assert toolchain._time_left(400, 500).startswith("past the about 7 min estimate for an idle machine;")


def test_the_demo_needs_no_test_only_tool() -> None:
    assert set(DEMO_TOOLS) == {"kubernetes", "etcd", "kwok"}
    assert all(tool(name).cold_seconds > 0 for name in DEMO_TOOLS)
