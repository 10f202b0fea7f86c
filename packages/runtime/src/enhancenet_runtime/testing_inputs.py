"""Bad ``predict`` inputs every framework's CLI test runs (see :mod:`enhancenet_runtime.testing` for the rest).

Each case is ``(argv, words, untouched)``: the command must exit with status 2 and one line on stderr naming
every one of ``words``, before any checkpoint is read (the checkpoint given does not exist), and leave every
file of ``untouched`` byte for byte as it was.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

__all__ = ["bad_image_cases", "png_claiming"]

Case = tuple[list[str], tuple[str, ...], tuple[Path, ...]]


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width × height`` pixels, with a tiny (inconsistent) image stream."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def bad_image_cases(tmp: Path, image: Path) -> list[Case]:
    """``predict`` with an empty PNG, a PNG claiming 100000×100000 pixels, a box of width 1e308 (an earlier
    output beside ``image`` must survive), and ``--out`` equal to the input image. ``image``: a valid picture."""
    tmp.mkdir(parents=True, exist_ok=True)
    empty = tmp / "empty.png"
    empty.write_bytes(b"")
    huge = tmp / "huge.png"
    huge.write_bytes(png_claiming(100_000, 100_000))
    previous = tmp / "previous.pose.png"
    previous.write_bytes(b"an earlier output")
    ck = str(tmp / "never_read.pt")

    def argv(picture: Path, *rest: str) -> list[str]:
        return ["predict", "synthetic_quick", ck, str(picture), *rest]

    return [
        (argv(empty, "--boxes", "0,0,5,5"), (str(empty), "empty"), (empty,)),
        (argv(huge, "--boxes", "0,0,5,5"), (str(huge), "100000x100000", "limit"), (huge,)),
        (argv(image, "--boxes", "0,0,1e308,10", "--out", str(previous)), ("--boxes", "box #0", "times the image"),
         (previous, image)),
        (argv(image, "--boxes", "0,0,5,5", "--out", str(image)), ("--out", "input image"), (image,)),
    ]
