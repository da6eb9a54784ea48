"""The typer on Triton: dynamic batching vs `max_batch_size: 1`, side by side in one server and run.

    .venv/bin/python benchmarks/typer_batching.py            # CPU: configs/cpu.pbtxt
    .venv/bin/python benchmarks/typer_batching.py --gpu      # GPU: config.pbtxt (KIND_GPU)
    .venv/bin/python benchmarks/typer_batching.py --smoke    # one short round, writes only to --out

One tritonserver serves two copies of model_repo/typer with its committed checkpoint: `typer`
(dynamic batching as configured) and `typer_nobatch` (`max_batch_size: 1`, no dynamic batching).
32 client threads each send one slot per request (the slot texts of the typeshed stubs that ship with
mypy, real signatures). The two models are measured alternately (A B A B) and the best round of each
is kept, which damps the noise of a shared machine. Then the batched model is asked the way the
worker asks it: 128 slots per request from 2 threads. Writes `results/typer_batching.json` (or
`--out`). `--smoke` runs one round at concurrency 2 with a few requests.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from reporting import add_arguments, record, write

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "model_repo" / "tools"))
NAME = "typer_batching"
WORKER_ROWS = 128


def nobatch_copy(repo: Path, config_file: str) -> None:
    """Clone `typer` as `typer_nobatch`: same code and checkpoint, max_batch_size 1, no batcher."""
    dst = repo / "typer_nobatch"
    shutil.copytree(repo / "typer", dst)
    cfg = dst / config_file
    text = cfg.read_text().replace('name: "typer"', 'name: "typer_nobatch"')
    text = re.sub(r"max_batch_size: \d+", "max_batch_size: 1", text)
    text = re.sub(r"dynamic_batching \{.*?\n\}\n", "", text, flags=re.S)
    cfg.write_text(text)


def slot_texts(n: int) -> list[str]:
    import train_typer
    import typer_corpus

    examples = typer_corpus.collect(typer_corpus.typeshed_roots(train_typer.typeshed_dir()))
    texts = sorted({ex.text for ex in examples})
    return [texts[i % len(texts)] for i in range(n)]


def run_load(client: Any, slots: Sequence[str], concurrency: int, rows: int = 1) -> tuple[float, list[float]]:
    """`rows` slots per request from `concurrency` threads: (slots/s, sorted request latencies in s)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def one(start: int) -> None:
        part = list(slots[start : start + rows])
        t0 = time.perf_counter()
        out = client.infer_types(part)
        dt = time.perf_counter() - t0
        assert len(out) == len(part)
        with lock:
            latencies.append(dt)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(0, len(slots), rows)))
    return len(slots) / (time.perf_counter() - start), sorted(latencies)


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="serve with config.pbtxt (KIND_GPU)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=3000, help="requests per round and model")
    parser.add_argument("--rounds", type=int, default=2)
    add_arguments(parser, NAME)
    args = parser.parse_args(argv)
    if args.smoke:
        args.concurrency, args.requests, args.rounds = 2, 8, 1

    from portalis_worker.model.serving import TritonDistribution, TritonUnavailableError, serve
    from portalis_worker.triton_client import TritonClient, TritonClientSettings

    try:
        TritonDistribution.find()
    except TritonUnavailableError as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2
    device = "GPU" if args.gpu else "CPU"
    config_file = "config.pbtxt" if args.gpu else "configs/cpu.pbtxt"
    slots = slot_texts(args.requests * args.rounds * 2 + 64)
    best: dict[str, tuple[float, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="typer-bench-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        shutil.copytree(
            REPO / "model_repo" / "typer", repo / "typer", ignore=shutil.ignore_patterns("__pycache__")
        )
        nobatch_copy(repo, config_file)
        models = ("typer", "typer_nobatch")
        with serve(
            repo, Path(tmp) / "work", models=models, config_name=None if args.gpu else "cpu"
        ) as server:
            clients = {
                m: TritonClient(
                    TritonClientSettings(
                        url=server.grpc_url, typer_model=m, timeout_s=600, max_rows_per_request=1
                    )
                )
                for m in models
            }
            for m in models:  # warm-up
                run_load(clients[m], slots[:32], args.concurrency)
            cursor = 64
            for _ in range(args.rounds):
                for m in models:
                    batch = slots[cursor : cursor + args.requests]
                    cursor += args.requests
                    rate, lat = run_load(clients[m], batch, args.concurrency)
                    print(f"{m}: {rate:.0f} slots/s, p50 {1000 * percentile(lat, 0.5):.1f} ms", flush=True)
                    if m not in best or rate > best[m][0]:
                        best[m] = (rate, lat)
            stats = clients["typer"]._client.get_inference_statistics("typer", as_json=True)
            s = stats["model_stats"][0]
            mean_batch = int(s["inference_count"]) / max(1, int(s["execution_count"]))
            # As the worker sends them: every open slot of a batch of units in one request (the client
            # cuts requests at the model's max_batch_size).
            with TritonClient(TritonClientSettings(url=server.grpc_url, timeout_s=600)) as worker_client:
                worker_rate, _ = run_load(worker_client, slots[:cursor], 2, rows=WORKER_ROWS)
            print(f"typer, {WORKER_ROWS} slots per request: {worker_rate:.0f} slots/s", flush=True)
            for c in clients.values():
                c.close()
    (b_rate, b_lat), (n_rate, n_lat) = best["typer"], best["typer_nobatch"]
    base = f"typer_nobatch ({device}, max_batch_size 1, concurrency {args.concurrency}): {n_rate:.0f} slots/s"
    d = device.lower()
    records = [
        record(f"typer_batched_slots_per_s_{d}", b_rate, "slots/s", base),
        record(
            f"typer_nobatch_slots_per_s_{d}", n_rate, "slots/s", "max_batch_size 1, same model and checkpoint"
        ),
        record(f"typer_batching_speedup_{d}", b_rate / n_rate, "x", base),
        record(
            f"typer_batched_p50_latency_ms_{d}", 1000 * percentile(b_lat, 0.5), "ms", "one slot per request"
        ),
        record(
            f"typer_nobatch_p50_latency_ms_{d}", 1000 * percentile(n_lat, 0.5), "ms", "one slot per request"
        ),
        record(
            f"typer_mean_batch_size_{d}", mean_batch, "rows/execution", "typer's dynamic batcher, whole run"
        ),
        record(
            f"typer_worker_style_slots_per_s_{d}",
            worker_rate,
            "slots/s",
            f"{WORKER_ROWS} slots per request from 2 threads, as the worker asks; vs {base}",
        ),
    ]
    print(f"\n| {device} | slots/s | p50 latency |\n| --- | --- | --- |")
    print(f"| dynamic batching | {b_rate:.0f} | {1000 * percentile(b_lat, 0.5):.1f} ms |")
    print(f"| max_batch_size 1 | {n_rate:.0f} | {1000 * percentile(n_lat, 0.5):.1f} ms |")
    print(f"mean batch {mean_batch:.1f} rows; speed-up {b_rate / n_rate:.2f}x")
    print(f"{WORKER_ROWS} slots per request (the worker's way): {worker_rate:.0f} slots/s")
    write(NAME, records, args.out, args.smoke)
    return 0


if __name__ == "__main__":
    sys.exit(main())
