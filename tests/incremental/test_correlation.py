"""Chapter 6's correlation distillation: Eq. 6.11's weights, feature
estimation (Eqs. 6.6-6.9), Table 6.3's cases (b) and (d), and the plumbing
(test accuracies, earlier models, resume, metrics JSON)."""

import copy
import json

import pandas as pd
import pytest
import torch

from retrieval_bench.core.config import method_of
from retrieval_bench.studies.incremental import losses, plan
from retrieval_bench.studies.incremental import train as train_module
from retrieval_bench.studies.incremental.methods import TaskContext, build_method
from retrieval_bench.studies.incremental.methods.correlation import (
    alpha_seed,
    importance_weights,
    relative_change,
    virtual_features,
)
from retrieval_bench.studies.incremental.splits import make_split
from retrieval_bench.studies.incremental.train import TaskSpec, train_task
from retrieval_bench.vision.datasets import build_synthetic
from retrieval_bench.vision.models import EmbeddingNet, load_checkpoint


def test_importance_weights_follow_eq_6_11():
    assert importance_weights(1) == []  # one task: Eq. 6.5 alone
    assert importance_weights(2) == [1.0]
    assert importance_weights(3) == pytest.approx([1 / 2, 0.1])
    assert importance_weights(4) == pytest.approx([1 / 3, 0.1 / 2, 0.01])
    ten = importance_weights(10)  # V_8 first, V_0 (the thesis's "L^{1->t}", spec 7.B-1) last
    assert len(ten) == 9 and ten[0] == pytest.approx(1 / 9) and ten[1] == pytest.approx(0.1 / 8)
    assert ten[-1] == pytest.approx(1e-8 / 1)
    assert importance_weights(4, importance="uniform") == [1.0, 1.0, 1.0]


def test_virtual_features_recurse_to_eq_6_9s_product():
    actual = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    ranges = [(-0.03, 0.75), (-0.1, 0.2), (0.4, -0.2)]  # tasks t-1, t-2, t-3; the last has drop > gain
    virtual = virtual_features(actual, ranges, 1.0, torch.Generator().manual_seed(5))
    replay = torch.Generator().manual_seed(5)
    draws = [torch.rand(actual.shape, generator=replay) for _ in ranges]
    alphas = [min(r) + (max(r) - min(r)) * u for r, u in zip(ranges, draws)]
    assert all(min(r) <= a.min() and a.max() <= max(r) for r, a in zip(ranges, alphas))
    assert torch.allclose(virtual[0], (1 + alphas[0]) * actual)  # V_{t-2} (Eq. 6.8)
    assert torch.allclose(virtual[-1], (1 + alphas[0]) * (1 + alphas[1]) * (1 + alphas[2]) * actual)  # V_0
    half = virtual_features(actual, ranges[:1], 0.5, torch.Generator().manual_seed(5))[0]
    assert torch.allclose(half, (1 + 0.5 * alphas[0]) * actual)  # k scales the drift


def test_accuracy_change_reproduces_the_thesiss_worked_example(caplog):
    # L2110: mAP 54.20 -> 52.44 on the old classes, 29.82 -> 52.27 on the new ones
    assert relative_change(0.5420, 0.5244) == pytest.approx(-0.0325, abs=1e-4)
    assert relative_change(0.2982, 0.5227) == pytest.approx(0.7528, abs=1e-4)
    assert relative_change(0.0, 0.5) == pytest.approx((0.5 - 1e-6) / 1e-6)  # floored denominator
    assert "divides by 1e-06" in caplog.text


def make_context(task=1, earlier=0, state=None, seed=0):
    torch.manual_seed(0)
    teacher = EmbeddingNet("small_convnet", 8, 3).eval()
    student = copy.deepcopy(teacher)
    with torch.no_grad():  # the student has moved away from the teacher: every term is > 0
        for p in student.parameters():
            p.add_(0.05 * torch.randn_like(p))
    for p in teacher.parameters():
        p.requires_grad_(False)
    earlier_teachers = [copy.deepcopy(teacher) for _ in range(earlier)]
    for model in earlier_teachers:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
    return TaskContext(student=student, teacher=teacher, train_data=None, first_class=3, task=task,
                       state=state or {}, seed=seed, inputs={"earlier_models": earlier_teachers} if earlier else {})


