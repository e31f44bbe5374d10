"""MATLAB v7.3 files as DCMH's authors wrote them (an HDF5 file behind a 512-byte MATLAB header, every
array column-major, so h5py sees its axes reversed), for the tests of chapter 3's thesis-scale data."""

import h5py
import numpy as np


def write_dcmh_v73(path, images, texts, labels, images_key="IAll", matlab_images_last=False):
    """`images` N x H x W x 3, as MATLAB holds them ([N, H, W, 3], or [H, W, 3, N] with `matlab_images_last`,
    as DCMH's IAll)."""
    if matlab_images_last:
        images = np.moveaxis(images, 0, -1)
    with h5py.File(path, "w", userblock_size=512) as f:
        f[images_key] = np.ascontiguousarray(np.asarray(images).T)
        f["YAll"] = np.asarray(texts).T
        f["LAll"] = np.asarray(labels).T
    with open(path, "r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file".ljust(128, b" "))
