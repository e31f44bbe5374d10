"""The thesis-scale vector sets (spec 5) on tiny files in the real layouts: texmex .fvecs/.ivecs tarballs,
CIFAR-10's python tarball, NUS-WIDE's hand-placed folder.  No network: every download fails, fast (file://)."""

import dataclasses
import json
import logging
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from retrieval_bench.studies.hashing.data import thesis_sets
from retrieval_bench.studies.hashing.data.gist import gist
from retrieval_bench.studies.hashing.data.thesis_sets import THESIS_SETS, prepare, read_fvecs, read_ivecs
from retrieval_bench.studies.hashing.data.vector_set import load
from retrieval_bench.vision.archives import ArchiveError, md5sum


def write_vecs(path: Path, values: np.ndarray) -> Path:
    """fvecs (float32 values) or ivecs (int32): each row prefixed by its dimension as int32."""
    values = np.ascontiguousarray(values)
    dims = np.full((len(values), 1), values.shape[1], "<i4")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.hstack([dims, values.view("<i4")]).tofile(path)
    return path


def texmex_files(folder: Path, name: str, base: int = 50, queries: int = 5, dim: int = 12, k: int = 10) -> dict:
    """<folder>/<name>/<name>_{base,query,learn}.fvecs and _groundtruth.ivecs (exact k-NN, nearest first)."""
    rng = np.random.default_rng(7)
    arrays = {"base": rng.normal(size=(base, dim)).astype(np.float32),
              "query": rng.normal(size=(queries, dim)).astype(np.float32),
              "learn": rng.normal(size=(20, dim)).astype(np.float32)}
    distances = ((arrays["query"][:, None] - arrays["base"][None]) ** 2).sum(-1)
    arrays["groundtruth"] = np.argsort(distances, axis=1)[:, :k].astype(np.int32)
    for kind, values in arrays.items():
        write_vecs(folder / name / f"{name}_{kind}.{'ivecs' if kind == 'groundtruth' else 'fvecs'}", values)
    return arrays


def tar_gz(archive: Path, root: Path, member: str) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as out:
        out.add(root / member, arcname=member)
    return archive


def unreachable(spec, tmp_path: Path):
    """The entry with its download URL pointing nowhere (fails at once, offline or not)."""
    urls = ((tmp_path / "nowhere" / spec.archive.filename).as_uri(),)
    return dataclasses.replace(spec, archive=dataclasses.replace(spec.archive, urls=urls))


def tiny_release(monkeypatch, tmp_path, dataset: str, counts: dict, archive: Path | None = None, **changes):
    """Describe the tiny files as the release: their archive's md5 and their counts replace the entry's."""
    spec = unreachable(THESIS_SETS[dataset], tmp_path) if THESIS_SETS[dataset].archive else THESIS_SETS[dataset]
    if archive is not None:
        changes["archive"] = dataclasses.replace(spec.archive, md5=md5sum(archive))
    monkeypatch.setitem(THESIS_SETS, dataset, dataclasses.replace(spec, counts=counts, **changes))


# --------------------------------------------------------------------------- fvecs / ivecs

def test_fvecs_and_ivecs_round_trip(tmp_path):
    values = np.random.default_rng(0).normal(size=(9, 5)).astype(np.float32)
    ids = np.arange(27, dtype=np.int32).reshape(9, 3)[::-1]
    write_vecs(tmp_path / "a.fvecs", values)
    write_vecs(tmp_path / "a.ivecs", ids)
    for mmap in (True, False):
        got = read_fvecs(tmp_path / "a.fvecs", mmap=mmap)
        assert got.dtype == np.float32 and got.shape == (9, 5)
        np.testing.assert_array_equal(got, values)
    np.testing.assert_array_equal(read_ivecs(tmp_path / "a.ivecs"), ids)


def test_a_wrong_dimension_or_a_truncated_file_is_a_clear_error(tmp_path):
    path = write_vecs(tmp_path / "mixed.fvecs", np.zeros((4, 6), np.float32))
    raw = np.fromfile(path, "<i4")
    raw[2 * 7] = 5  # record 2 claims 5 values
    raw.tofile(path)
    with pytest.raises(ArchiveError, match=r"mixed\.fvecs: record 2 has dimension 5, the first record 6"):
        read_fvecs(path)
    full = write_vecs(tmp_path / "cut.ivecs", np.ones((4, 6), np.int32)).read_bytes()
    for size in (len(full) - 4, len(full) - 3, 2):
        (tmp_path / "cut.ivecs").write_bytes(full[:size])
        with pytest.raises(ArchiveError, match=r"cut\.ivecs: \d+ bytes is not a whole number"):
            read_ivecs(tmp_path / "cut.ivecs")


def test_features_are_copied_block_by_block(tmp_path):
    values = np.random.default_rng(1).normal(size=(23, 4)).astype(np.float32)
    view = read_fvecs(write_vecs(tmp_path / "a.fvecs", values))  # a strided view into the file
    written = thesis_sets._write_features(view, tmp_path / "features.npy", block_bytes=40)  # 2 rows a block
    np.testing.assert_array_equal(np.load(tmp_path / "features.npy"), values)
    assert isinstance(written, np.memmap) and written.dtype == np.float32


