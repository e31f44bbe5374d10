"""Chapter 4's thesis-scale captioned image sets (spec chapter4.md 5.1-5.3): Flickr8K, Flickr30K and MS-COCO
(captions and splits from Karpathy's `dataset_*.json`) and CUHK-PEDES, read from files placed by hand in
data/thesis/<dataset>/ and written as a prepared `captions` folder.

Most of these files are request-only and none but COCO's image zips has a published md5: the first copy
used has its md5 recorded beside it (`<file>.md5`, as chapter 3's `checked_md5`), so a later, different copy
is an error rather than a silent change of data.  A missing file stops the preparation before any other
work, with one line per missing file saying where to get it.  Archives are extracted into the source folder
once (a marker records the archive's md5); the caption zip is read in place.
"""

from __future__ import annotations

import json
import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from retrieval_bench.core.errors import UserError
from retrieval_bench.studies.crossmodal.data import captions
from retrieval_bench.studies.crossmodal.data.captions import CaptionedData, Vocabulary
from retrieval_bench.studies.crossmodal.data.thesis_sets import checked_md5
from retrieval_bench.vision.archives import Archive, ArchiveError, extract, fetch

log = logging.getLogger(__name__)

COCO_FOLD_IMAGES = 1000      # the 1K test: five folds of 1,000 consecutive test images (VSE++ fold5)
COCO_TEST_CAPTIONS = 5       # test captions per COCO image (VSE++'s evaluation assumes 5)
CAPTIONS_ZIP = "caption_datasets.zip"
KARPATHY_URL = "https://cs.stanford.edu/people/karpathy/deepimagesent/caption_datasets.zip"
DEFAULT_OPTIONS = {"split_source": "karpathy", "use_restval": False, "download": False,
                   "vocabulary": {"min_count": 3, "cap": 12000}}


@dataclass(frozen=True)
class Placed:
    """A file to find in the source folder: any of `names` will do (a trailing '/' names a folder, the
    extracted archive), the first is the one asked for."""

    names: tuple[str, ...]
    how: str                    # how to get it, for the missing-file message
    md5: str | None = None      # the published md5; None: unverified (the first copy's md5 is recorded)
    url: str | None = None      # a direct download `fetch` may use (only where an md5 is published)


def _karpathy(dataset: str) -> Placed:
    return Placed((CAPTIONS_ZIP, f"dataset_{dataset}.json"),
                  f"download it from {KARPATHY_URL} (research use; a third-party copy: Hugging Face "
                  f"gpantaz/karpathy_split)")


def _coco_zip(name: str, md5: str) -> Placed:
    url = f"http://images.cocodataset.org/zips/{name}.zip"
    return Placed((f"{name}.zip", f"{name}/"), f"download it from {url} (images under the Flickr terms of use)",
                  md5, url)


CUHK_HOW = ("request it from the authors (research use only; see "
            "https://github.com/ShuangLI59/Person-Search-with-Natural-Language-Description)")
SOURCES = {
    "flickr8k": {
        "captions": _karpathy("flickr8k"),
        "images": Placed(("Flickr8k_Dataset.zip", "Flicker8k_Dataset/", "Flickr8k_Dataset/"),
                         "request it at https://forms.illinois.edu/sec/1713398 (non-commercial research use; a "
                         "widely used copy: https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/"
                         "Flickr8k_Dataset.zip)")},
    "flickr30k": {
        "captions": _karpathy("flickr30k"),
        "images": Placed(("flickr30k-images.tar.gz", "flickr30k-images.tar", "flickr30k-images.zip",
                          "flickr30k-images/"),
                         "request it at https://forms.illinois.edu/sec/229675 (non-commercial research use; "
                         "see http://shannon.cs.illinois.edu/DenotationGraph/)")},
    "coco": {
        "captions": _karpathy("coco"),
        "train2014": _coco_zip("train2014", "0da8c0bd3d6becc4dcb32757491aca88"),
        "val2014": _coco_zip("val2014", "a3d79f5ed8d289b7a7554ce06a5782b3")},
    "cuhk_pedes": {
        "captions": Placed(("reid_raw.json", "caption_all.json"), CUHK_HOW),
        "images": Placed(("imgs/",), CUHK_HOW)},
}
ENTITIES_SPLIT = {role: Placed((f"{role}.txt",), "download it from https://github.com/BryanPlummer/flickr30k_entities "
                                                 "(the Flickr30K Entities split)")
                  for role in captions.ROLES}
