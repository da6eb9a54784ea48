"""Create randomly initialised ``.nemo`` checkpoints: real save/load code, small data, no model hub."""

from __future__ import annotations

from pathlib import Path

import torch

from .translator import ByteTranslatorModel, tiny_config


def make_tiny_checkpoint(path: Path, seed: int = 0, eos_bias: float = 0.0, **sizes: int) -> Path:
    """Write a tiny random ``ByteTranslatorModel`` to ``path`` (a ``.nemo`` file) and return it.

    ``seed`` makes the weights (and so every translation) reproducible. ``eos_bias`` > 0 raises the
    EOS logit so decoding stops early; tests use it to exercise the EOS path. ``sizes`` override
    ``TransformerShape`` fields (d_model, enc_layers, ...).
    """
    torch.manual_seed(seed)
    model = ByteTranslatorModel(tiny_config(**sizes))
    if eos_bias:
        from .byte_codec import EOS_ID

        with torch.no_grad():
            model.net.lm_head.bias[EOS_ID] += eos_bias
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save_to(str(path))
    return path
