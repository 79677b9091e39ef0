"""lz4 4.0.1: lz4.frame.decompress() leaked its output buffer when decompression failed
(python-lz4/python-lz4#247, fixed in 4.0.2)."""

import random

import lz4.frame
import pytest

_rng = random.Random(1)
_GOOD = lz4.frame.compress(
    bytes(_rng.getrandbits(8) for _ in range(2000)) * 300,
    block_size=lz4.frame.BLOCKSIZE_MAX4MB,
)
CORRUPT = _GOOD[:20] + bytes(200) + _GOOD[220:]


def test_corrupt_frame_is_rejected() -> None:
    with pytest.raises(RuntimeError):
        lz4.frame.decompress(CORRUPT)