def corr(**options):
    return build_method("correlation", semantic=["triplet"], **options)


def batch():
    g = torch.Generator().manual_seed(1)
    return (torch.rand(8, 3, 16, 16, generator=g) * 255).to(torch.uint8), torch.arange(4).repeat_interleave(2)


def terms_of(method, context):
    method.begin(context)
    images, labels = batch()
    with torch.no_grad():
        student, _ = context.student(images)
        teacher, _ = context.teacher(images)
        terms = method.loss_terms(context, images, labels)
    return terms, student, teacher, images


def test_at_task_1_the_loss_is_the_weighted_gram_kl_of_the_teacher():
    for options in ({}, {"estimation": True}, {"scale_by_task": True}, {"teachers": "all"}):
        method = corr(**options)
        terms, student, teacher, _ = terms_of(method, make_context(task=1))
        assert set(terms) == {"triplet", "corr"}, options  # cases (b)-(d) reduce to (a) at t = 1
        assert float(terms["corr"]) == pytest.approx(10 * float(losses.gram_kl(teacher, student)))
        assert float(terms["corr"]) > 0
    code = corr(kl_direction="student_teacher", temperature=1.0, t2_scale=False)
    terms, student, teacher, _ = terms_of(code, make_context(task=1))
    expected = losses.gram_kl(teacher, student, 1.0, "student_teacher", t2_scale=False)
    assert float(terms["corr"]) == pytest.approx(10 * float(expected))


@pytest.mark.parametrize("task, factor", [(1, 1.0), (2, 2.0), (3, 1.5), (5, 1.25)])
def test_case_b_scales_the_weight_by_one_plus_one_over_t_minus_1(task, factor):
    plain, _, _, _ = terms_of(corr(), make_context(task=task))
    scaled, _, _, _ = terms_of(corr(scale_by_task=True), make_context(task=task))
    assert float(scaled["corr"]) == pytest.approx(factor * float(plain["corr"]))


def test_case_d_adds_one_actual_term_per_earlier_model():
    context = make_context(task=3, earlier=2)
    terms, student, _, images = terms_of(corr(teachers="all"), context)
    with torch.no_grad():
        expected = sum(losses.gram_kl(m(images)[0], student) for m in context.inputs["earlier_models"])
    assert float(terms["corr_multi"]) == pytest.approx(10 * float(expected))
    single = make_context(task=2, earlier=1)
    terms, student, _, images = terms_of(corr(teachers="all"), single)
    with torch.no_grad():
        assert float(terms["corr_multi"]) == pytest.approx(
            10 * float(losses.gram_kl(single.inputs["earlier_models"][0](images)[0], student)))
    plain, _, _, _ = terms_of(corr(), make_context(task=3, earlier=2))
    assert "corr_multi" not in plain  # only teachers: all reads them
    with pytest.raises(ValueError, match=r"needs the earlier models f_0, f_1 as frozen teachers, got 1"):
        corr(teachers="all").begin(make_context(task=3, earlier=1))


def test_estimation_adds_the_weighted_virtual_terms_from_the_recorded_ranges():
    changes = [{"task": 1, "drop": -0.0325, "gain": 0.7528}, {"task": 2, "drop": -0.1, "gain": 0.3}]
    context = make_context(task=3, state={"accuracy_changes": changes}, seed=7)
    terms, student, teacher, _ = terms_of(corr(estimation=True), context)
    virtual = virtual_features(teacher, [(-0.1, 0.3), (-0.0325, 0.7528)], 1.0,
                               torch.Generator().manual_seed(alpha_seed(7, 3)))  # [V_1, V_0]
    expected = 0.5 * losses.gram_kl(virtual[0], student) + 0.1 * losses.gram_kl(virtual[1], student)
    assert float(terms["corr_virtual"]) == pytest.approx(10 * float(expected))
    assert float(terms["corr"]) == pytest.approx(10 * float(losses.gram_kl(teacher, student)))
    assert len({alpha_seed(0, 2), alpha_seed(1, 2), alpha_seed(0, 3)}) == 3  # a stream per (seed, task)
    with pytest.raises(ValueError, match=r"accuracy changes of tasks \[2\]"):
        corr(estimation=True).begin(
            make_context(task=3, state={"accuracy_changes": changes[:1]}))
    with pytest.raises(ValueError, match="importance"):
        corr(importance="linear")


