import copy

import pytest
import torch

from retrieval_bench.core.registry import method_class
from retrieval_bench.studies.incremental import losses
from retrieval_bench.studies.incremental.methods import TaskContext, build_method
from retrieval_bench.studies.incremental.methods.alasso import surrogate
from retrieval_bench.studies.incremental.methods.ewc import EWC, covering_batches, fisher_diagonal
from retrieval_bench.vision.loading import ImageSet
from retrieval_bench.vision.models import EmbeddingNet


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(KeyError, match="known methods: .*finetune.*mmd"):
        build_method("mmdd")


def test_unknown_hyperparameter_is_named():
    with pytest.raises(ValueError, match="no hyper-parameter.*'gamma'.*alpha"):
        build_method("mmd", gamma=1.0)


def test_expand_classifier_copies_old_rows():
    model = EmbeddingNet("small_convnet", 8, 3)
    old_w, old_b = model.classifier.weight.detach().clone(), model.classifier.bias.detach().clone()
    model.expand_classifier(2)
    assert model.n_classes == 5
    assert torch.equal(model.classifier.weight[:3], old_w) and torch.equal(model.classifier.bias[:3], old_b)


class MemoryImages(ImageSet):
    """An ImageSet over random tensors (no files)."""

    def __init__(self, n_classes, per_class, first_label=0, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.arange(first_label, first_label + n_classes).repeat_interleave(per_class)
        self.cache = (torch.rand(len(self.labels), 3, 16, 16, generator=g) * 255).to(torch.uint8)
        self.train = False


def make_context(method, n_old=3, n_new=2):
    torch.manual_seed(0)
    teacher = EmbeddingNet("small_convnet", 8, n_old).eval()
    student = copy.deepcopy(teacher)
    student.expand_classifier(n_new)
    old_data, new_data = MemoryImages(n_old, 4), MemoryImages(n_new, 4, first_label=n_old, seed=1)
    for p in teacher.parameters():
        p.requires_grad_(False)
    path = {"integral": {n: torch.rand_like(p) for n, p in teacher.named_parameters()},
            "start": {n: p.detach() - 0.01 for n, p in teacher.named_parameters()}}
    context = TaskContext(student=student, teacher=teacher, train_data=new_data, first_class=n_old, task=1,
                          previous_train_data=lambda: old_data, previous_first_class=0, previous_path=path,
                          statistics_batch={"p": 2, "k": 2})
    method.begin(context)
    return context


@pytest.mark.parametrize("name,expected", [
    ("finetune", {"ce", "triplet"}), ("joint", {"ce", "triplet"}), ("lwf", {"ce", "triplet", "dist"}),
    ("l2", {"ce", "triplet", "l2"}), ("mmd", {"ce", "triplet", "dist", "mmd"}), ("ewc", {"ce", "triplet", "ewc"}),
    ("alasso", {"ce", "triplet", "alasso"}),
])
def test_each_method_returns_its_named_terms(name, expected):
    method = build_method(name)
    context = make_context(method)
    images, labels = context.train_data.batch(torch.arange(8))
    terms = method.loss_terms(context, images, labels)
    assert set(terms) == expected
    sum(terms.values()).backward()  # every term is differentiable together
    assert all(torch.isfinite(t) for t in terms.values())


def test_mmd_ablation_switches_terms_off():
    method = build_method("mmd", alpha=0.0)
    context = make_context(method)
    images, labels = context.train_data.batch(torch.arange(8))
    assert "dist" not in method.loss_terms(context, images, labels)


def test_regularisers_are_zero_before_the_student_moves():
    for name in ("l2", "ewc", "alasso"):
        method = build_method(name)
        context = make_context(method)
        images, labels = context.train_data.batch(torch.arange(8))
        term = method.loss_terms(context, images, labels)[name]
        assert term.item() == pytest.approx(0.0, abs=1e-6)


def test_ewc_penalty_is_half_lambda_fisher_weighted_squared_change():
    method = build_method("ewc", lambda_=10.0)
    context = make_context(method)
    with torch.no_grad():
        context.student.embedding.bias += 0.5
    images, labels = context.train_data.batch(torch.arange(8))
    got = method.loss_terms(context, images, labels)["ewc"].item()
    expected = 10.0 / 2 * float((method.fisher["embedding.bias"] * 0.25).sum())
    assert got == pytest.approx(expected, rel=1e-5)


def test_ewc_fisher_is_mean_of_batch_scaled_squared_gradients():
    model = EmbeddingNet("small_convnet", 4, 2).eval()
    data = MemoryImages(2, 2)
    def loss_fn(embeddings, logits, labels):
        return losses.classification(logits, labels) + losses.triplet(embeddings, labels, 0.5)

    fisher = fisher_diagonal(model.eval(), data, [torch.tensor([0, 1, 2, 3])], loss_fn)
    images, labels = data.batch(torch.arange(4))
    model.train().zero_grad()  # HAT: estimated in training mode
    emb, logits = model(images)
    (losses.classification(logits, labels) + losses.triplet(emb, labels, 0.5)).backward()
    assert torch.allclose(fisher["embedding.weight"], model.embedding.weight.grad ** 2, atol=1e-7)


def test_ewc_merges_fisher_across_tasks():
    method = build_method("ewc")
    context = make_context(method)
    state = method.finish(context)
    assert state["ewc_tasks"] == 2
    assert state["ewc_fisher"]["classifier.weight"].shape == context.student.classifier.weight.shape


def test_alasso_surrogate_overestimates_beyond_the_direction_moved():
    theta_star, omega = torch.tensor([0.0, 0.0]), torch.tensor([2.0, -2.0])  # moved up / moved down
    up, down = torch.tensor([1.0, 1.0]), torch.tensor([-1.0, -1.0])
    # omega > 0: going further up costs a|Omega| + eps, going back down costs |Omega|
    assert surrogate(up, theta_star, omega, a=1.8, eps=0.0).tolist() == pytest.approx([3.6, 2.0])
    assert surrogate(down, theta_star, omega, a=1.8, eps=0.0).tolist() == pytest.approx([2.0, 3.6])


def test_feature_extraction_does_not_train_and_joint_restarts():
    assert method_class("feature_extraction").trains is False
    assert method_class("joint").from_pretrained is True


def test_methods_are_found_by_file_name_in_every_study():
    from retrieval_bench.core import registry

    names = registry.method_names()
    assert {"finetune", "lwf", "ewc", "alasso", "l2", "mmd", "joint", "correlation", "nce_ewc"} <= set(names)
    assert names["dkd"].name == "lifelong" and names["mmd"].name == "incremental"
    assert method_class("nce_ewc").name == "nce_ewc"  # not the EWC class it imports
    with pytest.raises(KeyError, match="unknown method 'nope'.*'dkd'"):
        method_class("nope")


def test_covering_batches_use_every_image_once_with_several_classes_each():
    labels = torch.tensor([0] * 7 + [1] * 5 + [2] * 6 + [3] * 2)
    batches = covering_batches(labels, p=3, k=3)
    assert sorted(torch.cat(batches).tolist()) == list(range(len(labels)))
    assert all(len(labels[b].unique()) >= 2 for b in batches)
    assert covering_batches(labels, p=3, k=3)[0].tolist() == batches[0].tolist()  # fixed, no randomness


def test_ewc_fisher_sees_every_base_training_image_once_without_randomness():
    # The shared base model's Fisher depends on the model and the data only
    # (which batch settings it gets: tests/test_cli.py).
    seen = []

    class Counting(EWC):
        def semantic_terms(self, embeddings, logits, labels, first_class, names=None):
            seen.append(len(labels))
            return super().semantic_terms(embeddings, logits, labels, first_class, names)

    a = Counting()
    context = make_context(a)
    assert sum(seen) == len(context.previous_train_data().labels)
    b = build_method("ewc")
    b.prepare(context)  # again, with the global random state moved on by the first
    assert all(torch.equal(a.fisher[n], b.fisher[n]) for n in a.fisher)


def train_one_step(method, context):
    images, labels = context.train_data.batch(torch.arange(8))
    optimizer = torch.optim.SGD(context.student.parameters(), lr=0.1)
    terms = method.loss_terms(context, images, labels)
    optimizer.zero_grad()
    sum(terms.values()).backward()
    method.before_step(context)
    before = {n: p.detach().clone() for n, p in context.student.named_parameters()}
    optimizer.step()
    method.after_step(context)
    return images, labels, before


def test_alasso_path_integral_uses_the_gradient_without_its_own_penalty():
    method = build_method("alasso")
    context = make_context(method)
    with torch.no_grad():  # away from the anchor, so the penalty has a gradient
        for p in context.student.parameters():
            p += 0.05
    images, labels, before = train_one_step(method, context)
    # The task loss alone (semantic terms), at the weights before the step
    student = copy.deepcopy(context.student)
    student.load_state_dict({**student.state_dict(), **before})
    student.zero_grad()
    emb, logits = student(images)
    sum(method.semantic_terms(emb, logits, labels, context.first_class).values()).backward()
    name = "embedding.weight"
    moved = dict(context.student.named_parameters())[name].detach() - before[name]
    expected = -dict(student.named_parameters())[name].grad * moved
    assert method.path.integral[name].abs().sum() > 0
    assert torch.allclose(method.path.integral[name], expected, atol=1e-7)


def test_methods_keep_the_path_integral_only_where_needed():
    assert build_method("alasso").records_path and not build_method("finetune").records_path
    finetune = build_method("finetune")
    make_context(finetune)
    assert finetune.path is None and finetune.resume_state() == {"path": None}


@pytest.mark.parametrize("semantic,expected", [
    (None, {"ce", "triplet"}), (["triplet"], {"triplet"}), (["pair"], {"pair"}), (["ce", "pair"], {"ce", "pair"}),
])
def test_semantic_names_the_semantic_terms(semantic, expected):
    method = build_method("finetune", semantic=semantic)
    context = make_context(method)
    images, labels = context.train_data.batch(torch.arange(8))
    assert set(method.loss_terms(context, images, labels)) == expected


@pytest.mark.parametrize("semantic", [[], ["ce", "ce"], ["softmax"], "triplet"])
def test_a_wrong_semantic_setting_is_named(semantic):
    terms = "\\['ce', 'triplet', 'triplet_sqeuclidean', 'pair'\\]"
    with pytest.raises(ValueError, match=f"semantic: .* distinct terms from {terms}"):
        build_method("finetune", semantic=semantic)


def test_ewc_fisher_of_the_shared_base_uses_the_loss_the_base_was_trained_with():
    """Chapter 6's f_0 has no L_ce: the first task's Fisher must come from its
    ranking loss alone, whatever this configuration trains with."""
    def base_fisher(previous_semantic):
        method = build_method("ewc")
        torch.manual_seed(0)
        teacher = EmbeddingNet("small_convnet", 8, 3).eval()
        student = copy.deepcopy(teacher)
        student.expand_classifier(2)
        context = TaskContext(student=student, teacher=teacher, train_data=MemoryImages(2, 4, first_label=3),
                              first_class=3, task=1, previous_train_data=lambda: MemoryImages(3, 4),
                              previous_semantic=previous_semantic, statistics_batch={"p": 2, "k": 2})
        method.begin(context)
        return method.fisher

    triplet_only, with_ce = base_fisher(["triplet"]), base_fisher(["ce", "triplet"])
    assert float(triplet_only["classifier.weight"].abs().sum()) == 0.0  # no L_ce: the classifier gets no gradient
    assert float(with_ce["classifier.weight"].abs().sum()) > 0.0


def test_nce_ewc_adds_the_weighted_nce_term_and_its_fisher_includes_it():
    method = build_method("nce_ewc", nce_weight=10.0)
    context = make_context(method)
    images, labels = context.train_data.batch(torch.arange(8))
    terms = method.loss_terms(context, images, labels)
    assert set(terms) == {"ce", "triplet", "nce", "ewc"}
    embeddings, _ = context.student(images)
    assert terms["nce"].item() == pytest.approx(10.0 * losses.nce(embeddings, labels, 9, 1.0).item(), rel=1e-5)
    plain = build_method("ewc")
    plain_context = make_context(plain)
    own, base = method.finish(context)["ewc_fisher"], plain.finish(plain_context)["ewc_fisher"]
    assert not torch.allclose(own["embedding.weight"], base["embedding.weight"])  # the NCE gradients count
