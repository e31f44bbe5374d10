"""The hashing study's thesis-scale data sets (spec 5): ANN_SIFT1M, ANN_GIST1M, CIFAR-10 (512-d GIST) and
NUS-WIDE (500-d bag of words, the 21 most frequent concepts), prepared into a vector set folder.

Each set's archive is fetched (or found where it was placed by hand) in a source folder, verified against its
published md5, extracted there, read, and written as a `VectorSet`.  NUS-WIDE has no public archive or md5:
its files are placed by hand and their md5s recorded.  If only the files extracted from an archive are there
(the archive deleted to save space), they are used unverified, with a warning, and their own md5s recorded.

The published counts (1,000,000 base vectors, ...) are always checked, with no option to skip it: md5 and
counts describe the same release, so a file that passes its md5 but not its counts means a reader bug, and a
hand-placed file (NUS-WIDE, extracted files) has only its counts to show that it is the right one.  A test (or a
re-packed release) describes its own release by replacing the `THESIS_SETS` entry: archive md5 and counts.
"""

from __future__ import annotations

import itertools
import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval_bench.core.io import atomic_path
from retrieval_bench.studies.hashing.data.gist import gist
from retrieval_bench.studies.hashing.data.vector_set import VectorSet, save
from retrieval_bench.vision.archives import Archive, ArchiveError, extract, fetch, md5sum

log = logging.getLogger(__name__)

TOP_CONCEPTS = 21  # NUS-WIDE's usual subset: the images with one of the 21 most frequent concepts
CIFAR_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


@dataclass(frozen=True)
class ThesisSet:
    archive: Archive | None             # None: no public archive, the files are placed by hand
    members: tuple[str, ...]            # the files read, relative to the source folder (glob patterns allowed)
    counts: dict[str, int]              # the release's counts: checked, an error when they differ
    reported: dict[str, int] = field(default_factory=dict)  # counts quoted in the literature: only logged
    published: str = ""                 # where hand-placed files come from


def _texmex(name: str, md5: str, dim: int, queries: int) -> ThesisSet:
    return ThesisSet(
        Archive(f"{name}.tar.gz", (f"ftp://ftp.irisa.fr/local/texmex/corpus/{name}.tar.gz",), md5),
        (f"{name}/{name}_base.fvecs", f"{name}/{name}_query.fvecs", f"{name}/{name}_groundtruth.ivecs"),
        {"items": 1_000_000, "dim": dim, "fixed_queries": queries, "groundtruth_k": 100})


