"""Chapter 3's thesis-scale data sets, read offline from files placed by hand
(spec chapter3.md 6.1-6.4): MIRFlickr-25K and NUS-WIDE (21 concepts) in
DCMH's protocol.

The files circulate as MATLAB files: DCMH's `FLICKR-25K.mat` (v7.3, HDF5:
`IAll` or `images`, `YAll` the bag of words, `LAll` the labels) inside its
`data.zip`, and DADH's pre-extracted CNN-F features (`image`, `text`,
`label`; v5 or v7.3).  No md5 is published for any of them: the first copy
found is accepted and its md5 written beside it (`<file>.md5`), so a later,
different copy is an error rather than a silent change of data.  The counts
of the file used are recorded beside the thesis's (the circulating NUS-WIDE
files differ from its 190,421 pairs).
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval_bench.studies.crossmodal.data.paired import PairedData, save
from retrieval_bench.vision.archives import ArchiveError, md5sum

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThesisSet:
    files: tuple[str, ...]       # accepted file names, the first the one to ask for
    archive: str | None          # a zip the file may be extracted from
    published: str               # where it was published
    pairs: int                   # the thesis's counts (L1008-1010)
    text_dimension: int
    labels: int


DATASETS = {
    "mirflickr25k": ThesisSet(
        files=("FLICKR-25K.mat", "mirflickr25k.mat"), archive="data.zip",
        published="http://lamda.nju.edu.cn/jiangqy/data/DCMH_data/data.zip (DCMH's preprocessing.m; also the "
                  "Baidu mirrors of the DCMH repositories); DADH's features file of the same name",
        pairs=20015, text_dimension=1386, labels=24),
    "nuswide21": ThesisSet(
        files=("NUS-WIDE-TC21.mat", "NUS-WIDE.mat"), archive=None,
        published="the DCMH authors' NUS-WIDE (top-21 concept) files (Baidu, DCMH's TF readme) merged into one "
                  "file, or DADH's NUS-WIDE-TC21.mat (its README's Google Drive / Baidu links)",
        pairs=190421, text_dimension=1000, labels=21),
}
KEYS = {"images": ("IAll", "images", "image", "I_tr"), "texts": ("YAll", "text", "texts", "T_tr"),
        "labels": ("LAll", "label", "labels", "L_tr")}


def prepare(dataset: str, source: Path, out: Path) -> PairedData:
    """Find the data set's file in `source` (extracting it from its zip if only that is there), check it
    against the md5 recorded for the first copy, read it and save it as a prepared paired data set."""
    if dataset not in DATASETS:
        raise ArchiveError(f"unknown thesis data set {dataset!r}; known: {sorted(DATASETS)}")
    spec = DATASETS[dataset]
    path = _find(spec, source)
    md5 = checked_md5(path)
    data = read_mat(path)
    data.info.update(dataset=dataset, file=path.name, md5=md5,
                     thesis_counts={"pairs": spec.pairs, "text_dimension": spec.text_dimension,
                                    "labels": spec.labels})
    if (len(data), data.texts.shape[1], data.labels.shape[1]) != (spec.pairs, spec.text_dimension, spec.labels):
        log.warning("%s: %d pairs, %d-d texts, %d labels; the thesis has %d, %d, %d (recorded in info.json)",
                    path, len(data), data.texts.shape[1], data.labels.shape[1], spec.pairs, spec.text_dimension,
                    spec.labels)
    save(data, out)
    return data


def _find(spec: ThesisSet, source: Path) -> Path:
    for name in spec.files:
        if (source / name).is_file():
            return source / name
    if spec.archive and (source / spec.archive).is_file():
        extract_zip(source / spec.archive, source)
        for name in spec.files:
            if (source / name).is_file():
                return source / name
    raise ArchiveError(f"place {spec.files[0]} by hand at {source / spec.files[0]} (md5: none published; the md5 "
                       f"of the first copy used is recorded in {source / spec.files[0]}.md5); it was published "
                       f"at {spec.published}")


def checked_md5(path: Path) -> str:
    """The file's md5, recorded beside it the first time; a different file later is an error."""
    md5, record = md5sum(path), path.with_name(path.name + ".md5")
    if record.is_file():
        expected = record.read_text().split()[0]
        if md5 != expected:
            raise ArchiveError(f"{path} has md5 {md5}, but the copy first used here had {expected} (recorded in "
                               f"{record}): put the first copy back, or delete {record} to accept this one "
                               f"(the results made from the other copy no longer match it)")
    else:
        record.write_text(f"{md5}  {path.name}\n")
        log.warning("%s: no md5 is published; recorded this copy's md5 %s in %s", path, md5, record)
    return md5


def extract_zip(archive: Path, into: Path) -> None:
    """Extract a zip, refusing members with absolute paths or `..` (they would write outside `into`)."""
    try:
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                if name.startswith(("/", "\\")) or ".." in Path(name).parts:
                    raise ArchiveError(f"{archive} holds {name!r}, a path outside the folder: not extracted")
            z.extractall(into)
    except zipfile.BadZipFile as e:
        raise ArchiveError(f"{archive} is not a readable zip archive ({e}); delete it and place it again") from e


def read_mat(path: Path) -> PairedData:
    """A DCMH or DADH MATLAB file as pairs: images (N x H x W x 3 uint8, or N x D features), texts, labels."""
    arrays = _read_hdf5(path) if _is_hdf5(path) else _read_v5(path)
    missing = [what for what in KEYS if what not in arrays]
    if missing:
        raise ArchiveError(f"{path} has no {' / '.join(KEYS[missing[0]])} array (found: {sorted(arrays)}): "
                           f"not a DCMH or DADH file")
    n = _pairs(arrays)
    images, texts, labels = (_pairs_first(arrays[what], n) for what in KEYS)
    features = images.ndim == 2
    images = images.astype(np.float32) if features else images.astype(np.uint8)
    return PairedData(images, texts.reshape(n, -1).astype(np.float32), labels.reshape(n, -1).astype(np.uint8),
                      {"source": "thesis", "image_input": "features" if features else "images"})


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(520)
    return b"\x89HDF\r\n\x1a\n" in head  # v7.3 files are HDF5 with a 512-byte MATLAB header


def _read_hdf5(path: Path) -> dict[str, np.ndarray]:
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        for what, names in KEYS.items():
            for name in names:
                if name in f:
                    out[what] = np.transpose(f[name][()])  # h5py sees MATLAB's column-major axes reversed
                    break
    return out


def _read_v5(path: Path) -> dict[str, np.ndarray]:
    from scipy.io import loadmat

    raw = loadmat(path)
    return {what: raw[name] for what, names in KEYS.items() for name in names if name in raw}


def _pairs(arrays: dict[str, np.ndarray]) -> int:
    """The number of pairs: the axis length the three arrays share."""
    shared = set(arrays["images"].shape) & set(arrays["texts"].shape) & set(arrays["labels"].shape)
    if not shared:
        raise ArchiveError(f"images {arrays['images'].shape}, texts {arrays['texts'].shape} and labels "
                           f"{arrays['labels'].shape} share no axis: not one pair per row")
    return max(shared)


def _pairs_first(x: np.ndarray, n: int) -> np.ndarray:
    """The pair axis first; an image array in MATLAB's (height, width, channel) order after it."""
    axis = list(x.shape).index(n) if x.shape[0] != n else 0
    x = np.moveaxis(x, axis, 0)
    if x.ndim == 4 and x.shape[-1] != 3 and x.shape[1] == 3:  # (N, 3, H, W) -> (N, H, W, 3)
        x = np.moveaxis(x, 1, -1)
    return x
