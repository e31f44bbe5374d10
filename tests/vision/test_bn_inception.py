"""BNInception: output geometry and compatibility with the Cadene ImageNet weights."""
import collections

import pytest
import torch

from retrieval_bench.vision.models.bn_inception import BNInception

# Naming scheme of the Caffe-converted weights (pretrainedmodels' bninception):
# every conv "<unit>" has weight/bias and is followed by a BatchNorm "<unit>_bn".
STEM_UNITS = ["conv1_7x7_s2", "conv2_3x3_reduce", "conv2_3x3"]
FULL_BLOCKS = ["3a", "3b", "4a", "4b", "4c", "4d", "5a", "5b"]
REDUCTION_BLOCKS = ["3c", "4e"]  # no 1x1 branch, pool branch without projection
BRANCH_UNITS = ["3x3_reduce", "3x3", "double_3x3_reduce", "double_3x3_1", "double_3x3_2"]


def expected_keys():
    units = list(STEM_UNITS)
    for b in ["3a", "3b", "3c", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]:
        names = BRANCH_UNITS + (["1x1", "pool_proj"] if b in FULL_BLOCKS else [])
        units += [f"inception_{b}_{n}" for n in names]
    keys = {"last_linear.weight", "last_linear.bias"}
    for u in units:
        keys |= {f"{u}.weight", f"{u}.bias"}
        keys |= {f"{u}_bn.{s}" for s in
                 ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")}
    return keys


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return BNInception().eval()


def test_feature_map_shape(model):
    with torch.no_grad():
        fmap = model(torch.randn(2, 3, 224, 224))
        logits = model.logits(fmap)
    assert fmap.shape == (2, 1024, 7, 7)
    assert logits.shape == (2, 1000)
    assert (fmap >= 0).all()  # every block output is post-ReLU or a max pool of it


def test_state_dict_keys(model):
    keys = set(model.state_dict())
    exp = expected_keys()
    assert len(exp) == 2 + 69 * 7  # 69 conv+bn units
    assert keys == exp, (sorted(keys - exp), sorted(exp - keys))


@pytest.mark.parametrize("key,shape", [
    ("conv1_7x7_s2.weight", (64, 3, 7, 7)),
    ("conv1_7x7_s2_bn.running_mean", (64,)),
    ("conv2_3x3.weight", (192, 64, 3, 3)),
    ("inception_3a_pool_proj.weight", (32, 192, 1, 1)),
    ("inception_3c_3x3.weight", (160, 128, 3, 3)),
    ("inception_4a_1x1.weight", (224, 576, 1, 1)),
    ("inception_4d_double_3x3_reduce.weight", (160, 608, 1, 1)),
    ("inception_4e_double_3x3_2.weight", (256, 256, 3, 3)),
    ("inception_5a_1x1.weight", (352, 1056, 1, 1)),
    ("inception_5b_pool_proj.weight", (128, 1024, 1, 1)),
    ("inception_5b_pool_proj_bn.bias", (128,)),
    ("last_linear.weight", (1000, 1024)),
])
def test_reference_shapes(model, key, shape):
    assert tuple(model.state_dict()[key].shape) == shape


def test_param_counts(model):
    total = sum(p.numel() for p in model.parameters())
    head = sum(p.numel() for p in model.last_linear.parameters())
    assert head == 1024 * 1000 + 1000
    assert total - head == 10_270_240
    assert total == 11_295_240


def test_strict_load_of_legacy_state_dict(model):
    # The distributed .pth predates num_batches_tracked and has no _metadata.
    legacy = collections.OrderedDict(
        (k, torch.randn_like(v) if v.is_floating_point() else v)
        for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked"))
    fresh = BNInception()
    fresh.load_state_dict(legacy, strict=True)
    assert torch.equal(fresh.inception_5b_pool_proj.weight, legacy["inception_5b_pool_proj.weight"])
