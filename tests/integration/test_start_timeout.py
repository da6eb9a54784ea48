"""Issue 13, item 7 on the real API server: an admitted job whose worker pods are refused (a
ResourceQuota here; LimitRange or Pod Security alike) is retried with a backoff, not in a hot loop, and
fails with reason StartTimeout, naming the refusal, instead of holding its GPUs forever."""

from __future__ import annotations

import time
from typing import Any

import pytest
from test_operator import Jobs, job, jobs, pool  # noqa: F401  (fixtures)

from harness import operator_running
from portalis_dev import nodes
from portalis_operator import metrics

pytestmark = pytest.mark.integration


def test_refused_worker_pods_back_off_and_the_job_fails_naming_the_refusal(
    jobs: Jobs,  # noqa: F811
    core: Any,
    pool: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORTALIS_OPERATOR_START_TIMEOUT_SECONDS", "12")
    core.create_namespaced_resource_quota(
        jobs.ns, {"metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}}
    )
    nodes.add_nodes(core, "on-demand", 1, pool=pool)
    jobs.create(job("refused", shards=1, gpus=8))
    refusals_before = metrics.POD_CREATE_REFUSALS._value.get()
    with operator_running(pool):
        jobs.wait_phase("refused", "Admitted", timeout=60)
        admitted_at = time.monotonic()
        failed = jobs.wait_phase("refused", "Failed", timeout=90)
        waited = time.monotonic() - admitted_at
    refusals = metrics.POD_CREATE_REFUSALS._value.get() - refusals_before
    (cond,) = [c for c in failed["status"]["conditions"] if c["type"] == "Failed"]
    assert cond["reason"] == "StartTimeout"
    assert "no worker running" in cond["message"]
    assert "shard 0: pod not created:" in cond["message"]
    assert "exceeded quota" in cond["message"]
    # Backoff 1, 2, 4, 8 s ... between refused creates: a handful over the timeout, where an immediate
    # retry (every cycle, each refusal waking the next) made hundreds.
    assert 1 <= refusals <= 3 + waited / 2, (refusals, waited)
    assert jobs.pods("refused") == []
    assert "StartTimeout" in jobs.events("refused")
