"""The networks of chapter 4 (spec chapter4.md 1.3, 13.3): a Bi-LSTM sentence
encoder max-pooled over its valid time steps, the image encoders (the mini
stand-ins for VGG-16, MobileNet v1, ResNet-50 and ResNet-152 over feature
vectors; at thesis scale a torchvision trunk over images), the non-shared
Linear + BatchNorm head of each modality, the modality discriminator and a
gradient-reversal layer (the "separate" paradigm, Fig. 4.8)."""

from __future__ import annotations

import torch
from torch import nn

SHARED_DIM = 512  # d (L1322)


class EmbedHead(nn.Module):
    """Linear to the shared space, then BatchNorm1d (CMPM's joint embedding; spec R5).  No L2
    normalisation here: the projection losses read the feature norms."""

    def __init__(self, d_in: int, d: int, batch_norm: bool = True):
        super().__init__()
        self.linear = nn.Linear(d_in, d)
        self.norm = nn.BatchNorm1d(d) if batch_norm else nn.Identity()

    def forward(self, x):
        return self.norm(self.linear(x))


class BiLSTMText(nn.Module):
    """word embedding -> dropout -> Bi-LSTM -> dropout -> max over the valid steps -> EmbedHead.

    Without packing (spec 13.4): one LSTM reads the right-padded batch forwards, a second reads each
    caption reversed within its own length; max-pooling ignores order, so the two outputs are simply
    concatenated.  Equal to a packed bidirectional LSTM (test), and faster at mini sizes."""

    def __init__(self, vocabulary: int, word_dim: int, units: int, out_dim: int, dropout: float = 0.3,
                 batch_norm: bool = True, max_over_padding: bool = False):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, word_dim, padding_idx=0)
        nn.init.xavier_uniform_(self.embedding.weight)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        self.forward_lstm = nn.LSTM(word_dim, units, batch_first=True)
        self.backward_lstm = nn.LSTM(word_dim, units, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = EmbedHead(2 * units, out_dim, batch_norm)
        self.units, self.word_dim, self.max_over_padding = units, word_dim, max_over_padding
        self.input_hook = None  # Table 4.7: hook(word embeddings, valid steps) while training (spec 3.4)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        steps = torch.arange(ids.shape[1], device=ids.device)
        valid = steps[None, :] < lengths[:, None]
        words = self.embedding(ids)
        if self.training and self.input_hook is not None:
            words = self.input_hook(words, valid)
        words = self.dropout(words)
        reverse = torch.where(valid, lengths[:, None] - 1 - steps[None, :], steps[None, :])
        flipped = words.gather(1, reverse[..., None].expand_as(words))
        ahead, _ = self.forward_lstm(words)
        behind, _ = self.backward_lstm(flipped)
        both = self.dropout(torch.cat([ahead, behind], dim=2))
        # padded steps: left out of the max, or (CMPM, whose packed LSTM outputs 0 there) counted as 0
        both = both.masked_fill(~valid[..., None], 0.0 if self.max_over_padding else float("-inf"))
        return self.head(both.max(dim=1).values)

    def recurrent_flops(self, tokens: int) -> int:
        """The LSTMs' FLOPs for one caption (FlopCounterMode does not count fused LSTMs; spec 12.2):
        2 directions x 2 FLOPs x 4 gates x h x (in + h) per token."""
        return 2 * 2 * 4 * self.units * (self.word_dim + self.units) * tokens


def _block(width: int, bottleneck: int) -> nn.Module:
    return nn.Sequential(nn.Linear(width, bottleneck), nn.BatchNorm1d(bottleneck), nn.ReLU(),
                         nn.Linear(bottleneck, width), nn.BatchNorm1d(width))


class Residual(nn.Module):
    def __init__(self, width: int, bottleneck: int):
        super().__init__()
        self.body = _block(width, bottleneck)

    def forward(self, x):
        return torch.relu(x + self.body(x))


def mini_trunk(name: str, d_in: int) -> tuple[nn.Module, int]:
    """The stand-in trunks over feature vectors (spec 13.3): their parameter and FLOP order mirrors
    VGG-16 > ResNet-152 > ResNet-50 > MobileNet v1 (Table 4.6)."""
    if name == "mini_vgg":  # wide, plain, no normalisation
        return nn.Sequential(nn.Linear(d_in, 1024), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(1024, 1024), nn.ReLU(), nn.Dropout(0.5)), 1024
    if name == "mini_mobilenet":
        return nn.Sequential(nn.Linear(d_in, 128), nn.BatchNorm1d(128), nn.ReLU(),
                             nn.Linear(128, 128), nn.BatchNorm1d(128), nn.ReLU()), 128
    if name in ("mini_resnet50", "mini_resnet152"):
        width, bottleneck, blocks = (256, 64, 3) if name == "mini_resnet50" else (384, 96, 8)
        return nn.Sequential(nn.Linear(d_in, width), nn.BatchNorm1d(width), nn.ReLU(),
                             *[Residual(width, bottleneck) for _ in range(blocks)]), width
    raise ValueError(f"unknown mini image encoder {name!r}: choose mini_vgg, mini_mobilenet, mini_resnet50 or "
                     f"mini_resnet152")


class ImageEncoder(nn.Module):
    """trunk (a stand-in over features, or a torchvision trunk over images) -> EmbedHead."""

    def __init__(self, trunk: nn.Module, width: int, out_dim: int, batch_norm: bool = True):
        super().__init__()
        self.trunk, self.head = trunk, EmbedHead(width, out_dim, batch_norm)
        self.input_hook = None  # Table 4.7: hook(normalised image inputs, None) while training

    def forward(self, x):
        if self.training and self.input_hook is not None:
            x = self.input_hook(x, None)
        return self.head(self.trunk(x))


def discriminator(d: int, widths: list[int]) -> nn.Sequential:
    """d -> widths... -> 2 with ReLU (512 -> 256 -> 128 -> 2 at thesis scale; spec 1.3)."""
    layers, last = [], d
    for w in widths:
        layers += [nn.Linear(last, w), nn.ReLU()]
        last = w
    return nn.Sequential(*layers, nn.Linear(last, 2))


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.scale * grad, None


class GradientReversal(nn.Module):
    """Identity forwards, −λ × the gradient backwards (Ganin & Lempitsky; L1509)."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return _Reverse.apply(x, self.scale)
