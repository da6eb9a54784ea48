"""Start-up, crash recovery and shutdown of a second, private control plane beside the session's one."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from harness import wait_for
from portalis_dev import processes
from portalis_dev.cluster import COMPONENTS, ClusterError, LocalCluster

pytestmark = pytest.mark.integration


def test_second_instance_crash_recovery_and_clean_down(cluster: LocalCluster, tmp_path: Path) -> None:
    other = LocalCluster(tmp_path / "second")
    other.up(progress=lambda m: None)
    try:
        first_ports, second_ports = cluster.ports(), other.ports()
        assert first_ports is not None
        assert second_ports is not None
        assert not set(vars(first_ports).values()) & set(vars(second_ports).values())
        assert other.status().up
        assert cluster.status().up

        # Crash: kill the API server hard. A second `up` must clean up and start fresh, not fail.
        [apiserver] = [r for r in processes.recorded(other.state_dir) if r.name == "kube-apiserver"]
        os.kill(apiserver.pid, signal.SIGKILL)
        wait_for(lambda: not processes.alive(apiserver), timeout=10, what="apiserver gone")
        assert not other.status().up
        other.up(progress=lambda m: None)
        assert other.status().up
        assert other.ports() != second_ports
    finally:
        recs = processes.recorded(other.state_dir)
        other.down(progress=lambda m: None)
    assert {r.name for r in recs} == set(COMPONENTS)
    for rec in recs:
        assert not processes.alive(rec), f"{rec.name} (pid {rec.pid}) still running after down"
        assert not Path(f"/proc/{rec.pid}").exists() or not processes.alive(rec)
    assert not processes.recorded(other.state_dir)
    assert not other.status().up


def test_explicit_port_that_is_taken_is_refused_clearly(cluster: LocalCluster, tmp_path: Path) -> None:
    ports = cluster.ports()
    assert ports is not None
    with pytest.raises(ClusterError, match=rf"port {ports.apiserver} on 127.0.0.1 is taken"):
        LocalCluster(tmp_path / "clash").up(apiserver_port=ports.apiserver, progress=lambda m: None)
