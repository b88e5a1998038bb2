"""Generated MNIST-format (IDX) files: the four standard files of a small, learnable but not trivial
10-class set (class c lights a 4-pixel-wide vertical band at column 2 + 2c of a 28x28 image, so
neighbouring classes overlap, under heavy seeded noise), so Case C tests train real networks on real
IDX files in seconds and the trials' accuracies differ."""

import random
import struct
from pathlib import Path


def _images(count, rng):
    labels = [rng.randrange(10) for _ in range(count)]
    pixels = bytearray()
    for label in labels:
        left = 2 + 2 * label
        for row in range(28):
            for col in range(28):
                value = rng.randrange(150)
                if left <= col < left + 4 and 4 <= row < 24:
                    value = 70 + rng.randrange(150)
                pixels.append(value)
    return labels, bytes(pixels)


def write_mnist(directory, train=600, test=200, seed=7):
    """Writes train-/t10k- images and labels (uncompressed IDX) into directory; returns it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for prefix, count in (("train", train), ("t10k", test)):
        labels, pixels = _images(count, rng)
        (directory / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, count, 28, 28) + pixels)
        (directory / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, count) + bytes(labels))
    return directory
