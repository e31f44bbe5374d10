"""The chapter 3 methods on the alternating loop: which parameters a phase moves, what Eq. 3.2 does as
printed and as implemented, resume, and one run's files recomputed from its codes."""

import json

import numpy as np
import pytest
import torch

from retrieval_bench.retrieval.hamming import hamming_metrics, shared_labels
from retrieval_bench.studies.crossmodal.data.paired import PairedData, save
from retrieval_bench.studies.crossmodal.data.splits import hashing_split, write_split
from retrieval_bench.studies.crossmodal.methods.base import DataShape, Memory
from retrieval_bench.studies.crossmodal.methods.dcmh import Dcmh
from retrieval_bench.studies.crossmodal.methods.domain_uncertainty import DomainUncertainty
from retrieval_bench.studies.crossmodal.run import RunSpec, run
from retrieval_bench.studies.crossmodal.train import encode_all, train

SCHEDULE = {"optimizer": "adam", "lr_start": 1e-2, "lr_end": 1e-3, "epochs": 4, "batch": 16, "weight_decay": 0.0}
SMALL = {"common_dim": 8, "image_hidden": [16], "text_hidden": [16], "fusion_windows": [4, 2],
         "predictor_hidden": 8}


def toy(n=48, image_dim=10, text_dim=12, labels=4, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, labels)) < 0.4).astype(np.float32)
    y[y.sum(1) == 0, 0] = 1
    images = (y @ rng.normal(size=(labels, image_dim)) + 0.3 * rng.normal(size=(n, image_dim))).astype(np.float32)
    texts = ((y @ (rng.random((labels, text_dim)) < 0.3)) > 0).astype(np.float32)
    return images, texts, y


def memory_for(method, images, texts, y):
    inputs = {"image": torch.from_numpy(images), "text": torch.from_numpy(texts)}
    features, codes = {}, {}
    for m, x in inputs.items():
        features[m], codes[m] = encode_all(method, m, x)
    memory = Memory(features, codes, torch.zeros_like(codes["image"]), torch.from_numpy(y))
    memory.refresh_targets()
    return inputs, memory


def parameters(module):
    return [p.detach().clone() for p in module.parameters()]


@pytest.mark.parametrize("cls, hparams", [(Dcmh, {"image_hidden": [16], "text_hidden": [16]}),
                                          (DomainUncertainty, SMALL)])
def test_a_phase_trains_its_own_encoder_only(cls, hparams):
    images, texts, y = toy()
    torch.manual_seed(0)
    method = cls(hparams, DataShape(10, 12, 4, 8, 48), SCHEDULE)
    inputs, memory = memory_for(method, images, texts, y)
    before = {m: parameters(net) for m, net in method.encoders.items()}
    extras = {name: parameters(m) for name, m in method.extras.items()}
    rows = torch.arange(16)
    method.train(True)
    terms = method.step("image", rows, inputs["image"][rows], memory)
    assert all(np.isfinite(v) for v in terms.values())
    assert any(not torch.equal(a, b) for a, b in zip(before["image"], method.encoders["image"].parameters()))
    assert all(torch.equal(a, b) for a, b in zip(before["text"], method.encoders["text"].parameters()))
    if "label_predictor" in extras:  # one label predictor, trained in both phases
        assert any(not torch.equal(a, b) for a, b in zip(extras["label_predictor"],
                                                           method.extras["label_predictor"].parameters()))


def test_the_ablation_rows_build_only_the_predictors_they_use():
    shape = DataShape(10, 12, 4, 8, 48)
    assert set(DomainUncertainty({**SMALL, "alpha": 0, "gamma": 0, "eta": 0}, shape, SCHEDULE).extras) == set()
    assert set(DomainUncertainty({**SMALL, "alpha": 0}, shape, SCHEDULE).extras) == {"label_predictor"}
    assert set(DomainUncertainty(SMALL, shape, SCHEDULE).extras) == {"label_predictor", "domain_features",
                                                                      "domain_codes"}
    with pytest.raises(ValueError, match="has no hyper-parameter"):
        DomainUncertainty({"alpah": 1}, shape, SCHEDULE)


def domain_run(objective, steps=150):
    images, texts, y = toy()
    texts = texts * 3 + 2  # far from the images: a predictor can tell the modalities apart at once
    torch.manual_seed(0)
    hp = {**SMALL, "domain_objective": objective, "per_sample_scale": 1.0, "alpha": 1.0, "beta": 0, "eta": 0,
          "gamma": 0, "epsilon": 0, "dropout": 0.0}
    method = DomainUncertainty(hp, DataShape(10, 12, 4, 8, 48), SCHEDULE)
    inputs, memory = memory_for(method, images, texts, y)
    method.train(True)
    for i in range(steps):
        modality = ("image", "text")[i % 2]
        rows = torch.randperm(48)[:16]
        diagnostics = method.step(modality, rows, inputs[modality][rows], memory)
    return method, inputs, diagnostics


def test_eq_3_2_as_printed_drives_the_predictor_to_uniform_and_the_encoders_learn_nothing():
    method, inputs, _ = domain_run("entropy_as_printed")
    feature, code = method.encode("image", inputs["image"])
    probabilities = torch.softmax(method.extras["domain_features"](feature), dim=1)
    assert (probabilities - 0.5).abs().max() < 0.02
    from retrieval_bench.studies.crossmodal import losses

    feature = feature.detach().requires_grad_(True)
    losses.negative_entropy(method.extras["domain_features"](feature)).backward()
    assert feature.grad.abs().max() < 1e-3


