"""End to end: the story demo (`make demo`, portalis_dev.story) played once, and every step checked.

The story runs exactly as `make demo` runs it (same function, same manifests), in a namespace and pool of
its own: a normal job starts on spot; a critical job preempts it (the victim checkpoints and requeues);
the pool scales out to its maximum of 4 nodes at 3 spot + 1 on-demand; a spot node under a running
worker is reclaimed and the worker resumes from its ledger; both jobs succeed and their crates build;
cost and events are printed. `run_story` itself raises StoryError naming any step that does not
happen; the tests below check what each step left behind, independently of the story's own checks.

It runs on the node agent whatever PORTALIS_E2E_NODES says: the pool's nodes come from the agent's
machine mode (Cluster API MachineDeployments turned into nodes that run pods), which real kubelet nodes
do not have here (docs/demo.md).
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from portalis_dev import demo, story
from portalis_dev.cluster import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

STEPS = (
    "1. a normal job starts on spot",
    "2. a critical job arrives and preempts it",
    "3. the pool scales out within its bounds",
    "4. the normal job is admitted again",
    "5. a spot node under a running worker is reclaimed",
    "6. both jobs succeed, their crates build",
)


@dataclass
class Played:
    result: story.StoryResult
    lines: list[str]
    options: story.StoryOptions


@pytest.fixture(scope="module")
def played(cluster: LocalCluster) -> Iterator[Played]:
    clients = demo.Clients.of(cluster)
    namespace = f"e2e-story-{uuid.uuid4().hex[:5]}"
    options = story.StoryOptions(state_dir=cluster.state_dir, namespace=namespace, pool=namespace)
    lines: list[str] = []

    def say(line: str) -> None:
        print(f"[story] {line}")
        lines.append(line)

    try:
        yield Played(story.run_story(cluster, options, say), lines, options)
    finally:
        story.stop_story(cluster, options)
        with contextlib.suppress(Exception):
            clients.custom.delete_cluster_custom_object(demo.GROUP, demo.VERSION, demo.POOLS, namespace)
        with contextlib.suppress(Exception):
            clients.core.delete_namespace(namespace)
        shutil.rmtree(cluster.state_dir / "story" / namespace, ignore_errors=True)


def _events(played: Played, text: str) -> list[str]:
    return [e for e in played.result.events if text in e]


def test_every_step_happened_in_order_and_was_printed(played: Played) -> None:
    steps = played.result.steps
    assert [s.title for s in steps] == list(STEPS)
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    for s in steps:
        assert any(line.startswith("==> [") and s.title in line for line in played.lines), s.title
    print(f"story: {played.result.seconds:.1f} s; steps at " + ", ".join(f"{s.at:.1f}" for s in steps))


def test_the_normal_job_started_on_spot(played: Played) -> None:
    assert played.result.started_on == ["spot", "spot"]
    (first,) = [e for e in _events(played, "TranslationJob/normal-job: Admitted")][:1]
    assert f"dgx-{played.options.pool}-spot-" in first, first
    assert "-od-" not in first, first


def test_the_critical_job_preempted_it_and_the_victim_checkpointed_and_requeued(played: Played) -> None:
    r = played.result
    assert _events(played, "Warning TranslationJob/normal-job: Preempted"), r.events
    assert _events(played, "TranslationJob/normal-job: Requeued"), r.events
    assert sum(len(u) for u in r.preempted_committed.values()) > 0, "the victim checkpointed nothing"
    preempted = next(c for c in r.jobs[story.NORMAL]["status"]["conditions"] if c["type"] == "Preempted")
    assert (preempted["status"], preempted["reason"]) == ("False", "Requeued")
    assert r.redone[story.NORMAL] == [], "units committed before the preemption were redone"


def test_the_pool_scaled_out_within_its_bounds_at_75_percent_spot(played: Played) -> None:
    status = played.result.pool["status"]
    spec = played.result.pool["spec"]
    assert spec["nodes"]["max"] == story.MAX_NODES
    assert status["nodes"] == {"spot": 3, "onDemand": 1}
    assert _events(played, f"GPUPool/{played.options.pool}: ScaledUp"), played.result.events
    assert status["lastScaleReason"].startswith("ScaleUpQueuedDemand"), status


def test_a_reclaimed_worker_resumed_from_its_ledger_with_nothing_redone(played: Played) -> None:
    r = played.result
    assert r.reclaimed_job in (story.NORMAL, story.CRITICAL)
    assert f"dgx-{played.options.pool}-spot-" in r.reclaimed_node
    assert story.reclaims(r.jobs[r.reclaimed_job]) >= 1
    assert _events(played, f"TranslationJob/{r.reclaimed_job}: Reclaimed"), r.events
    assert sum(len(u) for u in r.reclaim_committed.values()) > 0, "the kill came before any checkpoint"
    assert r.redone[r.reclaimed_job] == [], "units committed before the reclaim were redone"


def test_both_jobs_succeeded_every_unit_once_and_the_crates_build(played: Played) -> None:
    r = played.result
    for name in (story.NORMAL, story.CRITICAL):
        assert demo.Snapshot.of(r.jobs[name]).phase == "Succeeded"
        report = r.reports[name]
        assert report.translated + report.failed == report.total > 0
        assert report.translated >= 0.9 * report.total, report.failures
        assert r.builds[name].ok, r.builds[name].output
        result = r.jobs[name]["status"]["result"]
        assert result["crate"]["builds"] is True
        assert result["units"]["total"] == report.total
    # every unit of each job in its ledgers (a unit recorded twice was in flight at an interruption;
    # the story itself checked that none committed before one was redone)
    for name in (story.NORMAL, story.CRITICAL):
        ledgers = story.read_ledgers(story.ledger_dir_of(played.options, name))
        units = Counter(
            str(rec["id"]) for recs in ledgers.values() for rec in recs if rec.get("kind") == "unit"
        )
        assert len(units) == r.reports[name].total, name


def test_cost_per_job_and_events_are_printed(played: Played) -> None:
    for name in (story.NORMAL, story.CRITICAL):
        (line,) = [x for x in played.lines if x.startswith(f"cost of {name} ")]
        assert "GPU-seconds on spot" in line, line
        assert "estimated $" in line, line
        cost = played.result.jobs[name]["status"]["cost"]
        assert cost["gpuSecondsSpot"] + cost["gpuSecondsOnDemand"] > 0
    assert any("events a platform team would see" in x for x in played.lines)
    assert any("Preempted" in x for x in played.lines)
    assert any("Reclaimed" in x for x in played.lines)


def test_the_alerts_are_read_from_the_operators_metrics(played: Played) -> None:
    alerts = {a.name: a for a in played.result.alerts}
    assert set(alerts) == {a.name for a in story.ALERTS}
    # the reclaim of step 5 is in the operator's counter that PortalisSpotReclaimsFrequent watches
    assert alerts["PortalisSpotReclaimsFrequent"].value >= 1
    assert not alerts["PortalisSpotReclaimsFrequent"].fired  # one reclaim does not page
    assert any(line.startswith("alerts fired: ") for line in played.lines)
