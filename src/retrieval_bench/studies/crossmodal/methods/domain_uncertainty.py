"""Chapter 3's method: DCMH's pairwise likelihood and quantisation, label
prediction, multi-level similarity and domain uncertainty (Eqs. 3.1-3.7).
Its switches are the rows of Table 3.3 (a weight of 0 leaves a term, and
the predictor only it uses, out), Table 3.1 (`common_dim`) and Fig. 3.4.

One encoder step on anchors of one modality against every training item of
the other (spec 2.6):

    β · mean_ij [NLL(Δ_ij) + NLL(Γ_ij)]                       Eq. 3.5, sign corrected
  + η · mean_ij [(σ(2Δ_ij) − w_ij)² + (σ(2Γ_ij) − w_ij)²]     Eq. 3.3
  + s · mean_i [α · Σ_{D_r, D_b} Σ_m P_m log P_m               Eq. 3.2
                + γ · Σ_c BCE(𝓛(F_i), l_i) + ε · ‖H_i − B_i‖²]  Eqs. 3.6, 3.1

Eq. 3.2 (`domain_objective`): `modality_ce` (default) trains the modality
predictors to tell image from text (one step before each encoder step, on
the anchors and as many random rows of the other modality), and the encoders
maximise their entropy; `entropy_as_printed` lets the predictors minimise the
same negative entropy, as the equation prints it, which drives them to
(0.5, 0.5) and gives the encoders no signal (spec 2.2); `none` leaves it out.
"""

from __future__ import annotations

import torch

from retrieval_bench.studies.crossmodal import losses
from retrieval_bench.studies.crossmodal.encoders import HashEncoder, mlp
from retrieval_bench.studies.crossmodal.methods.base import MODALITIES, CrossModalMethod, Memory, other

DOMAIN_OBJECTIVES = ("modality_ce", "entropy_as_printed", "none")


