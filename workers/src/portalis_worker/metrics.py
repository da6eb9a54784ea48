"""Every Prometheus metric a worker exports, in one place (names `portalis_worker_<name>_<unit>`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

UNITS = Counter(
    "portalis_worker_units_total",
    "Units processed, by result (translated, failed) and backend (cache, model, rules).",
    ["result", "backend"],
    registry=REGISTRY,
)
LINES = Counter(
    "portalis_worker_lines_total",
    "Python source lines translated, by backend; rate() of it is the LOC/s throughput.",
    ["backend"],
    registry=REGISTRY,
)
CACHE_HITS = Counter(
    "portalis_worker_cache_hits_total",
    "Units answered from the exact-match translation cache (normalised-AST key).",
    registry=REGISTRY,
)
LAST_CHECKPOINT = Gauge(
    "portalis_worker_last_checkpoint_timestamp_seconds",
    "Unix time of the last ledger record made durable; time() minus it is the checkpoint age.",
    registry=REGISTRY,
)
LEDGER_WRITE = Histogram(
    "portalis_worker_ledger_write_seconds",
    "Latency of one durable ledger append (write + fsync).",
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
    registry=REGISTRY,
)
MEMORY_SIGNATURES = Counter(
    "portalis_worker_memory_signatures_total",
    "Units signed for the translation memory, by signer: embedder (the pod's Triton) or local (in process).",
    ["signer"],
    registry=REGISTRY,
)
MEMORY_WRITE_FAILURES = Counter(
    "portalis_worker_memory_write_failures_total",
    "Finished jobs whose translation memory file could not be written (the crate is published anyway;"
    " the worker's log says why).",
    registry=REGISTRY,
)
MEMORY_MATCHES = Counter(
    "portalis_worker_memory_matches_total",
    "Candidates the translation memory offered, by kind of match (exact, body, types); whether rustc"
    ' kept them is in portalis_worker_units_total{backend="memory"}.',
    ["match"],
    registry=REGISTRY,
)
