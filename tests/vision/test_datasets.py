"""Dataset preparation from tiny archives with the real layouts, served via file:// URLs.

Every test goes through the real fetch -> md5 check -> extract -> manifest path; nothing
touches the network (the only sockets are on 127.0.0.1).
"""

from __future__ import annotations

import io
import socket
import tarfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dataset_archives import CIFAR_NAMES, cars_files, cifar_tgz, cub_tgz, dogs_tars
from retrieval_bench.vision import datasets
from retrieval_bench.vision.archives import Archive, ArchiveError, extract, fetch, md5sum
from retrieval_bench.vision.datasets import MANIFEST_COLUMNS, prepare, read_manifest

# --------------------------------------------------------------------------- helpers


def _serve(monkeypatch, kind: str, files: list[Path]) -> list[Archive]:
    """Point ARCHIVES[kind] at the tiny files through file:// URLs with their real md5."""
    archives = [Archive(f.name, (f.as_uri(),), md5sum(f)) for f in files]
    monkeypatch.setitem(datasets.ARCHIVES, kind, archives)
    return archives


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _check_manifest(frame: pd.DataFrame, expected: list[dict], folder: Path) -> None:
    want = pd.DataFrame(expected, columns=MANIFEST_COLUMNS)
    assert list(frame.columns) == MANIFEST_COLUMNS
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), want, check_dtype=False)
    on_disk = read_manifest(folder / "manifest.csv")
    pd.testing.assert_frame_equal(on_disk, want, check_dtype=False)
    for rel in on_disk["path"]:
        assert not Path(rel).is_absolute()
        assert (folder / rel).is_file(), rel


# --------------------------------------------------------------------------- CUB-200-2011


def test_cub_manifest_from_official_files(tmp_path, monkeypatch):
    archive, expected = cub_tgz(tmp_path / "server")
    _serve(monkeypatch, "cub", [archive])
    folder = tmp_path / "data" / "cub"

    frame = prepare("cub", {}, folder)

    _check_manifest(frame, expected, folder)
    assert frame["class_id"].tolist() == [1] * 5 + [2] * 5 + [3] * 5
    assert set(frame["split"]) == {"train", "test"}
    assert (folder / "CUB_200_2011.tgz").is_file()  # downloaded copy kept, verified
    assert md5sum(folder / "CUB_200_2011.tgz") == md5sum(archive)


def test_cub_existing_good_archive_is_used_without_download(tmp_path, monkeypatch):
    archive, expected = cub_tgz(tmp_path / "server")
    folder = tmp_path / "data" / "cub"
    folder.mkdir(parents=True)
    (folder / archive.name).write_bytes(archive.read_bytes())
    missing = (tmp_path / "nowhere" / archive.name).as_uri()
    monkeypatch.setitem(datasets.ARCHIVES, "cub", [Archive(archive.name, (missing,), md5sum(archive))])

    _check_manifest(prepare("cub", {}, folder), expected, folder)


# --------------------------------------------------------------------------- Stanford Dogs


def test_dogs_manifest_from_official_lists(tmp_path, monkeypatch):
    files, expected = dogs_tars(tmp_path / "server")
    _serve(monkeypatch, "dogs", files)
    folder = tmp_path / "data" / "dogs"

    frame = prepare("dogs", {}, folder)

    _check_manifest(frame, expected, folder)
    assert frame.loc[frame["class_id"] == 1, "class_name"].unique().tolist() == ["Chihuahua"]
    assert frame.loc[frame["class_id"] == 3, "class_name"].unique().tolist() == ["Shih-Tzu"]
    assert (frame["split"] == "train").sum() == 6 and (frame["split"] == "test").sum() == 9
    assert (folder / "lists" / "train_list.mat").is_file()


# --------------------------------------------------------------------------- Stanford Cars


@pytest.mark.parametrize("n_test", [3, 1])  # 1: a single record squeezes to a 0-d struct
def test_cars_manifest_from_devkit(tmp_path, monkeypatch, n_test):
    files, expected = cars_files(tmp_path / "server", n_test)
    _serve(monkeypatch, "cars", files)
    folder = tmp_path / "data" / "cars"

    frame = prepare("cars", {}, folder)

    _check_manifest(frame, expected, folder)
    assert frame["class_id"].min() == 1 and frame["class_id"].max() == 3
    assert frame.loc[frame["class_id"] == 1, "class_name"].unique().tolist() == ["AM General Hummer SUV 2000"]
    assert (frame["split"] == "test").sum() == n_test
    assert (folder / "cars_test_annos_withlabels.mat").is_file()  # plain file: fetched, not extracted


# --------------------------------------------------------------------------- CIFAR-100