IMAGE_ROOTS = {"flickr8k": ("Flicker8k_Dataset", "Flickr8k_Dataset"), "flickr30k": ("flickr30k-images",),
               "coco": (".",), "cuhk_pedes": ("imgs",)}


def _images(train: int, val: int, test: int) -> dict:
    return {"train": {"images": train}, "val": {"images": val}, "test": {"images": test}}


THESIS_COUNTS = {  # L1320 (spec 5.1); COCO's "val" is Karpathy's restval
    "flickr8k": {**_images(6000, 1000, 1000), "captions_per_image": 5},
    "flickr30k": {**_images(29783, 1000, 1000), "captions_per_image": 5},
    "coco": {**_images(82783, 30504, 5000), "test_captions": 25000},
    "cuhk_pedes": {"train": {"images": 34054, "instances": 11003}, "val": {"images": 3078, "instances": 1000},
                   "test": {"images": 3074, "instances": 1000},
                   "captions_reported_unverified": {"train": 68126, "val": 6158, "test": 6156}},
}


def prepare(dataset: str, source: Path, out: Path, options: dict | None = None) -> CaptionedData:
    """Find the data set's files in `source` (all of them, or stop naming every missing one), check their md5s,
    extract the image archives once, read captions and splits, and save the prepared set into `out`."""
    options = _options(dataset, options)
    source, out = Path(source), Path(out)
    needed = dict(SOURCES[dataset])
    if options["split_source"] == "entities":
        needed.update({f"split_{role}": placed for role, placed in ENTITIES_SPLIT.items()})
    found = _find(dataset, needed, source, options["download"])
    md5s = {key: _checked(dataset, needed[key], path, source) for key, path in found.items()}
    found = {key: source / needed[key].names[0] if path is None else path for key, path in found.items()}
    for key, path in found.items():
        if key != "captions" and path.is_file() and path.suffix != ".txt":
            extract_once(path, source, md5s[key])
    root = _image_root(dataset, source)
    if dataset == "cuhk_pedes":
        table, images, listed = _cuhk_table(_read_json(found["captions"], dataset))
    else:
        roles = _entities_roles(found) if options["split_source"] == "entities" else None
        table, images, listed = _karpathy_table(dataset, _read_json(found["captions"], dataset), options, roles)
    _check_images_exist(dataset, root, images)
    vocabulary_options = options["vocabulary"]
    vocabulary = Vocabulary.build(table.loc[table["role"] == "train", "text"], **vocabulary_options)
    info = {"dataset": dataset, "source": "thesis", "root": str(root.resolve()),
            "files": {found[key].name: md5s[key] for key in found},
            "options": {k: options[k] for k in ("split_source", "use_restval")}, "vocabulary": vocabulary_options,
            "counts": {"images_in_file": listed, "images_used": len(images), "captions_used": len(table)},
            "thesis_counts": THESIS_COUNTS[dataset]}
    data = CaptionedData(table, images, info, vocabulary)
    _compare_with_thesis(dataset, data)
    for stale in ("info.json", "images.npy"):  # an interrupted rewrite must not read as complete
        (out / stale).unlink(missing_ok=True)
    captions.save(data, out)
    return data


def _options(dataset: str, options: dict | None) -> dict:
    if dataset not in SOURCES:
        raise UserError(f"unknown thesis caption data set {dataset!r}; known: {sorted(SOURCES)}")
    options = dict(options or {})
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise UserError(f"{dataset}: unknown option(s) {unknown}; known: {sorted(DEFAULT_OPTIONS)}")
    merged = {**DEFAULT_OPTIONS, **options,
              "vocabulary": {**DEFAULT_OPTIONS["vocabulary"], **(options.get("vocabulary") or {})}}
    if merged["split_source"] not in ("karpathy", "entities"):
        raise UserError(f"{dataset}: split_source {merged['split_source']!r}: use karpathy or entities")
    if merged["split_source"] == "entities" and dataset != "flickr30k":
        raise UserError(f"{dataset}: split_source entities applies to flickr30k only")
    if merged["use_restval"] and dataset != "coco":
        raise UserError(f"{dataset}: use_restval applies to coco only")
    return merged


