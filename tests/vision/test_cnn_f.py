"""CNN-F built from a MatConvNet file: a tiny file in MatConvNet's layout, written by the test, gives a
network whose layers compute what MatConvNet's do (weights' axes, padding, LRN's alpha, the mean image)."""

import numpy as np
import pytest
import torch
from scipy.io import savemat

from matconvnet_files import CONV1, FC6, FC7, LRN, MEAN, RNG, write_net
from retrieval_bench.vision.models.cnn_f import load_cnn_f


def reference(images: np.ndarray) -> np.ndarray:
    """MatConvNet's computation, written out in numpy (N x H x W x 3 uint8 -> N x 6)."""
    x = images.astype(np.float64) - MEAN
    x = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((len(x), 8, 8, 4))
    for i in range(8):
        for j in range(8):
            out[:, i, j] = np.einsum("nhwc,hwco->no", x[:, i:i + 3, j:j + 3], CONV1) + np.arange(4) / 10
    x = np.maximum(out, 0)
    size, kappa, alpha, beta = LRN
    squares = np.pad(x ** 2, ((0, 0), (0, 0), (0, 0), (1, 1)))
    x = x / (kappa + alpha * sum(squares[..., k:k + 4] for k in range(3))) ** beta
    x = x.reshape(len(x), 4, 2, 4, 2, 4).max(axis=(2, 4))
    x = np.maximum(np.einsum("nhwc,hwco->no", x, FC6) + np.arange(5) / 10, 0)
    return np.maximum(x @ FC7[0, 0] + np.arange(6) / 10, 0)


@pytest.mark.parametrize("older", [False, True])
def test_the_network_computes_what_matconvnet_computes(tmp_path, older):
    write_net(tmp_path / "net.mat", older)
    net = load_cnn_f(tmp_path / "net.mat").double()
    images = RNG.integers(0, 256, size=(2, 8, 8, 3), dtype=np.uint8)
    got = net(torch.from_numpy(images)).detach().numpy()
    assert got.shape == (2, 6)  # fc7: fc8 and the softmax are left out
    np.testing.assert_allclose(got, reference(images), rtol=1e-6, atol=1e-8)


def test_the_full_cnn_f_shapes(tmp_path):
    """CNN-F's own layer sizes give pool5 6 x 6 x 256 and fc7 4096 for a 224 px image (built from a file
    with zero weights in CNN-F's shapes: the arithmetic of strides and paddings, not the weights)."""
    def conv(h, cin, cout, stride=1, pad=0):
        w = np.empty((1, 2), dtype=object)
        w[0, 0], w[0, 1] = np.zeros((h, h, cin, cout), np.float32), np.zeros(cout, np.float32)
        return {"type": "conv", "weights": w, "stride": float(stride), "pad": np.array([pad] * 4, float)}

    def pool():
        return {"type": "pool", "method": "max", "pool": np.array([3.0, 3.0]), "stride": 2.0,
                "pad": np.array([0, 1, 0, 1.0])}

    relu, lrn = {"type": "relu"}, {"type": "lrn", "param": np.array([5, 2, 1e-4, 0.75])}
    layers = [conv(11, 3, 64, stride=4), relu, lrn, pool(), conv(5, 64, 256, pad=2), relu, lrn, pool(),
              conv(3, 256, 256, pad=1), relu, conv(3, 256, 256, pad=1), relu, conv(3, 256, 256, pad=1), relu,
              {"type": "pool", "method": "max", "pool": np.array([3.0, 3.0]), "stride": 2.0, "pad": np.zeros(4)},
              conv(6, 256, 4096), relu, conv(1, 4096, 4096), relu, conv(1, 4096, 1000), {"type": "softmax"}]
    cells = np.empty((1, len(layers)), dtype=object)
    for i, layer in enumerate(layers):
        cells[0, i] = layer
    savemat(tmp_path / "vgg-f.mat", {"layers": cells, "meta": {"normalization": {"averageImage": np.zeros(3)}}})
    net = load_cnn_f(tmp_path / "vgg-f.mat")
    x = torch.zeros(1, 224, 224, 3, dtype=torch.uint8)
    pool5 = net.layers[:-6](x.permute(0, 3, 1, 2).float())  # less fc6 and fc7 (pad, conv, relu each)
    assert pool5.shape == (1, 256, 6, 6)
    assert net(x).shape == (1, 4096)
