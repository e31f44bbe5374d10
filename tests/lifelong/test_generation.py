import math
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from retrieval_bench import cli
from retrieval_bench.studies.lifelong.generation import (
    bn_statistics_loss,
    cluster_loss,
    default_jitter,
    generate_images,
    generation_losses,
    learning_rate,
)
from retrieval_bench.vision.models import EmbeddingNet

ROOT = Path(__file__).resolve().parents[2]


def running_stats_from(model: nn.Module, batch: torch.Tensor) -> None:
    """One train-mode pass with momentum 1: the running statistics become the batch's."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = 1.0
    model.train()
    with torch.no_grad():
        model(batch)
    model.eval()


@pytest.mark.parametrize("layers, shape", [
    (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()), (6, 3, 8, 8)),
    (lambda: nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU()), (6, 5)),
])
def test_bn_loss_is_zero_on_the_batch_the_running_statistics_came_from(layers, shape):
    torch.manual_seed(0)
    model = layers()
    batch = torch.randn(shape) * 2 + 1
    running_stats_from(model, batch)
    assert bn_statistics_loss(model, batch).item() == pytest.approx(0.0, abs=1e-10)
    other = torch.randn(shape)
    assert bn_statistics_loss(model, other).item() > 1e-3
    assert not model.training  # evaluated in eval mode, as generation does


def test_bn_loss_of_one_layer_by_hand():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).eval()
    model[1].running_mean.copy_(torch.tensor([0.0, 1.0, -1.0, 2.0]))
    model[1].running_var.copy_(torch.tensor([1.0, 2.0, 0.5, 3.0]))
    x = torch.randn(5, 3, 7, 7)
    with torch.no_grad():
        conv = model[0](x)  # the BN layer's input
        mean = conv.mean(dim=(0, 2, 3))
        var = conv.permute(1, 0, 2, 3).reshape(4, -1).var(dim=1, unbiased=True)
        d_mean, d_var = mean - model[1].running_mean, var - model[1].running_var
        squared = float((d_mean ** 2).sum() + (d_var ** 2).sum())
        unsquared = float(d_mean.norm() + d_var.norm())
        assert bn_statistics_loss(model, x).item() == pytest.approx(squared, rel=1e-5)
        assert bn_statistics_loss(model, x, norm="l2").item() == pytest.approx(unsquared, rel=1e-5)


def test_bn_loss_sums_over_every_layer_of_an_embedding_net():
    torch.manual_seed(0)
    model = EmbeddingNet("small_convnet", 8, 4)
    running_stats_from(model, torch.rand(8, 3, 16, 16))
    x = torch.rand(4, 3, 16, 16)
    seen = []
    handles = [m.register_forward_hook(lambda m, i, o: seen.append((m, i[0]))) for m in model.modules()
               if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        total = bn_statistics_loss(model, x).item()
    for h in handles:
        h.remove()
    assert len(seen) == 4
    expected = sum(float(((i.mean((0, 2, 3)) - m.running_mean) ** 2).sum()
                         + ((i.var((0, 2, 3), unbiased=True) - m.running_var) ** 2).sum()) for m, i in seen)
    assert total == pytest.approx(expected, rel=1e-5)


def test_cluster_loss_by_hand_with_the_relu_floor():
    features = torch.tensor([[0.0, 0], [2, 0], [10, 0], [10, 2], [0, 3], [0, 5]])
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    # means (1, 0), (10, 1), (0, 4); farthest own sample at distance 1 in each cluster;
    # closest foreign sample: sqrt(10) from (1, 0), sqrt(65) from (10, 1), 4 from (0, 4)
    # margin 3.5: 4.5 - sqrt(10), max(4.5 - sqrt(65), 0) = 0 (the floor), 4.5 - 4
    got = cluster_loss(features, labels, margin=3.5).item()
    assert got == pytest.approx((4.5 - math.sqrt(10)) + 0.0 + 0.5, rel=1e-6)
    assert cluster_loss(features, labels, margin=1.0).item() == 0.0  # every cluster clears the margin
    order = torch.tensor([5, 2, 0, 3, 1, 4])  # the order of the samples does not matter
    assert cluster_loss(features[order], labels[order], margin=3.5).item() == pytest.approx(got, rel=1e-6)


def test_cluster_loss_gradient_is_finite_with_single_sample_clusters():
    features = torch.nn.functional.normalize(torch.randn(3, 4, generator=torch.Generator().manual_seed(0)), dim=1)
    features.requires_grad_()
    cluster_loss(features, torch.tensor([0, 1, 2]), margin=2.0).backward()
    assert torch.isfinite(features.grad).all() and features.grad.abs().sum() > 0


def test_schedule_and_jitter_defaults():
    assert default_jitter(224) == 30 and default_jitter(32) == 4
    assert learning_rate(0, 0.5, 2000) == pytest.approx(0.005)
    assert learning_rate(99, 0.5, 2000) == pytest.approx(0.5)
    assert learning_rate(100, 0.5, 2000) == pytest.approx(0.5)
    assert learning_rate(1050, 0.5, 2000) == pytest.approx(0.25)
    assert learning_rate(1999, 0.5, 2000) < 1e-5
    assert learning_rate(1999, 0.5, 2000, "constant") == 0.5


@pytest.fixture
def teacher():
    """A small net whose running statistics come from 'real' images."""
    torch.manual_seed(0)
    model = EmbeddingNet("small_convnet", 8, 4)
    model.train()
    with torch.no_grad():
        for _ in range(5):
            model(torch.rand(16, 3, 16, 16) * 0.5 + 0.25)
    return model.eval()


def generate(model, **kwargs):
    settings = dict(n_clusters=3, per_cluster=2, image_size=16, iterations=60, warmup=10, log_every=20)
    return generate_images(model, **{**settings, **kwargs})


def test_generation_lowers_the_loss_and_keeps_pixels_in_range(teacher):
    result = generate(teacher, snapshots=(0, 30, 60))
    assert result["labels"].tolist() == [0, 0, 1, 1, 2, 2]
    assert result["images"].shape == (6, 3, 16, 16) and result["images"].dtype == torch.float32
    assert sorted(result["snapshots"]) == [0, 30, 60]
    assert torch.equal(result["snapshots"][60], result["images"])
    for images in (result["images"], *result["snapshots"].values()):
        assert images.min() >= 0 and images.max() <= 1
    assert [entry["iteration"] for entry in result["log"]] == list(range(60))
    entry = result["log"][0]
    assert entry["total"] == pytest.approx(entry["L_BN"] + entry["L_cluster"])
    with torch.no_grad():
        before = sum(generation_losses(teacher, result["snapshots"][0], result["labels"])).item()
        after = sum(generation_losses(teacher, result["images"], result["labels"])).item()
    assert after < before


def test_generation_leaves_the_model_untouched(teacher):
    teacher.train()  # the mode it is in is restored; generation itself runs in eval mode
    teacher.classifier.weight.requires_grad_(False)
    state = {k: v.clone() for k, v in teacher.state_dict().items()}
    modes = []
    hook = teacher.trunk.register_forward_hook(lambda m, i, o: modes.append(m.training))
    generate(teacher, iterations=5)
    hook.remove()
    assert modes == [False] * 5
    assert teacher.training
    assert all(torch.equal(state[k], v) for k, v in teacher.state_dict().items())  # incl. running statistics
    assert not teacher.classifier.weight.requires_grad and teacher.embedding.weight.requires_grad
    assert all(p.grad is None for p in teacher.parameters())


def test_generation_is_reproducible_from_the_seed(teacher):
    first, second = generate(teacher, iterations=10), generate(teacher, iterations=10)
    assert torch.equal(first["images"], second["images"])
    assert first["log"] == second["log"]
    other = generate(teacher, iterations=10, seed=1)
    assert not torch.equal(first["images"], other["images"])


def test_cli_writes_the_generated_images_and_a_png(tmp_path):
    from PIL import Image

    torch.manual_seed(0)
    model = EmbeddingNet("small_convnet", 8, 4)
    torch.save({"model": model.state_dict(), "backbone": "small_convnet", "embedding_dim": 8, "n_classes": 4},
               tmp_path / "model.pt")
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["scale"] = "mini"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    size = config["scales"]["mini"]["image_size"]
    out, png = tmp_path / "gen" / "generated.pt", tmp_path / "gen" / "grid.png"
    cli.main(["generate-images", "--config", str(tmp_path / "config.yaml"), "--model", str(tmp_path / "model.pt"),
              "--out", str(out), "--png", str(png), "--iterations", "3", "--clusters", "2", "--per-cluster", "3",
              "--seed", "1"])
    result = torch.load(out, weights_only=False)
    assert result["images"].shape == (6, 3, size, size)
    assert result["labels"].tolist() == [0, 0, 0, 1, 1, 1]
    assert len(result["log"]) == 3 and result["settings"]["seed"] == 1
    with Image.open(png) as grid:  # one row per cluster, 2 px padding
        assert grid.format == "PNG" and grid.size == (3 * (size + 2) + 2, 2 * (size + 2) + 2)
    assert sorted(p.name for p in out.parent.iterdir()) == ["generated.pt", "grid.png"]  # no temporary left
