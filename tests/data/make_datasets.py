#!/usr/bin/env python3
"""Writes tiny datasets in the real on-disk formats, for tests (standard library only).

    make_datasets.py DIR [--mnist-train N] [--mnist-test N] [--cifar-per-batch N] [--cifar-test N]

DIR/mnist/                 train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
                           t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz
                           (IDX: big-endian u32 magic 0x00000803 / 0x00000801, u32 dims, u8 data)
DIR/cifar-10-batches-bin/  data_batch_1.bin .. data_batch_5.bin, test_batch.bin, batches.meta.txt
                           (records of 1 label byte + 3072 pixel bytes: R, G, B planes of 32x32)

The content is a fixed formula of the sample index (the same as tests/unit/trainer/dataset_files.hpp),
and gzip headers carry mtime 0, so every run writes byte-identical files. A JSON summary (paths,
counts, sizes, sha256) is printed on stdout. Not real data: never used for training results.
"""

import argparse
import gzip
import hashlib
import json
import os
import struct
import sys

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck"]


def pixel_value(sample, index):
    return (sample * 31 + index * 7 + (index >> 5)) & 0xFF


def digit_label(sample):
    return (sample * 7 + 3) % 10


def sample_pixels(sample, count):
    return bytes(pixel_value(sample, p) for p in range(count))


def idx_bytes(dims, payload):
    # Magic: two zero bytes, element type 0x08 (unsigned byte), number of dimensions.
    header = struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + struct.pack(">%dI" % len(dims), *dims)
    return header + payload


def write(path, data, summary):
    with open(path, "wb") as out:
        out.write(data)
    summary.append({"path": path, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})


def gzip_bytes(data):
    # mtime=0 and no file name: the output depends on the data only.
    return gzip.compress(data, compresslevel=6, mtime=0)


def write_mnist(directory, prefix, count, summary):
    rows = cols = 28
    images = b"".join(sample_pixels(i, rows * cols) for i in range(count))
    labels = bytes(digit_label(i) for i in range(count))
    write(os.path.join(directory, prefix + "-images-idx3-ubyte.gz"),
          gzip_bytes(idx_bytes([count, rows, cols], images)), summary)
    write(os.path.join(directory, prefix + "-labels-idx1-ubyte.gz"),
          gzip_bytes(idx_bytes([count], labels)), summary)


def cifar_batch(first, count):
    out = bytearray()
    for i in range(first, first + count):
        out.append(digit_label(i))
        out += sample_pixels(i, 3072)
    return bytes(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory")
    parser.add_argument("--mnist-train", type=int, default=100)
    parser.add_argument("--mnist-test", type=int, default=20)
    parser.add_argument("--cifar-per-batch", type=int, default=10, help="records per data_batch_N.bin")
    parser.add_argument("--cifar-test", type=int, default=10)
    args = parser.parse_args()
    for name in ("mnist_train", "mnist_test", "cifar_per_batch", "cifar_test"):
        if getattr(args, name) < 1:
            parser.error("--%s must be at least 1" % name.replace("_", "-"))

    summary = []
    mnist = os.path.join(args.directory, "mnist")
    cifar = os.path.join(args.directory, "cifar-10-batches-bin")
    os.makedirs(mnist, exist_ok=True)
    os.makedirs(cifar, exist_ok=True)
    write_mnist(mnist, "train", args.mnist_train, summary)
    write_mnist(mnist, "t10k", args.mnist_test, summary)
    for batch in range(1, 6):
        first = (batch - 1) * args.cifar_per_batch
        write(os.path.join(cifar, "data_batch_%d.bin" % batch),
              cifar_batch(first, args.cifar_per_batch), summary)
    write(os.path.join(cifar, "test_batch.bin"), cifar_batch(0, args.cifar_test), summary)
    write(os.path.join(cifar, "batches.meta.txt"), ("\n".join(CIFAR_CLASSES) + "\n").encode(), summary)

    json.dump({"mnist": {"directory": mnist, "train": args.mnist_train, "test": args.mnist_test},
               "cifar10": {"directory": cifar, "train": 5 * args.cifar_per_batch, "test": args.cifar_test},
               "files": summary}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