THESIS_SETS = {
    "sift1m": _texmex("sift", "b23d1b3b2ee8469d819b61ca900ef0ed", 128, 10_000),
    "gist1m": _texmex("gist", "31185e0f00854f74d27e8ad8d52628a9", 960, 1_000),
    "cifar10_gist": ThesisSet(
        Archive("cifar-10-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                "c58f30108f718f92721af3b95e74349a"),
        tuple(f"cifar-10-batches-py/{name}" for name in (*CIFAR_BATCHES, "batches.meta")),
        {"items": 60_000, "dim": 512, "classes": 10}),
    "nuswide_bow": ThesisSet(
        None, ("Low_Level_Features/BoW_int.dat", "Groundtruth/AllLabels/Labels_*.txt"),
        {"source_images": 269_648, "concepts": 81, "dim": 500, "classes": TOP_CONCEPTS},
        reported={"items": 195_834},
        published="the NUS Lab for Media Search's NUS-WIDE page (Low-Level Features: BoW_int.dat; Groundtruth: "
                  "AllLabels), placed as <source>/Low_Level_Features/ and <source>/Groundtruth/AllLabels/"),
}


# --------------------------------------------------------------------------- fvecs / ivecs

def read_fvecs(path: Path, mmap: bool = True) -> np.ndarray:
    """An .fvecs file as an N x d float32 array (memory-mapped: a view into the file, never read whole)."""
    return _read_vecs(Path(path), "<f4", mmap)


def read_ivecs(path: Path) -> np.ndarray:
    """An .ivecs file as an N x d int32 array."""
    return _read_vecs(Path(path), "<i4", mmap=False)


def _read_vecs(path: Path, dtype: str, mmap: bool) -> np.ndarray:
    """Records of a little-endian int32 dimension d and d 4-byte values; every d must be the first one's."""
    size = path.stat().st_size
    if size < 4 or size % 4:
        raise ArchiveError(f"{path}: {size} bytes is not a whole number of 4-byte values: truncated or not a "
                           f"vecs file")
    raw = np.memmap(path, "<i4", mode="r") if mmap else np.fromfile(path, "<i4")
    d = int(raw[0])
    if d <= 0 or len(raw) % (d + 1):
        raise ArchiveError(f"{path}: {size} bytes is not a whole number of records of dimension {d} "
                           f"({4 * (d + 1)} bytes each): truncated or not a vecs file")
    records = raw.reshape(-1, d + 1)
    bad = np.flatnonzero(records[:, 0] != d)
    if len(bad):
        raise ArchiveError(f"{path}: record {bad[0]} has dimension {records[bad[0], 0]}, the first record {d}: "
                           f"corrupt or not a vecs file")
    return records[:, 1:].view(dtype)


# --------------------------------------------------------------------------- prepare

def prepare(dataset: str, source: Path, out: Path) -> VectorSet:
    """Find (or fetch) the data set's files in `source`, read them, check the counts and write the vector
    set into `out` (info.json last: until then the folder reads as incomplete)."""
    if dataset not in THESIS_SETS:
        raise ArchiveError(f"unknown thesis data set {dataset!r}; known: {sorted(THESIS_SETS)}")
    spec, source, out = THESIS_SETS[dataset], Path(source), Path(out).resolve()
    md5 = _locate(dataset, spec, source)
    data = READERS[dataset](source, spec)
    counts = {**data.info.pop("source_counts", {}), **data.statistics()}
    wrong = [f"{key} {counts.get(key)} (expected {want:,})" for key, want in spec.counts.items()
             if counts.get(key) != want]
    if wrong:
        raise ArchiveError(f"{dataset} in {source}: {', '.join(wrong)}: not the published release, or a file "
                           f"was cut short")
    for key, quoted in spec.reported.items():
        if counts.get(key) != quoted:
            log.warning("%s: %s = %s, the literature has %s (recorded in info.json)", dataset, key,
                        counts.get(key), quoted)
    data.info.update(dataset=dataset, md5=md5, counts=counts, reported_counts=spec.reported)
    (out / "info.json").unlink(missing_ok=True)
    data.features = _write_features(data.features, out / "features.npy")
    save(data, out)
    return data


def _locate(dataset: str, spec: ThesisSet, source: Path) -> dict[str, str]:
    """Put the data set's files in place under `source`; return the md5 of each source file used."""
    if spec.archive is None:
        return _hand_placed(dataset, spec, source)
    archive, dest = spec.archive, source / spec.archive.filename
    members = [source / member for member in spec.members]
    if not dest.exists() and all(path.is_file() for path in members):
        log.warning("%s: %s is not in %s, only the files extracted from it: used unverified", dataset,
                    archive.filename, source)
        return {member: md5sum(source / member) for member in spec.members}
    placed = dest.exists()
    try:
        path = fetch(archive, source)
    except ArchiveError as e:
        if placed:
            raise  # the file there failed its md5 check; fetch's message says where it was moved
        raise ArchiveError(f"{dataset}: {e}; or place the files extracted from it there ("
                           f"{', '.join(spec.members)} under {source})") from None
    extract(path, source, archive.md5)
    missing = [str(p) for p in members if not p.is_file()]
    if missing:
        raise ArchiveError(f"{path} did not give {', '.join(missing)}: not the {dataset} release (to extract "
                           f"it again, delete {source / f'.{archive.filename}.extracted'})")
    return {archive.filename: archive.md5}


def _hand_placed(dataset: str, spec: ThesisSet, source: Path) -> dict[str, str]:
    found = {member: sorted(source.glob(member)) for member in spec.members}
    missing = [member for member, paths in found.items() if not paths]
    if missing:
        raise ArchiveError(f"{dataset}: place {', '.join(missing)} by hand under {source} (md5: none published; "
                           f"the md5s of the files used are recorded in info.json); published at {spec.published}")
    return {str(path.relative_to(source)): md5sum(path) for paths in found.values() for path in paths}


def _write_features(features: np.ndarray, path: Path, block_bytes: int = 64 << 20) -> np.memmap:
    """Copy N x D features into a float32 .npy a block of rows at a time (a memory-mapped base set of
    gigabytes is never in memory) and reopen it memory-mapped: `save` then leaves it as it is."""
    rows = max(1, block_bytes // (4 * max(1, features.shape[1])))
    with atomic_path(path) as tmp:
        target = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=features.shape)
        for start in range(0, len(features), rows):
            target[start:start + rows] = features[start:start + rows]
        target.flush()
        del target  # closes the map before the rename
    return np.load(path, mmap_mode="r")


# --------------------------------------------------------------------------- readers

def _read_texmex(source: Path, spec: ThesisSet) -> VectorSet:
    base_path, query_path, truth_path = (source / member for member in spec.members)
    base, queries, truth = read_fvecs(base_path), read_fvecs(query_path), read_ivecs(truth_path)
    if queries.shape[1] != base.shape[1]:
        raise ArchiveError(f"{query_path} holds {queries.shape[1]}-d vectors, {base_path} {base.shape[1]}-d")
    if len(truth) != len(queries):
        raise ArchiveError(f"{truth_path} has {len(truth)} rows for the {len(queries)} queries of {query_path}")
    if truth.size and (truth.min() < 0 or truth.max() >= len(base)):
        raise ArchiveError(f"{truth_path} holds ids outside the {len(base)} rows of {base_path}")
    return VectorSet(base, queries=np.array(queries, np.float32), groundtruth=truth.astype(np.int64))


def _unpickle(path: Path) -> dict:
    # pickle can run code: only the md5-verified archive's (or hand-extracted) batches get here
    with open(path, "rb") as f:
        return pickle.load(f, encoding="bytes")  # Python 2 pickles: keys come back as bytes


def _read_cifar(source: Path, spec: ThesisSet) -> VectorSet:
    """The 5 training batches and the test batch pooled, in that order (rows 50,000-59,999: the test batch)."""
    root = source / "cifar-10-batches-py"
    images, labels = [], []
    for name in CIFAR_BATCHES:
        batch = _unpickle(root / name)
        data, y = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"], np.int64)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(y) != len(data):
            raise ArchiveError(f"{root / name}: data {data.dtype} {data.shape} with {len(y)} labels, expected "
                               f"N x 3072 uint8 rows and N labels")
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))  # rows are R, G, B planes
        labels.append(y)
    images = np.concatenate(images)
    names = [name.decode() for name in _unpickle(root / "batches.meta")[b"label_names"]]
    log.info("cifar10_gist: computing the GIST of %d images", len(images))
    return VectorSet(gist(images), np.concatenate(labels),
                     info={"class_names": names, "order": "data_batch_1-5, then test_batch", "features": "gist"})