# --------------------------------------------------------------------------- files

def _find(dataset: str, needed: dict[str, Placed], source: Path, download: bool) -> dict[str, Path | None]:
    """The path of each needed file (None: absent, to be downloaded); every missing one in one error."""
    found, missing = {}, []
    for key, placed in needed.items():
        found[key] = next((source / n.rstrip("/") for n in placed.names if _present(source, n)), None)
        if found[key] is None and not (download and placed.url):
            missing.append(_missing_line(dataset, placed, source))
    if missing:
        raise ArchiveError("\n".join(missing))
    return found


def _present(source: Path, name: str) -> bool:
    return (source / name).is_dir() if name.endswith("/") else (source / name).is_file()


def _missing_line(dataset: str, placed: Placed, source: Path, reason: str = "") -> str:
    others = f" (or {', '.join(placed.names[1:])} there)" if len(placed.names) > 1 else ""
    return (f"{dataset}: missing {source / placed.names[0]}{others}{reason} — {placed.how}, then place it there; "
            f"md5: {placed.md5 or 'unverified'}")


def _checked(dataset: str, placed: Placed, path: Path | None, source: Path) -> str | None:
    """The md5 of the file used: the published one (verified; downloaded if absent), the recorded one of the
    first copy, or None for a folder placed already extracted."""
    if path is not None and path.is_dir():
        log.warning("%s: %s is used as placed, without an archive to verify", dataset, path)
        return None
    if placed.md5 is None:
        return checked_md5(path)
    archive = Archive(placed.names[0], (placed.url,), placed.md5)
    try:
        fetch(archive, source)  # a placed file is only verified; a mismatch is moved aside
    except ArchiveError as e:
        if path is not None:
            raise
        raise ArchiveError(_missing_line(dataset, placed, source, f" (download failed: {e})")) from None
    return placed.md5


def extract_once(archive: Path, into: Path, md5: str) -> None:
    """Extract a tar (vision.archives.extract) or zip archive into `into`, once per archive md5."""
    if archive.suffix != ".zip":
        extract(archive, into, md5)
        return
    marker = into / f".{archive.name}.extracted"
    if marker.is_file() and marker.read_text().strip() == md5:
        return
    top = into.resolve()
    try:
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                if name.startswith(("/", "\\")) or not (top / name.replace("\\", "/")).resolve().is_relative_to(top):
                    raise ArchiveError(f"{archive} holds {name!r}, a path outside {into}: not extracted")
            z.extractall(into)
    except zipfile.BadZipFile as e:
        raise ArchiveError(f"{archive} is not a readable zip archive ({e}); delete it and place it again") from e
    marker.write_text(md5 + "\n")


def _image_root(dataset: str, source: Path) -> Path:
    for name in IMAGE_ROOTS[dataset]:
        if (source / name).is_dir():
            return source / name
    raise ArchiveError(f"{dataset}: no image folder {' or '.join(IMAGE_ROOTS[dataset])} in {source} after "
                       f"extracting its archive: not the published archive (delete the .extracted marker to "
                       f"extract it again)")


def _read_json(path: Path, dataset: str):
    if path.suffix != ".zip":
        return json.loads(path.read_text())
    wanted = f"dataset_{dataset}.json"
    with zipfile.ZipFile(path) as z:
        member = next((m for m in z.namelist() if Path(m).name == wanted), None)
        if member is None:
            raise ArchiveError(f"{path} holds no {wanted}: not Karpathy's {CAPTIONS_ZIP}")
        return json.loads(z.read(member))


def _check_images_exist(dataset: str, root: Path, images: list[str]) -> None:
    absent = [p for p in images if not (root / p).is_file()]
    if absent:
        raise ArchiveError(f"{dataset}: {len(absent)} of {len(images)} images listed in the caption file are not "
                           f"under {root} (e.g. {', '.join(absent[:3])}): an incomplete or different image archive")


