"""DCMH (Jiang & Li, CVPR 2017), the baseline of every chapter 3 table (spec 5.1).

Linear outputs F (image) and G (text) are both the feature and the relaxed
code.  One step on a batch of anchors of one modality minimises DCMH's
objective divided by B·N (its code divides the gradients by batch size times
training pairs):

    Σ_i Σ_j [log(1 + e^θij) − S_ij θij] + γ Σ_i ‖F_i − B_i‖² + η ‖Σ_j F_j‖²,   θ = ½ F_iᵀ G_j

with G every training text in the memory, B the shared targets and the
balance sum over the memory with the batch's rows replaced by the current
outputs.
"""

from __future__ import annotations

import torch

from retrieval_bench.studies.crossmodal import losses
from retrieval_bench.studies.crossmodal.encoders import HashEncoder
from retrieval_bench.studies.crossmodal.methods.base import CrossModalMethod, Memory, other


class Dcmh(CrossModalMethod):
    name = "dcmh"
    DEFAULTS = {
        "gamma": 1.0,          # quantisation (DCMH γ)
        "eta": 1.0,            # bit balance (DCMH η); the mini scale overrides it (spec 5.1)
        "image_hidden": [],    # features mode / CNN-F fc7 -> K directly
        "text_hidden": [8192],
        "dropout": 0.0,        # DCMH's text network has none
    }

    def __init__(self, hparams: dict, shape, schedule: dict):
        super().__init__(hparams, shape, schedule)
        h = self.hparams
        self.encoders = {
            "image": self.image_encoder(HashEncoder(shape.image_dim, list(h["image_hidden"]), 0, shape.bits,
                                                    h["dropout"], code_activation="linear")),
            "text": HashEncoder(shape.text_dim, list(h["text_hidden"]), 0, shape.bits, h["dropout"],
                                code_activation="linear"),
        }
        self.optimizers = {m: self.make_optimizer(net) for m, net in self.encoders.items()}

    def loss_terms(self, modality: str, rows: torch.Tensor, output: torch.Tensor, memory: Memory) -> dict:
        h, n = self.hparams, memory.labels.shape[0]
        partners = memory.codes[other(modality)]
        s = losses.similarity(memory.labels[rows], memory.labels)
        everyone = memory.codes[modality].clone()
        everyone[rows] = output
        return {"pairs": losses.pairwise_nll(losses.pair_logits(output, partners), s),
                "quantisation": h["gamma"] / n * losses.quantisation(output, memory.targets[rows]),
                "balance": h["eta"] / (len(rows) * n) * losses.dcmh_balance(everyone)}

    def step(self, modality: str, rows: torch.Tensor, x: torch.Tensor, memory: Memory) -> dict[str, float]:
        _, output = self.forward_and_remember(modality, rows, x, memory)
        terms = self.loss_terms(modality, rows, output, memory)
        optimizer = self.optimizers[modality]
        optimizer.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        optimizer.step()
        return {name: value.item() for name, value in terms.items()}
