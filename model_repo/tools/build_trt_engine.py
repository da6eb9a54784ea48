"""Build a TensorRT engine from the translator's ONNX export (GPU machine only).

    python model_repo/tools/build_trt_engine.py CHECKPOINT.nemo OUT_DIR [--fp16] [--max-batch 64]

Steps: restore the .nemo with ``ByteTranslatorModel.restore_from``, export ONNX through NeMo's
``Exportable`` (``OUT_DIR/translator.onnx``: inputs ``src_ids[B,S]``, ``tgt_ids[B,T]`` int64,
output ``logits[B,T,V]``), parse it with TensorRT's ONNX parser, build with one optimisation
profile covering batch 1..max_batch, source 1..max_source and target 1..max_target, and serialise to
``OUT_DIR/translator.plan``. Then it runs the engine once on random ids and compares the logits
with PyTorch on the same GPU, and prints a JSON summary (build seconds, engine bytes, max error).

Exits 2 with a clear message when TensorRT (the ``tensorrt`` wheel) or a CUDA device is missing, so
run_all.sh can record "skipped" instead of a traceback. The network is the teacher-forced step
network; the greedy loop stays in host code (translator.py), as for PyTorch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def _require_tensorrt() -> Any:
    try:
        import tensorrt as trt
    except ImportError as exc:
        print(
            f"TensorRT is not installed ({exc}); install the 'tensorrt' wheel (CUDA 12/13 build matching the "
            "driver) on the GPU machine, e.g. from .whl/ (see docs/model.md)",
            file=sys.stderr,
        )
        raise SystemExit(2) from exc
    return trt


def build_engine(
    onnx_path: Path,
    plan_path: Path,
    max_batch: int,
    max_source: int,
    max_target: int,
    fp16: bool,
    workspace_gib: float = 4.0,
) -> dict[str, Any]:
    """Parse ``onnx_path`` and write a serialised engine to ``plan_path``; returns build facts."""
    trt = _require_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    # TensorRT 10 networks are always explicit-batch; the flag only exists (and is needed) on 8.x.
    flags = 0
    if (
        hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH")
        and int(trt.__version__.split(".")[0]) < 10
    ):
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise RuntimeError("TensorRT could not parse the ONNX export:\n" + "\n".join(errors))

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    opt_batch = max(1, max_batch // 2)
    shapes = {
        "src_ids": ((1, 1), (opt_batch, max(1, max_source // 2)), (max_batch, max_source)),
        "tgt_ids": ((1, 1), (opt_batch, max(1, max_target // 2)), (max_batch, max_target)),
    }
    for i in range(network.num_inputs):
        name = network.get_input(i).name
        if name not in shapes:
            raise RuntimeError(f"unexpected network input {name!r}; expected {sorted(shapes)}")
        profile.set_shape(name, *shapes[name])
    config.add_optimization_profile(profile)

    t0 = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    build_s = time.perf_counter() - t0
    if serialized is None:
        raise RuntimeError("TensorRT build failed (see the log above)")
    plan_path.write_bytes(bytes(serialized))
    return {
        "tensorrt_version": trt.__version__,
        "build_seconds": round(build_s, 3),
        "engine_bytes": plan_path.stat().st_size,
        "fp16": fp16,
        "profile": {k: [list(s) for s in v] for k, v in shapes.items()},
    }


def check_engine(plan_path: Path, model: Any, batch: int, src_len: int, tgt_len: int) -> float:
    """Max |logits_trt - logits_torch| on one random batch, both on the current CUDA device."""
    import torch

    trt = _require_tensorrt()
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(plan_path.read_bytes())
    context = engine.create_execution_context()
    src, tgt = model.input_example(batch=batch, src_len=src_len, tgt_len=tgt_len)
    src, tgt = src.cuda().contiguous(), tgt.cuda().contiguous()
    with torch.inference_mode():
        expected = model(src, tgt).float()
    out = torch.empty_like(expected)
    tensors = {"src_ids": src, "tgt_ids": tgt, "logits": out}
    for name, tensor in tensors.items():
        if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
            context.set_input_shape(name, tuple(tensor.shape))
        context.set_tensor_address(name, tensor.data_ptr())
    stream = torch.cuda.current_stream()
    if not context.execute_async_v3(stream.cuda_stream):
        raise RuntimeError("TensorRT execution failed")
    stream.synchronize()
    return float((out - expected).abs().max())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--max-source", type=int, default=1024)
    parser.add_argument("--max-target", type=int, default=257)
    parser.add_argument("--fp16", action="store_true")
    args = parser.parse_args(argv)

    _require_tensorrt()  # fail fast, before the slow imports
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: TensorRT engines are built on the GPU machine only", file=sys.stderr)
        return 2
    from portalis_worker.model.translator import ByteTranslatorModel

    args.out_dir.mkdir(parents=True, exist_ok=True)
    model = ByteTranslatorModel.restore_from(str(args.checkpoint), map_location=torch.device("cuda"))
    model.eval()
    onnx_path = args.out_dir / "translator.onnx"
    t0 = time.perf_counter()
    model.export(str(onnx_path))
    export_s = time.perf_counter() - t0
    facts = build_engine(
        onnx_path,
        args.out_dir / "translator.plan",
        args.max_batch,
        args.max_source,
        args.max_target,
        args.fp16,
    )
    facts["onnx_export_seconds"] = round(export_s, 3)
    facts["max_abs_error_vs_torch"] = check_engine(args.out_dir / "translator.plan", model, 8, 100, 17)
    print(json.dumps(facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
