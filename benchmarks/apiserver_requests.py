"""What the API server was asked to do during a run: its own request counter, read before and after.

`apiserver_request_total` counts every request by verb, resource, subresource and response code, from
every client (the operator, the benchmark's client, the scheduler, kwok, the controller manager). The
difference over a run, divided by the jobs (or pods) of the run, is the control plane's work per job:
what bounds throughput when the API server is short of CPU. Only writes are summed by default (reads and
watches are served from the watch cache).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE", "APPLY", "CREATE", "UPDATE"})

Key = tuple[str, str, str]  # (verb, resource[/subresource], code)


def read(api: Any) -> Counter[Key]:
    """The API server's request counter now (`api`: a kubernetes.client.ApiClient)."""
    resp = api.rest_client.pool_manager.request("GET", f"{api.configuration.host}/metrics")
    return parse(resp.data.decode())


CPU: Key = ("CPU", "process", "ms")
"""The API server's own CPU time, in milliseconds, under this key: what its work cost, whatever the load."""


def parse(text: str) -> Counter[Key]:
    out: Counter[Key] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name == "process_cpu_seconds":
            out[CPU] += sum(int(1000 * s.value) for s in family.samples)
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            labels = sample.labels
            resource = labels.get("resource", "")
            if labels.get("subresource"):
                resource += "/" + labels["subresource"]
            out[(labels.get("verb", ""), resource, labels.get("code", ""))] += int(sample.value)
    return out


def writes_per_item(before: Mapping[Key, int], after: Mapping[Key, int], items: int) -> dict[str, float]:
    """Writes made between the two readings, per item, by "VERB resource code" (largest first), with
    "total" the sum."""
    diff = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    rows = {f"{v} {r} {c}": n / items for (v, r, c), n in diff.items() if v in WRITES and n > 0}
    ordered = dict(sorted(rows.items(), key=lambda kv: -kv[1]))
    return {"total": sum(ordered.values()), **ordered}


def cpu_seconds_per_item(before: Mapping[Key, int], after: Mapping[Key, int], items: int) -> float:
    """The API server's CPU seconds between the two readings, per item."""
    return (after.get(CPU, 0) - before.get(CPU, 0)) / 1000 / items
