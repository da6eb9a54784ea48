"""``TypeModel``: the NeMo ``ModelPT`` that predicts the types untyped Python leaves out.

Input: the hashed tokens of a slot's text (typer_features.py), ``ids[B, T]`` with 0 as padding.
Output: ``logits[B, C]`` over the type labels stored in the config (``labels``: annotation texts in
typeinfer's term language, e.g. ``int``, ``list[str]``, ``dict[str, int] | None``). The network is a
mean of token embeddings and a two-layer MLP: small (the checkpoint is a few MB), fast on a CPU,
and every op exports to ONNX and TensorRT. ``predict(texts, k)`` gives the top-k labels with
softmax scores.

Restoring follows ByteTranslatorModel's rule (translator.py): ``from_config_dict`` instantiates the
class our code names and only checks the checkpoint's ``target`` against it, so NeMo's target guard
stays on and a checkpoint never chooses which code runs; weights load with ``weights_only=True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from nemo.core import ModelPT
from nemo.core.classes.common import PretrainedModelInfo, UnsafeTargetError
from nemo.core.classes.exportable import Exportable
from nemo.core.neural_types import LogitsType, NeuralType, TokenIndex
from omegaconf import DictConfig, OmegaConf

from .typer_features import BUCKETS, PAD, batch_ids


def typer_config(
    labels: Sequence[str], dim: int = 64, hidden: int = 128, buckets: int = BUCKETS
) -> DictConfig:
    return OmegaConf.create({"labels": list(labels), "dim": dim, "hidden": hidden, "buckets": buckets})


class TypeModel(ModelPT, Exportable):  # type: ignore[misc]
    """Slot text (hashed tokens) in, a score per type label out."""

    def __init__(self, cfg: DictConfig, trainer: Any = None) -> None:
        super().__init__(cfg=cfg, trainer=trainer)
        self.labels: list[str] = [str(x) for x in self._cfg.labels]
        dim, hidden = int(self._cfg.dim), int(self._cfg.hidden)
        self.embed = torch.nn.Embedding(int(self._cfg.buckets), dim, padding_idx=PAD)
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, len(self.labels))
        )

    @classmethod
    def from_config_dict(cls, config: DictConfig, trainer: Any = None) -> TypeModel:
        """Instantiate ``cls`` itself; the checkpoint's ``target`` may only confirm it."""
        target = config.get("target") if isinstance(config, DictConfig | dict) else None
        expected = f"{cls.__module__}.{cls.__qualname__}"
        if target is not None and target != expected:
            raise UnsafeTargetError(f"checkpoint is for {target!r}; refusing to restore it as {expected!r}")
        return cls(cfg=config, trainer=trainer)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``logits[B, C]`` for ``ids[B, T]`` (PAD = 0 is padding). Also the export graph."""
        mask = ids.ne(PAD).unsqueeze(-1).to(self.embed.weight.dtype)
        summed = (self.embed(ids) * mask).sum(dim=1)
        mean = summed / mask.sum(dim=1).clamp(min=1.0)
        return self.mlp(mean)  # type: ignore[no-any-return]

    @torch.inference_mode()
    def predict(self, texts: Sequence[str], k: int) -> list[list[tuple[str, float]]]:
        """The top-``k`` labels of each text with their softmax probabilities, best first."""
        if not texts:
            return []
        was_training = self.training
        self.eval()
        try:
            device = self.embed.weight.device
            ids = torch.tensor(batch_ids(texts), dtype=torch.long, device=device)
            probs = torch.softmax(self.forward(ids), dim=-1)
            top = torch.topk(probs, min(k, len(self.labels)), dim=-1)
        finally:
            self.train(was_training)
        return [
            [(self.labels[int(i)], float(p)) for p, i in zip(row_p, row_i, strict=True)]
            for row_p, row_i in zip(top.values.cpu().tolist(), top.indices.cpu().tolist(), strict=True)
        ]

    # --- export (NeMo Exportable) ------------------------------------------------------------

    @property
    def input_types(self) -> dict[str, NeuralType]:
        return {"ids": NeuralType(("B", "T"), TokenIndex())}

    @property
    def output_types(self) -> dict[str, NeuralType]:
        return {"logits": NeuralType(("B", "D"), LogitsType())}

    def input_example(self, batch: int = 2, length: int = 9) -> tuple[torch.Tensor, ...]:
        gen = torch.Generator().manual_seed(0)
        ids = torch.randint(1, int(self._cfg.buckets), (batch, length), generator=gen)
        ids[0, length // 2 :] = PAD  # a padded row, so the mask is traced too
        return (ids.to(self.embed.weight.device),)

    def dynamic_shapes_for_export(self, use_dynamo: bool = False) -> dict[str, dict[int, str]]:
        return {"ids": {0: "batch", 1: "tokens"}, "logits": {0: "batch"}}

    # --- ModelPT abstract methods: training runs in model_repo/tools/train_typer.py -----------

    def setup_training_data(self, train_data_config: DictConfig | dict[str, Any]) -> None:
        self._train_dl = None

    def setup_validation_data(self, val_data_config: DictConfig | dict[str, Any]) -> None:
        self._validation_dl = None

    @classmethod
    def list_available_models(cls) -> list[PretrainedModelInfo]:
        """No published checkpoints: ours is trained here (make train-typer) and committed."""
        return []