def _read_nuswide(source: Path, spec: ThesisSet) -> VectorSet:
    """The bag of words of the images carrying at least one of the 21 most frequent concepts; labels: their
    21-concept multi-hot rows, the most frequent concept first (ties: alphabetical)."""
    bow = source / spec.members[0]
    files = sorted(source.glob(spec.members[1]))
    concepts = [path.stem.removeprefix("Labels_") for path in files]
    columns = [_read_label_file(path) for path in files]
    if len({len(column) for column in columns}) > 1:
        lengths = {path.name: len(column) for path, column in zip(files, columns)}
        raise ArchiveError(f"the label files in {files[0].parent} differ in length: {lengths}")
    every = np.stack(columns, axis=1)
    frequency = every.sum(axis=0, dtype=np.int64)  # signed: negated to sort
    top = np.argsort(-frequency, kind="stable")[:TOP_CONCEPTS]
    keep = every[:, top].any(axis=1)
    features = _read_bow_rows(bow, keep)
    log.info("nuswide_bow: %d of %d images carry one of the %d most frequent concepts (195,834 in the "
             "literature)", keep.sum(), len(keep), len(top))
    return VectorSet(features, every[keep][:, top],
                     info={"concepts": [concepts[i] for i in top], "concept_images": frequency[top].tolist(),
                           "source_counts": {"source_images": len(keep), "concepts": len(concepts)}})


def _read_label_file(path: Path) -> np.ndarray:
    values = np.loadtxt(path, dtype=np.int64, ndmin=1)
    if values.ndim != 1 or not np.isin(values, (0, 1)).all():
        raise ArchiveError(f"{path}: expected one 0 or 1 per line")
    return values.astype(np.uint8)


def _read_bow_rows(path: Path, keep: np.ndarray, block: int = 20_000) -> np.ndarray:
    """The rows of a whitespace-separated text matrix where `keep` is true, read a block of lines at a time
    (the whole file as float32 is 540 MB)."""
    with open(path) as f:
        dim = len(f.readline().split())
        f.seek(0)
        out, n, kept = np.empty((int(keep.sum()), dim), np.float32), 0, 0
        try:
            while lines := list(itertools.islice(f, block)):
                rows = np.loadtxt(lines, dtype=np.float32, ndmin=2)
                if n + len(rows) > len(keep):
                    break
                chosen = rows[keep[n:n + len(rows)]]
                out[kept:kept + len(chosen)] = chosen
                n, kept = n + len(rows), kept + len(chosen)
        except ValueError as e:
            raise ArchiveError(f"{path}: not a matrix of {dim} numbers per line near line {n + 1} ({e})") from e
    if n != len(keep) or lines:
        raise ArchiveError(f"{path} has {'more' if lines else n} rows, the label files {len(keep)}")
    return out


READERS = {"sift1m": _read_texmex, "gist1m": _read_texmex, "cifar10_gist": _read_cifar,
           "nuswide_bow": _read_nuswide}
