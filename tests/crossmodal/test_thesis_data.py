"""Chapter 3's thesis-scale files, on tiny files the tests write: MATLAB v7.3 (HDF5, axes reversed as
h5py sees them) and v5, DCMH's and DADH's key names, the zip, the md5 of the first copy, the one message
a missing file gives."""

import zipfile

import numpy as np
import pytest
from scipy.io import savemat

from paired_files import write_dcmh_v73
from retrieval_bench.studies.crossmodal.data.paired import load
from retrieval_bench.studies.crossmodal.data.thesis_sets import extract_zip, prepare, read_mat
from retrieval_bench.vision.archives import ArchiveError

N = 5


def pairs():
    """Pair i's image is filled with i, its text and labels carry i too: rows must stay together."""
    images = np.stack([np.full((8, 6, 3), i, dtype=np.uint8) for i in range(N)])  # MATLAB [N, H, W, 3]
    images[:, 0, 0, :] = [10, 20, 30]  # a pixel whose position and channel order are checked
    texts = np.eye(N, 7, dtype=np.float64)
    labels = np.eye(N, 4, k=0, dtype=np.uint8)[:, ::-1]
    labels[:, 0] = 1
    return images, texts, labels


def write_v73(path, images_key="IAll", matlab_images_last=False):
    write_dcmh_v73(path, *pairs(), images_key=images_key, matlab_images_last=matlab_images_last)


@pytest.mark.parametrize("key, last", [("IAll", True), ("images", False)])
def test_a_v73_file_reads_with_its_axes_and_pairs_in_place(tmp_path, key, last):
    write_v73(tmp_path / "FLICKR-25K.mat", key, last)
    data = read_mat(tmp_path / "FLICKR-25K.mat")
    images, texts, labels = pairs()
    assert data.images.shape == (N, 8, 6, 3) and data.images.dtype == np.uint8
    np.testing.assert_array_equal(data.images, images)
    np.testing.assert_array_equal(data.texts, texts)
    np.testing.assert_array_equal(data.labels, labels)
    assert data.info["image_input"] == "images"


def test_a_v5_features_file_of_dadh(tmp_path):
    _, texts, labels = pairs()
    features = np.arange(N * 10, dtype=np.float32).reshape(N, 10)
    savemat(tmp_path / "NUS-WIDE-TC21.mat", {"image": features, "text": texts, "label": labels})
    data = read_mat(tmp_path / "NUS-WIDE-TC21.mat")
    np.testing.assert_array_equal(data.images, features)
    assert data.info["image_input"] == "features" and data.labels.shape == (N, 4)


def test_prepare_records_the_first_copys_md5_and_refuses_another(tmp_path):
    source = tmp_path / "thesis" / "mirflickr25k"
    source.mkdir(parents=True)
    write_v73(source / "FLICKR-25K.mat")
    data = prepare("mirflickr25k", source, tmp_path / "prepared")
    assert (source / "FLICKR-25K.mat.md5").is_file()
    saved = load(tmp_path / "prepared")
    assert saved.info["thesis_counts"]["pairs"] == 20015 and saved.info["statistics"]["pairs"] == N
    assert len(data) == N
    write_v73(source / "FLICKR-25K.mat", "images")  # another copy
    with pytest.raises(ArchiveError, match="the copy first used here had"):
        prepare("mirflickr25k", source, tmp_path / "prepared")


def test_the_file_comes_out_of_dcmhs_zip(tmp_path):
    write_v73(tmp_path / "FLICKR-25K.mat")
    source = tmp_path / "source"
    source.mkdir()
    with zipfile.ZipFile(source / "data.zip", "w") as z:
        z.write(tmp_path / "FLICKR-25K.mat", "FLICKR-25K.mat")
    assert len(prepare("mirflickr25k", source, tmp_path / "prepared")) == N


def test_a_zip_member_outside_the_folder_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as z:
        z.writestr("../evil.txt", "x")
    with pytest.raises(ArchiveError, match="outside the folder"):
        extract_zip(tmp_path / "evil.zip", tmp_path / "into")
    assert not (tmp_path / "evil.txt").exists()


def test_a_missing_file_names_file_md5_folder_and_source(tmp_path):
    with pytest.raises(ArchiveError) as error:
        prepare("nuswide21", tmp_path / "data" / "thesis" / "nuswide21", tmp_path / "out")
    message = str(error.value)
    assert "place NUS-WIDE-TC21.mat by hand at" in message and "md5: none published" in message
    assert str(tmp_path / "data" / "thesis" / "nuswide21") in message and "DADH" in message


def test_cnn_f_weights_placed_by_hand_or_one_message_where_to_put_them(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from matconvnet_files import write_net
    from retrieval_bench.studies.crossmodal import commands
    from retrieval_bench.vision.models import cnn_f
    from tiny_project import ROOT

    monkeypatch.setattr(cnn_f, "WEIGHTS_URL", (tmp_path / "unreachable" / "vgg-f.mat").as_uri())
    args = SimpleNamespace(config=str(ROOT / "config.yaml"), job="xm_weights", argv=[], command="xm-weights",
                           out=str(tmp_path / "weights" / "imagenet-vgg-f.mat"))
    with pytest.raises(ArchiveError, match="place imagenet-vgg-f.mat by hand at .*md5: none published"):
        commands.weights(args)
    (tmp_path / "weights").mkdir(exist_ok=True)
    write_net(tmp_path / "weights" / "imagenet-vgg-f.mat")
    commands.weights(args)
    assert (tmp_path / "weights" / "imagenet-vgg-f.mat.md5").is_file()
