"""A tiny CNN-F-like network in MatConvNet's simplenn layout (scipy.io.savemat), for the tests that load
"imagenet-vgg-f.mat" without downloading it."""

import numpy as np
from scipy.io import savemat

RNG = np.random.default_rng(0)
CONV1 = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)   # H x W x C_in x C_out, as MatConvNet stores it
FC6 = RNG.normal(size=(4, 4, 4, 5)).astype(np.float32)
FC7 = RNG.normal(size=(1, 1, 5, 6)).astype(np.float32)
FC8 = RNG.normal(size=(1, 1, 6, 10)).astype(np.float32)
MEAN = RNG.uniform(100, 130, size=(8, 8, 3)).astype(np.float32)
LRN = [3.0, 2.0, 1e-4, 0.75]


def write_net(path, older=False):
    def conv(name, filters, pad=0, stride=1):
        layer = {"name": name, "type": "conv", "stride": np.array([stride, stride], dtype=float),
                 "pad": np.array([pad] * 4, dtype=float)}
        biases = np.arange(filters.shape[3], dtype=np.float32) / 10
        if older:
            layer.update(filters=filters, biases=biases)
        else:
            weights = np.empty((1, 2), dtype=object)
            weights[0, 0], weights[0, 1] = filters, biases
            layer["weights"] = weights
        return layer

    layers = [conv("conv1", CONV1, pad=1), {"name": "relu1", "type": "relu"},
              {"name": "norm1", "type": "lrn", "param": np.array(LRN)},
              {"name": "pool1", "type": "pool", "method": "max", "pool": np.array([2.0, 2.0]),
               "stride": np.array([2.0, 2.0]), "pad": np.zeros(4)},
              conv("fc6", FC6), {"name": "relu6", "type": "relu"}, conv("fc7", FC7), {"name": "relu7", "type": "relu"},
              conv("fc8", FC8), {"name": "prob", "type": "softmax"}]
    cells = np.empty((1, len(layers)), dtype=object)
    for i, layer in enumerate(layers):
        cells[0, i] = layer
    normalization = {"averageImage": MEAN, "imageSize": np.array([8.0, 8.0, 3.0])}
    savemat(path, {"layers": cells, **({"normalization": normalization} if older else
                                       {"meta": {"normalization": normalization}})})
