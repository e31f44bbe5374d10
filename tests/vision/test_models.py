import socket

import pytest
import torch
from torchvision.models import googlenet

from retrieval_bench.vision.models import EmbeddingNet, get_backbone, weights
from retrieval_bench.vision.models.googlenet import GoogLeNetTrunk


def test_unknown_backbone_lists_the_known_ones():
    with pytest.raises(KeyError, match="known backbones: .*bn_inception.*googlenet.*small_convnet"):
        get_backbone("resnet")


def test_embedding_is_l2_normalised_and_logits_match_classes():
    model = EmbeddingNet("small_convnet", 16, 5).eval()
    embedding, logits = model(torch.rand(3, 3, 32, 32))
    assert embedding.shape == (3, 16) and logits.shape == (3, 5)
    assert torch.allclose(embedding.norm(dim=1), torch.ones(3), atol=1e-5)


def test_googlenet_trunk_loads_torchvision_imagenet_state_dict_and_gives_1024_channels():
    trunk = GoogLeNetTrunk()
    reference = googlenet(weights=None, aux_logits=False, init_weights=True).state_dict()
    trunk.load_imagenet(reference)  # the classifier (fc) is dropped, everything else loads strictly
    assert torch.equal(trunk.conv1.conv.weight, reference["conv1.conv.weight"])
    assert trunk.eval()(torch.rand(1, 3, 224, 224)).shape == (1, 1024, 7, 7)


def test_bn_inception_input_is_bgr_0_255_minus_caffe_means():
    model = EmbeddingNet("bn_inception", 8, 2)
    white = torch.ones(1, 3, 2, 2)
    converted = model.normalise_input(white)
    assert converted[0, :, 0, 0].tolist() == pytest.approx([255 - 104, 255 - 117, 255 - 128])


def test_offline_weights_download_names_url_and_destination(tmp_path, monkeypatch):
    with socket.socket() as s:  # a local port that refuses at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = get_backbone("googlenet")
    monkeypatch.setitem(weights.__dict__, "get_backbone",
                        lambda name: spec.__class__(**{**spec.__dict__,
                                                       "weights_url": f"http://127.0.0.1:{port}/googlenet-1378be20.pth"}))
    dest = tmp_path / "googlenet-1378be20.pth"
    with pytest.raises(weights.WeightsError, match=f"put it at {dest}"):
        weights.fetch_imagenet_weights("googlenet", dest)
    assert not dest.exists()


def test_synthetic_trunk_of_another_backbone_is_refused(tmp_path):
    path = tmp_path / "trunk.pt"
    torch.save({"trunk": {}, "backbone": "googlenet"}, path)
    with pytest.raises(weights.WeightsError, match="googlenet trunk"):
        weights.load_trunk(EmbeddingNet("small_convnet", 8, 2), path)


def test_bn_inception_weights_with_1_x_c_vectors_load(tmp_path):
    model = EmbeddingNet("bn_inception", 8, 2)
    caffe_style = {k: v.unsqueeze(0) if k.endswith("_bn.weight") else v
                   for k, v in model.trunk.state_dict().items()}
    path = tmp_path / "bn_inception.pth"
    torch.save(caffe_style, path)
    weights.load_trunk(model, path)
    assert model.trunk.state_dict()["conv1_7x7_s2_bn.weight"].dim() == 1


@pytest.mark.parametrize("backbone", ["small_convnet", "small_convnet_half"])
def test_channels_last_changes_the_layout_not_the_outputs(backbone):
    torch.manual_seed(0)
    model = EmbeddingNet(backbone, 16, 5).eval()
    images = torch.rand(4, 3, 32, 32)
    embedding, logits = model(images)
    model.channels_last()
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not conv.weight.is_contiguous()  # really NHWC, not a no-op
    embedding_cl, logits_cl = model(images)
    torch.testing.assert_close(embedding_cl, embedding, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(logits_cl, logits, atol=1e-5, rtol=1e-4)
    restored = EmbeddingNet(backbone, 16, 5).eval()
    restored.load_state_dict(model.state_dict())  # a channels-last checkpoint loads into a default model
    torch.testing.assert_close(restored(images)[0], embedding, atol=1e-5, rtol=1e-4)


def test_mixed_precision_runs_the_network_in_bfloat16_and_returns_float32():
    """The trunk runs under autocast; embeddings and logits come back float32,
    so the losses computed from them (batch-hard mining included) are float32."""
    from retrieval_bench.studies.incremental import losses

    torch.manual_seed(0)
    model = EmbeddingNet("small_convnet_half", 16, 4).train()
    images, labels = torch.rand(8, 3, 32, 32), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    reference, _ = model(images)
    model.mixed_precision(torch.bfloat16)
    seen = []
    hook = model.trunk.register_forward_hook(lambda module, args, output: seen.append(output.dtype))
    embedding, logits = model(images)
    hook.remove()
    assert seen == [torch.bfloat16]  # the trunk really ran in bfloat16
    assert embedding.dtype == logits.dtype == torch.float32
    assert losses.triplet(embedding, labels).dtype == torch.float32
    assert 0 < (embedding - reference).abs().max() < 0.1  # bfloat16 rounding, not another network