@pytest.mark.parametrize("old_accuracy, acc_old_before, acc_old_after", [
    ("group_mean", (0.6 + 0.4) / 2, (0.5 + 0.2) / 2), ("pooled", 0.55, 0.45), ("original", 0.6, 0.5)])
def test_finish_records_eq_6_6_from_teacher_and_student_test_accuracies(old_accuracy, acc_old_before,
                                                                        acc_old_after):
    context = make_context(task=2, state={"accuracy_changes": [{"task": 1, "drop": -0.1, "gain": 0.5}]})
    measured = {"teacher": {(0,): 0.6, (1,): 0.4, (0, 1): 0.55, (2,): 0.3},
                "student": {(0,): 0.5, (1,): 0.2, (0, 1): 0.45, (2,): 0.6}}
    asked = []

    def test_accuracy(model, groups, metric):
        asked.append(metric)
        return measured["teacher" if model is context.teacher else "student"][tuple(groups)]

    context.test_accuracy = test_accuracy
    method = corr(estimation=True, old_accuracy=old_accuracy, accuracy_metric="recall@1")
    method.begin(context)
    state = method.finish(context)
    assert [e["task"] for e in state["accuracy_changes"]] == [1, 2]  # carried over, this task's appended
    entry = state["accuracy_changes"][-1]
    assert entry["acc_old_before"] == pytest.approx(acc_old_before)
    assert entry["acc_old_after"] == pytest.approx(acc_old_after)
    assert (entry["acc_new_before"], entry["acc_new_after"]) == (0.3, 0.6)
    assert entry["drop"] == pytest.approx(acc_old_after / acc_old_before - 1)
    assert entry["gain"] == pytest.approx(1.0)
    assert set(asked) == {"recall@1"}
    carried = corr().finish(context)["accuracy_changes"]  # without estimation: carried over, nothing added
    assert carried == context.state["accuracy_changes"]


# ---- tiny training runs: three class groups, a base model and two tasks ----