def test_cifar100_writes_pngs_with_one_based_ids(tmp_path, monkeypatch):
    archive, truth = cifar_tgz(tmp_path / "server")
    _serve(monkeypatch, "cifar100", [archive])
    folder = tmp_path / "data" / "cifar100"

    frame = prepare("cifar100", {}, folder)

    expected = []
    for split in ("train", "test"):
        for i, label in enumerate(truth["labels"][split]):
            expected.append({"path": f"images/{split}/{label:03d}/{i:05d}.png", "class_id": label + 1,
                             "class_name": CIFAR_NAMES[label], "split": split})
    expected.sort(key=lambda r: (r["class_id"], r["split"] != "train", r["path"]))
    _check_manifest(frame, expected, folder)
    assert frame["class_id"].min() == 1
    for split in ("train", "test"):
        for i, label in enumerate(truth["labels"][split]):
            with Image.open(folder / f"images/{split}/{label:03d}/{i:05d}.png") as im:
                assert im.format == "PNG" and im.size == (32, 32)
                np.testing.assert_array_equal(np.asarray(im.convert("RGB")), truth["images"][split][i])


def test_cifar100_killed_png_write_leaves_no_truncated_file(tmp_path, monkeypatch):
    """A re-run skips PNGs that exist, so a write interrupted midway must leave nothing behind."""
    archive, truth = cifar_tgz(tmp_path / "server")
    _serve(monkeypatch, "cifar100", [archive])
    folder = tmp_path / "data" / "cifar100"
    real_save = Image.Image.save
    calls = []

    def dying_save(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) == 3:
            Path(fp).write_bytes(b"\x89PNG\r\n\x1a\n-truncated")
            raise KeyboardInterrupt("killed mid-write")
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        prepare("cifar100", {}, folder)
    monkeypatch.setattr(Image.Image, "save", real_save)
    pngs = sorted(folder.rglob("*.png"))
    assert len(pngs) == 2 and not list(folder.rglob("*.tmp"))
    assert not (folder / "manifest.csv").exists()

    frame = prepare("cifar100", {}, folder)
    for split, rel in zip(frame["split"], frame["path"]):
        with Image.open(folder / rel) as im:
            im.load()  # a truncated file would raise here
        assert split in ("train", "test")


# --------------------------------------------------------------------------- failures


def test_corrupt_archive_is_moved_aside_and_never_extracted(tmp_path, monkeypatch):
    archive, expected = cub_tgz(tmp_path / "server")
    good_md5 = md5sum(archive)
    _serve(monkeypatch, "cub", [archive])
    folder = tmp_path / "data" / "cub"
    folder.mkdir(parents=True)
    dest = folder / archive.name
    broken = archive.read_bytes()[:-100]  # a truncated copy: still a plausible file, wrong md5
    dest.write_bytes(broken)

    with pytest.raises(ArchiveError) as err:
        prepare("cub", {}, folder)

    message = str(err.value)
    assert good_md5 in message
    assert md5sum(folder / f"{archive.name}.corrupt") in message
    assert f"by hand at {dest}" in message
    assert archive.as_uri() in message
    assert not dest.exists()
    assert (folder / f"{archive.name}.corrupt").read_bytes() == broken
    assert _leftovers(folder) == [f"{archive.name}.corrupt"]  # nothing extracted, no marker, no manifest

    # the corrupt copy is never reused: the next run downloads a good one
    _check_manifest(prepare("cub", {}, folder), expected, folder)
    assert md5sum(dest) == good_md5


def test_download_failure_is_one_error_with_manual_hint(tmp_path, monkeypatch):
    missing = (tmp_path / "server" / "CUB_200_2011.tgz").as_uri()
    refused = f"http://127.0.0.1:{_closed_port()}/CUB_200_2011.tgz"
    md5 = "0123456789abcdef0123456789abcdef"
    monkeypatch.setitem(datasets.ARCHIVES, "cub", [Archive("CUB_200_2011.tgz", (missing, refused), md5)])
    folder = tmp_path / "data" / "cub"

    with pytest.raises(ArchiveError) as err:
        prepare("cub", {}, folder)

    message = str(err.value)
    assert f"place CUB_200_2011.tgz by hand at {folder / 'CUB_200_2011.tgz'}" in message
    assert md5 in message
    assert f"{missing}:" in message and f"{refused}:" in message  # both URLs were tried
    assert _leftovers(folder) == []


def test_served_file_with_wrong_md5_is_not_kept(tmp_path, monkeypatch):
    archive, expected = cub_tgz(tmp_path / "server")
    impostor = tmp_path / "server" / "impostor" / archive.name
    impostor.parent.mkdir()
    impostor.write_bytes(b"not the release")
    folder = tmp_path / "data" / "cub"
    monkeypatch.setitem(datasets.ARCHIVES, "cub", [Archive(archive.name, (impostor.as_uri(),), md5sum(archive))])

    with pytest.raises(ArchiveError) as err:
        prepare("cub", {}, folder)
    assert f"served a file with md5 {md5sum(impostor)}" in str(err.value)
    assert md5sum(archive) in str(err.value)
    assert _leftovers(folder) == []  # neither the file nor a temporary copy stays

    # with a good mirror after the bad one, the good copy is the one kept
    monkeypatch.setitem(datasets.ARCHIVES, "cub", [
        Archive(archive.name, (impostor.as_uri(), archive.as_uri()), md5sum(archive))])
    _check_manifest(prepare("cub", {}, folder), expected, folder)
    assert md5sum(folder / archive.name) == md5sum(archive)


