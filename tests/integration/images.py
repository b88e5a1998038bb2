"""Tiny PNG files for tests and benchmarks, written with zlib only (no imaging library needed)."""

import struct
import zlib


def png_bytes(width, height, seed=0):
    """An RGB PNG whose pixels are a seeded pattern."""
    rows = b""
    for y in range(height):
        rows += b"\x00" + bytes(((x * 7 + y * 13 + seed * 31 + c * 50) % 256) for x in range(width) for c in range(3))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
