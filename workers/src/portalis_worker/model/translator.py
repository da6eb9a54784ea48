"""``ByteTranslatorModel``: the NeMo ``ModelPT`` that Triton's translator serves.

What NeMo gives us: ``.nemo`` save/restore (config + weights in one tarball), ONNX export through
``Exportable`` and the trainer plumbing for the training issue to come. Decoding is batched greedy
search with a per-request token budget and EOS; generation runs in host code around the network, so
the same loop drives PyTorch today and a TensorRT engine of the exported step network later.

Restore and NeMo's target guard
-------------------------------
``ModelPT.__init__`` writes ``target: <module>.<class>`` into the config, and
``Serialization.from_config_dict`` imports that string only if it starts with an approved prefix
(``nemo.collections.`` ...); ours does not, so plain NeMo refuses our checkpoints. We do not widen
NeMo's module-level allow-lists (that would trust a whole namespace for every restore in the
process) and do not switch the check off. Instead ``ByteTranslatorModel.from_config_dict``
instantiates ``cls`` -- the class the *calling code* named by writing
``ByteTranslatorModel.restore_from(path)`` -- and only compares the checkpoint's ``target`` with it,
refusing a mismatch. A checkpoint can therefore never choose which code runs; our config holds no
``_target_`` nodes, so nothing else is instantiated from it; and NeMo's own guard still applies to
every other class, including ``ModelPT.restore_from`` on our file. Weights load through NeMo's
``torch.load`` with torch's default ``weights_only=True``, so the pickle cannot run code either.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch
from nemo.core import ModelPT
from nemo.core.classes.common import PretrainedModelInfo, UnsafeTargetError
from nemo.core.classes.exportable import Exportable
from nemo.core.neural_types import LogitsType, NeuralType, TokenIndex
from omegaconf import DictConfig, OmegaConf

from .byte_codec import BOS_ID, EOS_ID, PAD_ID, VOCAB_SIZE, decode_ids, encode_batch
from .transformer import Seq2SeqTransformer, TransformerShape

#: The class path ``ModelPT`` records as ``target``; the only one ``from_config_dict`` accepts.
TARGET = f"{__name__}.ByteTranslatorModel"


def tiny_config(**overrides: int) -> DictConfig:
    """Config of the test-size model (2+2 layers, d_model 64); ``overrides`` change any size field."""
    shape = dataclasses.replace(TransformerShape(vocab_size=VOCAB_SIZE), **overrides)
    return OmegaConf.create(dataclasses.asdict(shape))


def greedy_decode(
    step: Callable[[torch.Tensor], torch.Tensor],
    batch: int,
    max_new_tokens: int,
    device: torch.device,
) -> torch.Tensor:
    """Generated ids ``[B, <= max_new_tokens]``: argmax at each step until every row emitted EOS.

    ``step(prefix[B, t]) -> logits[B, V]`` for the next position. Finished rows are padded with
    PAD, so row lengths differ only after their EOS; the loop stops early once all rows finished.
    """
    tokens = torch.full((batch, 1), BOS_ID, dtype=torch.long, device=device)
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    for _ in range(max_new_tokens):
        nxt = step(tokens).argmax(dim=-1)
        nxt = torch.where(finished, torch.full_like(nxt, PAD_ID), nxt)
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)
        finished |= nxt.eq(EOS_ID)
        if bool(finished.all()):
            break
    return tokens[:, 1:]


class ByteTranslatorModel(ModelPT, Exportable):  # type: ignore[misc]
    """Python source bytes in, Rust source bytes out."""

    def __init__(self, cfg: DictConfig, trainer: Any = None) -> None:
        super().__init__(cfg=cfg, trainer=trainer)
        fields = {f.name for f in dataclasses.fields(TransformerShape)}
        self.shape = TransformerShape(**{k: int(v) for k, v in self._cfg.items() if k in fields})
        self.net = Seq2SeqTransformer(self.shape)

    @classmethod
    def from_config_dict(cls, config: DictConfig, trainer: Any = None) -> ByteTranslatorModel:
        """Instantiate ``cls`` itself; the checkpoint's ``target`` may only confirm it (module docstring)."""
        target = config.get("target") if isinstance(config, DictConfig | dict) else None
        expected = f"{cls.__module__}.{cls.__qualname__}"
        if target is not None and target != expected:
            raise UnsafeTargetError(f"checkpoint is for {target!r}; refusing to restore it as {expected!r}")
        return cls(cfg=config, trainer=trainer)

    # --- inference ---------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def forward(self, src_ids: torch.Tensor, tgt_ids: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits ``[B, T, V]``; PAD in ``src_ids`` marks padding. Also the export graph."""
        return self.net(src_ids, src_ids.eq(PAD_ID), tgt_ids)  # type: ignore[no-any-return]

    @torch.inference_mode()
    def generate_ids(self, src_ids: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
        """Batched greedy decoding; the encoder runs once, the decoder once per new token."""
        limit = self.shape.max_positions
        if src_ids.shape[1] > limit or max_new_tokens + 1 > limit:
            raise ValueError(f"source ({src_ids.shape[1]}) and max_new_tokens + 1 must be <= {limit}")
        src_ids = src_ids.to(self.device)
        src_pad = src_ids.eq(PAD_ID)
        memory = self.net.encode(src_ids, src_pad)

        def step(prefix: torch.Tensor) -> torch.Tensor:
            return self.net.decode(prefix, memory, src_pad)[:, -1, :]

        return greedy_decode(step, src_ids.shape[0], max_new_tokens, self.device)

    def translate(self, sources: Sequence[bytes], max_new_tokens: int, max_source_bytes: int) -> list[bytes]:
        """One output per source, in order; sources are truncated to ``max_source_bytes``."""
        if not sources:
            return []
        was_training = self.training
        self.eval()
        try:
            ids, _ = encode_batch(sources, max_source_bytes)
            out = self.generate_ids(ids, max_new_tokens).cpu().tolist()
        finally:
            self.train(was_training)
        return [decode_ids(row) for row in out]

    # --- export (NeMo Exportable) ------------------------------------------------------------

    @property
    def input_types(self) -> dict[str, NeuralType]:
        return {
            "src_ids": NeuralType(("B", "T"), TokenIndex()),
            "tgt_ids": NeuralType(("B", "T"), TokenIndex()),
        }

    @property
    def output_types(self) -> dict[str, NeuralType]:
        return {"logits": NeuralType(("B", "T", "D"), LogitsType())}

    def input_example(self, batch: int = 2, src_len: int = 12, tgt_len: int = 5) -> tuple[torch.Tensor, ...]:
        """Trace inputs; lengths differ so the exported graph keeps source and target axes apart."""
        gen = torch.Generator().manual_seed(0)
        src = torch.randint(0, 256, (batch, src_len), generator=gen)
        src[0, src_len // 2 :] = PAD_ID  # a padded row, so the mask path is traced too
        tgt = torch.randint(0, 256, (batch, tgt_len), generator=gen)
        tgt[:, 0] = BOS_ID
        return src.to(self.device), tgt.to(self.device)

    def dynamic_shapes_for_export(self, use_dynamo: bool = False) -> dict[str, dict[int, str]]:
        """Batch, source and target lengths all dynamic, with distinct names (NeMo would merge "T")."""
        return {
            "src_ids": {0: "batch", 1: "src_len"},
            "tgt_ids": {0: "batch", 1: "tgt_len"},
            "logits": {0: "batch", 1: "tgt_len"},
        }

    # --- ModelPT abstract methods: training is a later issue ----------------------------------

    def setup_training_data(self, train_data_config: DictConfig | dict[str, Any]) -> None:
        self._train_dl = None

    def setup_validation_data(self, val_data_config: DictConfig | dict[str, Any]) -> None:
        self._validation_dl = None

    @classmethod
    def list_available_models(cls) -> list[PretrainedModelInfo]:
        """No published checkpoints: models come from our own training runs (or tests)."""
        return []
