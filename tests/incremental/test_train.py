from pathlib import Path

import pandas as pd
import pytest
import torch

from retrieval_bench.studies.incremental import train as train_module
from retrieval_bench.studies.incremental.splits import make_split
from retrieval_bench.studies.incremental.train import TaskSpec, train_task
from retrieval_bench.vision.datasets import build_synthetic
from retrieval_bench.vision.models import load_checkpoint


@pytest.fixture(scope="module")
def tiny_split(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    spec = {"seed": 3, "image_size": 16, "groups": [
        {"identity": ["shape", "colour"], "classes": 3, "images": 8},
        {"identity": ["shape", "texture"], "classes": 3, "images": 8}]}
    manifest = pd.DataFrame(build_synthetic(spec, folder))
    split = make_split(manifest, {"kind": "per_class_fraction", "train_fraction": 0.5, "seed": 0}, [3, 3])
    return folder, split


def spec_for(folder, split, method="finetune", task=0, epochs=2, **kw):
    train = split[split.split == "train"]
    rows = train[train.group == task]
    return TaskSpec(method=method, hparams=kw.pop("hparams", {}), backbone="small_convnet", embedding_dim=8,
                    train_rows=rows, data_root=folder, image_size=16, n_classes=3 * (task + 1),
                    first_class=3 * task, task=task,
                    schedule={"epochs": epochs, "lr_backbone": 1e-3, "lr_head": 1e-3, "weight_decay": 0.0},
                    batch={"p": 3, "k": 2, "rounds": 2}, seed=0,
                    previous_rows=train[train.group == task - 1] if task else None, **kw)


def test_training_is_deterministic_and_records_history(tiny_split, tmp_path):
    folder, split = tiny_split
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    train_task(spec_for(folder, split), None, a, tmp_path / "ck_a")
    train_task(spec_for(folder, split), None, b, tmp_path / "ck_b")
    ma, mb = load_checkpoint(a), load_checkpoint(b)
    assert all(torch.equal(ma["model"][k], mb["model"][k]) for k in ma["model"])
    assert [h["epoch"] for h in ma["history"]] == [1, 2]
    assert {"ce", "triplet", "images_per_second"} <= set(ma["history"][0])
    assert ma["path"] is not None  # the base task records the path integral ALASSO needs
    assert not (tmp_path / "ck_a" / "last.pt").exists()  # finished runs leave no resume point


@pytest.mark.parametrize("method,task", [("finetune", 0), ("alasso", 1)])
def test_a_killed_job_resumes_from_its_last_epoch(tiny_split, tmp_path, monkeypatch, method, task):
    # the base task and an ALASSO task both keep a path integral: it must survive the kill too
    folder, split = tiny_split
    init = None
    if task:
        init = tmp_path / "base.pt"
        train_task(spec_for(folder, split, epochs=1), None, init, tmp_path / "ck_base")
    reference = tmp_path / "reference.pt"
    train_task(spec_for(folder, split, method, task, epochs=3), init, reference, tmp_path / "ck_ref")

    real_save = train_module.save_torch
    saves = []

    def save_then_die(obj, path):
        real_save(obj, path)
        saves.append(path)
        if Path(path).name == "last.pt" and obj["epoch"] == 2:
            raise KeyboardInterrupt("killed by the scheduler")

    monkeypatch.setattr(train_module, "save_torch", save_then_die)
    out = tmp_path / "resumed.pt"
    with pytest.raises(KeyboardInterrupt):
        train_task(spec_for(folder, split, method, task, epochs=3), init, out, tmp_path / "ck")
    assert not out.exists() and (tmp_path / "ck" / "last.pt").exists()
    monkeypatch.setattr(train_module, "save_torch", real_save)

    history = train_task(spec_for(folder, split, method, task, epochs=3), init, out, tmp_path / "ck")["history"]
    assert [h["epoch"] for h in history if "seconds" in h] == [1, 2, 3]
    a, b = load_checkpoint(reference), load_checkpoint(out)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    for part in ("integral", "start"):
        assert all(torch.equal(a["path"][part][k], b["path"][part][k]) for k in a["path"][part])
    assert a["path"]["integral"]["embedding.weight"].abs().sum() > 0


def test_checkpoint_of_another_configuration_is_not_resumed(tiny_split, tmp_path, monkeypatch):
    folder, split = tiny_split
    real_save = train_module.save_torch

    def die(obj, path):
        real_save(obj, path)
        if Path(path).name == "last.pt":
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "save_torch", die)
    with pytest.raises(KeyboardInterrupt):
        train_task(spec_for(folder, split, epochs=2), None, tmp_path / "m.pt", tmp_path / "ck")
    monkeypatch.setattr(train_module, "save_torch", real_save)
    other = spec_for(folder, split, epochs=2)
    other.schedule = {**other.schedule, "lr_head": 5e-3}
    history = train_task(other, None, tmp_path / "m.pt", tmp_path / "ck")["history"]
    assert [h["epoch"] for h in history] == [1, 2]


