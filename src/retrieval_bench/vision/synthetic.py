"""Deterministic synthetic fine-grained images for the offline `mini` scale.

Every image shows one object on a cluttered background.  The object has three
visual factors: a *shape*, a *colour* and a *texture*.  A class group names the
factors that define identity inside it (say shape x colour); every other factor
is drawn at random per image and is therefore a nuisance the network is taught
to ignore.  Forgetting is made real by giving successive groups different
identity cues: old classes told apart by colour (texture is noise), new classes
told apart by texture (colour is noise).  Fine-tuning on the new group teaches
colour invariance and so erases what separated the old classes, exactly the
mechanism the thesis describes for fine-grained retrieval.

Per image there is also pose (rotation), scale, position, background clutter
and pixel noise, so the task is not solvable from a single pixel.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np

# Shapes are implicit functions on rotated, scaled coordinates (u, v) in [-1, 1]:
# a pixel is inside the object where the function is <= 0.
SHAPES = {
    "disk": lambda u, v: np.hypot(u, v) - 0.8,
    "square": lambda u, v: np.maximum(abs(u), abs(v)) - 0.68,
    "triangle": lambda u, v: np.maximum(np.maximum(-v - 0.55, 0.87 * u + 0.5 * v - 0.45), -0.87 * u + 0.5 * v - 0.45),
    "diamond": lambda u, v: abs(u) + abs(v) - 0.85,
    "cross": lambda u, v: np.minimum(np.maximum(abs(u) - 0.28, abs(v) - 0.85), np.maximum(abs(u) - 0.85, abs(v) - 0.28)),
    "ring": lambda u, v: abs(np.hypot(u, v) - 0.6) - 0.25,
    "bar": lambda u, v: np.maximum(abs(u) - 0.9, abs(v) - 0.35),
    "half_disk": lambda u, v: np.maximum(np.hypot(u, v) - 0.85, -v - 0.1),
}

# Well separated hues (RGB in [0, 1]).
COLOURS = {
    "red": (0.90, 0.15, 0.15),
    "green": (0.15, 0.75, 0.20),
    "blue": (0.15, 0.30, 0.95),
    "yellow": (0.95, 0.85, 0.10),
    "magenta": (0.85, 0.20, 0.85),
    "cyan": (0.10, 0.85, 0.85),
    "orange": (0.98, 0.55, 0.05),
    "white": (0.95, 0.95, 0.95),
}

# Textures modulate brightness inside the object; (x, y) are object coordinates
# so a texture turns with the object's pose, like a bird's plumage would.
TEXTURES = {
    "plain": lambda x, y: np.ones_like(x),
    "h_stripes": lambda x, y: (np.sin(9.0 * y) > 0).astype(float),
    "v_stripes": lambda x, y: (np.sin(9.0 * x) > 0).astype(float),
    "diagonal": lambda x, y: (np.sin(6.5 * (x + y)) > 0).astype(float),
    "checker": lambda x, y: ((np.sin(8.0 * x) > 0) ^ (np.sin(8.0 * y) > 0)).astype(float),
    "dots": lambda x, y: ((np.sin(9.0 * x) * np.sin(9.0 * y)) > 0.45).astype(float),
    "rings": lambda x, y: (np.sin(11.0 * np.hypot(x, y)) > 0).astype(float),
    "gradient": lambda x, y: np.clip(0.5 + 0.6 * x, 0.0, 1.0),
}

# Optional factors, present only where a group names them (as identity or as
# nuisance): the style of the object's outline and the background's pattern.
# Both are drawn in grey, so learning them does not re-teach colour (which
# would give back what the original classes lost).
BORDERS = {  # (signed distance d <= 0 inside the object, polar angle a) -> outline mask
    "thin": lambda d, a: d > -0.12,
    "thick": lambda d, a: d > -0.32,
    "double": lambda d, a: (d > -0.1) | ((d < -0.22) & (d > -0.32)),
    "dashed": lambda d, a: (d > -0.25) & (np.sin(6.0 * a) > 0),
    "dotted": lambda d, a: (d > -0.25) & (np.sin(14.0 * a) > 0.3),
    "inner": lambda d, a: (d < -0.2) & (d > -0.34),
}
BACKGROUNDS = {
    "h_lines": lambda x, y: (np.sin(14.0 * y) > 0.6).astype(float),
    "v_lines": lambda x, y: (np.sin(14.0 * x) > 0.6).astype(float),
    "grid": lambda x, y: ((np.sin(14.0 * x) > 0.7) | (np.sin(14.0 * y) > 0.7)).astype(float),
    "dots": lambda x, y: ((np.sin(12.0 * x) * np.sin(12.0 * y)) > 0.6).astype(float),
    "waves": lambda x, y: (np.sin(10.0 * x + 3.0 * np.sin(6.0 * y)) > 0.5).astype(float),
    "plain": lambda x, y: np.zeros_like(x),
}

FACTORS = {"shape": SHAPES, "colour": COLOURS, "texture": TEXTURES}
OPTIONAL_FACTORS = {"border": BORDERS, "background": BACKGROUNDS}
ALL_FACTORS = {**FACTORS, **OPTIONAL_FACTORS}


def _rng(*keys) -> np.random.Generator:
    """An independent, reproducible stream per (dataset seed, class, image)."""
    digest = hashlib.sha256(repr(keys).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def class_identities(identity: list[str], n_classes: int, seed: int,
                     values: dict[str, list[str]] | None = None, exclude: list[dict] = ()) -> list[dict]:
    """Distinct factor combinations for `n_classes` classes of one group.

    Combinations are enumerated in a seeded order.  `values` restricts the
    values an identity factor may take; `exclude` lists classes of earlier
    groups, so that no class of this group is one of them (the same visual
    class under two labels).
    """
    values = values or {}
    unknown = (set(identity) | set(values)) - set(ALL_FACTORS)
    if unknown:
        raise ValueError(f"unknown synthetic factor(s) {sorted(unknown)}; known: {sorted(ALL_FACTORS)}")
    for factor, allowed in values.items():
        bad = set(allowed) - set(ALL_FACTORS[factor])
        if bad:
            raise ValueError(f"unknown {factor} value(s) {sorted(bad)}; known: {sorted(ALL_FACTORS[factor])}")
    combos = list(itertools.product(*(sorted(values.get(f, ALL_FACTORS[f])) for f in identity)))
    _rng("combos", seed, tuple(identity)).shuffle(combos)
    taken = {tuple(sorted(c.items())) for c in exclude}
    classes = [dict(zip(identity, c)) for c in combos]
    classes = [c for c in classes if tuple(sorted(c.items())) not in taken]
    if n_classes > len(classes):
        raise ValueError(f"{n_classes} classes need more than the {len(classes)} free combinations of {identity}")
    return classes[:n_classes]


def render(identity: dict, rng: np.random.Generator, size: int = 32, nuisance: tuple[str, ...] = ()) -> np.ndarray:
    """One H x W x 3 uint8 image of an object with the given identity factors.

    Shape, colour and texture are always drawn; the optional factors (border,
    background) only where they are identity or listed in `nuisance`.
    """
    factors = {f: identity.get(f) or rng.choice(sorted(table)) for f, table in FACTORS.items()}
    for f, table in OPTIONAL_FACTORS.items():
        if f in identity or f in nuisance:
            factors[f] = identity.get(f) or rng.choice(sorted(table))
    ys, xs = np.mgrid[0:size, 0:size].astype(float)
    xs = (xs + 0.5) / size * 2 - 1
    ys = (ys + 0.5) / size * 2 - 1

    # Background: a smooth random colour field plus clutter blobs of random hue.
    corners = rng.uniform(0.0, 0.55, size=(2, 2, 3))
    wx, wy = (xs + 1) / 2, (ys + 1) / 2
    img = (
        corners[0, 0] * ((1 - wx) * (1 - wy))[..., None]
        + corners[0, 1] * (wx * (1 - wy))[..., None]
        + corners[1, 0] * ((1 - wx) * wy)[..., None]
        + corners[1, 1] * (wx * wy)[..., None]
    )
    for _ in range(rng.integers(2, 5)):
        cx, cy, r = rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(0.06, 0.18)
        blob = np.hypot(xs - cx, ys - cy) < r
        img[blob] = rng.uniform(0.0, 1.0, size=3)

    # Object pose: rotation, scale and position are nuisances for every class.
    angle = rng.uniform(-0.35, 0.35)
    scale = rng.uniform(0.55, 0.75)
    tx, ty = rng.uniform(-0.18, 0.18, size=2)
    c, s = np.cos(angle), np.sin(angle)
    u = (c * (xs - tx) + s * (ys - ty)) / scale
    v = (-s * (xs - tx) + c * (ys - ty)) / scale
    if "background" in factors:  # a light pattern over the background field
        lines = BACKGROUNDS[factors["background"]](xs, ys) > 0
        img[lines] = 0.35 * img[lines] + 0.65 * rng.uniform(0.55, 0.75)
    distance = SHAPES[factors["shape"]](u, v)
    inside = distance <= 0
    pattern = TEXTURES[factors["texture"]](u, v)
    colour = np.array(COLOURS[factors["colour"]]) * rng.uniform(0.8, 1.1)
    fg = colour[None, None, :] * (0.35 + 0.65 * pattern)[..., None]
    img[inside] = fg[inside]
    if "border" in factors:  # an outline of the given style, in light grey
        band = inside & BORDERS[factors["border"]](distance, np.arctan2(v, u))
        img[band] = 0.85

    img += rng.normal(0.0, 0.04, size=img.shape)
    return (np.clip(img, 0.0, 1.0) * 255).round().astype(np.uint8)
