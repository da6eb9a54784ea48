"""A small pre-LayerNorm encoder-decoder transformer in plain torch ops.

Attention is written out (matmul, masked softmax) instead of ``nn.MultiheadAttention`` so the
exported ONNX graph has only MatMul/Softmax/LayerNorm-level ops that TensorRT parses, with no
eval-mode "fast path" kernels that the tracer cannot see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

NEG_INF = -1e9


@dataclass(frozen=True)
class TransformerShape:
    """Sizes of the network; stored in the ``.nemo`` config so a checkpoint rebuilds itself."""

    vocab_size: int
    d_model: int = 64
    n_heads: int = 4
    enc_layers: int = 2
    dec_layers: int = 2
    d_ff: int = 128
    max_positions: int = 1024

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")


class Attention(nn.Module):
    """Multi-head attention; ``bias`` is additive ([B or 1, 1, Tq or 1, Tk]) with -1e9 where masked."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, tq, d = x.shape
        tk = memory.shape[1]
        q = self.q(x).view(b, tq, self.n_heads, self.d_head).transpose(1, 2)
        k, v = self.kv(memory).view(b, tk, 2, self.n_heads, self.d_head).permute(2, 0, 3, 1, 4).unbind(0)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.d_head)) + bias
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v)
        return self.out(ctx.transpose(1, 2).reshape(b, tq, d))  # type: ignore[no-any-return]


class FeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # type: ignore[no-any-return]


class EncoderLayer(nn.Module):
    def __init__(self, shape: TransformerShape) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(shape.d_model)
        self.attn = Attention(shape.d_model, shape.n_heads)
        self.norm2 = nn.LayerNorm(shape.d_model)
        self.ff = FeedForward(shape.d_model, shape.d_ff)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, bias)
        out: torch.Tensor = x + self.ff(self.norm2(x))
        return out


class DecoderLayer(nn.Module):
    def __init__(self, shape: TransformerShape) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(shape.d_model)
        self.self_attn = Attention(shape.d_model, shape.n_heads)
        self.norm2 = nn.LayerNorm(shape.d_model)
        self.cross_attn = Attention(shape.d_model, shape.n_heads)
        self.norm3 = nn.LayerNorm(shape.d_model)
        self.ff = FeedForward(shape.d_model, shape.d_ff)

    def forward(
        self, y: torch.Tensor, memory: torch.Tensor, self_bias: torch.Tensor, cross_bias: torch.Tensor
    ) -> torch.Tensor:
        h = self.norm1(y)
        y = y + self.self_attn(h, h, self_bias)
        y = y + self.cross_attn(self.norm2(y), memory, cross_bias)
        out: torch.Tensor = y + self.ff(self.norm3(y))
        return out


def padding_bias(pad_mask: torch.Tensor) -> torch.Tensor:
    """[B, Tk] bool (True = padding) -> additive [B, 1, 1, Tk] float bias."""
    return pad_mask[:, None, None, :].to(torch.float32) * NEG_INF


def causal_bias(length: int, device: torch.device) -> torch.Tensor:
    """[1, 1, T, T] additive bias that hides future positions."""
    future = torch.ones(length, length, device=device, dtype=torch.bool).triu(1)
    return future[None, None].to(torch.float32) * NEG_INF


class Seq2SeqTransformer(nn.Module):
    """Byte-in, byte-out encoder-decoder; token and position embeddings shared by both sides."""

    def __init__(self, shape: TransformerShape) -> None:
        super().__init__()
        self.shape = shape
        self.embed = nn.Embedding(shape.vocab_size, shape.d_model)
        self.positions = nn.Embedding(shape.max_positions, shape.d_model)
        self.encoder = nn.ModuleList(EncoderLayer(shape) for _ in range(shape.enc_layers))
        self.decoder = nn.ModuleList(DecoderLayer(shape) for _ in range(shape.dec_layers))
        self.enc_norm = nn.LayerNorm(shape.d_model)
        self.dec_norm = nn.LayerNorm(shape.d_model)
        self.lm_head = nn.Linear(shape.d_model, shape.vocab_size)

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], device=ids.device)
        return self.embed(ids) * math.sqrt(self.shape.d_model) + self.positions(pos)[None]  # type: ignore[no-any-return]

    def encode(self, src_ids: torch.Tensor, src_pad: torch.Tensor) -> torch.Tensor:
        """Encoder states [B, S, D]; computed once per batch, reused at every decoding step."""
        x = self._embed(src_ids)
        bias = padding_bias(src_pad)
        for layer in self.encoder:
            x = layer(x, bias)
        return self.enc_norm(x)  # type: ignore[no-any-return]

    def decode(self, tgt_ids: torch.Tensor, memory: torch.Tensor, src_pad: torch.Tensor) -> torch.Tensor:
        """Logits [B, T, V] for every target prefix position (teacher forcing / one greedy step)."""
        y = self._embed(tgt_ids)
        self_bias = causal_bias(tgt_ids.shape[1], tgt_ids.device)
        cross_bias = padding_bias(src_pad)
        for layer in self.decoder:
            y = layer(y, memory, self_bias, cross_bias)
        return self.lm_head(self.dec_norm(y))  # type: ignore[no-any-return]

    def forward(self, src_ids: torch.Tensor, src_pad: torch.Tensor, tgt_ids: torch.Tensor) -> torch.Tensor:
        return self.decode(tgt_ids, self.encode(src_ids, src_pad), src_pad)
