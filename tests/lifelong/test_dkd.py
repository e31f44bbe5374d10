"""Chapter 7: sequence splits, the DKD method's step, its resume, and what a
run saves (spec 9.3)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from retrieval_bench.studies.incremental import losses
from retrieval_bench.studies.incremental.methods import TaskContext, build_method
from retrieval_bench.studies.incremental.train import TaskSpec, frozen_teacher, train_task
from retrieval_bench.studies.lifelong.generation import generate_batches, save_generated
from retrieval_bench.studies.lifelong.sequences import make_sequence_split
from retrieval_bench.vision.datasets import apply_style, build_synthetic
from retrieval_bench.vision.models import EmbeddingNet, load_checkpoint

SPLIT = {"kind": "per_class_fraction", "train_fraction": 0.5, "seed": 0}


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    """Two tiny synthetic datasets (the second grey) in one sequence split, a
    base model trained on the first and the trunk weights it started from."""
    root = tmp_path_factory.mktemp("data")
    manifests = {}
    for name, seed, identity, style in (("first", 1, ["shape", "colour"], None),
                                        ("second", 2, ["border", "background"], {"palette": "grey"})):
        spec = {"seed": seed, "image_size": 16, "style": style,
                "groups": [{"identity": identity, "classes": 5, "images": 8}]}
        manifests[name] = pd.DataFrame(build_synthetic(spec, root / name))
    entries = [{"name": "cub", "dataset": "first", "seen": 3, "unseen": 2, "split": SPLIT},
               {"name": "cars", "dataset": "second", "seen": 3, "unseen": 2, "split": SPLIT}]
    split = make_sequence_split(manifests, entries)
    trunk = root / "trunk.pt"
    torch.manual_seed(0)
    torch.save({"backbone": "small_convnet", "trunk": EmbeddingNet("small_convnet", 8, 2).trunk.state_dict()}, trunk)
    base = root / "base.pt"
    train_task(spec_for(root, split, "joint", 0, hparams={"semantic": ["triplet_sqeuclidean"]}), trunk, base,
               root / "ck_base")
    return root, split, trunk, base


def spec_for(root, split, method, task, epochs=2, **kw):
    seen = split[(split.part == "seen") & (split.split == "train")]
    return TaskSpec(method=method, hparams=kw.pop("hparams", {}), backbone="small_convnet", embedding_dim=8,
                    train_rows=seen[seen.task == task], data_root=root, image_size=16,
                    n_classes=int(split.loc[split.task <= task, "label"].max()) + 1,
                    first_class=int(split.loc[split.task == task, "label"].min()), task=task,
                    schedule={"epochs": epochs, "lr_backbone": 1e-3, "lr_head": 1e-3, "weight_decay": 0.0},
                    batch={"p": 3, "k": 2, "rounds": 2}, seed=0, **kw)


def test_a_sequence_split_has_disjoint_labels_unseen_test_rows_and_prefixed_paths(sequence):
    root, split, _, _ = sequence
    assert split.groupby("task")["label"].agg(["min", "max"]).values.tolist() == [[0, 4], [5, 9]]
    assert (split.loc[split.part == "unseen", "split"] == "test").all()
    # per class floor(0.5 * 8) = 4 training images of each seen class, none of an unseen one
    assert split[split.split == "train"].groupby("label").size().tolist() == [4] * 6
    assert split.loc[split.part == "unseen", "label"].tolist() == sorted(split.loc[split.part == "unseen", "label"])
    assert all((root / p).exists() for p in split["path"])  # relative to the folder above the datasets


def test_the_grey_style_leaves_one_channel_value_per_pixel():
    image = np.random.default_rng(0).integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    grey = apply_style(image, {"palette": "grey"})
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    assert grey[0, 0, 0] == round(image[0, 0].astype(float).mean())
    assert (apply_style(image, {"invert": True}) == 255 - image).all()


def test_the_squared_euclidean_triplet_is_eq_7_1_on_unit_vectors():
    a, p, n = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.6, 0.8]]), torch.tensor([[0.8, 0.6]])
    embeddings, labels = torch.cat([a, p, n]), torch.tensor([0, 0, 1])
    # anchor a: D(a,p) = |a-p|^2 = 0.8, D(a,n) = 0.08 -> max(0.5 + 0.8 - 0.08, 0)
    d_ap, d_an = (a - p).pow(2).sum(), (a - n).pow(2).sum()
    value = losses.triplet(embeddings[:1].repeat(1, 1), labels[:1], 0.5, distance="squared_euclidean")
    assert value == 0  # a lone anchor has no positive
    full = losses.triplet(embeddings, labels, 0.5, distance="squared_euclidean")
    per_anchor = [0.5 + d_ap - d_an,                                                     # a
                  0.5 + (p - a).pow(2).sum() - (p - n).pow(2).sum()]                    # p (n has no positive)
    assert torch.isclose(full, torch.stack([torch.relu(v) for v in per_anchor]).mean())


def test_feature_l1_is_the_batch_mean_of_absolute_differences():
    s, t = torch.tensor([[1.0, -2.0], [0.0, 0.0]]), torch.tensor([[0.0, 0.0], [0.5, 0.5]])
    assert torch.isclose(losses.feature_l1(s, t), torch.tensor((3.0 + 1.0) / 2))


def _context(base, generated=None, trunk=None, n_classes=10):
    checkpoint = load_checkpoint(base)
    student = EmbeddingNet("small_convnet", 8, n_classes)
    state = {k: v for k, v in checkpoint["model"].items() if not k.startswith("classifier")}
    student.load_state_dict(state, strict=False)
    teacher = frozen_teacher(checkpoint, torch.device("cpu"), batch_statistics=True)

    def fresh():
        from retrieval_bench.vision.models.weights import load_trunk

        model = EmbeddingNet("small_convnet", 8, n_classes)
        load_trunk(model, trunk)
        return model

    return TaskContext(student=student.train(), teacher=teacher, train_data=None, first_class=5, task=1,
                       inputs={**({"generated": generated} if generated is not None else {}),
                               **({"pretrained": fresh} if trunk else {})},
                       schedule={"lr_backbone": 1e-3, "lr_head": 1e-3, "weight_decay": 0.0})


def _generated(base):
    from retrieval_bench.vision.models import model_from_checkpoint

    return generate_batches(model_from_checkpoint(load_checkpoint(base)), iterations=3, n_clusters=2, per_cluster=2,
                            image_size=16, jitter=1, seed=0)


def test_one_dkd_step_trains_each_model_with_its_own_terms_only(sequence):
    root, split, trunk, base = sequence
    torch.manual_seed(0)
    method = build_method("dkd", generate=True, on_the_fly_teacher=True, semantic=["triplet_sqeuclidean"])
    context = _context(base, _generated(base), trunk)
    method.begin(context)
    teacher_state = {k: v.clone() for k, v in context.teacher.state_dict().items()}
    student_bn = context.student.trunk.state_dict()
    student_bn = {k: v.clone() for k, v in student_bn.items() if "running_mean" in k}
    images, labels = torch.rand(6, 3, 16, 16), torch.tensor([5, 5, 6, 6, 7, 7])

    terms = method.loss_terms(context, images, labels)
    assert set(terms) == {"triplet", "kd1", "te2", "kd2"}
    sum(terms.values()).backward()
    fly = method.on_the_fly
    fly_grad = {n: p.grad.clone() for n, p in fly.named_parameters() if p.grad is not None}
    # the on-the-fly teacher's gradient is that of lambda_te2 * L_te2 alone (L_kd2 detached for it)
    fly.zero_grad()
    fly_embeddings, _ = fly(images)
    (method.lambda_te2 * losses.triplet(fly_embeddings, labels, 0.5, distance="squared_euclidean")).backward()
    assert fly_grad and all(torch.allclose(fly_grad[n], p.grad, atol=1e-6) for n, p in fly.named_parameters()
                            if p.grad is not None)
    # the frozen teacher learns nothing and keeps its BatchNorm statistics; the student's move (BN not frozen)
    assert all(p.grad is None for p in context.teacher.parameters())
    assert all(torch.equal(v, context.teacher.state_dict()[k]) for k, v in teacher_state.items())
    assert any(not torch.equal(v, context.student.trunk.state_dict()[k]) for k, v in student_bn.items())


@pytest.mark.parametrize("mode", ["running", "batch"])
def test_the_frozen_teachers_batchnorm_mode_for_l_kd1(sequence, mode):
    """Student and frozen teacher share their weights at a task's first step.  With running statistics
    (the default) L_kd1 is not 0 there, since the student normalises with the batch's; with
    `teacher_batchnorm: batch` it is, and the teacher's running statistics stay as trained either way."""
    root, split, trunk, base = sequence
    method = build_method("dkd", distance="l2", teacher_batchnorm=mode, semantic=["triplet_sqeuclidean"])
    context = _context(base)
    method.begin(context)
    running = {k: v.clone() for k, v in context.teacher.state_dict().items() if "running" in k}
    images = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([5, 5, 6, 6, 7, 7])
    kd1 = method.loss_terms(context, images, labels)["kd1"].item()
    assert (kd1 == pytest.approx(0.0, abs=1e-10)) == (mode == "batch") and kd1 >= 0
    assert all(torch.equal(v, context.teacher.state_dict()[k]) for k, v in running.items())
    with pytest.raises(ValueError, match="teacher_batchnorm 'frozen'"):
        build_method("dkd", teacher_batchnorm="frozen")


