#!/usr/bin/env bash
# The ONE script for the GPU device machine: everything that needs a GPU, in under 8 minutes, with
# every result in one JSON file.
#
#   bash tests/gpu/run_all.sh                # writes $OUT/gpu_run.json, or benchmarks/results/gpu_run.json
#
# Steps (each with its own time limit; a failing or impossible step is recorded, the rest still run):
#   1. setup      python, nvidia-smi, which GPU packages import; installs what is missing from
#                 wheels carried in .whl/ (pip --no-index --find-links .whl), never from the network
#   2. pytest     pytest -m gpu tests/gpu  (kernel parity + Triton on GPU vs CPU)
#   3. serve      tritonserver with config.pbtxt (KIND_GPU): translator + embedder ready, one request
#   4. tensorrt   model_repo/tools/build_trt_engine.py: ONNX export -> TensorRT engine -> parity check
#   5. kernels    benchmarks/kernels_gpu.py
#   6. batching   benchmarks/triton_batching.py --gpu
#
# Wheels: the device machine has no network. Its image has python3 and cupy-cuda13x; torch,
# nemo_toolkit[core], tritonclient[grpc], nvidia-pytriton, numpy==1.26.4 (for the Triton stub) and
# tensorrt must come from the image or from .whl/ (carried with `run(carry=[".whl"])`, 64 MiB in all,
# so the big ones -- torch, tensorrt -- must already be in the image). Steps whose packages are missing
# are recorded as "skipped" with the reason.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
START=$(date +%s)
RESULT_DIR=${OUT:-$ROOT/benchmarks/results}
mkdir -p "$RESULT_DIR"
RESULT=$RESULT_DIR/gpu_run.json
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ -x .venv/bin/python ]; then PY=$ROOT/.venv/bin/python; else PY=${PYTHON:-python3}; fi
# Our packages from the source tree (no editable install needed); serving.py forwards these paths to
# the Triton stub's interpreter, which ignores PYTHONPATH itself.
export PYTHONPATH=$ROOT/workers/src:$ROOT/kernels/src:$ROOT/operator/src:$ROOT/localcluster/src:$ROOT/tests${PYTHONPATH:+:$PYTHONPATH}
if [ -d .whl ]; then export PIP_FIND_LINKS=$ROOT/.whl PIP_NO_INDEX=1; fi
export PIP_DISABLE_PIP_VERSION_CHECK=1

STEPS=$WORK/steps.jsonl
: > "$STEPS"

# step NAME LIMIT_S CMD...: runs CMD with a time limit, keeps its log tail and any JSON file it
# names in $WORK/NAME.json, and appends one record to $STEPS.
# The whole run must end within BUDGET_S (8 minutes minus a margin); a step that would not fit is
# shortened to what is left, or skipped when under 20 s remain.
BUDGET_S=${BUDGET_S:-460}
step() {
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s) rc left
  left=$(( BUDGET_S - (t0 - START) ))
  if [ "$left" -lt "$limit" ]; then limit=$left; fi
  echo "== $name (limit ${limit}s): $*"
  if [ "$limit" -lt 20 ]; then
    echo "skipped: the run's time budget (${BUDGET_S}s) is spent" > "$WORK/$name.log"; rc=2
  else
    timeout --kill-after=10 "$limit" "$@" > "$WORK/$name.log" 2>&1
    rc=$?
  fi
  tail -n 25 "$WORK/$name.log"
  "$PY" - "$name" "$rc" "$(( $(date +%s) - t0 ))" "$WORK" >> "$STEPS" <<'EOF'
import json, sys
from pathlib import Path
name, rc, secs, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
status = {0: "passed", 2: "skipped", 124: "timed out", 137: "timed out"}.get(rc, "failed")
rec = {"step": name, "status": status, "exit_code": rc, "seconds": secs,
       "log_tail": (work / f"{name}.log").read_text(errors="replace")[-3000:]}
data = work / f"{name}.json"
if data.exists():
    try:
        rec["results"] = json.loads(data.read_text())
    except ValueError:
        rec["results_raw"] = data.read_text()[-3000:]
print(json.dumps(rec))
EOF
}

