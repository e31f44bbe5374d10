"""Chapter 4's mini-scale stand-ins: captioned scenes (spec chapter4.md 13.1-13.2).

Designed once from the mechanisms the chapter's effects rely on, never
changed to make a claim hold:

- a world (slot tables, a fixed random "renderer", the words) per domain:
  everyday scenes for the Flickr8K / Flickr30K / MS-COCO stand-ins,
  pedestrians for the CUHK-PEDES one, so the sets of a domain share words and
  camera as the real ones share English and photographs;
- an image is a 96-d feature vector x = ReLU(A c + B n + b) + 0.1 ε: c the
  scene's slot codes, n an image-only nuisance (pose, light, clutter) as
  strong as the scene, ε pixel noise; standardised with the training images'
  mean and std ("after normalization", Fig. 4.6);
- a caption names the first slot and only some of the others (2-4 of 5
  everyday slots; 3-5 of 7 for pedestrians), each as one of its synonyms, in
  random order with filler words: text is more abstract than the image, one
  caption partly matches many images, an image has 5 chances (the 1 : 5
  imbalance behind i2t > t2i);
- pedestrians: 3 views of an identity differ in nuisance only, 2 captions per
  image, relevance by identity.

The data are fixed per stand-in (their own seed); a run's seed varies the
model's initialisation and the batch order (as in the spec's probe).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrieval_bench.studies.crossmodal.data.captions import CaptionedData

EVERYDAY = {
    "object": [["dog", "puppy", "hound"], ["cat", "kitten"], ["horse", "pony"], ["bird", "sparrow"],
               ["child", "kid", "toddler"], ["man", "guy"], ["woman", "lady"], ["car", "automobile"],
               ["bicycle", "bike"], ["boat", "ship"], ["ball", "football"], ["train", "locomotive"]],
    "colour": [["red", "crimson"], ["blue", "navy"], ["green", "olive"], ["yellow", "golden"],
               ["black", "dark"], ["white", "pale"], ["brown", "tan"], ["orange", "amber"]],
    "action": [["running", "jogging"], ["jumping", "leaping"], ["sitting", "resting"], ["swimming", "diving"],
               ["playing", "frolicking"], ["walking", "strolling"], ["eating", "feeding"], ["sleeping", "napping"]],
    "place": [["beach", "shore"], ["park", "garden"], ["street", "road"], ["field", "meadow"], ["snow", "ice"],
              ["river", "stream"], ["house", "home"], ["forest", "woods"]],
    "count": [["one", "single"], ["two", "pair"], ["three", "trio"]],
}
PEDESTRIAN = {
    "upper": [["shirt", "tee"], ["jacket", "coat"], ["sweater", "jumper"], ["hoodie", "sweatshirt"],
              ["dress", "gown"], ["vest", "tanktop"], ["blouse", "top"], ["suit", "blazer"],
              ["cardigan", "knit"], ["parka", "anorak"]],
    "gender": [["man", "male"], ["woman", "female"]],
    "upper_colour": [["red", "crimson"], ["blue", "navy"], ["green", "olive"], ["yellow", "golden"],
                     ["black", "dark"], ["white", "pale"], ["brown", "tan"], ["grey", "gray"]],
    "lower": [["jeans", "denims"], ["shorts", "trunks"], ["skirt", "miniskirt"], ["trousers", "pants"],
              ["leggings", "tights"], ["slacks", "chinos"]],
    "lower_colour": [["black", "dark"], ["blue", "navy"], ["white", "pale"], ["grey", "gray"], ["brown", "tan"],
                     ["red", "crimson"], ["green", "olive"], ["beige", "khaki"]],
    "bag": [["backpack", "rucksack"], ["handbag", "purse"], ["suitcase", "luggage"], ["satchel", "tote"]],
    "hair": [["longhaired", "flowing"], ["shorthaired", "cropped"], ["ponytail", "braid"], ["bald", "shaved"]],
}
FILLERS = ["a", "the", "is", "in", "with", "on", "at", "of", "and", "near"]
CODE_DIM, NUISANCE_DIM, IMAGE_DIM = 16, 12, 96

# stand-in -> (domain, training instances, test instances, views per instance, captions per image,
#              slots a caption names (min, max, first slot included), the thesis data set it stands in for)
STAND_INS = {
    "synthetic_f30k": ("everyday", 500, 500, 1, 5, (2, 4), "flickr30k"),
    "synthetic_coco": ("everyday", 1000, 1000, 1, 5, (2, 4), "coco"),
    "synthetic_f8k": ("everyday", 250, 500, 1, 5, (2, 4), "flickr8k"),
    "synthetic_pedes": ("pedestrian", 300, 100, 3, 2, (3, 5), "cuhk_pedes"),
}
COCO_FOLDS = 5
WORLD_SEED = {"everyday": 101, "pedestrian": 202}
DATA_SEED = {"synthetic_f30k": 11, "synthetic_coco": 12, "synthetic_f8k": 13, "synthetic_pedes": 14}


class World:
    """Slot tables, their codes and the renderer of one domain."""

    def __init__(self, domain: str):
        self.slots = EVERYDAY if domain == "everyday" else PEDESTRIAN
        rng = np.random.default_rng(WORLD_SEED[domain])
        self.codes = {name: rng.normal(size=(len(values), CODE_DIM)) for name, values in self.slots.items()}
        code_dim = CODE_DIM * len(self.slots)
        self.A = rng.normal(scale=np.sqrt(1.0 / code_dim), size=(IMAGE_DIM, code_dim))
        self.B = rng.normal(scale=np.sqrt(1.0 / NUISANCE_DIM), size=(IMAGE_DIM, NUISANCE_DIM))
        self.b = rng.normal(scale=0.1, size=IMAGE_DIM)

    def render(self, scenes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Feature vectors of scenes (rows of slot value indices), each with its own nuisance."""
        c = np.concatenate([self.codes[name][scenes[:, s]] for s, name in enumerate(self.slots)], axis=1)
        n = rng.normal(size=(len(scenes), NUISANCE_DIM))
        x = np.maximum(c @ self.A.T + n @ self.B.T + self.b, 0.0)
        return x + 0.1 * rng.normal(size=x.shape)

    def caption(self, scene: np.ndarray, slots: tuple[int, int], rng: np.random.Generator) -> str:
        names = list(self.slots)
        count = rng.integers(slots[0], slots[1] + 1)
        chosen = [0, *rng.choice(np.arange(1, len(names)), size=count - 1, replace=False)]
        rng.shuffle(chosen)
        words = [FILLERS[rng.integers(len(FILLERS))]] if rng.random() < 0.5 else []
        for s in chosen:
            if rng.random() < 0.5:
                words.append(FILLERS[rng.integers(len(FILLERS))])
            synonyms = self.slots[names[s]][scene[s]]
            words.append(synonyms[rng.integers(len(synonyms))])
        return " ".join(words[:12])

    def describe(self, scene: np.ndarray) -> str:
        """A scene in words (every slot's first synonym): what Fig. 4.9 shows for a retrieved image."""
        return " ".join(self.slots[name][scene[s]][0] for s, name in enumerate(self.slots))