# --------------------------------------------------------------------------- captions and splits

def _words(raw: str) -> str:
    """A raw caption as lower-case words, split on anything but letters (CUHK-PEDES without tokens)."""
    return " ".join(re.findall(r"[a-z]+", raw.lower()))


def _karpathy_role(dataset: str, split: str, use_restval: bool) -> str | None:
    """COCO: restval is the thesis's (CMPM's) validation set unless it is trained on, and the JSON's own val
    is then the validation set; elsewhere the split is the role."""
    if dataset == "coco":
        return {"train": "train", "test": "test", "restval": "train" if use_restval else "val",
                "val": "val" if use_restval else None}.get(split)
    return split if split in captions.ROLES else None


def _entities_roles(found: dict[str, Path]) -> dict[str, str]:
    """Image id (the file name without extension) -> role, from Flickr30K Entities' train/val/test.txt."""
    return {line.strip(): role for role in captions.ROLES
            for line in found[f"split_{role}"].read_text().splitlines() if line.strip()}


def _karpathy_table(dataset: str, raw: dict, options: dict, entity_roles: dict[str, str] | None):
    """One row per caption of the images with a role, in JSON order; the instance is the image."""
    rows, images, test_images = [], [], 0
    entries = raw["images"]
    for entry in entries:
        if entity_roles is None:
            role = _karpathy_role(dataset, entry["split"], options["use_restval"])
        else:
            role = entity_roles.get(Path(entry["filename"]).stem)
        if role is None:
            continue
        image, fold, sentences = len(images), -1, entry["sentences"]
        images.append("/".join(p for p in (entry.get("filepath"), entry["filename"]) if p))
        if dataset == "coco" and role == "test":
            sentences, fold = sentences[:COCO_TEST_CAPTIONS], test_images // COCO_FOLD_IMAGES
            test_images += 1
        for sentence in sentences:
            tokens = sentence.get("tokens")
            text = " ".join(tokens).lower() if tokens else _words(sentence.get("raw", ""))
            rows.append((image, image, role, fold, text))
    if entity_roles is not None:
        unmatched = len(entity_roles) - len(images)
        if unmatched:
            log.warning("%s: %d image ids of the Entities split are not in the caption file", dataset, unmatched)
    return _table(rows), images, len(entries)


def _cuhk_table(entries: list[dict]):
    """One row per caption; the instance is the person, re-indexed so that the training identities come first
    (0..), then validation's, then test's."""
    order = {role: k for k, role in enumerate(captions.ROLES)}
    bad = sorted({str(e["split"]) for e in entries} - set(order))
    if bad:
        raise ArchiveError(f"cuhk_pedes: splits {bad} in the caption file; expected {list(captions.ROLES)}")
    first_role = {}
    for e in entries:
        first_role[e["id"]] = min(first_role.get(e["id"], len(order)), order[e["split"]])
    instance = {person: k for k, person in enumerate(sorted(first_role, key=lambda p: (first_role[p], p)))}
    rows, image_of = [], {}
    for e in entries:
        path = e["file_path"].replace("\\", "/").removeprefix("imgs/")
        image = image_of.setdefault(path, len(image_of))
        tokens = e.get("processed_tokens") or []
        for k, raw in enumerate(e["captions"]):
            text = " ".join(tokens[k]).lower() if k < len(tokens) and tokens[k] else _words(raw)
            rows.append((image, instance[e["id"]], e["split"], -1, text))
    return _table(rows), list(image_of), len(entries)


def _table(rows: list[tuple]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=["image", "instance", "role", "fold", "text"])
    table.insert(0, "caption", range(len(table)))
    return table


def _compare_with_thesis(dataset: str, data: CaptionedData) -> None:
    used, thesis = data.statistics(), THESIS_COUNTS[dataset]
    differ = [f"{role} {key} {used[role][key]} (thesis {want})" for role in captions.ROLES
              for key, want in thesis[role].items() if used[role][key] != want]
    if differ:
        log.warning("%s: %s (both recorded in info.json)", dataset, ", ".join(differ))
