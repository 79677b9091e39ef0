"""msgpack 1.0.7 on Python 3.12: iterating an Unpacker leaked (msgpack/msgpack-python#579,
a Cython bug, fixed by the 1.0.8 wheels)."""

import io

import msgpack

DATA = b"".join(msgpack.packb(i) for i in range(100))


def test_unpack_stream() -> None:
    assert sum(msgpack.Unpacker(io.BytesIO(DATA))) == 4950
