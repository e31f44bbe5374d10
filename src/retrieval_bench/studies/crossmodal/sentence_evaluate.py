"""What a trained chapter 4 model retrieves (spec chapter4.md 6).

Every distinct test image and every test caption is embedded once (eval
mode), L2-normalised and compared by cosine.  Image-to-text: image queries
against the gallery of test captions; text-to-image the reverse; relevant =
the same instance (the image on Flickr and COCO, the person on CUHK-PEDES).
Per direction: R@1/5/10, standard mAP, the CMPM code's mAP (the thesis's
"mAP" columns) and the 11-level interpolated PR curve.  A set with test
folds (MS-COCO) is scored per fold of 1,000 images (its captions only), the
"1K" numbers being the mean over folds, and on the whole test set ("5K").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from retrieval_bench.retrieval.metrics import ranking_summary, same_label

DIRECTIONS = ("i2t", "t2i")
KS = (1, 5, 10)


@torch.no_grad()
def embed(method, images, image_rows: np.ndarray, tokens: np.ndarray, lengths: np.ndarray, device,
          batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings of `image_rows`, embeddings of the captions), in eval mode, on `device`."""
    method.train(False)
    image_parts = [method.image_encoder(images.batch(image_rows[i:i + batch], False, None).to(device)).cpu()
                   for i in range(0, len(image_rows), batch)]
    text_parts = []
    for i in range(0, len(tokens), batch):
        width = int(lengths[i:i + batch].max())
        text_parts.append(method.text_encoder(torch.from_numpy(tokens[i:i + batch, :width]).to(device),
                                              torch.from_numpy(lengths[i:i + batch]).to(device)).cpu())
    return torch.cat(image_parts).numpy(), torch.cat(text_parts).numpy()


def _directions(image_emb, text_emb, image_instance, caption_instance) -> dict:
    return {"i2t": ranking_summary(image_emb, text_emb, same_label(image_instance, caption_instance), KS),
            "t2i": ranking_summary(text_emb, image_emb, same_label(caption_instance, image_instance), KS)}


def score(name: str, test: pd.DataFrame, image_rows: np.ndarray, image_emb: np.ndarray,
          text_emb: np.ndarray) -> dict:
    """metrics.json's `groups`: {name: {i2t, t2i}}, or for a set with folds {name1k: mean over folds with
    its `folds`, name5k: the whole test set}."""
    image_position = {int(r): i for i, r in enumerate(image_rows)}
    image_instance = test.drop_duplicates("image").set_index("image").loc[image_rows, "instance"].to_numpy()
    caption_instance = test["instance"].to_numpy()
    if (test["fold"] < 0).all():
        return {name: _directions(image_emb, text_emb, image_instance, caption_instance)}
    folds = []
    for fold in sorted(test["fold"].unique()):
        captions = (test["fold"] == fold).to_numpy()
        images = np.array([image_position[int(r)] for r in test.loc[captions, "image"].unique()])
        folds.append(_directions(image_emb[images], text_emb[captions], image_instance[images],
                                 caption_instance[captions]))
    mean = {d: {m: float(np.mean([f[d][m] for f in folds])) for m in folds[0][d] if m not in ("pr", "queries")}
            | {"queries": int(sum(f[d]["queries"] for f in folds)),
               "pr": np.mean([f[d]["pr"] for f in folds], axis=0).tolist()} for d in DIRECTIONS}
    return {f"{name}1k": mean | {"folds": folds}, f"{name}5k": _directions(image_emb, text_emb, image_instance,
                                                                           caption_instance)}
