"""Triton Python backend for the typer: one forward pass per dynamic batch, top-k types per row.

The slot texts are hashed into token ids here (typer_features.batch_ids, the same function training
used), the model (portalis_worker.model.typer.TypeModel, installed in the sidecar image) scores every
label, and each row answers its `top_k` labels with their softmax scores, best first.
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

        from portalis_worker.model.typer import TypeModel

        config = json.loads(args["model_config"])
        params = _parameters(config)
        checkpoint = Path(params.get("checkpoint", "typer.nemo"))
        if not checkpoint.is_absolute():
            checkpoint = Path(args["model_repository"]) / args["model_version"] / checkpoint
        if not checkpoint.is_file():
            raise pb_utils.TritonModelException(f"typer checkpoint {checkpoint} not found")
        self.top_k = int(params.get("top_k", "4"))
        dims = {o["name"]: list(o["dims"]) for o in config["output"]}
        if dims.get("TYPES") != [self.top_k] or dims.get("SCORES") != [self.top_k]:
            raise pb_utils.TritonModelException(
                f"output dims {dims} must be [{self.top_k}] (parameter top_k)"
            )
        if args["model_instance_kind"] == "GPU":
            device = torch.device(f"cuda:{args['model_instance_device_id']}")
        else:
            device = torch.device("cpu")
            # The network is tiny: intra-op threads only spin against the server's and the
            # clients' threads (measured: batched throughput halves with torch's default threads).
            torch.set_num_threads(int(params.get("cpu_threads", "1")))
        self.model = TypeModel.restore_from(str(checkpoint), map_location=device)
        self.model.eval()
        if len(self.model.labels) < self.top_k:
            raise pb_utils.TritonModelException(f"the checkpoint has fewer than top_k={self.top_k} labels")
        pb_utils.Logger.log_info(f"typer: {checkpoint.name} on {device}, {len(self.model.labels)} labels")

    def execute(self, requests: list[Any]) -> list[Any]:
        texts: list[str] = []
        counts: list[int] = []
        for request in requests:
            rows = pb_utils.get_input_tensor_by_name(request, "SLOT").as_numpy().reshape(-1)
            texts.extend(r.decode("utf-8", "replace") if isinstance(r, bytes) else str(r) for r in rows)
            counts.append(rows.size)
        try:
            ranked = self.model.predict(texts, self.top_k)
        except Exception as exc:  # one bad batch must not take the model down; each caller sees why
            error = pb_utils.TritonError(f"type prediction failed: {type(exc).__name__}: {exc}")
            return [pb_utils.InferenceResponse(error=error) for _ in requests]
        responses = []
        start = 0
        for n in counts:
            rows = ranked[start : start + n]
            types = np.array([[label.encode() for label, _ in row] for row in rows], dtype=np.object_)
            scores = np.array([[score for _, score in row] for row in rows], dtype=np.float32)
            responses.append(
                pb_utils.InferenceResponse(
                    output_tensors=[pb_utils.Tensor("TYPES", types), pb_utils.Tensor("SCORES", scores)]
                )
            )
            start += n
        return responses

    def finalize(self) -> None:
        self.model = None