def test_the_student_gets_no_gradient_from_the_on_the_fly_teachers_own_loss(sequence):
    root, split, trunk, base = sequence
    images, labels = torch.rand(6, 3, 16, 16), torch.tensor([5, 5, 6, 6, 7, 7])
    grads = {}
    for weight in (1.0, 50.0):  # lambda_te2 changes the teacher's loss, never the student's gradient
        torch.manual_seed(0)
        method = build_method("dkd", on_the_fly_teacher=True, lambda_te2=weight, semantic=["triplet_sqeuclidean"])
        context = _context(base, trunk=trunk)
        method.begin(context)
        sum(method.loss_terms(context, images, labels).values()).backward()
        grads[weight] = [p.grad.clone() for p in context.student.parameters() if p.grad is not None]
    assert all(torch.allclose(a, b) for a, b in zip(grads[1.0], grads[50.0]))


def test_generated_images_join_the_batch_with_labels_above_every_real_one(sequence):
    root, split, trunk, base = sequence
    method = build_method("dkd", generate=True, semantic=["triplet_sqeuclidean"])
    context = _context(base, _generated(base))
    method.begin(context)
    images, labels = method.generated_batches[0]
    assert labels.min() >= context.student.n_classes and len(images) == 4
    seen = []
    context.teacher.forward = (lambda real: lambda x: seen.append(len(x)) or real(x))(context.teacher.forward)
    method.loss_terms(context, torch.rand(6, 3, 16, 16), torch.tensor([5, 5, 6, 6, 7, 7]))
    assert seen == [10]  # the frozen teacher sees X_mix: 6 real + 4 generated


