"""ByteTranslatorModel: .nemo round trip, NeMo's target guard, batched greedy decoding, ONNX export."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("nemo.core", reason="nemo_toolkit[core] is not installed (the 'serving' extra)")

import torch

from portalis_worker.model.byte_codec import BOS_ID, EOS_ID, PAD_ID, VOCAB_SIZE, decode_ids, encode_batch
from portalis_worker.model.checkpoints import make_tiny_checkpoint
from portalis_worker.model.translator import ByteTranslatorModel, greedy_decode, tiny_config

SOURCES = [b"def add(a, b):\n    return a + b\n", b"", b"print('hi')", "x = 'é'\n".encode()]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.nemo", seed=3)


@pytest.fixture(scope="module")
def model(checkpoint: Path) -> ByteTranslatorModel:
    return ByteTranslatorModel.restore_from(str(checkpoint), map_location=torch.device("cpu"))


def test_tiny_config_is_two_plus_two_layers_d64() -> None:
    cfg = tiny_config()
    assert (cfg.enc_layers, cfg.dec_layers, cfg.d_model, cfg.vocab_size) == (2, 2, 64, VOCAB_SIZE)


def test_save_restore_round_trip_keeps_weights_and_outputs(tmp_path: Path) -> None:
    torch.manual_seed(11)
    original = ByteTranslatorModel(tiny_config())
    path = tmp_path / "m.nemo"
    original.save_to(str(path))
    restored = ByteTranslatorModel.restore_from(str(path), map_location=torch.device("cpu"))
    assert isinstance(restored, ByteTranslatorModel)
    for (name, a), (_, b) in zip(original.state_dict().items(), restored.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert restored.translate(SOURCES, 16, 256) == original.translate(SOURCES, 16, 256)


def test_nemo_base_class_still_refuses_our_checkpoint(checkpoint: Path) -> None:
    """Our exception is scoped to our class: NeMo's guard still blocks the generic entry point."""
    from nemo.core import ModelPT
    from nemo.core.classes.common import UnsafeTargetError

    with pytest.raises(UnsafeTargetError):
        ModelPT.restore_from(str(checkpoint))


def test_checkpoint_for_another_class_is_refused(checkpoint: Path) -> None:
    from nemo.core.classes.common import UnsafeTargetError

    cfg = ByteTranslatorModel.restore_from(str(checkpoint), return_config=True)
    cfg.target = "os.system"
    with pytest.raises(UnsafeTargetError, match=r"os\.system"):
        ByteTranslatorModel.from_config_dict(cfg)


def test_restore_is_deterministic_across_loads(checkpoint: Path, model: ByteTranslatorModel) -> None:
    again = ByteTranslatorModel.restore_from(str(checkpoint), map_location=torch.device("cpu"))
    assert again.translate(SOURCES, 12, 256) == model.translate(SOURCES, 12, 256)


def test_batched_decoding_shapes_and_batch_independence(model: ByteTranslatorModel) -> None:
    ids, pad = encode_batch(SOURCES, 512)
    assert ids.shape == pad.shape == (len(SOURCES), max(len(s) for s in SOURCES))
    out = model.generate_ids(ids, max_new_tokens=9)
    assert out.shape[0] == len(SOURCES)
    assert 1 <= out.shape[1] <= 9
    # A row's output does not depend on the rest of the batch (padding is masked everywhere).
    alone = [model.translate([s], 9, 512)[0] for s in SOURCES]
    assert model.translate(SOURCES, 9, 512) == alone


def test_max_new_tokens_bounds_output_length(model: ByteTranslatorModel) -> None:
    for limit in (1, 5, 20):
        assert all(len(o) <= limit for o in model.translate(SOURCES, limit, 512))
    assert model.translate([], 5, 512) == []


def test_source_is_truncated_to_max_source_bytes(model: ByteTranslatorModel) -> None:
    long = b"a = 1\n" * 100
    assert model.translate([long], 8, 32) == model.translate([long[:32]], 8, 32)


def test_greedy_decode_stops_each_row_at_eos_and_pads_after() -> None:
    eos_at = torch.tensor([0, 2, 5])  # row r emits EOS at step eos_at[r]

    def step(prefix: torch.Tensor) -> torch.Tensor:
        t = prefix.shape[1] - 1
        logits = torch.zeros(3, VOCAB_SIZE)
        logits[:, ord("x")] = 1.0
        logits[eos_at == t, EOS_ID] = 2.0
        return logits

    out = greedy_decode(step, 3, max_new_tokens=10, device=torch.device("cpu"))
    assert out.shape == (3, 6)  # stops once the last row emitted EOS, not at 10
    assert [decode_ids(r) for r in out.tolist()] == [b"", b"xx", b"xxxxx"]
    assert out[0, 1:].eq(PAD_ID).all()


def test_eos_biased_checkpoint_translates_to_empty(tmp_path: Path) -> None:
    path = make_tiny_checkpoint(tmp_path / "eos.nemo", eos_bias=100.0)
    m = ByteTranslatorModel.restore_from(str(path), map_location=torch.device("cpu"))
    assert m.translate(SOURCES, 30, 512) == [b""] * len(SOURCES)


def test_codec_round_trip_and_special_ids() -> None:
    ids, pad = encode_batch([b"ab", b"c"], 8)
    assert ids.tolist() == [[97, 98], [99, PAD_ID]]
    assert pad.tolist() == [[False, False], [False, True]]
    assert decode_ids([104, 105, EOS_ID, 106]) == b"hi"
    assert decode_ids([BOS_ID, 104, PAD_ID]) == b"h"


def test_onnx_export_through_nemo_matches_torch(model: ByteTranslatorModel, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    path = tmp_path / "translator.onnx"
    model.export(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["src_ids", "tgt_ids"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    # Shapes other than the trace example: the batch and both lengths are dynamic.
    src, tgt = model.input_example(batch=3, src_len=17, tgt_len=4)
    expected = model(src, tgt).detach().numpy()
    (got,) = session.run(None, {"src_ids": src.numpy(), "tgt_ids": tgt.numpy()})
    assert got.shape == (3, 4, VOCAB_SIZE)
    assert abs(got - expected).max() < 1e-4
