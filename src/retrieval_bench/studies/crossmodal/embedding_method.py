"""What an image-sentence embedding method is to chapter 4's loop (spec chapter4.md 3.1).

The base of methods/itmeetsal.py and methods/vsepp.py.  A method owns the image and text encoders, whatever else it
trains (the label classifier, the modality discriminator D, the GRL head),
and its optimisers: `generator` (image trunk at `lr.trunk`, every other
generator part at `lr.other`) and `discriminator`.  The loop hands it a
batch; `generator_step` returns the named loss terms (as they enter the
loss) and keeps the step's detached features, and every k-th step
`discriminator_step` trains D on them (Algorithm 1, lines 15-16).  Where the
method has no adversary, D is a modality probe: trained the same way on
detached features, never feeding back, so every run logs how separable the
two modalities are (spec 3.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from retrieval_bench.core.registry import KeyedHyperparameters
from retrieval_bench.studies.crossmodal import losses
from retrieval_bench.studies.crossmodal.methods.base import TrainedModules
from retrieval_bench.studies.crossmodal.sentence_encoders import BiLSTMText, ImageEncoder, discriminator


@dataclass(frozen=True)
class SentenceShape:
    vocabulary: int                  # token ids 0..vocabulary-1
    instances: int                   # C: training instances (the label classifier's classes)
    image_trunk: nn.Module           # a stand-in over features, or a torchvision trunk over images
    image_width: int                 # the trunk's output


@dataclass
class Batch:
    images: torch.Tensor             # the batch's distinct images (inputs of the image encoder)
    image_of_pair: torch.Tensor      # each pair's row of `images`
    tokens: torch.Tensor             # N x L token ids
    lengths: torch.Tensor            # N
    labels: torch.Tensor             # N training-instance ids (0..C-1)


def build_encoders(shape: SentenceShape, schedule: dict) -> tuple[ImageEncoder, BiLSTMText]:
    """The image and text encoders of a schedule (the scale's crossmodal_embedding block)."""
    text, d, bn = schedule["text"], schedule["embedding_dim"], schedule.get("embedding_bn", True)
    return (ImageEncoder(shape.image_trunk, shape.image_width, d, bn),
            BiLSTMText(shape.vocabulary, text["word_dim"], text["units"], d, text["dropout"], bn,
                       text.get("max_over_padding", False)))


class EmbeddingMethod(TrainedModules, KeyedHyperparameters):
    """Subclasses set DEFAULTS and `generator_terms`."""

    DEFAULTS: dict = {}
    name = ""
    COMMON = {"k_steps": 5, "modality_probe": True, "d_loss": "last",
              "image_head_lr": "other"}  # the image head at lr.other (a fresh layer) or lr.trunk (Alg. 1 literally)

    @staticmethod
    def check_common(params: dict) -> None:
        choices = {"d_loss": ("last", "mean_over_k"), "image_head_lr": ("other", "trunk")}
        for key, allowed in choices.items():
            if key in params and params[key] not in allowed:
                raise ValueError(f"{key} {params[key]!r}: choose one of {list(allowed)}")

    def __init__(self, hparams: dict, shape: SentenceShape, schedule: dict, seed: int = 0):
        self.check_config(hparams, self.name)
        self.check_values(hparams)
        self.hparams = {**self.DEFAULTS, **hparams}
        self.shape, self.schedule = shape, schedule
        d = schedule["embedding_dim"]
        self.image_encoder, self.text_encoder = build_encoders(shape, schedule)
        self.extras: dict[str, nn.Module] = {}
        self.build(d)
        self.adversarial = self.uses_adversary()
        self.discriminator = None
        if self.adversarial or self.hparams["modality_probe"]:
            with torch.random.fork_rng(devices=[]):  # the probe must not shift the encoders' random stream
                torch.manual_seed(seed + 7919)
                self.discriminator = discriminator(d, list(schedule["discriminator"]))
        self._kept: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    # ---------------------------------------------------------------- for subclasses

    def build(self, d: int) -> None:
        """Create what the method trains beside the encoders (into self.extras)."""

    def uses_adversary(self) -> bool:
        return False

    def generator_terms(self, zi: torch.Tensor, zt: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    # ---------------------------------------------------------------- what the loop calls

    def modules(self) -> dict[str, nn.Module]:
        out = {"image_encoder": self.image_encoder, "text_encoder": self.text_encoder, **self.extras}
        if self.discriminator is not None:
            out["discriminator"] = self.discriminator
        return out

    def make_optimizers(self) -> None:
        """Adam (CMPM: eps 1e-8): the generator's groups at lr.trunk (the image trunk, and the image head
        with `image_head_lr: trunk`) and lr.other, D's own at lr.other; weight decay on the weight matrices
        and kernels only (CMPM decays weights), not on biases, norms, the word embedding or the classifier."""
        lr, decay = self.schedule["lr"], self.schedule.get("weight_decay", 0.0)
        slow = list(self.image_encoder.trunk.parameters())
        if self.hparams["image_head_lr"] == "trunk":
            slow += list(self.image_encoder.head.parameters())
        slow_ids = {id(p) for p in slow}
        rest = [p for name, m in self.modules().items() if name != "discriminator" for p in m.parameters()
                if id(p) not in slow_ids]
        groups = [g for params, rate in ((slow, lr["trunk"]), (rest, lr["other"]))
                  for g in self._decay_groups(params, rate, decay)]
        self.optimizers = {"generator": torch.optim.Adam(groups, eps=1e-8)}
        if self.discriminator is not None:
            self.optimizers["discriminator"] = torch.optim.Adam(
                self._decay_groups(list(self.discriminator.parameters()), lr["other"], decay), eps=1e-8)

    def _decay_groups(self, params: list, rate: float, decay: float) -> list[dict]:
        exempt = {id(self.text_encoder.embedding.weight)}
        if "classifier" in self.extras:
            exempt |= {id(p) for p in self.extras["classifier"].parameters()}
        decayed = [p for p in params if p.ndim >= 2 and id(p) not in exempt]
        kept = [p for p in params if p.ndim < 2 or id(p) in exempt]
        return [{"params": g, "lr": rate, "base_lr": rate, "weight_decay": w}
                for g, w in ((decayed, decay), (kept, 0.0)) if g]

    def set_learning_rate_factor(self, factor: float) -> None:
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * factor

    def embed(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_image per pair, z_text per pair): each distinct image forwarded once (spec 3.3)."""
        zi = self.image_encoder(batch.images)[batch.image_of_pair]
        return zi, self.text_encoder(batch.tokens, batch.lengths)

    def generator_step(self, batch: Batch) -> dict[str, float]:
        zi, zt = self.embed(batch)
        terms = self.generator_terms(zi, zt, batch.labels)
        optimizer = self.optimizers["generator"]
        optimizer.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        optimizer.step()
        if self.discriminator is not None:
            keep = self.hparams["k_steps"] if self.hparams["d_loss"] == "mean_over_k" else 1
            self._kept = (self._kept + [(zi.detach(), zt.detach())])[-keep:]
        return {name: float(value.detach()) for name, value in terms.items()}

    def discriminator_step(self) -> dict[str, float]:
        """One step of D on the kept detached features (L_c, Eq. 4.5): its accuracy and output entropy
        before the update are what tell a reader the adversary is alive (spec 3.1)."""
        if self.discriminator is None or not self._kept:
            return {}
        optimizer = self.optimizers["discriminator"]
        optimizer.zero_grad(set_to_none=True)  # L_s left gradients in D: they are not D's to use
        loss, accuracy, entropy = 0.0, [], []
        for zi, zt in self._kept:
            li, lt = self.discriminator(zi), self.discriminator(zt)
            loss = loss + losses.modality_classification(li, lt) / len(self._kept)
            with torch.no_grad():
                accuracy.append(0.5 * ((li.argmax(1) == 0).float().mean() + (lt.argmax(1) == 1).float().mean()))
                entropy.append(-0.5 * (losses.negative_entropy(li) + losses.negative_entropy(lt)))
        loss.backward()
        optimizer.step()
        self._kept = []
        return {"d_loss": float(loss.detach()), "d_accuracy": float(sum(accuracy) / len(accuracy)),
                "d_entropy": float(sum(entropy) / len(entropy))}