def generate(stand_in: str, train: int | None = None, test: int | None = None) -> tuple[CaptionedData, list[str]]:
    """A stand-in (STAND_INS; `train` / `test` instances instead of its own) and each image's description
    in words."""
    if stand_in not in STAND_INS:
        raise ValueError(f"unknown captioned stand-in {stand_in!r}; choose one of {sorted(STAND_INS)}")
    domain, n_train, n_test, views, per_image, slots, thesis_name = STAND_INS[stand_in]
    n_train, n_test = train or n_train, test or n_test
    world, rng = World(domain), np.random.default_rng(DATA_SEED[stand_in])
    sizes = [len(v) for v in world.slots.values()]
    instances = np.stack([rng.integers(0, k, size=n_train + n_test) for k in sizes], axis=1)
    scenes = np.repeat(instances, views, axis=0)               # an instance's views share its scene
    instance_of_image = np.repeat(np.arange(n_train + n_test), views)
    images = world.render(scenes, rng)
    train_images = instance_of_image < n_train
    mean, std = images[train_images].mean(axis=0), images[train_images].std(axis=0) + 1e-6
    images = ((images - mean) / std).astype(np.float32)
    test_fold_size = max(n_test * views // COCO_FOLDS, 1)
    rows = []
    for image, scene in enumerate(scenes):
        instance = int(instance_of_image[image])
        train = instance < n_train
        fold = min((image - n_train * views) // test_fold_size, COCO_FOLDS - 1) \
            if stand_in == "synthetic_coco" and not train else -1
        for _ in range(per_image):
            rows.append({"image": image, "instance": instance, "role": "train" if train else "test",
                         "fold": int(fold), "text": world.caption(scene, slots, rng)})
    captions = pd.DataFrame(rows)
    captions.insert(0, "caption", np.arange(len(captions)))
    info = {"source": f"synthetic ({stand_in}, spec chapter4.md 13.2)", "stands_in_for": thesis_name,
            "relevance": "same_identity" if views > 1 else "same_image", "domain": domain,
            "vocabulary": {"min_count": 3, "cap": 12000}}
    return CaptionedData(captions, images, info), [world.describe(s) for s in scenes]