# --------------------------------------------------------------------------- texmex

@pytest.mark.parametrize("dataset, name, dim", [("sift1m", "sift", 12), ("gist1m", "gist", 30)])
def test_prepare_texmex_from_its_archive(tmp_path, monkeypatch, dataset, name, dim):
    arrays = texmex_files(tmp_path / "stage", name, dim=dim)
    source, out = tmp_path / "source", tmp_path / "out"
    archive = tar_gz(source / f"{name}.tar.gz", tmp_path / "stage", name)
    tiny_release(monkeypatch, tmp_path, dataset, {"items": 50, "dim": dim, "fixed_queries": 5, "groundtruth_k": 10},
                 archive)
    prepared = prepare(dataset, source, out)
    # the base set was copied into out/features.npy block by block; `save` must not write it again whole
    assert isinstance(prepared.features, np.memmap) and Path(prepared.features.filename) == (out / "features.npy")
    data = load(out)
    assert data.features.dtype == np.float32 and data.queries.dtype == np.float32
    assert data.groundtruth.dtype == np.int64 and data.labels is None
    np.testing.assert_array_equal(data.features, arrays["base"])
    np.testing.assert_array_equal(data.queries, arrays["query"])
    np.testing.assert_array_equal(data.groundtruth, arrays["groundtruth"])
    info = json.loads((out / "info.json").read_text())
    assert info["dataset"] == dataset and info["md5"] == {f"{name}.tar.gz": md5sum(archive)}
    assert info["counts"]["items"] == 50 and info["statistics"]["groundtruth_k"] == 10


def test_prepare_uses_extracted_files_when_the_archive_is_gone(tmp_path, monkeypatch, caplog):
    source = tmp_path / "source"
    arrays = texmex_files(source, "sift")
    tiny_release(monkeypatch, tmp_path, "sift1m", {"items": 50, "dim": 12, "fixed_queries": 5, "groundtruth_k": 10})
    with caplog.at_level(logging.WARNING):
        prepare("sift1m", source, tmp_path / "out")
    assert "used unverified" in caplog.text
    np.testing.assert_array_equal(load(tmp_path / "out").features, arrays["base"])
    md5 = json.loads((tmp_path / "out" / "info.json").read_text())["md5"]
    assert md5["sift/sift_base.fvecs"] == md5sum(source / "sift" / "sift_base.fvecs") and len(md5) == 3


def test_a_missing_source_raises_one_error_naming_file_md5_and_folder(tmp_path, monkeypatch):
    monkeypatch.setitem(THESIS_SETS, "sift1m", unreachable(THESIS_SETS["sift1m"], tmp_path))
    source = tmp_path / "empty"
    with pytest.raises(ArchiveError) as caught:
        prepare("sift1m", source, tmp_path / "out")
    message = str(caught.value)
    assert "sift.tar.gz" in message and "b23d1b3b2ee8469d819b61ca900ef0ed" in message and str(source) in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # one error, no chain
    assert not (tmp_path / "out" / "info.json").exists()


def test_an_archive_with_the_wrong_md5_is_refused(tmp_path, monkeypatch):
    texmex_files(tmp_path / "stage", "sift")
    source = tmp_path / "source"
    tar_gz(source / "sift.tar.gz", tmp_path / "stage", "sift")
    monkeypatch.setitem(THESIS_SETS, "sift1m", unreachable(THESIS_SETS["sift1m"], tmp_path))  # the official md5
    with pytest.raises(ArchiveError, match="expected b23d1b3b2ee8469d819b61ca900ef0ed"):
        prepare("sift1m", source, tmp_path / "out")
    assert (source / "sift.tar.gz.corrupt").exists() and not (source / "sift").exists()  # never extracted
    assert not (tmp_path / "out" / "features.npy").exists()


def test_counts_other_than_the_release_are_an_error(tmp_path, monkeypatch):
    texmex_files(tmp_path / "stage", "sift")
    archive = tar_gz(tmp_path / "source" / "sift.tar.gz", tmp_path / "stage", "sift")
    tiny_release(monkeypatch, tmp_path, "sift1m", THESIS_SETS["sift1m"].counts, archive)  # official counts
    with pytest.raises(ArchiveError, match=r"items 50 \(expected 1,000,000\), dim 12 \(expected 128\)"):
        prepare("sift1m", tmp_path / "source", tmp_path / "out")
    assert not (tmp_path / "out" / "features.npy").exists()


# --------------------------------------------------------------------------- CIFAR-10