@pytest.mark.parametrize("hparams,absent", [({"lambda_s": 0.0, "on_the_fly_teacher": True}, "triplet"),
                                            ({"lambda_kd1": 0.0, "on_the_fly_teacher": True}, "kd1")])
def test_ablation_cases_drop_their_term(sequence, hparams, absent):
    """Case 4 logs no L_s; case 3 (lambda_kd1 = 0) runs no frozen-teacher forward."""
    root, split, trunk, base = sequence
    method = build_method("dkd", semantic=["triplet_sqeuclidean"], **hparams)
    context = _context(base, trunk=trunk)
    method.begin(context)
    calls = []
    context.teacher.forward = (lambda real: lambda x: calls.append(1) or real(x))(context.teacher.forward)
    terms = method.loss_terms(context, torch.rand(6, 3, 16, 16), torch.tensor([5, 5, 6, 6, 7, 7]))
    assert absent not in terms
    assert bool(calls) == (absent != "kd1")


def test_a_killed_dkd_job_resumes_to_the_same_student_and_on_the_fly_teacher(sequence, tmp_path,
                                                                              killed_at_checkpoint):
    root, split, trunk, base = sequence
    generated = tmp_path / "generated.pt"
    save_generated(generated, _generated(base))
    hparams = {"generate": True, "on_the_fly_teacher": True, "semantic": ["triplet_sqeuclidean"]}

    def spec():
        return spec_for(root, split, "dkd", 1, epochs=3, hparams=hparams,
                        inputs={"generated": [generated], "pretrained": [trunk]})

    reference = tmp_path / "reference.pt"
    train_task(spec(), base, reference, tmp_path / "ck_ref")
    out = tmp_path / "resumed.pt"
    with killed_at_checkpoint(2):
        train_task(spec(), base, out, tmp_path / "ck")
    history = train_task(spec(), base, out, tmp_path / "ck")["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    a, b = load_checkpoint(reference), load_checkpoint(out)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    fly_a, fly_b = a["auxiliary"]["on_the_fly_teacher"], b["auxiliary"]["on_the_fly_teacher"]
    assert all(torch.equal(fly_a[k], fly_b[k]) for k in fly_a)
    assert {"triplet", "kd1", "te2", "kd2"} <= set(a["history"][0])


def test_sft_saves_no_auxiliary_model_and_carries_no_state(sequence, tmp_path):
    root, split, trunk, base = sequence
    out = tmp_path / "sft.pt"
    train_task(spec_for(root, split, "dkd", 1, epochs=1, hparams={"lambda_kd1": 0.0,
                                                                   "semantic": ["triplet_sqeuclidean"]}),
               base, out, tmp_path / "ck")
    saved = load_checkpoint(out)
    assert "auxiliary" not in saved and saved["state"] == {}
    assert set(saved["history"][0]) >= {"triplet"} and "kd1" not in saved["history"][0]


def test_dkd_rejects_an_unknown_distance():
    with pytest.raises(ValueError, match="distance"):
        build_method("dkd", distance="cosine")


def test_plan_shares_sequence_prefixes_and_wires_the_generated_images():
    import yaml

    from retrieval_bench.core import config as cfg
    from retrieval_bench.studies.incremental import plan

    config = cfg.validate(yaml.safe_load((Path(__file__).parents[2] / "config.yaml").read_text()))
    # CUB -> Dogs -> Cars trains only its Cars task; every CUB-first sequence shares the base model
    assert plan.run_key(config, "ch7_cub_dogs_cars", 0, "sft", 1) == "ch7_cub_dogs/seed0/sft/task1"
    assert plan.run_key(config, "ch7_cub_dogs_cars", 0, "sft", 2) == "ch7_cub_dogs_cars/seed0/sft/task2"
    assert plan.run_key(config, "ch7_cub_cars_dogs", 0, "base", 0) == "ch7_cub_dogs/seed0/base/task0"
    assert plan.run_key(config, "ch7_cub_dogs_cls", 0, "base", 0) == "ch7_cub_dogs_cls/seed0/base/task0"
    # task 1 of every BN row inverts the shared base; task 2 its own task-1 student
    assert plan.method_inputs(config, "ch7_cub_cars", 1, "kd_bn_kl", 1).get("generated", []) == \
        ["results/mini/ch7_cub_dogs/seed1/base/task0/generated.pt"]
    assert plan.method_inputs(config, "ch7_cub_dogs_cars", 0, "dkd_bn_kl", 2).get("generated", []) == \
        ["results/mini/ch7_cub_dogs/seed0/dkd_bn_kl/task1/generated.pt"]
    assert plan.method_inputs(config, "ch7_cub_dogs", 0, "kd_kl", 1).get("generated", []) == []
    case3 = plan.method_inputs(config, "ch7_cub_dogs", 0, "dkd_case3", 1)
    assert case3.get("pretrained", []) == [plan.pretrained_weights(config)]
    assert plan.method_inputs(config, "ch7_cub_dogs", 0, "kd_bn_kl", 1).get("pretrained", []) == []
