"""A captioned image set (chapter 4): images, each with several captions, each
caption its own image-text pair (L1320).

On disk, a folder:

    captions.csv   one row per caption: caption (0..), image (row of the images),
                   instance (the instance label: the image on Flickr and COCO, the
                   person on CUHK-PEDES), role (train | val | test), fold (COCO's
                   1K test folds 0-4, else -1), text (lower-case tokens, spaces)
    images.npy     N_images x D float32 features (the mini stand-ins), or
    images.txt     one image file per line, relative to the folder's `root` (info.json)
    vocab.json     the vocabulary of the training captions (`Vocabulary`)
    info.json      source, counts, the thesis's counts, checksums

Relevance at test time is by instance (spec chapter4.md 6.1): an image query's
relevant captions are those of its instance; a caption's relevant images are
its instance's images.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from retrieval_bench.core.errors import UserError
from retrieval_bench.core.io import atomic_path, read_json, write_json

COLUMNS = ["caption", "image", "instance", "role", "fold", "text"]
ROLES = ("train", "val", "test")
PAD, UNKNOWN = "<pad>", "<unk>"


@dataclass
class Vocabulary:
    """Training-caption words seen at least `min_count` times, the most frequent `cap` of them
    (CMPM: 3 and 12,000; spec 5.2), after <pad> = 0 and <unk> = 1."""

    words: list[str]

    @classmethod
    def build(cls, texts, min_count: int = 3, cap: int = 12000) -> "Vocabulary":
        counts = Counter(token for text in texts for token in text.split())
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls([PAD, UNKNOWN, *kept[:max(cap - 2, 0)]])

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, texts, max_length: int) -> tuple[np.ndarray, np.ndarray]:
        """(token ids N x L right-padded with 0, lengths N); words not in the vocabulary are <unk>,
        captions longer than `max_length` are cut (an empty caption keeps one <unk>)."""
        index = {w: i for i, w in enumerate(self.words)}
        rows = [[index.get(t, 1) for t in text.split()][:max_length] or [1] for text in texts]
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        out = np.zeros((len(rows), max(lengths.max(initial=1), 1)), dtype=np.int64)
        for i, r in enumerate(rows):
            out[i, :len(r)] = r
        return out, lengths


@dataclass
class CaptionedData:
    captions: pd.DataFrame                 # COLUMNS
    images: np.ndarray | list[str]         # features (N_images x D) or image files
    info: dict = field(default_factory=dict)
    vocabulary: Vocabulary | None = None

    def __post_init__(self):
        missing = [c for c in COLUMNS if c not in self.captions.columns]
        if missing:
            raise ValueError(f"captions need the columns {COLUMNS}; missing {missing}")
        n = len(self.images)
        if len(self.captions) and not self.captions["image"].between(0, n - 1).all():
            raise ValueError(f"a caption names an image outside 0..{n - 1}")
        bad = set(self.captions["role"]) - set(ROLES)
        if bad:
            raise ValueError(f"caption roles {sorted(bad)}: use {list(ROLES)}")
        if self.vocabulary is None:
            self.vocabulary = Vocabulary.build(self.role("train")["text"], **self.info.get("vocabulary", {}))

    @property
    def has_features(self) -> bool:
        return isinstance(self.images, np.ndarray)

    def role(self, role: str) -> pd.DataFrame:
        return self.captions[self.captions["role"] == role]

    def statistics(self) -> dict:
        """Per split: images, captions, instances; and the vocabulary size (table_4_datasets)."""
        out = {"vocabulary": len(self.vocabulary)}
        for role in ROLES:
            part = self.role(role)
            out[role] = {"images": int(part["image"].nunique()), "captions": int(len(part)),
                         "instances": int(part["instance"].nunique())}
        return out


def save(data: CaptionedData, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if data.has_features:
        with atomic_path(folder / "images.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(data.images, dtype=np.float32))
    else:
        with atomic_path(folder / "images.txt") as tmp:
            tmp.write_text("".join(f"{p}\n" for p in data.images))
    with atomic_path(folder / "captions.csv") as tmp:
        data.captions[COLUMNS].to_csv(tmp, index=False)
    write_json(folder / "vocab.json", {"words": data.vocabulary.words})
    write_json(folder / "info.json", {**data.info, "statistics": data.statistics()})  # last: the folder is complete


def load(folder: Path) -> CaptionedData:
    images = [n for n in ("images.npy", "images.txt") if (folder / n).is_file()]
    missing = [n for n in ("captions.csv", "vocab.json", "info.json") if not (folder / n).is_file()]
    if missing or not images:
        raise UserError(f"{folder} is not a prepared captioned data set (missing "
                        f"{', '.join(missing + ([] if images else ['images.npy or images.txt']))}); build it with "
                        f"the xm-captions step of its protocol")
    captions = pd.read_csv(folder / "captions.csv", keep_default_na=False, dtype={"text": str})
    if images[0] == "images.npy":
        pictures = np.load(folder / "images.npy")
    else:
        pictures = (folder / "images.txt").read_text().splitlines()
    return CaptionedData(captions, pictures, read_json(folder / "info.json"),
                         Vocabulary(read_json(folder / "vocab.json")["words"]))