def test_prepare_cifar10_pools_the_batches_and_computes_gist(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    stage = tmp_path / "stage" / "cifar-10-batches-py"
    stage.mkdir(parents=True)
    images = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    images[:, :16, :, 0] = 255  # structure that a wrong (planes, rows) unpacking would move
    labels = np.arange(12) % 10
    for i, name in enumerate(thesis_sets.CIFAR_BATCHES):  # 2 images per batch, in the real dict format
        rows = images[2 * i:2 * i + 2].transpose(0, 3, 1, 2).reshape(2, 3072)  # R, G, B planes, row-major
        batch = {b"batch_label": name.encode(), b"data": rows, b"labels": labels[2 * i:2 * i + 2].tolist(),
                 b"filenames": [b"x.png", b"y.png"]}
        (stage / name).write_bytes(pickle.dumps(batch, protocol=2))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    (stage / "batches.meta").write_bytes(pickle.dumps({b"label_names": names, b"num_vis": 3072}, protocol=2))
    archive = tar_gz(tmp_path / "source" / "cifar-10-python.tar.gz", tmp_path / "stage", "cifar-10-batches-py")
    tiny_release(monkeypatch, tmp_path, "cifar10_gist", {"items": 12, "dim": 512, "classes": 10}, archive)
    prepare("cifar10_gist", tmp_path / "source", tmp_path / "out")
    data = load(tmp_path / "out")
    np.testing.assert_array_equal(data.labels, labels)
    assert data.labels.dtype == np.int64 and data.features.shape == (12, 512)
    np.testing.assert_allclose(data.features, gist(images), rtol=1e-6)
    assert data.info["class_names"][0] == "airplane" and data.info["md5"] == {archive.name: md5sum(archive)}


# --------------------------------------------------------------------------- NUS-WIDE

def nuswide_folder(source: Path) -> dict:
    """60 images, 25 concepts: 21 'common' ones with distinct frequencies 3..23 (on images 0-49), 4 rare ones
    on one image each (images 50-53); images 54-59 carry none."""
    rng = np.random.default_rng(5)
    names = [f"concept{j:02d}" for j in range(25)]
    order = rng.permutation(25)  # common concept t is names[order[t]]: alphabetical order is not frequency order
    labels = np.zeros((60, 25), np.uint8)
    for t in range(21):
        labels[rng.choice(50, size=3 + t, replace=False), order[t]] = 1
    for r in range(4):
        labels[50 + r, order[21 + r]] = 1
    bow = rng.integers(0, 9, (60, 6))
    (source / "Low_Level_Features").mkdir(parents=True)
    np.savetxt(source / "Low_Level_Features" / "BoW_int.dat", bow, fmt="%d", delimiter=" ")
    (source / "Groundtruth" / "AllLabels").mkdir(parents=True)
    for j, name in enumerate(names):
        np.savetxt(source / "Groundtruth" / "AllLabels" / f"Labels_{name}.txt", labels[:, j], fmt="%d")
    top = [order[t] for t in reversed(range(21))]  # most frequent first
    return {"names": names, "labels": labels, "bow": bow, "top": top}


def test_prepare_nuswide_keeps_the_images_of_the_21_most_frequent_concepts(tmp_path, monkeypatch, caplog):
    made = nuswide_folder(tmp_path / "source")
    tiny_release(monkeypatch, tmp_path, "nuswide_bow", {"source_images": 60, "concepts": 25, "dim": 6, "classes": 21})
    with caplog.at_level(logging.INFO):
        prepare("nuswide_bow", tmp_path / "source", tmp_path / "out")
    keep = made["labels"][:, made["top"]].any(axis=1)
    np.testing.assert_array_equal(keep, np.arange(60) < 50)  # the rare-only and unlabelled images go
    data = load(tmp_path / "out")
    assert data.labels.dtype == np.uint8 and data.labels.shape == (keep.sum(), 21)
    np.testing.assert_array_equal(data.labels, made["labels"][keep][:, made["top"]])
    np.testing.assert_array_equal(data.features, made["bow"][keep].astype(np.float32))
    assert data.info["concepts"] == [made["names"][j] for j in made["top"]]
    assert data.info["concept_images"] == list(range(23, 2, -1))
    assert data.info["counts"]["items"] == keep.sum()
    assert "the literature has 195834" in caplog.text and f"{keep.sum()} of 60 images" in caplog.text
    assert "Low_Level_Features/BoW_int.dat" in data.info["md5"] and len(data.info["md5"]) == 26


def test_nuswide_missing_files_name_what_to_place_where(tmp_path):
    source = tmp_path / "source"
    (source / "Groundtruth" / "AllLabels").mkdir(parents=True)
    (source / "Groundtruth" / "AllLabels" / "Labels_sky.txt").write_text("0\n1\n")
    with pytest.raises(ArchiveError, match=rf"place Low_Level_Features/BoW_int.dat by hand under {source}"):
        prepare("nuswide_bow", source, tmp_path / "out")


def test_nuswide_rows_must_match_the_label_files(tmp_path, monkeypatch):
    nuswide_folder(tmp_path / "source")
    bow = tmp_path / "source" / "Low_Level_Features" / "BoW_int.dat"
    bow.write_text("".join(bow.read_text().splitlines(keepends=True)[:-1]))  # one row short
    tiny_release(monkeypatch, tmp_path, "nuswide_bow", {"source_images": 60, "concepts": 25, "dim": 6, "classes": 21})
    with pytest.raises(ArchiveError, match=r"BoW_int\.dat has 59 rows, the label files 60"):
        prepare("nuswide_bow", tmp_path / "source", tmp_path / "out")
