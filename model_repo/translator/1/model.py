"""Triton Python backend for the translator: one greedy decode per dynamic batch.

Triton's dynamic batcher hands ``execute`` every request it gathered (up to ``max_batch_size`` rows,
highest priority level first); we decode all their rows together and split the outputs back per
request. Settings come from the config's ``parameters`` (checkpoint, max_new_tokens,
max_source_bytes), the device from the instance group (KIND_GPU -> cuda:<id>, KIND_CPU -> cpu).
The model code itself lives in ``portalis_worker.model`` (installed in the sidecar image).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils


def _parameters(model_config: dict[str, Any]) -> dict[str, str]:
    return {k: v["string_value"] for k, v in model_config.get("parameters", {}).items()}


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        import torch

        from portalis_worker.model.translator import ByteTranslatorModel

        params = _parameters(json.loads(args["model_config"]))
        checkpoint = Path(params.get("checkpoint", "translator.nemo"))
        if not checkpoint.is_absolute():
            checkpoint = Path(args["model_repository"]) / args["model_version"] / checkpoint
        if not checkpoint.is_file():
            raise pb_utils.TritonModelException(
                f"translator checkpoint {checkpoint} not found (config parameter 'checkpoint')"
            )
        self.max_new_tokens = int(params.get("max_new_tokens", "256"))
        self.max_source_bytes = int(params.get("max_source_bytes", "1024"))
        if args["model_instance_kind"] == "GPU":
            device = torch.device(f"cuda:{args['model_instance_device_id']}")
        else:
            device = torch.device("cpu")
        self.model = ByteTranslatorModel.restore_from(str(checkpoint), map_location=device)
        self.model.eval()
        pb_utils.Logger.log_info(
            f"translator: {checkpoint.name} on {device}, max_new_tokens={self.max_new_tokens}, "
            f"max_source_bytes={self.max_source_bytes}"
        )

    def execute(self, requests: list[Any]) -> list[Any]:
        sources: list[bytes] = []
        counts: list[int] = []
        for request in requests:
            rows = pb_utils.get_input_tensor_by_name(request, "SOURCE").as_numpy().reshape(-1)
            sources.extend(r if isinstance(r, bytes) else str(r).encode() for r in rows)
            counts.append(rows.size)
        try:
            outputs = self.model.translate(sources, self.max_new_tokens, self.max_source_bytes)
        except Exception as exc:  # one bad batch must not take the model down; each caller sees why
            error = pb_utils.TritonError(f"translation failed: {type(exc).__name__}: {exc}")
            return [pb_utils.InferenceResponse(error=error) for _ in requests]
        responses = []
        start = 0
        for n in counts:
            rust = np.array(outputs[start : start + n], dtype=np.object_).reshape(n, 1)
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("RUST", rust)]))
            start += n
        return responses

    def finalize(self) -> None:
        self.model = None
