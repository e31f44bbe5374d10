"""Chapter 4's method, ITMeetsAL (Eqs. 4.1-4.15, Algorithm 1), and every
ablation and CMPM baseline that shares its loss library: a weight of 0 leaves
a term out.  Rows of Tables 4.1-4.5, 4.7, 4.8:

    full method      w_ce = w_di = w_kl = w_tr = w_s = 1 (unified D, k = 5)
    Baseline1        w_di = w_kl = w_s = 0        Baseline2  w_kl = w_s = 0
    Baseline3        w_s = 0                      CMPM+CMPC  w_ce = w_kl = 1 only
    CMPM             w_kl = 1 only                separate   paradigm: separate

The generator's loss (one backward, one step of the generator's optimiser
over the encoders and the label classifier W: Algorithm 1 lines 12-14):

    w_ce L_ce + w_di L_di + w_kl L_kl + w_tr L_tr + w_s L_s (+ L_c through a
    gradient-reversal layer into a second head C, "separate" paradigm)

L_s is the negative entropy of D's output on both modalities, back-propagated
through D without stepping it; D learns L_c alone every k-th step.  The
repairs of the printed equations (spec 2.1-2.5) are the defaults, the printed
forms options: `kl_target`, `di_form`, `abs_projection`.
"""

from __future__ import annotations

import torch
from torch import nn

from retrieval_bench.studies.crossmodal import losses
from retrieval_bench.studies.crossmodal.embedding_method import EmbeddingMethod
from retrieval_bench.studies.crossmodal.sentence_encoders import GradientReversal, discriminator

PARADIGMS = ("unified", "separate")


class ITMeetsAL(EmbeddingMethod):
    name = "itmeetsal"
    DEFAULTS = {
        **EmbeddingMethod.COMMON,
        "w_ce": 1.0, "w_di": 1.0, "w_kl": 1.0, "w_tr": 1.0, "w_s": 1.0,
        "tau": 4.0, "margin": 0.5,                       # L1322
        "di_form": "symmetric", "di_detach": "none",     # Eq. 4.11 repaired (spec 2.5)
        "kl_target": "row_normalised",                   # Eq. 4.8 as CMPM (spec 2.3)
        "abs_projection": False,                         # Eqs. 4.2-4.3 signed (spec 2.1)
        "intra": True,                                   # Eq. 4.13
        "paradigm": "unified", "grl_lambda": 1.0, "separate_entropy": True,   # Fig. 4.8 (spec 3.2)
        "noise_sigma": 0.0,                              # Table 4.7 (spec 3.4); read by the loop
    }

    @classmethod
    def check_values(cls, params: dict) -> None:
        EmbeddingMethod.check_common(params)
        choices = {"paradigm": PARADIGMS, "di_form": losses.DI_FORMS, "di_detach": ("none", "text", "image"),
                   "kl_target": ("row_normalised", "softmax_as_printed")}
        for key, allowed in choices.items():
            if key in params and params[key] not in allowed:
                raise ValueError(f"{key} {params[key]!r}: choose one of {list(allowed)}")

    def build(self, d: int) -> None:
        h = self.hparams
        if h["w_ce"] > 0 or h["w_di"] > 0:  # θ_P: the norm-softmax instance classifier (no bias)
            weight = torch.empty(d, self.shape.instances)
            nn.init.xavier_uniform_(weight)
            self.extras["classifier"] = nn.ParameterDict({"weight": nn.Parameter(weight)})
        if h["paradigm"] == "separate":
            self.extras["grl_head"] = nn.Sequential(GradientReversal(h["grl_lambda"]),
                                                    discriminator(d, list(self.schedule["discriminator"])))

    def uses_adversary(self) -> bool:
        h = self.hparams
        return h["w_s"] > 0 and (h["paradigm"] == "unified" or h["separate_entropy"])

    def generator_terms(self, zi, zt, labels):
        h, terms = self.hparams, {}
        if "classifier" in self.extras:
            logits_it, logits_ti = losses.cmpc_logits(zi, zt, self.extras["classifier"]["weight"])
            if h["w_ce"] > 0:
                terms["ce"] = h["w_ce"] * losses.cmpc(logits_it, logits_ti, labels)
            if h["w_di"] > 0:
                terms["di"] = h["w_di"] * losses.data_imbalance(logits_it, logits_ti, h["tau"], h["di_form"],
                                                                h["di_detach"])
        if h["w_kl"] > 0:
            terms["kl"] = h["w_kl"] * losses.cmpm_kl(zi, zt, labels, h["kl_target"], h["abs_projection"])
        if h["w_tr"] > 0:
            terms["tr"] = h["w_tr"] * losses.bidirectional_triplet(zi, zt, labels, h["margin"], h["intra"])
        if self.adversarial:  # through D, whose parameters this step does not move
            terms["s"] = h["w_s"] * (losses.negative_entropy(self.discriminator(zi))
                                     + losses.negative_entropy(self.discriminator(zt)))
        if "grl_head" in self.extras:
            head = self.extras["grl_head"]
            terms["grl_c"] = losses.modality_classification(head(zi), head(zt))
        return terms
