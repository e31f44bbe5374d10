"""Chapter 4's thesis-scale caption sets on tiny files in the real layouts (Karpathy's JSON in its zip, the
Flickr8K zip, the Flickr30K tar, COCO's folders, CUHK-PEDES's json + imgs/), and the image reader."""

import io
import json
import tarfile

import pytest
import torch

from caption_files import FLICKR, entry, karpathy_zip, picture, write_zip
from retrieval_bench.core.errors import UserError
from retrieval_bench.studies.crossmodal.data import caption_sets
from retrieval_bench.studies.crossmodal.data.caption_images import ImageFiles
from retrieval_bench.studies.crossmodal.data.caption_sets import prepare
from retrieval_bench.studies.crossmodal.data.captions import load
from retrieval_bench.vision.archives import ArchiveError


@pytest.fixture
def flickr8k(tmp_path):
    source = tmp_path / "thesis" / "flickr8k"
    source.mkdir(parents=True)
    karpathy_zip(source / "caption_datasets.zip", "flickr8k", FLICKR)
    write_zip(source / "Flickr8k_Dataset.zip", {f"Flicker8k_Dataset/{k}.jpg": picture(k) for k in range(1, 7)})
    return source


def test_flickr8k_from_its_zips(flickr8k, tmp_path):
    data = prepare("flickr8k", flickr8k, tmp_path / "out")
    assert data.statistics() == {"vocabulary": len(data.vocabulary),
                                 "train": {"images": 3, "captions": 15, "instances": 3},
                                 "val": {"images": 1, "captions": 5, "instances": 1},
                                 "test": {"images": 2, "captions": 11, "instances": 2}}
    saved = load(tmp_path / "out")
    assert saved.images == [f"{k}.jpg" for k in range(1, 7)]
    assert saved.info["root"] == str((flickr8k / "Flicker8k_Dataset").resolve())
    assert (saved.captions["instance"] == saved.captions["image"]).all() and (saved.captions["fold"] == -1).all()
    assert saved.captions["text"].iloc[0] == "a dog runs"
    assert set(saved.info["files"]) == {"caption_datasets.zip", "Flickr8k_Dataset.zip"}
    assert (flickr8k / "caption_datasets.zip.md5").is_file() and (flickr8k / "Flickr8k_Dataset.zip.md5").is_file()
    assert saved.info["thesis_counts"]["train"] == {"images": 6000}
    assert ImageFiles.of(saved).batch([0, 5], train=False).shape == (2, 3, 224, 224)


def test_vocabulary_keeps_training_words_of_the_minimum_count(flickr8k, tmp_path):
    words = prepare("flickr8k", flickr8k, tmp_path / "a").vocabulary.words
    assert "dog" in words and "cat" not in words and "zebra" not in words  # 3, 2 and 0 training uses
    data = prepare("flickr8k", flickr8k, tmp_path / "b", {"vocabulary": {"min_count": 2}})
    assert "cat" in data.vocabulary.words and "zebra" not in data.vocabulary.words
    assert load(tmp_path / "b").info["vocabulary"] == {"min_count": 2, "cap": 12000}


def test_a_changed_copy_of_an_unverified_file_is_refused(flickr8k, tmp_path):
    prepare("flickr8k", flickr8k, tmp_path / "out")
    karpathy_zip(flickr8k / "caption_datasets.zip", "flickr8k", FLICKR[:5])
    with pytest.raises(ArchiveError, match="md5"):
        prepare("flickr8k", flickr8k, tmp_path / "out2")


def test_zip_members_escaping_the_folder_are_refused(flickr8k, tmp_path):
    write_zip(flickr8k / "Flickr8k_Dataset.zip", {"Flicker8k_Dataset/1.jpg": picture(1), "../escaped.jpg": b"x"})
    with pytest.raises(ArchiveError, match="outside"):
        prepare("flickr8k", flickr8k, tmp_path / "out")
    assert not (flickr8k.parent / "escaped.jpg").exists() and not (flickr8k / "Flicker8k_Dataset").exists()


