"""Triton Python backend for the embedder: portalis_kernels featurize + MinHash behind gRPC.

The kernels batch by themselves (one packed buffer for all rows), so ``execute`` packs every
request of a dynamic batch into one call per output and splits the rows back. KIND_CPU instances
always use the NumPy path; KIND_GPU instances use the ``kernels_backend`` parameter ("cuda": fail
at load when cupy or the device is missing rather than quietly running on the CPU).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils


def _parameters(model_config: dict[str, Any]) -> dict[str, str]:
    return {k: v["string_value"] for k, v in model_config.get("parameters", {}).items()}


def _output_dim(model_config: dict[str, Any], name: str) -> int:
    for output in model_config["output"]:
        if output["name"] == name:
            return int(output["dims"][-1])
    raise pb_utils.TritonModelException(f"embedder config has no output {name}")


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        from portalis_kernels.backend import resolve_backend
        from portalis_kernels.featurize import FeatureConfig
        from portalis_kernels.minhash import MinHashConfig

        config = json.loads(args["model_config"])
        params = _parameters(config)
        self.features = FeatureConfig(
            dim=int(params.get("dim", "1024")),
            ngram_range=(int(params.get("ngram_min", "1")), int(params.get("ngram_max", "3"))),
            signed=params.get("signed", "false").lower() == "true",
            normalize=params.get("normalize", "true").lower() == "true",
        )
        self.minhash = MinHashConfig(
            num_perm=int(params.get("num_perm", "128")),
            shingle=int(params.get("shingle", "5")),
            seed=int(params.get("seed", "1")),
        )
        for name, want in (("EMBEDDING", self.features.dim), ("MINHASH", self.minhash.num_perm)):
            if _output_dim(config, name) != want:
                raise pb_utils.TritonModelException(
                    f"output {name} dims {_output_dim(config, name)} != parameter value {want}"
                )
        requested = params.get("kernels_backend", "auto")
        self.backend = "numpy" if args["model_instance_kind"] == "CPU" else requested
        if self.backend not in ("auto", "numpy", "cuda"):
            raise pb_utils.TritonModelException(f"kernels_backend must be auto|numpy|cuda, not {requested}")
        # Resolve now, so a GPU instance without cupy/device fails at load, not on the first request.
        resolved = resolve_backend(self.backend, "featurize")
        pb_utils.Logger.log_info(f"embedder: kernels backend {self.backend} -> {resolved}")

    def execute(self, requests: list[Any]) -> list[Any]:
        from portalis_kernels.featurize import featurize
        from portalis_kernels.minhash import minhash_signatures
        from portalis_kernels.packing import pack_units

        units: list[bytes] = []
        counts: list[int] = []
        wanted: set[str] = set()
        for request in requests:
            rows = pb_utils.get_input_tensor_by_name(request, "SOURCE").as_numpy().reshape(-1)
            units.extend(r if isinstance(r, bytes) else str(r).encode() for r in rows)
            counts.append(rows.size)
            wanted.update(request.requested_output_names() or ("EMBEDDING", "MINHASH"))
        try:
            packed = pack_units(units)
            results: dict[str, np.ndarray] = {}
            if "EMBEDDING" in wanted:
                results["EMBEDDING"] = featurize(packed, self.features, backend=self.backend)
            if "MINHASH" in wanted:
                results["MINHASH"] = minhash_signatures(packed, self.minhash, backend=self.backend)
        except Exception as exc:
            error = pb_utils.TritonError(f"embedding failed: {type(exc).__name__}: {exc}")
            return [pb_utils.InferenceResponse(error=error) for _ in requests]
        responses = []
        start = 0
        for request, n in zip(requests, counts, strict=True):
            names = request.requested_output_names() or tuple(results)
            tensors = [pb_utils.Tensor(name, results[name][start : start + n]) for name in names]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += n
        return responses