@pytest.mark.parametrize("method", ["mmd", "ewc", "alasso", "lwf", "l2"])
def test_incremental_task_grows_classifier_and_keeps_state(tiny_split, tmp_path, method):
    folder, split = tiny_split
    base = tmp_path / "base.pt"
    train_task(spec_for(folder, split, epochs=1), None, base, tmp_path / "ck0")
    out = tmp_path / "task1.pt"
    train_task(spec_for(folder, split, method=method, task=1, epochs=1), base, out, tmp_path / "ck1")
    ckpt = load_checkpoint(out)
    assert ckpt["n_classes"] == 6 and ckpt["model"]["classifier.weight"].shape[0] == 6
    if method == "ewc":
        assert ckpt["state"]["ewc_tasks"] == 2
    if method == "alasso":
        assert "alasso_omega" in ckpt["state"]


@pytest.mark.parametrize("seconds, saved_epochs", [(0, [1, 2]), (3600, [])])
def test_resume_points_are_written_at_most_every_checkpoint_seconds(tiny_split, tmp_path, monkeypatch, seconds,
                                                                    saved_epochs):
    folder, split = tiny_split
    real_save, saved = train_module.save_torch, []

    def recording_save(obj, path):
        if Path(path).name == "last.pt":
            saved.append(obj["epoch"])
        real_save(obj, path)

    monkeypatch.setattr(train_module, "save_torch", recording_save)
    train_task(spec_for(folder, split, epochs=3, checkpoint_seconds=seconds), None, tmp_path / "m.pt", tmp_path / "ck")
    assert saved == saved_epochs  # never after the last epoch: the finished model is written instead


@pytest.fixture(scope="module")
def file_backed_split(tmp_path_factory):
    """A few small JPEG files of differing sizes (the thesis path: read and
    augmented per image by torchvision transforms in DataLoader workers)."""
    import numpy as np
    from PIL import Image

    folder = tmp_path_factory.mktemp("jpegs")
    rng, rows = np.random.default_rng(0), []
    for label in range(3):
        for i in range(6):
            h, w = 20 + 2 * i, 30 - i
            pixels = (rng.random((h, w, 3)) * 255 * (label + 1) / 3).astype("uint8")
            rel = Path(f"c{label}") / f"{i}.jpg"
            (folder / rel).parent.mkdir(exist_ok=True)
            Image.fromarray(pixels).save(folder / rel, quality=90)
            rows.append({"path": str(rel), "label": label, "split": "train", "group": 0})
    return folder, pd.DataFrame(rows)


