"""LDPH: pseudo-supervised hashing with linear distance preserving constraints (spec 2.3, the recommended
formulation; the authors' choices are options).

Given a reference method's codes C of the training vectors: a network nb -> nb -> nb (hidden
1.7159 tanh(2x/3) with dropout, sigmoid output) on the vectors' top principal components is pre-trained to
reproduce C, then `outer` times: the (a, b)-step fits the line h = a d + b over random training pairs
(Hamming distance of the current codes against Euclidean distance), and the W-step trains the network
`epochs` epochs so that its codes follow that line, stay near the target codes and keep near-orthogonal
weights (losses.py); the codes are then recomputed.  Bits: output > 0.5.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from retrieval_bench.studies.hashing.losses import (
    fit_affine,
    hamming_of_pairs,
    ldp_surrogate,
    orthogonality_penalty,
    pearson,
)
from retrieval_bench.studies.hashing.methods.base import HashingMethod, centred_pca

CHOICES = {
    "input_scale": ("global", "per_dim"),      # D1: one scale for every component, or [C]'s z-score per component
    "distance_space": ("raw", "input"),        # D3: d in the centred features, or in the network's input ([C])
    "target": ("self", "reference"),           # D6: after iteration 1 the network's own codes ([C]) or C
    "init": ("torch", "toolbox"),              # D2: nn.Linear's init, or DeepLearnToolbox's x4 uniform
}


class ScaledTanh(nn.Module):
    """LeCun's 1.7159 tanh(2x / 3), the authors' hidden unit."""

    def forward(self, x):
        return 1.7159 * torch.tanh(2.0 * x / 3.0)


class LDPH(HashingMethod):
    name = "ldph"
    needs_reference = True
    DEFAULTS = {"reference": "itq", "mu": 0.5, "beta": 0.1, "gamma": 1.0e-4, "dropout": 0.05, "lr": 2.0,
                "momentum": 0.5, "batch": 500, "pre_epochs": 50, "pairs_per_sample": 10, "outer": 5,
                "epochs": 10, "input_scale": "global", "distance_space": "raw", "target": "self",
                "init": "torch"}

    @classmethod
    def check_values(cls, params):
        for key, allowed in CHOICES.items():
            if key in params and params[key] not in allowed:
                raise ValueError(f"{key}: {params[key]!r} is not one of {list(allowed)}")
        for key in ("outer", "epochs", "pre_epochs"):
            if key in params and (not isinstance(params[key], int) or params[key] < 0):
                raise ValueError(f"{key}: {params[key]!r}; give a whole number, 0 or more")

    def supports(self, bits, dim):
        return True

    def warm_up(self):
        """A throw-away fit on random data: torch's first backward pass costs ~1.5 s, which the first code
        length's training time would otherwise carry."""
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 16))
        type(self)({**self.hparams, "pre_epochs": 1, "outer": 1, "epochs": 1, "pairs_per_sample": 1}).fit(
            x, 8, rng, rng.integers(0, 2, (64, 8)))

    def inputs(self, x: np.ndarray) -> torch.Tensor:
        z = (np.asarray(x, dtype=np.float64) - self.mean) @ self.pca / self.scale
        return torch.from_numpy(z.astype(np.float32))

    def _network(self, p: int, bits: int) -> nn.Sequential:
        net = nn.Sequential(nn.Linear(p, bits), ScaledTanh(), nn.Dropout(self.hparams["dropout"]),
                            nn.Linear(bits, bits), nn.Sigmoid())
        if self.hparams["init"] == "toolbox":
            with torch.no_grad():
                for layer in (net[0], net[3]):
                    fan_out, fan_in = layer.weight.shape
                    bound = 4 * np.sqrt(6 / (fan_in + fan_out))
                    layer.weight.uniform_(-bound, bound, generator=self.generator)
                    layer.bias.zero_()
        return net

    def _weights(self):
        return [self.net[0].weight, self.net[3].weight]

    def _optimizer(self):
        h = self.hparams
        return torch.optim.SGD(self.net.parameters(), lr=h["lr"], momentum=h["momentum"])

    def fit(self, x, bits, rng, reference_codes=None):
        if reference_codes is None:
            raise ValueError("ldph learns from a reference method's codes: give reference_codes")
        h = self.hparams
        self.generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        torch.manual_seed(int(rng.integers(2**62)))  # nn.Linear's init and dropout use the global stream
        x = np.asarray(x, dtype=np.float64)
        p = min(bits, x.shape[1])
        self.mean, self.pca, variances = centred_pca(x, p)
        self.scale = (np.sqrt(variances.clip(min=1e-12)) if h["input_scale"] == "per_dim"
                      else np.sqrt(max(variances.mean(), 1e-12)))
        inputs = self.inputs(x)
        self.net = self._network(p, bits)
        codes = np.asarray(reference_codes, dtype=np.uint8)
        target = torch.from_numpy(codes.astype(np.float32))
        self._pretrain(inputs, target)

        n = len(x)
        pairs = rng.integers(0, n, (h["pairs_per_sample"] * n, 2))  # uniform pairs, i = j allowed as [C]
        space = (x - self.mean) if h["distance_space"] == "raw" else inputs.numpy().astype(np.float64)
        distance = np.concatenate([np.linalg.norm(space[chunk[:, 0]] - space[chunk[:, 1]], axis=1)
                                   for chunk in np.array_split(pairs, max(1, len(pairs) // 20_000))])
        self.history = []
        for iteration in range(h["outer"]):
            hamming = hamming_of_pairs(codes, pairs)
            a, b = fit_affine(hamming, distance)
            terms = self._w_step(inputs, target, pairs, distance, a, b, bits)
            codes = self.encode_inputs(inputs)
            if h["target"] == "self":
                target = torch.from_numpy(codes.astype(np.float32))
            self.history.append({"iteration": iteration + 1, "slope": a, "intercept": b,
                                 "pearson_r_before": pearson(hamming, distance),
                                 "pearson_r_after": pearson(hamming_of_pairs(codes, pairs), distance), **terms})
        return self

    def _pretrain(self, inputs: torch.Tensor, target: torch.Tensor) -> None:
        """Regress the reference's codes: 1/2 ||output - c||^2 per row, plus weight decay (not on biases)."""
        h, optimizer = self.hparams, self._optimizer()
        self.net.train()
        for _ in range(h["pre_epochs"]):
            order = torch.randperm(len(inputs), generator=self.generator)
            for start in range(0, len(order), h["batch"]):
                rows = order[start:start + h["batch"]]
                loss = 0.5 * ((self.net(inputs[rows]) - target[rows]) ** 2).sum(dim=1).mean()
                loss = loss + h["gamma"] * sum(0.5 * (w ** 2).sum() for w in self._weights())
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

    def _w_step(self, inputs, target, pairs, distance, a, b, bits) -> dict[str, float]:
        h, optimizer = self.hparams, self._optimizer()
        self.net.train()
        pairs_t, distance_t = torch.from_numpy(pairs), torch.from_numpy(distance.astype(np.float32))
        sums, batches = {"code_term": 0.0, "distance_residual": 0.0, "orthogonality": 0.0}, 0
        for _ in range(h["epochs"]):
            order = torch.randperm(len(pairs), generator=self.generator)
            for start in range(0, len(order), h["batch"]):
                chosen = order[start:start + h["batch"]]
                left, right = pairs_t[chosen, 0], pairs_t[chosen, 1]
                rows = torch.cat([left, right])                  # both elements of every pair ("dual" networks)
                out = self.net(inputs[rows])
                half = len(chosen)
                partner = torch.cat([out[half:], out[:half]])
                loss, terms = ldp_surrogate(out, target[rows], partner, distance_t[chosen].repeat(2), a, b,
                                            h["mu"], h["beta"])
                orthogonality = sum(orthogonality_penalty(w) for w in self._weights())
                loss = loss + h["gamma"] * orthogonality
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                terms["orthogonality"] = float(orthogonality.detach())
                sums = {k: sums[k] + terms[k] for k in sums}
                batches += 1
        return {k: v / max(batches, 1) for k, v in sums.items()}

    def encode_inputs(self, inputs: torch.Tensor) -> np.ndarray:
        self.net.eval()
        with torch.no_grad():
            return (self.net(inputs) > 0.5).numpy().astype(np.uint8)

    def encode(self, x):
        return self.encode_inputs(self.inputs(x))