@pytest.fixture(scope="module")
def three_groups(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic3")
    spec = {"seed": 3, "image_size": 16, "groups": [
        {"identity": ["shape", "colour"], "classes": 3, "images": 8},
        {"identity": ["shape", "texture"], "classes": 3, "images": 8},
        {"identity": ["colour", "texture"], "classes": 3, "images": 8}]}
    manifest = pd.DataFrame(build_synthetic(spec, folder))
    split = make_split(manifest, {"kind": "per_class_fraction", "train_fraction": 0.5, "seed": 0}, [3, 3, 3])
    return folder, split


def spec_for(folder, split, task, hparams=None, epochs=3, **kw):
    train, test = split[split.split == "train"], split[split.split == "test"]
    return TaskSpec(method="correlation" if task else "joint", hparams=hparams or {}, backbone="small_convnet",
                    embedding_dim=8, train_rows=train[train.group == task], data_root=folder, image_size=16,
                    n_classes=3 * (task + 1), first_class=3 * task, task=task,
                    schedule={"epochs": epochs, "lr_backbone": 1e-3, "lr_head": 1e-3, "weight_decay": 0.0},
                    batch={"p": 3, "k": 2, "rounds": 2}, seed=0, test_rows=test[test.group <= task] if task else None,
                    **kw)


@pytest.fixture(scope="module")
def chain(three_groups, tmp_path_factory):
    """base -> corr_fe task 1 (records alpha^(1)); corr task 1 for comparison."""
    folder, split = three_groups
    tmp = tmp_path_factory.mktemp("chain")
    paths = {"base": tmp / "base.pt", "fe1": tmp / "fe1.pt", "corr1": tmp / "corr1.pt"}
    train_task(spec_for(folder, split, 0, epochs=2), None, paths["base"], tmp / "ck0")
    train_task(spec_for(folder, split, 1, {"estimation": True}), paths["base"], paths["fe1"], tmp / "ck1")
    train_task(spec_for(folder, split, 1, {}), paths["base"], paths["corr1"], tmp / "ck2")
    return folder, split, paths


def test_task_1_records_the_accuracy_change_and_trains_as_without_estimation(chain):
    folder, split, paths = chain
    fe, corr = load_checkpoint(paths["fe1"]), load_checkpoint(paths["corr1"])
    [entry] = fe["state"]["accuracy_changes"]
    assert entry["task"] == 1 and 0 < entry["acc_new_before"] < 1 and 0 < entry["acc_old_after"] < 1
    assert entry["gain"] == pytest.approx(entry["acc_new_after"] / entry["acc_new_before"] - 1)
    # case (a)'s task 1 records alpha^(1) too, so case (c) can continue from it (task_1_of)
    assert corr["state"]["accuracy_changes"] == fe["state"]["accuracy_changes"]
    # spec 7.B-15: case (c)'s task 1 is case (a)'s (measuring the accuracies changes no weight)
    assert all(torch.equal(fe["model"][k], corr["model"][k]) for k in fe["model"])


def test_estimation_resumes_with_the_same_alpha_draws(chain, tmp_path, killed_at_checkpoint):
    folder, split, paths = chain
    hparams = {"estimation": True}
    reference = tmp_path / "reference.pt"
    history = train_task(spec_for(folder, split, 2, hparams), paths["fe1"], reference, tmp_path / "ck_ref")["history"]
    assert all(h["corr_virtual"] > 0 for h in history)

    out = tmp_path / "resumed.pt"
    with killed_at_checkpoint(1):
        train_task(spec_for(folder, split, 2, hparams), paths["fe1"], out, tmp_path / "ck")
    saved = load_checkpoint(tmp_path / "ck" / "last.pt")["method"]["alpha_rng"]
    assert not torch.equal(saved, torch.Generator().manual_seed(alpha_seed(0, 2)).get_state())  # draws were made
    train_task(spec_for(folder, split, 2, hparams), paths["fe1"], out, tmp_path / "ck")

    a, b = load_checkpoint(reference), load_checkpoint(out)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert [e["task"] for e in b["state"]["accuracy_changes"]] == [1, 2]
    assert a["state"] == b["state"]


def test_case_d_trains_with_the_earlier_models_and_fingerprints_them(chain, tmp_path):
    folder, split, paths = chain
    spec = spec_for(folder, split, 2, {"teachers": "all"}, epochs=1, inputs={"earlier_models": [paths["base"]]})
    history = train_task(spec, paths["corr1"], tmp_path / "d.pt", tmp_path / "ck")["history"]
    assert history[0]["corr_multi"] > 0 and "corr_virtual" not in history[0]
    plain = spec_for(folder, split, 2, {"teachers": "all"}, epochs=1)
    assert train_module._fingerprint(spec, paths["corr1"]) != train_module._fingerprint(plain, paths["corr1"])
    with pytest.raises(ValueError, match="needs the earlier models f_0 as frozen teachers, got 0"):
        train_task(plain, paths["corr1"], tmp_path / "d2.pt", tmp_path / "ck2")


def test_the_accuracy_change_lands_in_the_metrics_json(chain, tmp_path, monkeypatch):
    from retrieval_bench.studies.incremental import evaluation

    folder, split, paths = chain
    config = {"scale": "mini", "device": "cpu", "scales": {"mini": {
        "image_size": 16, "protocols": {"p": {"dataset": "d"}},
        "training": {"pipeline": "memory", "channels_last": False, "eval_batch": 64, "workers": 0}}}}
    monkeypatch.setattr(evaluation.plan, "dataset_manifest", lambda config, dataset: str(folder / "manifest.csv"))
    out = tmp_path / "metrics.json"
    evaluation.evaluate_model(config, split, "p", paths["fe1"], 1, tmp_path / "features", out)
    metrics = json.loads(out.read_text())
    entry = load_checkpoint(paths["fe1"])["state"]["accuracy_changes"][0]
    assert metrics["accuracy_change"] == pytest.approx(entry)
    assert metrics["accuracy_changes"] == [metrics["accuracy_change"]]
    # the recorded "after" accuracies are the ones the evaluation reports
    assert entry["acc_new_after"] == pytest.approx(metrics["groups"]["1"]["map"])
    assert entry["acc_old_after"] == pytest.approx(metrics["groups"]["0"]["map"])
    evaluation.evaluate_model(config, split, "p", paths["corr1"], 1, tmp_path / "features2", out)
    assert json.loads(out.read_text())["accuracy_change"] == metrics["accuracy_change"]  # same f_1, same change


def test_case_c_continues_from_case_a_task_1_as_from_its_own(chain, tmp_path):
    """Table 6.3 has one f_1 (L2162-2166): feature estimation at task 2 started from corr's task-1 model
    reads the alpha^(1) that model carries and trains exactly as from its own task-1 model."""
    folder, split, paths = chain
    spec = spec_for(folder, split, 2, {"estimation": True}, epochs=1)
    own = train_task(spec, paths["fe1"], tmp_path / "own.pt", tmp_path / "ck_own")["history"]
    shared = train_task(spec, paths["corr1"], tmp_path / "shared.pt", tmp_path / "ck_shared")["history"]
    losses_of = lambda history: [{k: v for k, v in h.items() if k not in ("seconds", "images_per_second")}  # noqa: E731
                                 for h in history]
    assert losses_of(own) == losses_of(shared) and shared[0]["corr_virtual"] > 0
    a, b = load_checkpoint(tmp_path / "own.pt"), load_checkpoint(tmp_path / "shared.pt")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_task_1_of_gives_a_configuration_another_ones_task_1_run():
    config = {"scale": "mini", "configurations": {
        "corr": {"method": "correlation"},
        "corr_fe": {"method": "correlation", "estimation": True, "task_1_of": "corr"},
        "corr_2model": {"method": "correlation", "teachers": "all", "task_1_of": "corr"}},
        "scales": {"mini": {"protocols": {"p": {"dataset": "d", "split": {}, "groups": [4, 2, 2, 2]}}}}}
    assert plan.run_key(config, "p", 0, "corr_fe", 1) == "p/seed0/corr/task1"
    assert plan.run_key(config, "p", 0, "corr_fe", 2) == "p/seed0/corr_fe/task2"
    assert plan.init_path(config, "p", 0, "corr_fe", 2) == "results/mini/p/seed0/corr/task1/model.pt"
    assert plan.metrics_path(config, plan.Run("case_c", "p", 0, "corr_fe", 1)) == \
        "results/mini/metrics/p/seed0/corr/task1.json"
    assert plan.method_inputs(config, "p", 0, "corr_2model", 3)["earlier_models"] == [
        "results/mini/p/seed0/base/task0/model.pt", "results/mini/p/seed0/corr/task1/model.pt"]
    assert method_of(config, "corr_fe") == ("correlation", {"estimation": True})  # not a hyper-parameter


def test_earlier_models_are_declared_only_for_teachers_all():
    config = {"scale": "mini", "configurations": {"corr": {"method": "correlation"},
                                                  "corr_2model": {"method": "correlation", "teachers": "all"}},
              "scales": {"mini": {"protocols": {"p": {"dataset": "d", "split": {}, "groups": [4, 2, 2, 2]}}}}}
    assert plan.method_inputs(config, "p", 0, "corr_2model", 1).get("earlier_models", []) == []
    assert plan.method_inputs(config, "p", 0, "corr_2model", 3).get("earlier_models", []) == [
        "results/mini/p/seed0/base/task0/model.pt", "results/mini/p/seed0/corr_2model/task1/model.pt"]
    assert plan.method_inputs(config, "p", 0, "corr", 3).get("earlier_models", []) == []
    assert plan.method_inputs(config, "p", 0, "base", 0).get("earlier_models", []) == []