setup() {
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi missing"
  "$PY" --version
  local missing=()
  "$PY" -c "import torch; assert torch.cuda.is_available(); print('torch', torch.__version__)" || missing+=(torch)
  "$PY" -c "import nemo.core; print('nemo ok')" || missing+=("nemo_toolkit[core]==3.0.0")
  "$PY" -c "import tritonclient.grpc; print('tritonclient ok')" || missing+=("tritonclient[grpc]")
  "$PY" -c "import importlib.util as u; assert u.find_spec('pytriton')" || missing+=(nvidia-pytriton)
  "$PY" -c "import onnx; print('onnx', onnx.__version__)" || missing+=(onnx)
  "$PY" -c "import tensorrt; print('tensorrt', tensorrt.__version__)" || missing+=(tensorrt)
  "$PY" -c "import cupy; print('cupy', cupy.__version__)" || missing+=(cupy-cuda13x)
  "$PY" -c "import pytest, pytest_timeout, tenacity" || missing+=(pytest pytest-timeout tenacity)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "missing: ${missing[*]}"
    if [ -d .whl ]; then
      for pkg in "${missing[@]}"; do
        # nvidia-pytriton without deps: its numpy<2 pin would downgrade the environment (docs/model.md).
        if [ "$pkg" = nvidia-pytriton ]; then extra=--no-deps; else extra=; fi
        "$PY" -m pip install --quiet $extra "$pkg" || echo "could not install $pkg from .whl/"
      done
    else
      echo "no .whl/ directory: nothing to install from"
    fi
  fi
  # The Triton stub's numpy-1.x environment (built once, needs numpy==1.26.4 from the index or .whl/).
  "$PY" -c "from portalis_worker.model.serving import stub_environment; print(stub_environment())"
}

serve_gpu() {
  "$PY" - "$WORK" <<'EOF'
import json, sys, time
from pathlib import Path
from portalis_dev.layout import REPO_ROOT
from portalis_worker.model.checkpoints import make_tiny_checkpoint
from portalis_worker.model.serving import serve, stage_repository
from portalis_worker.triton_client import Priority, TritonClient, TritonClientSettings
work = Path(sys.argv[1]) / "serve"
ckpt = make_tiny_checkpoint(work / "translator.nemo", seed=2)
repo = stage_repository(REPO_ROOT / "model_repo", work / "repo", ckpt, ("translator", "embedder"))
t0 = time.perf_counter()
with serve(repo, work / "server", config_name=None) as server:
    ready = time.perf_counter() - t0
    with TritonClient(TritonClientSettings(url=server.grpc_url)) as c:
        t1 = time.perf_counter()
        out = c.translate_batch(["def f(x):\n    return x\n"] * 8, priority=Priority.INTERACTIVE)
        first = time.perf_counter() - t1
        emb = c.embed(["def f(x):\n    return x\n"] * 8)
        cfg = c._client.get_model_config("translator", as_json=True)["config"]
res = {"ready_seconds": round(ready, 2), "first_request_seconds": round(first, 3), "rows": len(out),
       "embedding_shape": list(emb.shape), "instance_kind": cfg["instance_group"][0]["kind"]}
(Path(sys.argv[1]) / "serve.json").write_text(json.dumps(res))
print(res)
EOF
}

tensorrt_build() {
  "$PY" -c "import tensorrt" 2>/dev/null || { echo "tensorrt not installed"; return 2; }
  "$PY" model_repo/tools/make_tiny_checkpoint.py "$WORK/trt/translator.nemo" &&
    "$PY" model_repo/tools/build_trt_engine.py "$WORK/trt/translator.nemo" "$WORK/trt" --max-batch 64 \
      --max-source 1024 --max-target 257 | tail -n 1 > "$WORK/tensorrt.json"
  local rc=${PIPESTATUS[0]}
  cat "$WORK/tensorrt.json"
  return "$rc"
}

kernels_gpu() {
  "$PY" benchmarks/kernels_gpu.py
  local rc=$?
  if [ -f benchmarks/results/kernels_gpu.json ]; then cp benchmarks/results/kernels_gpu.json "$WORK/kernels.json"; fi
  return "$rc"
}

step setup 50 bash -c "$(declare -f setup); PY=$PY; setup"
step pytest 140 "$PY" -m pytest -m gpu tests/gpu -q -p no:cacheprovider -o addopts="" --junitxml="$WORK/pytest.xml"
step serve 60 bash -c "$(declare -f serve_gpu); PY=$PY; WORK=$WORK; serve_gpu"
step tensorrt 90 bash -c "$(declare -f tensorrt_build); PY=$PY; WORK=$WORK; tensorrt_build"
step kernels 40 bash -c "$(declare -f kernels_gpu); PY=$PY; WORK=$WORK; kernels_gpu"
step batching 75 "$PY" benchmarks/triton_batching.py --gpu --no-readme --rounds 1 --out "$WORK/batching.json"

"$PY" - "$STEPS" "$RESULT" "$START" <<'EOF'
import json, sys, time
steps = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
doc = {"finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
       "total_seconds": int(time.time()) - int(sys.argv[3]), "steps": steps}
open(sys.argv[2], "w").write(json.dumps(doc, indent=2) + "\n")
print("\n".join(f"{s['step']:>9}: {s['status']} ({s['seconds']} s)" for s in steps))
EOF
echo "results: $RESULT ($(( $(date +%s) - START )) s)"
