"""What a cross-modal hashing method is to the alternating loop (spec chapter3.md 3.1).

A method owns its image and text encoders, whatever else it trains (label
and modality predictors), their optimisers, and the loss of one step.  The
loop owns the schedule and the memory: every training item's latest feature
and relaxed code per modality (the buffers DCMH compares a batch with), the
shared binary targets B = sign(H_image + H_text) refreshed after every epoch,
and the training labels.  A step trains one modality's encoder on a batch of
anchors against all N partners of the other modality in the memory; the
other encoder is not touched (its rows are constants).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from retrieval_bench.core.registry import KeyedHyperparameters

MODALITIES = ("image", "text")


def other(modality: str) -> str:
    return MODALITIES[1 - MODALITIES.index(modality)]


@dataclass(frozen=True)
class DataShape:
    image_dim: int          # the features each image enters the method's head with (the trunk's output)
    text_dim: int
    labels: int
    bits: int
    train_pairs: int
    image_trunk: nn.Module | None = None  # images, not features: the network in front of the head (CNN-F)


class TrunkEncoder(nn.Module):
    """An image encoder on images: the trunk (fine-tuned with the head, L999), then the method's head."""

    def __init__(self, trunk: nn.Module, head: nn.Module):
        super().__init__()
        self.trunk, self.head = trunk, head

    def forward(self, x):
        return self.head(self.trunk(x))


@dataclass
class Memory:
    """The training items' latest outputs (no gradient), per modality, and the shared targets."""

    features: dict[str, torch.Tensor]
    codes: dict[str, torch.Tensor]
    targets: torch.Tensor
    labels: torch.Tensor

    def refresh_targets(self) -> None:
        """B = sign(H_image + H_text) (DCMH; sign(0) := +1)."""
        from retrieval_bench.studies.crossmodal.losses import binarise

        self.targets = binarise(self.codes["image"] + self.codes["text"])

    def state(self) -> dict:
        return {"features": self.features, "codes": self.codes, "targets": self.targets}


class TrainedModules:
    """What the loops need of a method's modules (`modules()`) and optimisers (`optimizers`): moving them,
    switching train / eval mode, and the resume point's state."""

    optimizers: dict

    def modules(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def to(self, device):
        for module in self.modules().values():
            module.to(device)
        return self

    def train(self, mode: bool = True) -> None:
        for module in self.modules().values():
            module.train(mode)

    def state(self) -> dict:
        return {"modules": {name: m.state_dict() for name, m in self.modules().items()},
                "optimizers": {name: o.state_dict() for name, o in self.optimizers.items()}}

    def load_state(self, state: dict) -> None:
        for name, module in self.modules().items():
            module.load_state_dict(state["modules"][name])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])


class CrossModalMethod(TrainedModules, KeyedHyperparameters):
    """Subclasses set DEFAULTS (every hyper-parameter, the thesis-scale value) and build their
    modules in `__init__`; `step` returns the named loss terms (weighted as they enter the loss)
    and diagnostics of one optimiser step, as floats."""

    DEFAULTS: dict = {}

    name = ""

    def __init__(self, hparams: dict, shape: DataShape, schedule: dict):
        self.check_config(hparams, f"{self.name or type(self).__name__}")
        self.check_values(hparams)
        self.hparams = {**self.DEFAULTS, **hparams}
        self.shape = shape
        self.schedule = schedule
        self.encoders: dict[str, nn.Module] = {}
        self.extras: dict[str, nn.Module] = {}  # trained beside the encoders (predictors)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    # ---------------------------------------------------------------- what the loop calls

    def modules(self) -> dict[str, nn.Module]:
        return {**self.encoders, **self.extras}

    def encode(self, modality: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(feature, relaxed code) of a batch of one modality."""
        return self.encoders[modality](x)

    def set_learning_rate(self, lr: float) -> None:
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = lr

    def step(self, modality: str, rows: torch.Tensor, x: torch.Tensor, memory: Memory) -> dict[str, float]:
        raise NotImplementedError

    # ---------------------------------------------------------------- helpers for subclasses

    def make_optimizer(self, *modules: nn.Module) -> torch.optim.Optimizer:
        """The schedule's optimiser over the modules' parameters (its learning rate is set per epoch)."""
        params = [p for m in modules for p in m.parameters()]
        kind, decay = self.schedule.get("optimizer", "adam"), self.schedule.get("weight_decay", 0.0)
        if kind == "adam":
            return torch.optim.Adam(params, lr=self.schedule["lr_start"], weight_decay=decay)
        if kind == "sgd":
            return torch.optim.SGD(params, lr=self.schedule["lr_start"], momentum=self.schedule.get("momentum", 0.0),
                                   weight_decay=decay)
        raise ValueError(f"optimizer {kind!r}: choose adam or sgd")

    def image_encoder(self, head: nn.Module) -> nn.Module:
        """The method's image head, behind the image trunk where the images are images."""
        trunk = self.shape.image_trunk
        return head if trunk is None else TrunkEncoder(trunk, head)

    def forward_and_remember(self, modality: str, rows: torch.Tensor, x: torch.Tensor, memory: Memory):
        """The batch's feature and relaxed code; their detached copies go into the memory."""
        feature, code = self.encode(modality, x)
        memory.features[modality][rows] = feature.detach()
        memory.codes[modality][rows] = code.detach()
        return feature, code
