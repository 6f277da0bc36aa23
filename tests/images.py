"""Small real images for upload tests, built without an imaging library."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable


def png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (37, 99, 235), *, pad_to: int = 0,
        pixel: Callable[[int, int], tuple[int, int, int]] | None = None) -> bytes:
    """A valid PNG of one colour, or coloured by ``pixel(x, y)``; ``pad_to`` appends an ancillary chunk so that
    the file has exactly that many bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    colour = pixel or (lambda x, y: rgb)
    rows = b"".join(b"\x00" + b"".join(bytes(colour(x, y)) for x in range(width)) for y in range(height))
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows))
    data = b"\x89PNG\r\n\x1a\n" + body
    end = chunk(b"IEND", b"")
    if pad_to:
        filler = pad_to - len(data) - len(end) - 12  # 12: a chunk's length, type and checksum
        assert filler >= 0, "pad_to is smaller than the image itself"
        data += chunk(b"teXt", b"c\x00" + b"x" * (filler - 2))
    return data + end


def logo(width: int = 160, height: int = 48) -> bytes:
    """A recognisable logo for screenshots: a sky-blue disc and bar on white."""
    r = height // 2 - 4

    def pixel(x: int, y: int) -> tuple[int, int, int]:
        in_disc = (x - height // 2) ** 2 + (y - height // 2) ** 2 <= r * r
        in_bar = height + 4 <= x < width - 8 and height // 2 - 6 <= y < height // 2 + 6
        return (14, 165, 233) if in_disc or in_bar else (255, 255, 255)

    return png(width, height, pixel=pixel)


GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"  # only the signature matters to the type check
WEBP_HEAD = b"RIFF\x24\x00\x00\x00WEBPVP8 "
ICO_HEAD = b"\x00\x00\x01\x00\x01\x00" + b"\x00" * 16
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
