"""Byte-level vocabulary: 256 byte values plus PAD, BOS and EOS.

Bytes need no trained tokenizer, so a randomly initialised checkpoint made at test time exercises
the real loading and decoding code; any Python source (and any Rust output) is representable.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

PAD_ID = 256
BOS_ID = 257
EOS_ID = 258
VOCAB_SIZE = 259


def encode_batch(sources: Sequence[bytes], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded int64 ids ``[B, T]`` and a padding mask (True where padded).

    Sources longer than ``max_len`` bytes are truncated: the caller decides the budget (the Triton
    config's ``max_source_bytes``). ``T`` is at least 1 so an all-empty batch still has a shape.
    """
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    cut = [s[:max_len] for s in sources]
    width = max(1, max((len(s) for s in cut), default=0))
    ids = torch.full((len(cut), width), PAD_ID, dtype=torch.long)
    for row, data in enumerate(cut):
        if data:
            ids[row, : len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8).long()
    return ids, ids.eq(PAD_ID)


def decode_ids(ids: Sequence[int]) -> bytes:
    """Bytes of generated ids up to the first EOS; PAD/BOS never reach the output."""
    out = bytearray()
    for i in ids:
        if i == EOS_ID:
            break
        if 0 <= i < 256:
            out.append(i)
    return bytes(out)