def test_eq_3_2_as_implemented_trains_a_modality_classifier():
    _, _, diagnostics = domain_run("modality_ce")
    assert diagnostics["domain_accuracy"] > 0.9


def test_a_resumed_run_ends_with_the_same_codes(tmp_path):
    images, texts, y = toy()
    inputs = {"image": torch.from_numpy(images), "text": torch.from_numpy(texts)}
    labels = torch.from_numpy(y)

    def fresh():
        torch.manual_seed(0)
        return DomainUncertainty(SMALL, DataShape(10, 12, 4, 8, 48), SCHEDULE)

    whole = fresh()
    train(whole, inputs, labels, SCHEDULE, 0, tmp_path / "whole", {"run": 1})
    interrupted = fresh()
    calls = {"n": 0}
    step = interrupted.step

    def failing(*args):
        calls["n"] += 1
        if calls["n"] > 3 * 2 * 3:  # 3 batches per phase, 2 phases: fails in epoch 4
            raise KeyboardInterrupt
        return step(*args)

    interrupted.step = failing
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, inputs, labels, SCHEDULE, 0, tmp_path / "resumed", {"run": 1})
    assert (tmp_path / "resumed" / "last.pt").exists()
    resumed = fresh()
    history = train(resumed, inputs, labels, SCHEDULE, 0, tmp_path / "resumed", {"run": 1})
    assert [r["epoch"] for r in history] == [1, 1, 2, 2, 3, 3, 4, 4]
    for m in ("image", "text"):
        assert torch.equal(encode_all(whole, m, inputs[m])[1], encode_all(resumed, m, inputs[m])[1])
    assert not (tmp_path / "resumed" / "last.pt").exists()


def test_a_run_writes_codes_from_which_its_metrics_recompute(tmp_path):
    images, texts, y = toy(n=80)
    save(PairedData(images, texts, y.astype(np.uint8), {"source": "test"}), tmp_path / "data")
    write_split(hashing_split(80, 10, 40, 0), tmp_path / "split.csv")
    spec = RunSpec(tmp_path / "data", tmp_path / "split.csv", "domain_uncertainty", SMALL, 8, 0, SCHEDULE)
    metrics = run(spec, tmp_path / "out", tmp_path / "ckpt")
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"codes.npz", "metrics.json", "pr.csv",
                                                              "history.csv", "model.pt"}
    codes = np.load(tmp_path / "out" / "codes.npz")
    truth = shared_labels(codes["query_labels"], codes["database_labels"])
    again = hamming_metrics(codes["query_image"], codes["database_text"], truth).map
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["image_to_text"]["map"] == again
    assert metrics["pairs"] == {"query": 10, "database": 70, "train": 40}
    assert set(metrics["codes"]) == {"query_image", "query_text", "database_image", "database_text"}


def test_the_lookup_pr_area_prepends_radius_0s_precision_at_recall_0():
    from retrieval_bench.studies.crossmodal.figures.hash_pr import pr_auc

    assert pr_auc(np.array([0.5, 1.0]), np.array([1.0, 0.5])) == pytest.approx(0.5 + 0.375)


def test_a_sensitivity_row_changes_exactly_one_weight():
    import yaml

    from retrieval_bench.core.config import validate
    from retrieval_bench.studies.crossmodal.figures.sensitivity import swept_weight
    from tiny_project import ROOT

    config = validate(yaml.safe_load((ROOT / "config.yaml").read_text()))
    assert swept_weight(config, "duh_alpha10", "duh") == ("alpha", 10.0)
    assert swept_weight(config, "duh", "duh") is None
    with pytest.raises(ValueError, match="exactly one of"):
        swept_weight(config, "duh_b1", "duh")


def test_images_go_through_cnn_f_fine_tuned_with_the_head(tmp_path):
    from matconvnet_files import write_net
    from retrieval_bench.core.errors import UserError
    from retrieval_bench.vision.models.cnn_f import load_cnn_f

    write_net(tmp_path / "vgg-f.mat")
    _, texts, y = toy(n=60)
    rng = np.random.default_rng(3)
    images = (rng.integers(0, 60, size=(60, 8, 8, 3)) + 150 * y[:, :3, None, None].transpose(0, 2, 3, 1)
              ).astype(np.uint8)  # the first three labels colour the image
    save(PairedData(images, texts, y.astype(np.uint8), {"source": "test"}), tmp_path / "data")
    write_split(hashing_split(60, 10, 30, 0), tmp_path / "split.csv")
    spec = RunSpec(tmp_path / "data", tmp_path / "split.csv", "dcmh", {"image_hidden": [], "text_hidden": [16]}, 8,
                   0, SCHEDULE, image_weights=tmp_path / "vgg-f.mat")
    metrics = run(spec, tmp_path / "out", tmp_path / "ckpt")
    assert 0 < metrics["image_to_text"]["map"] <= 1
    saved = torch.load(tmp_path / "out" / "model.pt", weights_only=False)["modules"]["image"]
    loaded = load_cnn_f(tmp_path / "vgg-f.mat").state_dict()
    assert set(loaded) <= {k.removeprefix("trunk.") for k in saved}
    assert not torch.equal(saved["trunk.layers.1.weight"], loaded["layers.1.weight"])  # fine-tuned (L999)
    with pytest.raises(UserError, match="image_input: images"):
        run(RunSpec(**{**vars(spec), "image_weights": None}), tmp_path / "out2", tmp_path / "ckpt2")
    with pytest.raises(UserError, match="weights .* are missing"):
        run(RunSpec(**{**vars(spec), "image_weights": tmp_path / "none.mat"}), tmp_path / "out3", tmp_path / "c3")