@pytest.fixture
def truncated_http():
    """A local server whose chunked responses stop midway (a dropped connection)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\npartial")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}/CUB_200_2011.tgz"
    stop.set()
    thread.join(timeout=5)
    srv.close()


def test_dropped_connection_is_an_archive_error_and_next_url_is_tried(tmp_path, monkeypatch, truncated_http):
    archive, expected = cub_tgz(tmp_path / "server")
    folder = tmp_path / "data" / "cub"
    monkeypatch.setitem(datasets.ARCHIVES, "cub", [Archive(archive.name, (truncated_http,), md5sum(archive))])
    with pytest.raises(ArchiveError) as err:
        prepare("cub", {}, folder)
    assert f"by hand at {folder / archive.name}" in str(err.value)
    assert _leftovers(folder) == []

    monkeypatch.setitem(datasets.ARCHIVES, "cub", [
        Archive(archive.name, (truncated_http, archive.as_uri()), md5sum(archive))])
    _check_manifest(prepare("cub", {}, folder), expected, folder)


# --------------------------------------------------------------------------- extraction


def test_extraction_runs_once(tmp_path, monkeypatch):
    archive, expected = cub_tgz(tmp_path / "server")
    _serve(monkeypatch, "cub", [archive])
    folder = tmp_path / "data" / "cub"
    prepare("cub", {}, folder)
    marker = folder / f".{archive.name}.extracted"
    assert marker.read_text().strip() == md5sum(archive)

    gone = folder / expected[0]["path"]
    gone.unlink()
    # the server copy disappears too: a second run must need neither a download nor a re-extraction
    archive.unlink()
    frame = prepare("cub", {}, folder)

    assert not gone.exists()
    assert frame["path"].tolist() == [r["path"] for r in expected]


def _one_member_tar(path: Path, info: tarfile.TarInfo) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        ok = tarfile.TarInfo("inside/ok.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return path


def _member(name: str, link: str | None = None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    if link is None:
        info.size = 4
    else:
        info.type, info.linkname = tarfile.SYMTYPE, link
    return info


@pytest.mark.parametrize("info", [
    _member("../escape.txt"),
    _member("inside/../../escape.txt"),
    _member("inside/link", link="../../escape.txt"),
    _member("inside/abs_link", link="/etc/passwd"),
], ids=["dotdot", "nested-dotdot", "relative-link-out", "absolute-link"])
def test_unsafe_tar_members_are_refused(tmp_path, info):
    archive = _one_member_tar(tmp_path / "server" / "evil.tar", info)
    into = tmp_path / "data" / "ds"

    with pytest.raises(ArchiveError, match="evil.tar"):
        extract(archive, into)

    assert not (tmp_path / "data" / "escape.txt").exists()
    assert not (tmp_path / "escape.txt").exists()
    assert not (into / ".evil.tar.extracted").exists()  # a failed extraction is not marked done


def test_absolute_member_path_stays_inside_destination(tmp_path):
    outside = tmp_path / "outside.txt"
    archive = _one_member_tar(tmp_path / "server" / "abs.tar", _member(str(outside)))
    into = tmp_path / "data" / "ds"

    extract(archive, into)

    assert not outside.exists()
    assert (into / str(outside).lstrip("/")).read_bytes() == b"xxxx"


def test_prepare_refuses_archive_with_escaping_member(tmp_path, monkeypatch):
    archive, _ = cub_tgz(tmp_path / "server", extra_member=_member("../escape.txt"))
    _serve(monkeypatch, "cub", [archive])
    folder = tmp_path / "data" / "cub"

    with pytest.raises(ArchiveError):
        prepare("cub", {}, folder)

    assert not (tmp_path / "data" / "escape.txt").exists()
    assert not (folder / "manifest.csv").exists()
    assert not (folder / f".{archive.name}.extracted").exists()


def test_unreadable_archive_with_matching_md5_is_an_archive_error(tmp_path):
    fake = tmp_path / "server" / "fake.tgz"
    fake.parent.mkdir()
    fake.write_bytes(b"this is not a tar archive")
    path = fetch(Archive(fake.name, (fake.as_uri(),), md5sum(fake)), tmp_path / "data")
    with pytest.raises(ArchiveError, match="not a readable tar archive"):
        extract(path, tmp_path / "data")


def test_unknown_kind(tmp_path):
    with pytest.raises(KeyError, match="unknown dataset kind"):
        prepare("imagenet", {}, tmp_path)
