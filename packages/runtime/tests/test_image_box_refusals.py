"""Bad images and absurd boxes are refused with a ValueError naming the file or the box (issue 14)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from enhancenet_runtime.data.image import read_image
from enhancenet_runtime.engine.inputs import MAX_BOX_TO_IMAGE, check_boxes


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def test_empty_and_oversized_images_are_refused_naming_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.png is empty"):
        read_image(empty)
    huge = tmp_path / "huge.png"  # a valid PNG header claiming 100000 x 100000 pixels
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
                     + _chunk(b"IDAT", zlib.compress(b"\0" * 16)) + _chunk(b"IEND", b""))
    with pytest.raises(ValueError, match=r"huge\.png could not be decoded"):
        read_image(huge)


def test_boxes_far_larger_than_the_image_are_refused() -> None:
    assert check_boxes([[0, 0, MAX_BOX_TO_IMAGE * 64, 10]], 64, 48).shape == (1, 4)  # at the limit: kept
    for box in ([0, 0, 1e308, 10], [0, 0, 10, MAX_BOX_TO_IMAGE * 48 + 1]):
        with pytest.raises(ValueError, match=r"box #0 .*times the image \(64x48 pixels\)"):
            check_boxes([box], 64, 48)
    assert np.isfinite(check_boxes([[-5, -5, 20, 20]], 64, 48)).all()  # partly outside: kept, as before
