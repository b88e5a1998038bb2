#!/usr/bin/python3
"""numpy's side of the engine's npz tests (run by tests/unit/ml/npz_test.cpp).

  check_npz.py check DIR  -- np.load(DIR/model.npz) must hold exactly the arrays listed in
                              DIR/manifest.txt ("name d0 d1 ..." per line), float32, with those
                              shapes and the bytes of DIR/<name>.raw (float32 little-endian).
  check_npz.py write DIR  -- writes DIR/from_numpy.npz with np.savez from the same raw files,
                              the first array as float64 (the engine converts it), and
                              DIR/compressed.npz with np.savez_compressed.
"""

import sys

import numpy as np


def manifest(d):
    out = []
    with open(d + "/manifest.txt") as f:
        for line in f:
            parts = line.split()
            out.append((parts[0], tuple(int(x) for x in parts[1:])))
    return out


def raw(d, name, shape):
    return np.fromfile(d + "/" + name + ".raw", dtype="<f4").reshape(shape)


def check(d):
    expected = manifest(d)
    with np.load(d + "/model.npz") as z:
        names = sorted(z.files)
        if names != sorted(n for n, _ in expected):
            sys.exit("names differ: %s vs %s" % (names, [n for n, _ in expected]))
        for name, shape in expected:
            a = z[name]
            if a.dtype != np.float32 or a.shape != shape:
                sys.exit("%s: %s %s, expected float32 %s" % (name, a.dtype, a.shape, shape))
            if a.tobytes() != raw(d, name, shape).tobytes():
                sys.exit("%s: values differ" % name)
    print("numpy read %d arrays" % len(expected))


def write(d):
    arrays = {}
    for i, (name, shape) in enumerate(manifest(d)):
        a = raw(d, name, shape)
        arrays[name] = a.astype(np.float64) if i == 0 else a
    np.savez(d + "/from_numpy.npz", **arrays)
    np.savez_compressed(d + "/compressed.npz", **arrays)


if __name__ == "__main__":
    {"check": check, "write": write}[sys.argv[1]](sys.argv[2])
