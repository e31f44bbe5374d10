"""The thesis image trunks (spec chapter4.md 12.1): feature widths, weights files, and the mapping of timm's
MobileNet v1 names onto the own module."""

import pytest
import torch
import torchvision

from published_weights import fake_timm_state_dict, timm_names
from retrieval_bench.vision.models.image_trunks import IMAGENET_MEAN_STD, WEIGHTS_KEY, thesis_image_trunk
from retrieval_bench.vision.models.mobilenet_v1 import MobileNetV1, load_timm_state_dict
from retrieval_bench.vision.models.weights import WeightsError


def test_mobilenet_v1_shape_and_size():
    trunk, width = thesis_image_trunk("mobilenet_v1", None)
    assert width == 1024 and trunk(torch.randn(2, 3, 224, 224)).shape == (2, 1024)
    convs = [m for m in trunk.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 27 and [c.stride[0] for c in convs[1::2]] == [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]
    assert sum(p.numel() for p in trunk.parameters()) == 3_206_976  # 3.21 M (spec 12.2)


def test_timm_names_round_trip_by_order():
    module = MobileNetV1()
    timm_state = fake_timm_state_dict(module)
    load_timm_state_dict(module, timm_state)
    ours = module.state_dict()
    # the forward-order pairing: our k-th tensor is timm's k-th (num_batches_tracked are left alone)
    pairs = [(mine, theirs) for mine, theirs in zip(ours, timm_names()) if not mine.endswith("num_batches_tracked")]
    assert len(pairs) == 27 + 27 * 4
    for mine, theirs in pairs:
        assert torch.equal(ours[mine], timm_state[theirs]), (mine, theirs)
    assert torch.equal(ours["features.1.0.0.weight"], timm_state["blocks.0.0.conv_dw.weight"])
    assert torch.equal(ours["features.13.1.1.running_var"], timm_state["blocks.4.1.bn2.running_var"])


def test_timm_mapping_rejects_wrong_shapes_and_other_networks():
    module = MobileNetV1()
    timm_state = fake_timm_state_dict(module)
    timm_state["blocks.3.2.conv_pw.weight"] = torch.zeros(512, 256, 1, 1)
    with pytest.raises(ValueError, match=r"blocks\.3\.2\.conv_pw\.weight"):
        load_timm_state_dict(module, timm_state)
    with_head = fake_timm_state_dict(module) | {"conv_head.weight": torch.zeros(1024, 1024, 1, 1)}
    with pytest.raises(ValueError, match="conv_head"):
        load_timm_state_dict(module, with_head)


def test_weights_files_load_and_missing_files_say_where_to_get_them(tmp_path):
    timm_file = tmp_path / "mobilenetv1_100.pth"
    torch.save(fake_timm_state_dict(MobileNetV1()), timm_file)
    trunk, _ = thesis_image_trunk("mobilenet_v1", timm_file)
    assert torch.equal(trunk.state_dict()["features.0.0.weight"], torch.load(timm_file)["conv_stem.weight"])

    resnet_file = tmp_path / "resnet50-0676ba61.pth"
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), resnet_file)
    trunk, width = thesis_image_trunk("resnet50", resnet_file)
    assert width == 2048 and trunk.eval()(torch.randn(1, 3, 64, 64)).shape == (1, 2048)

    with pytest.raises(WeightsError) as missing:
        thesis_image_trunk("resnet152", tmp_path / "resnet152-394f9c45.pth")
    message = str(missing.value)
    assert "resnet152-394f9c45.pth" in message and "https://download.pytorch.org/models/" in message
    assert f"{WEIGHTS_KEY}.resnet152" in message


def test_safetensors_needs_its_package_or_reads_the_file(tmp_path):
    path = tmp_path / "model.safetensors"
    try:
        from safetensors.torch import save_file
    except ImportError:
        path.write_bytes(b"")
        with pytest.raises(WeightsError, match="safetensors"):
            thesis_image_trunk("mobilenet_v1", path)
        return
    state = fake_timm_state_dict(MobileNetV1())
    save_file(state, str(path))
    trunk, _ = thesis_image_trunk("mobilenet_v1", path)
    assert torch.equal(trunk.state_dict()["features.0.0.weight"], state["conv_stem.weight"])


def test_mobilenet_v2_substitute_ends_at_the_pooled_feature():
    # vgg16 (fc7, 4096) and resnet152 (2048) run behind their 512-D heads in test_complexity.py
    trunk, width = thesis_image_trunk("mobilenet_v2", None)
    assert width == 1280 and trunk.eval()(torch.randn(1, 3, 224, 224)).shape == (1, 1280)


def test_normalisation_per_weights_file():
    assert IMAGENET_MEAN_STD["mobilenet_v1"] == ((0.5,) * 3, (0.5,) * 3)
    assert IMAGENET_MEAN_STD["vgg16"] == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    with pytest.raises(ValueError, match="unknown thesis image trunk"):
        thesis_image_trunk("vgg19", None)