def test_missing_request_only_files_stop_before_any_work(tmp_path):
    source, out = tmp_path / "thesis" / "flickr30k", tmp_path / "out"
    source.mkdir(parents=True)
    with pytest.raises(ArchiveError) as raised:
        prepare("flickr30k", source, out)
    lines = str(raised.value).splitlines()
    assert len(lines) == 2 and all(line.startswith("flickr30k: missing ") for line in lines)
    assert f"{source / 'flickr30k-images.tar.gz'}" in lines[1] and "https://forms.illinois.edu/sec/229675" in lines[1]
    assert lines[1].endswith("md5: unverified") and caption_sets.KARPATHY_URL in lines[0]
    (source / "dataset_flickr30k.json").write_text(json.dumps({"images": FLICKR}))
    with pytest.raises(ArchiveError) as raised:
        prepare("flickr30k", source, out)
    assert len(str(raised.value).splitlines()) == 1 and "flickr30k-images.tar.gz" in str(raised.value)
    assert not out.exists() and not (source / "dataset_flickr30k.json.md5").exists()


def test_flickr30k_tar_with_karpathy_or_entities_splits(tmp_path):
    source = tmp_path / "flickr30k"
    source.mkdir()
    (source / "dataset_flickr30k.json").write_text(json.dumps({"images": FLICKR}))
    with tarfile.open(source / "flickr30k-images.tar.gz", "w:gz") as tar:
        for k in range(1, 7):
            info, content = tarfile.TarInfo(f"flickr30k-images/{k}.jpg"), picture(k)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    karpathy = prepare("flickr30k", source, tmp_path / "k")
    assert [karpathy.statistics()[r]["images"] for r in ("train", "val", "test")] == [3, 1, 2]
    for role, ids in {"train": "1\n2\n3\n4\n", "val": "5\n", "test": "6\n"}.items():
        (source / f"{role}.txt").write_text(ids)
    entities = prepare("flickr30k", source, tmp_path / "e", {"split_source": "entities"})
    assert [entities.statistics()[r]["images"] for r in ("train", "val", "test")] == [4, 1, 1]
    assert entities.info["options"]["split_source"] == "entities" and "train.txt" in entities.info["files"]


COCO = [entry("t.jpg", "train", ["a cat"] * 7, "train2014"), entry("r.jpg", "restval", ["a dog"] * 5, "val2014"),
        entry("v.jpg", "val", ["a cow"] * 5, "val2014")] + \
       [entry(f"{k}.jpg", "test", [f"test {k} caption {c}" for c in range(5 + k)], "val2014") for k in range(3)]


@pytest.fixture
def coco(tmp_path, monkeypatch):
    """COCO with its image folders placed extracted, and 1K folds of 2 images."""
    monkeypatch.setattr(caption_sets, "COCO_FOLD_IMAGES", 2)
    source = tmp_path / "coco"
    (source / "train2014").mkdir(parents=True)
    (source / "val2014").mkdir()
    for k, e in enumerate(COCO):
        (source / e["filepath"] / e["filename"]).write_bytes(picture(k))
    (source / "dataset_coco.json").write_text(json.dumps({"images": COCO}))
    return source


def test_coco_restval_is_validation_and_test_keeps_five_captions_in_folds(coco, tmp_path):
    data = prepare("coco", coco, tmp_path / "out")
    table = data.captions
    assert data.images == ["train2014/t.jpg", "val2014/r.jpg", "val2014/0.jpg", "val2014/1.jpg", "val2014/2.jpg"]
    assert len(data.role("train")) == 7 and set(data.role("val")["text"]) == {"a dog"}
    test = data.role("test")
    assert list(test.groupby("image")["text"].apply(list)) == [[f"test {k} caption {c}" for c in range(5)]
                                                               for k in range(3)]
    assert list(test.groupby("image")["fold"].first()) == [0, 0, 1]
    assert (table.loc[table["role"] != "test", "fold"] == -1).all()


def test_coco_use_restval_trains_on_it(coco, tmp_path):
    data = prepare("coco", coco, tmp_path / "out", {"use_restval": True})
    assert set(data.role("train")["text"]) == {"a cat", "a dog"} and set(data.role("val")["text"]) == {"a cow"}
    assert data.info["options"]["use_restval"] is True


