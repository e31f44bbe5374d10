"""The 512-d GIST descriptor of 32 x 32 images (Oliva & Torralba, IJCV 2001), in NumPy: the usual CIFAR-10
feature of unsupervised hashing (spec 5.2).

It follows Torralba's LMgist.m (the code behind the 512-d CIFAR-10 GIST of the hashing literature; LEAR's C
gist computes the same filters) with its parameters for 32 x 32 images:

* greyscale: the mean of the colour channels; intensities rescaled per image to [0, 255] (min -> 0, max -> 255;
  a constant image becomes 0);
* prefiltering (`fc_prefilt` = 4 cycles per image): log(1 + I), 5-pixel symmetric padding, whitening by subtracting
  a Gaussian low-pass exp(-|f|^2 / s^2), s = fc / sqrt(log 2), then local contrast normalisation: division by
  0.2 + the square root of the same low-pass of the squared output;
* Gabor bank in the FFT domain of the image padded symmetrically by 32 pixels (96 x 96): 4 scales x 8
  orientations, filter (s, o) = exp(-3.5 (r / (0.3 / 1.85^s) - 1)^2 - 2 pi a^2), with r the radial frequency in
  cycles per pixel and a the frequency's angle plus o pi / 8, wrapped to [-pi, pi];
* the magnitudes of the filter outputs, cropped back to 32 x 32, averaged on a 4 x 4 grid of 8 x 8 blocks.

Layout (LMgist's): 32 filters, the finest scale first and orientations in order within a scale; per filter the
16 block means in column-major order (the block row varies fastest).  Orientation 0 responds to intensity
varying along x (vertical stripes), orientation 4 to intensity varying along y.

NOT checked against LMgist's or LEAR's values (neither runs here): the tests check shapes and invariances.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

SIZE = 32             # image side
SCALES = 4
ORIENTATIONS = 8      # per scale
BLOCKS = 4            # grid side: 4 x 4 block means per filter
FC_PREFILT = 4.0      # cycles per image
PREFILT_PAD = 5
BOUNDARY = 32         # padding before the Gabor filters
DIM = SCALES * ORIENTATIONS * BLOCKS * BLOCKS  # 512


def gist(images: np.ndarray, chunk: int = 256) -> np.ndarray:
    """(N, 32, 32, 3) or (N, 32, 32) images (any numeric dtype, 0-255) -> (N, 512) float32 descriptors.

    Images are processed `chunk` at a time: the FFT buffers of a chunk of 256 are about 40 MB."""
    images = np.asarray(images)
    colour = images.ndim == 4 and images.shape[-1] == 3
    if not (colour or images.ndim == 3) or images.shape[1:3] != (SIZE, SIZE):
        raise ValueError(f"images of shape {images.shape}: expected (N, {SIZE}, {SIZE}, 3) or (N, {SIZE}, {SIZE})")
    bank = gabor_bank(SIZE + 2 * BOUNDARY)
    out = np.empty((len(images), DIM), np.float32)
    for start in range(0, len(images), chunk):
        part = images[start:start + chunk].astype(np.float64)
        grey = part.mean(axis=-1) if colour else part
        out[start:start + chunk] = _descriptors(prefilter(_rescale(grey)), bank)
    return out


def _rescale(grey: np.ndarray) -> np.ndarray:
    low = grey.min(axis=(1, 2), keepdims=True)
    span = grey.max(axis=(1, 2), keepdims=True) - low
    return (grey - low) * (255.0 / np.where(span > 0, span, 1.0))


def _lowpass(n: int) -> np.ndarray:
    f = np.arange(-n // 2, n // 2)
    fx, fy = np.meshgrid(f, f)
    s = FC_PREFILT / np.sqrt(np.log(2.0))
    return np.fft.fftshift(np.exp(-(fx ** 2 + fy ** 2) / s ** 2))


def prefilter(images: np.ndarray) -> np.ndarray:
    """Whitening and local contrast normalisation of (N, H, W) images in [0, 255] (LMgist's prefilt)."""
    w = PREFILT_PAD
    x = np.pad(np.log1p(images), ((0, 0), (w, w), (w, w)), mode="symmetric")
    if x.shape[1] != x.shape[2] or x.shape[1] % 2:  # LMgist pads further to that; 32 + 10 needs none
        raise ValueError(f"prefilter expects square images of even side, got {images.shape[1:]}")
    gf = _lowpass(x.shape[1])
    x = x - np.fft.ifft2(np.fft.fft2(x) * gf).real
    local_std = np.sqrt(np.abs(np.fft.ifft2(np.fft.fft2(x ** 2) * gf)))
    return (x / (0.2 + local_std))[:, w:-w, w:-w]


def gabor_bank(n: int) -> np.ndarray:
    """(32, n, n) float32 transfer functions in unshifted FFT layout (LMgist's createGabor), scale-major."""
    f = np.arange(-n // 2, n // 2)
    fx, fy = np.meshgrid(f, f)  # fx varies along columns (x), fy along rows (y)
    radius = np.fft.fftshift(np.hypot(fx, fy)) / n  # cycles per pixel
    angle = np.fft.fftshift(np.arctan2(fy, fx))
    spread = 16 * ORIENTATIONS ** 2 / 32 ** 2  # LMgist's angular parameter: 1 for 8 orientations
    bank = []
    for s in range(SCALES):
        centre = 0.3 / 1.85 ** s
        for o in range(ORIENTATIONS):
            a = angle + np.pi * o / ORIENTATIONS
            a = np.where(a > np.pi, a - 2 * np.pi, a)
            bank.append(np.exp(-10 * 0.35 * (radius / centre - 1) ** 2 - 2 * spread * np.pi * a ** 2))
    return np.asarray(bank, np.float32)


def _descriptors(x: np.ndarray, bank: np.ndarray) -> np.ndarray:
    n, b, side = len(x), BOUNDARY, SIZE // BLOCKS
    # single precision for the 32 inverse FFTs per image: the bulk of the cost (LMgist works in single too)
    spectrum = scipy.fft.fft2(np.pad(x, ((0, 0), (b, b), (b, b)), mode="symmetric").astype(np.float32))
    out = np.empty((n, len(bank), BLOCKS * BLOCKS), np.float32)
    for k, g in enumerate(bank):
        response = np.abs(scipy.fft.ifft2(spectrum * g))[:, b:-b, b:-b]
        blocks = response.reshape(n, BLOCKS, side, BLOCKS, side).mean(axis=(2, 4))  # (n, block row, block col)
        out[:, k] = blocks.transpose(0, 2, 1).reshape(n, -1)  # column-major, as LMgist's reshape
    return out.reshape(n, -1)