class DomainUncertainty(CrossModalMethod):
    name = "domain_uncertainty"
    DEFAULTS = {
        "alpha": 100.0, "beta": 1.0, "gamma": 1.0, "eta": 0.1, "epsilon": 1.0,   # L999
        "per_sample_scale": 1e-4,          # spec 2.6: DCMH's 1/(B·N) with the thesis's N = 10,000
        "domain_objective": "modality_ce",
        "quantisation_target": "shared",   # B = sign(H_image + H_text) (DCMH) | per_modality: sign(H) itself
        "common_dim": 512,                 # N (L1024)
        "image_hidden": [],                # features mode: fc7 -> N
        "text_hidden": [2000],             # T -> MS -> 2000 -> N -> K (L999)
        "fusion_windows": [50, 30, 15, 10, 5],  # SSAH's five levels; [] for plain bag of words
        "predictor_hidden": 256,           # 𝓛: N -> 256 -> c; D_r: N -> 256 -> 2; D_b: K -> 256 -> 2
        "dropout": 0.1,                    # drop probability (the printed "dropout rate 0.9" read as keep 0.9)
    }

    def __init__(self, hparams: dict, shape, schedule: dict):
        super().__init__(hparams, shape, schedule)
        h = self.hparams
        n, k, hidden, drop = h["common_dim"], shape.bits, h["predictor_hidden"], h["dropout"]
        self.encoders = {
            "image": self.image_encoder(HashEncoder(shape.image_dim, list(h["image_hidden"]), n, k, drop)),
            "text": HashEncoder(shape.text_dim, list(h["text_hidden"]), n, k, drop,
                                fusion_windows=tuple(h["fusion_windows"])),
        }
        self.uses_domain = h["alpha"] > 0 and h["domain_objective"] != "none"
        if h["gamma"] > 0:
            self.extras["label_predictor"] = mlp([n, hidden, shape.labels], drop)
        if self.uses_domain:
            self.extras["domain_features"] = mlp([n, hidden, 2], drop)  # D_r
            self.extras["domain_codes"] = mlp([k, hidden, 2], drop)     # D_b
        shared = [self.extras["label_predictor"]] if "label_predictor" in self.extras else []
        self.optimizers = {m: self.make_optimizer(net, *shared) for m, net in self.encoders.items()}
        if self.uses_domain:
            self.optimizers["domain"] = self.make_optimizer(self.extras["domain_features"],
                                                            self.extras["domain_codes"])

    @classmethod
    def check_values(cls, params: dict) -> None:
        h = {**cls.DEFAULTS, **params}
        if h["domain_objective"] not in DOMAIN_OBJECTIVES:
            raise ValueError(f"domain_objective {h['domain_objective']!r}: choose one of {list(DOMAIN_OBJECTIVES)}")
        if h["quantisation_target"] not in ("shared", "per_modality"):
            raise ValueError(f"quantisation_target {h['quantisation_target']!r}: choose shared or per_modality")
        for key in ("alpha", "beta", "gamma", "eta", "epsilon", "per_sample_scale"):
            if h[key] < 0:
                raise ValueError(f"{key} {h[key]}: a loss weight is 0 (the term off) or more")

    # ---------------------------------------------------------------- the terms

    def loss_terms(self, modality: str, rows: torch.Tensor, feature: torch.Tensor, code: torch.Tensor,
                   memory: Memory) -> dict[str, torch.Tensor]:
        h, partner = self.hparams, other(modality)
        labels = memory.labels[rows]
        terms = {}
        delta = losses.pair_logits(feature, memory.features[partner])
        gamma = losses.pair_logits(code, memory.codes[partner])
        if h["beta"]:
            s = losses.similarity(labels, memory.labels)
            terms["pairs"] = h["beta"] * (losses.pairwise_nll(delta, s) + losses.pairwise_nll(gamma, s))
        if h["eta"]:
            w = losses.multilevel_similarity(labels, memory.labels)
            terms["multilevel"] = h["eta"] * (losses.multilevel_mse(delta, w) + losses.multilevel_mse(gamma, w))
        scale = h["per_sample_scale"]
        if self.uses_domain:
            terms["domain"] = scale * h["alpha"] * (
                losses.negative_entropy(self.extras["domain_features"](feature))
                + losses.negative_entropy(self.extras["domain_codes"](code)))
        if h["gamma"]:
            terms["label"] = scale * h["gamma"] * losses.label_bce(self.extras["label_predictor"](feature), labels)
        if h["epsilon"]:
            target = memory.targets[rows] if h["quantisation_target"] == "shared" else losses.binarise(code.detach())
            terms["quantisation"] = scale * h["epsilon"] * losses.quantisation(code, target)
        return terms

    def domain_step(self, modality: str, feature: torch.Tensor, code: torch.Tensor, memory: Memory) -> dict:
        """One step of the modality predictors on the anchors and as many random rows of the other
        modality (spec 2.2, modality_ce); their accuracy and mean entropy on that batch."""
        partner = other(modality)
        picks = torch.randint(len(memory.labels), (len(feature),), device=feature.device)
        truth = torch.tensor([MODALITIES.index(modality)] * len(feature) + [MODALITIES.index(partner)] * len(feature),
                             device=feature.device)
        f = torch.cat([feature.detach(), memory.features[partner][picks]])
        c = torch.cat([code.detach(), memory.codes[partner][picks]])
        logits = [self.extras["domain_features"](f), self.extras["domain_codes"](c)]
        loss = sum(losses.modality_ce(z, truth) for z in logits)
        self.optimizers["domain"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["domain"].step()
        return self._domain_diagnostics(logits, truth)

    @staticmethod
    def _domain_diagnostics(logits: list[torch.Tensor], truth: torch.Tensor) -> dict[str, float]:
        with torch.no_grad():
            accuracy = torch.stack([(z.argmax(1) == truth).float().mean() for z in logits]).mean()
            entropy = -torch.stack([losses.negative_entropy(z) for z in logits]).mean()
        return {"domain_accuracy": accuracy.item(), "domain_entropy": entropy.item()}

    def step(self, modality: str, rows: torch.Tensor, x: torch.Tensor, memory: Memory) -> dict[str, float]:
        feature, code = self.forward_and_remember(modality, rows, x, memory)
        diagnostics = {}
        if self.uses_domain and self.hparams["domain_objective"] == "modality_ce":
            diagnostics = self.domain_step(modality, feature, code, memory)
        terms = self.loss_terms(modality, rows, feature, code, memory)
        optimizers = [self.optimizers[modality]]
        if self.uses_domain and self.hparams["domain_objective"] == "entropy_as_printed":
            optimizers.append(self.optimizers["domain"])  # θ_d minimises the printed term too
            truth = torch.full((len(rows),), MODALITIES.index(modality), device=feature.device)
            with torch.no_grad():
                diagnostics = self._domain_diagnostics(
                    [self.extras["domain_features"](feature), self.extras["domain_codes"](code)], truth)
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        for optimizer in optimizers:
            optimizer.step()
        if self.uses_domain and self.hparams["domain_objective"] == "modality_ce":
            # the encoder step also wrote gradients into the predictors: they are not stepped by it
            for module in (self.extras["domain_features"], self.extras["domain_codes"]):
                module.zero_grad(set_to_none=True)
        return {**{name: value.item() for name, value in terms.items()}, **diagnostics}