@pytest.mark.parametrize("killed_after", [1, 2])
def test_file_backed_training_with_workers_resumes_exactly_and_ignores_the_worker_count(
        file_backed_split, tmp_path, killed_at_checkpoint, killed_after):
    folder, split = file_backed_split

    def spec(workers):
        return spec_for(folder, split, epochs=3, in_memory=False, workers=workers)

    reference, serial = tmp_path / "reference.pt", tmp_path / "serial.pt"
    train_task(spec(2), None, reference, tmp_path / "ck_ref")
    train_task(spec(0), None, serial, tmp_path / "ck_serial")

    out = tmp_path / "resumed.pt"
    with killed_at_checkpoint(killed_after):
        train_task(spec(2), None, out, tmp_path / "ck")
    history = train_task(spec(2), None, out, tmp_path / "ck")["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]

    a = load_checkpoint(reference)["model"]
    for other in (out, serial):  # resumed after a kill; 0 workers instead of 2
        b = load_checkpoint(other)["model"]
        assert all(torch.equal(a[k], b[k]) for k in a), other.name


def test_decoded_cache_training_resumes_exactly(file_backed_split, tmp_path, killed_at_checkpoint):
    """The thesis path's default: crops of the decoded-image cache, their
    boxes and flips drawn from the per-image seeds (which the checkpoint keeps)."""
    from retrieval_bench.vision.decoded import build_decoded_cache, shorter_side

    folder, split = file_backed_split
    cache = tmp_path / "decoded"
    build_decoded_cache(split["path"], cache, shorter_side(16), root=folder)

    def spec():
        return spec_for(folder, split, epochs=3, in_memory=False, decoded=cache)

    reference = tmp_path / "reference.pt"
    train_task(spec(), None, reference, tmp_path / "ck_ref")
    pil = tmp_path / "pil.pt"  # the same boxes, resized by PIL instead: close, not equal
    train_task(spec_for(folder, split, epochs=3, in_memory=False), None, pil, tmp_path / "ck_pil")

    out = tmp_path / "resumed.pt"
    with killed_at_checkpoint(1):
        train_task(spec(), None, out, tmp_path / "ck")
    history = train_task(spec(), None, out, tmp_path / "ck")["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]

    a, b, c = (load_checkpoint(p)["model"] for p in (reference, out, pil))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_teacher_normalises_like_the_student_at_a_tasks_first_step(tiny_split, tmp_path):
    # Mini scale trains with BatchNorm in training mode: a teacher in eval
    # mode would differ from the identical student (MMD 0.79 at step 0).
    from retrieval_bench.studies.incremental import losses
    from retrieval_bench.vision.models import freeze_batchnorm, model_from_checkpoint

    folder, split = tiny_split
    train_task(spec_for(folder, split, epochs=1), None, tmp_path / "base.pt", tmp_path / "ck")
    checkpoint = load_checkpoint(tmp_path / "base.pt")
    images = torch.rand(12, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    for freeze_bn in (False, True):
        student = model_from_checkpoint(checkpoint).train()
        if freeze_bn:
            freeze_batchnorm(student)
        teacher = train_module.frozen_teacher(checkpoint, torch.device("cpu"), batch_statistics=not freeze_bn)
        running = {n: b.clone() for n, b in teacher.named_buffers() if "running" in n}
        s_emb, _ = student(images)
        t_emb, _ = teacher(images)
        assert torch.equal(s_emb, t_emb)
        assert float(losses.mmd(t_emb, s_emb.detach())) == pytest.approx(0.0, abs=1e-3)
        assert all(torch.equal(b, running[n]) for n, b in teacher.named_buffers() if n in running)
        assert not any(p.requires_grad for p in teacher.parameters())


@pytest.fixture
def deterministic_algorithms():
    from retrieval_bench.core.runtime import set_deterministic

    before = torch.are_deterministic_algorithms_enabled()
    set_deterministic()
    yield
    torch.use_deterministic_algorithms(before)


@pytest.mark.parametrize("method", ["finetune", "mmd", "ewc", "alasso", "lwf", "l2"])
def test_training_path_runs_under_deterministic_algorithms(tiny_split, file_backed_split, tmp_path,
                                                          deterministic_algorithms, method):
    """`training.deterministic` on a CPU: no operation of training, its method
    terms or the evaluation's embedding lacks a deterministic implementation."""
    from retrieval_bench.vision.extract import embed
    from retrieval_bench.vision.loading import ImageSet

    assert torch.are_deterministic_algorithms_enabled()
    folder, split = tiny_split
    base = tmp_path / "base.pt"
    train_task(spec_for(folder, split, epochs=1), None, base, tmp_path / "ck0")
    out = tmp_path / "task1.pt"
    train_task(spec_for(folder, split, method=method, task=1, epochs=1), base, out, tmp_path / "ck1")
    files, rows = file_backed_split
    train_task(spec_for(files, rows, epochs=1, in_memory=False, workers=2), None, tmp_path / "f.pt", tmp_path / "ck2")
    from retrieval_bench.vision.models import model_from_checkpoint

    model = model_from_checkpoint(load_checkpoint(out))
    test = split[split.split == "test"]
    features, _ = embed(model, ImageSet(test, folder, 16, train=False, in_memory=False), device="cpu", workers=0)
    assert len(features) == len(test)


def test_bfloat16_autocast_and_channels_last_train_and_change_the_fingerprint(tiny_split, tmp_path):
    """training.precision: bfloat16 runs the forward passes in bfloat16 (the
    weights differ from a float32 run's, the losses stay finite); both options
    are part of the resume fingerprint, so a checkpoint of one is never resumed
    by the other."""
    folder, split = tiny_split
    outputs = {}
    for name, options in {"float32": {}, "bfloat16": {"precision": "bfloat16"},
                          "channels_last": {"channels_last": True}}.items():
        train_task(spec_for(folder, split, epochs=1, **options), None, tmp_path / f"{name}.pt", tmp_path / f"ck_{name}")
        outputs[name] = load_checkpoint(tmp_path / f"{name}.pt")
    base, bf16, nhwc = (outputs[k]["model"] for k in ("float32", "bfloat16", "channels_last"))
    assert {t.dtype for t in bf16.values()} == {t.dtype for t in base.values()}  # weights stay float32
    assert all(torch.isfinite(v).all() for v in bf16.values())
    assert max((bf16[k].float() - base[k].float()).abs().max() for k in base) > 1e-3  # bfloat16 really ran
    assert max((nhwc[k].float() - base[k].float()).abs().max() for k in base) < 1e-3  # layout only: rounding
    fingerprints = {train_module._fingerprint(spec_for(folder, split, epochs=1, **o), None)
                    for o in ({}, {"precision": "bfloat16"}, {"channels_last": True})}
    assert len(fingerprints) == 3


def test_the_image_pipeline_and_monitoring_are_part_of_the_resume_fingerprint(tiny_split):
    folder, split = tiny_split
    test = split[split.split == "test"]
    variants = [{}, {"in_memory": False}, {"monitor_rows": test[test.group == 0]}]
    assert len({train_module._fingerprint(spec_for(folder, split, **v), None) for v in variants}) == 3
