"""The smoke modes of the benchmarks that need no cluster and no server: each runs its real code path on
the smallest input in seconds, so a benchmark that stops working fails here instead of rotting.

kernels_gpu needs a GPU: its smoke run is tests/gpu/test_benchmarks_smoke_gpu.py; here only what a
machine without one reaches (it says why and exits 2, writing nothing). Every script in benchmarks/
must offer --smoke; the ones that need a control plane or a server are run in
tests/integration/test_benchmarks_smoke_live.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmark_smoke import BENCHMARKS, run_benchmark, run_smoke
from portalis_kernels.backend import cuda_status

pytestmark = pytest.mark.unit


def test_every_benchmark_offers_a_smoke_mode() -> None:
    scripts = sorted(p for p in BENCHMARKS.glob("*.py") if '__name__ == "__main__"' in p.read_text())
    assert len(scripts) >= 7, scripts
    for script in scripts:
        proc = run_benchmark(script.stem, "--help", timeout=60)
        assert proc.returncode == 0, f"{script.name} --help:\n{proc.stdout[-2000:]}"
        assert "--smoke" in proc.stdout, f"{script.name} has no --smoke option"


def test_kernels_cpu_smoke_measures_every_path(tmp_path: Path) -> None:
    run = run_smoke("kernels_cpu", tmp_path / "kernels_cpu.json", timeout=120)
    v = run.values
    for metric in (
        "featurize_numpy_units_per_s",
        "featurize_python_units_per_s",
        "minhash_numpy_units_per_s",
        "minhash_python_units_per_s",
        "cosine_topk_numpy_queries_per_s",
        "cosine_topk_select_numpy_queries_per_s",
        "cosine_topk_fullsort_queries_per_s",
        "near_duplicate_groups_numpy_units_per_s",
    ):
        assert v[metric] > 0, metric
    assert "40 units" in run.output


def test_smoke_without_out_writes_nothing() -> None:
    results = BENCHMARKS / "results" / "kernels_cpu.json"
    before = results.read_bytes()
    proc = run_benchmark("kernels_cpu", "--smoke", timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "written to nowhere" in proc.stdout
    assert results.read_bytes() == before


def test_smoke_refuses_to_write_into_results() -> None:
    target = BENCHMARKS / "results" / "kernels_cpu.json"
    before = target.read_bytes()
    proc = run_benchmark("kernels_cpu", "--smoke", "--out", str(target), timeout=120)
    assert proc.returncode != 0
    assert "never writes into benchmarks/results/" in proc.stdout
    assert target.read_bytes() == before


def test_kernels_gpu_smoke_without_a_gpu_says_why_and_writes_nothing(tmp_path: Path) -> None:
    if cuda_status()[0]:
        pytest.skip("a GPU is usable here: tests/gpu/test_benchmarks_smoke_gpu.py runs the smoke mode")
    out = tmp_path / "kernels_gpu.json"
    proc = run_benchmark("kernels_gpu", "--smoke", "--out", str(out), timeout=120)
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "no usable GPU here" in proc.stdout
    assert not out.exists()
    assert not (BENCHMARKS / "results" / "kernels_gpu.json").exists()


@pytest.mark.skipif(shutil.which("rustc") is None, reason="rustc is not on PATH")
def test_worker_throughput_smoke_times_every_variant(tmp_path: Path) -> None:
    readme = (BENCHMARKS / "README.md").read_bytes()
    run = run_smoke("worker_throughput", tmp_path / "worker_throughput.json", timeout=180)
    v = run.values
    assert v["rules_loc_per_s_no_rustc"] > 0
    assert v["rules_units_per_s_no_rustc"] > 0
    assert 0 <= v["ledger_overhead_share"] <= 100
    assert v["rules_loc_per_s_with_rustc"] > 0
    assert "4 units" in next(r["compared_with"] for r in run.records if r["metric"].startswith("rules_units"))
    assert (BENCHMARKS / "README.md").read_bytes() == readme


# Two problems in MultiPL-E's humaneval-rs format, written for this test: one without type hints (filled
# in from the Rust signature) that passes, one the translator rejects (`global`).
HUMANEVAL_PROBLEMS = [
    {
        "task_id": "Smoke/0",
        "name": "Smoke_0_add",
        "entry_point": "add",
        "python": "def add(x, y):\n    return x + y\n",
        "rust_prompt": "/// Add two numbers.\nfn add(x: isize, y: isize) -> isize {\n",
        "rust_tests": "\nfn main() {\n    let candidate = add;\n    assert_eq!(candidate(2, 3), 5);\n}\n",
    },
    {
        "task_id": "Smoke/1",
        "name": "Smoke_1_remember",
        "entry_point": "remember",
        "python": ("LAST = 0\n\ndef remember(a: int) -> int:\n    global LAST\n    LAST = a\n    return a\n"),
        "rust_prompt": "fn remember(a: isize) -> isize {\n",
        "rust_tests": "\nfn main() {\n    assert_eq!(remember(7), 7);\n}\n",
    },
    {
        "task_id": "Smoke/2",
        "name": "Smoke_2_not_judged",
        "entry_point": "never",
        "python": "def never() -> int:\n    return 1\n",
        "rust_prompt": "fn never() -> isize {\n",
        "rust_tests": "\nfn main() {\n    assert_eq!(never(), 2);\n}\n",
    },
]


@pytest.mark.skipif(shutil.which("rustc") is None, reason="rustc is not on PATH")
def test_humaneval_rs_smoke_judges_the_first_two_problems(tmp_path: Path) -> None:
    data = tmp_path / "problems.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in HUMANEVAL_PROBLEMS))
    run = run_smoke("humaneval_rs", tmp_path / "humaneval_rs.json", "--data", str(data), timeout=180)
    v = run.values
    assert v["humaneval_rs_passed"] == 1
    assert v["humaneval_rs_pass_rate"] == 50.0
    assert v["humaneval_rs_translate_rate"] == 50.0
    assert v["humaneval_rs_hinted_entry_points"] == 1
    assert v["humaneval_rs_failures[unsupported: global]"] == 1
    assert "2 scored problems" in run.output


def test_humaneval_rs_no_hints_smoke_infers_the_missing_types(tmp_path: Path) -> None:
    data = tmp_path / "problems.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in HUMANEVAL_PROBLEMS))
    out = tmp_path / "humaneval_rs_nohints.json"
    run = run_smoke("humaneval_rs", out, "--data", str(data), "--no-hints", timeout=180)
    v = run.values
    # `add(x, y)` ships untyped: inference types it (usage and names), rustc accepts it, the test passes.
    assert v["humaneval_rs_nohints_passed"] == 1
    assert v["humaneval_rs_nohints_inferred_problems"] == 1
    assert v["humaneval_rs_nohints_failures[unsupported: global]"] == 1
    assert "without hints: types inferred" in run.output


def test_typer_accuracy_smoke_scores_the_committed_checkpoint(tmp_path: Path) -> None:
    pytest.importorskip("nemo.core", reason="nemo_toolkit[core] is not installed (the 'serving' extra)")
    run = run_smoke("typer_accuracy", tmp_path / "typer_accuracy.json", timeout=300)
    v = run.values
    # Held-out typeshed modules only; always answering the most common type scores about 40% there.
    assert v["typer_all_top1_pct"] > 50
    assert v["typer_all_top3_pct"] >= v["typer_all_top1_pct"]
    assert "held-out slots" in run.output


@pytest.mark.skipif(shutil.which("rustc") is None or shutil.which("cargo") is None, reason="rustc and cargo")
def test_real_corpus_smoke_translates_a_real_package_into_a_crate_that_builds(tmp_path: Path) -> None:
    run = run_smoke("real_corpus", tmp_path / "real_corpus.json", timeout=600)
    v = run.values
    assert v["crates_building"] == 1
    assert 0 < v["def_class_units_in_crate_share"] <= 100
    assert v["pub_items_exported"] > 0


@pytest.mark.skipif(shutil.which("rustc") is None, reason="rustc")
def test_translation_memory_smoke_serves_a_later_release_from_the_earlier_one(tmp_path: Path) -> None:
    run = run_smoke("translation_memory", tmp_path / "translation_memory.json", timeout=600)
    v = run.values
    assert 0 < v["units_served_from_memory_share"] <= 100
    assert v["units_served_from_memory_exact"] > 0
    # nothing lost: the later release's crate holds as much with the memory as without it
    translated = next(r for r in run.records if r["metric"] == "translated_units_with_memory")
    assert translated["value"] == int(translated["compared_with"].split()[0]), translated
    assert v["mismatched_units_with_memory"] == 0


def test_operator_cycle_scale_smoke_measures_every_kind_of_cycle(tmp_path: Path) -> None:
    run = run_smoke("operator_cycle_scale", tmp_path / "operator_cycle_scale.json", timeout=300)
    v = run.values
    for size in (200, 400):
        for metric in ("quiet_cycle", "changed_cycle", "full_sweep", "peak_rss"):
            assert v[f"{metric}_{size}_jobs"] > 0, (metric, size)
    assert "(0 planned)" in run.output  # a quiet cycle plans no job
    assert "(100 planned)" in run.output  # the changed jobs, and only those
