"""Table 4.6's counts (spec chapter4.md 12.2, 13.3): the thesis encoders built without weights reproduce the
thesis's parameters and image FLOPs; the mini stand-ins keep the backbones' order; the timing fields exist."""

import pytest
import torch

from retrieval_bench.studies.crossmodal.complexity import counted_parameters, model_complexity
from retrieval_bench.studies.crossmodal.sentence_encoders import BiLSTMText, ImageEncoder, mini_trunk
from retrieval_bench.vision.models.image_trunks import thesis_image_trunk


def thesis_text_encoder() -> BiLSTMText:
    return BiLSTMText(vocabulary=12_000, word_dim=512, units=512, out_dim=512)


@pytest.mark.parametrize("backbone, params_million, flops", [
    ("vgg16", 147.23, 3.09e10),
    ("mobilenet_v1", 14.60, 1.14e9),
    ("resnet152", 70.06, 2.30e10),
])
def test_thesis_encoders_reproduce_table_4_6(backbone, params_million, flops):
    torch.manual_seed(0)
    image_encoder = ImageEncoder(*thesis_image_trunk(backbone, None), out_dim=512)
    row = model_complexity(image_encoder, thesis_text_encoder(), torch.randn(1, 3, 224, 224), caption_length=12,
                           vocab_rows=12_000, warmup=0, repeats=1)
    assert row["params_million"] == pytest.approx(params_million, abs=0.005)
    assert row["params_million_actual_vocab"] == row["params_million"]  # the encoder already has 12,000 rows
    assert row["flops"] == row["flops_image"] == pytest.approx(flops, rel=0.01)
    # the text FC (1024 -> 512) seen by FlopCounterMode + the two LSTMs added analytically (1.0e8 for 12 tokens)
    assert row["flops_text"] == 2 * 1024 * 512 + 2 * 2 * 4 * 512 * 1024 * 12


def test_vocabulary_cap_counts_the_embedding_at_the_cap():
    image_encoder = ImageEncoder(*mini_trunk("mini_mobilenet", 96), out_dim=128)
    text_encoder = BiLSTMText(vocabulary=500, word_dim=64, units=64, out_dim=128)
    actual = counted_parameters(image_encoder, text_encoder)
    assert counted_parameters(image_encoder, text_encoder, vocab_rows=12_000) == actual + (12_000 - 500) * 64
    with_bn = sum(p.numel() for m in (image_encoder, text_encoder) for p in m.parameters())
    assert with_bn - actual == 2 * 2 * 128  # only the two heads' BatchNorm1d are left out


def test_mini_stand_ins_keep_the_backbones_order():
    text_encoder = BiLSTMText(vocabulary=100, word_dim=64, units=64, out_dim=128)
    params = {name: counted_parameters(ImageEncoder(*mini_trunk(name, 96), out_dim=128), text_encoder)
              for name in ("mini_vgg", "mini_resnet152", "mini_resnet50", "mini_mobilenet")}
    assert list(params) == sorted(params, key=params.get, reverse=True)


def test_recurrent_flops_agree_with_the_spec():
    mini = BiLSTMText(vocabulary=100, word_dim=64, units=64, out_dim=128)
    assert mini.recurrent_flops(7) == 917_504 == pytest.approx(9.2e5, rel=0.005)  # spec 13.3
    assert thesis_text_encoder().recurrent_flops(12) == pytest.approx(1.0e8, rel=0.01)  # spec 12.2 (d)


def test_timing_fields_and_modes_restored():
    image_encoder = ImageEncoder(*mini_trunk("mini_resnet50", 96), out_dim=128)
    text_encoder = BiLSTMText(vocabulary=100, word_dim=64, units=64, out_dim=128)
    row = model_complexity(image_encoder, text_encoder, torch.randn(4, 96), caption_length=7, warmup=1, repeats=3)
    assert row["inference_ms"] > 0 and row["inference_ms_std"] >= 0 and row["inference_ms_median"] > 0
    assert row["params_million_actual_vocab"] == row["params_million"]  # no vocab_rows: the encoder's own
    assert isinstance(row["device"], str) and row["device"] and row["threads"] == torch.get_num_threads()
    assert row["flops_image"] > 0 and row["flops_text"] == 2 * 128 * 128 + mini_text_lstm_flops(7)
    assert image_encoder.training and text_encoder.training


def mini_text_lstm_flops(tokens: int) -> int:
    return 2 * 2 * 4 * 64 * (64 + 64) * tokens