def test_coco_zip_with_a_wrong_md5_is_moved_aside(coco, tmp_path):
    write_zip(coco / "val2014.zip", {"val2014/r.jpg": picture(1)})
    with pytest.raises(ArchiveError, match="a3d79f5ed8d289b7a7554ce06a5782b3"):
        prepare("coco", coco, tmp_path / "out")
    assert (coco / "val2014.zip.corrupt").is_file()


def test_coco_download_failure_is_reported_per_file(tmp_path, monkeypatch):
    source = tmp_path / "coco"
    source.mkdir()
    (source / "dataset_coco.json").write_text(json.dumps({"images": COCO}))

    def offline(archive, folder, timeout=60.0):
        raise ArchiveError(f"could not download {archive.filename} (offline)")

    monkeypatch.setattr(caption_sets, "fetch", offline)
    with pytest.raises(ArchiveError, match=r"missing .*train2014\.zip.*download failed.*offline.*0da8c0bd"):
        prepare("coco", source, tmp_path / "out", {"download": True})


def test_options_are_checked(tmp_path):
    with pytest.raises(UserError, match="unknown option"):
        prepare("flickr8k", tmp_path, tmp_path / "out", {"use_resval": True})
    with pytest.raises(UserError, match="flickr30k only"):
        prepare("coco", tmp_path, tmp_path / "out", {"split_source": "entities"})


def test_cuhk_pedes_identities_are_reindexed_training_first(tmp_path):
    source = tmp_path / "cuhk_pedes"
    people = [(7, "train", "CUHK01/a.png"), (3, "train", "CUHK01/b.png"), (7, "train", "CUHK01/c.png"),
              (12, "test", "test_query/d.png"), (5, "val", "imgs/CUHK01/e.png")]
    entries = [{"id": person, "split": split, "file_path": path, "captions": ["A Woman, wearing RED-shoes.", "x"],
                "processed_tokens": [["a", "woman"], ["a", "man"]]} for person, split, path in people]
    del entries[1]["processed_tokens"]
    source.mkdir()
    (source / "reid_raw.json").write_text(json.dumps(entries))
    for k, (_, _, path) in enumerate(people):
        target = source / "imgs" / path.removeprefix("imgs/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(picture(k, (8, 16)))
    data = prepare("cuhk_pedes", source, tmp_path / "out")
    table = data.captions
    assert list(table.groupby("image")["instance"].first()) == [1, 0, 1, 3, 2]
    assert data.images[-1] == "CUHK01/e.png" and data.info["root"] == str((source / "imgs").resolve())
    assert list(table.loc[table["image"] == 1, "text"]) == ["a woman wearing red shoes", "x"]
    assert list(table.loc[table["image"] == 0, "text"]) == ["a woman", "a man"]
    assert data.statistics()["train"] == {"images": 3, "captions": 6, "instances": 2}


@pytest.fixture
def image_files(tmp_path):
    for k in range(3):
        (tmp_path / f"{k}.png").write_bytes(picture(k, (40, 30)))
    return ImageFiles(tmp_path, [f"{k}.png" for k in range(3)], image_size=16, resize=20)


def test_evaluation_batches_are_centre_crops(image_files):
    batch = image_files.batch([2, 0], train=False)
    assert batch.shape == (2, 3, 16, 16) and batch.dtype == torch.float32 and len(image_files) == 3
    assert torch.equal(batch, image_files.batch([2, 0], train=False))


def test_training_batches_follow_the_generator(image_files):
    first = image_files.batch([0, 1, 2], train=True, generator=torch.Generator().manual_seed(3))
    again = image_files.batch([0, 1, 2], train=True, generator=torch.Generator().manual_seed(3))
    other = image_files.batch([0, 1, 2], train=True, generator=torch.Generator().manual_seed(4))
    assert first.shape == (3, 3, 16, 16) and torch.equal(first, again) and not torch.equal(first, other)


def test_decoding_threads_give_the_same_batches(image_files):
    threaded = ImageFiles(image_files.root, image_files.files, image_size=16, resize=20, workers=3)
    for train in (True, False):
        one = image_files.batch([2, 0, 1, 2], train=train, generator=torch.Generator().manual_seed(5))
        many = threaded.batch([2, 0, 1, 2], train=train, generator=torch.Generator().manual_seed(5))
        assert torch.equal(one, many)
