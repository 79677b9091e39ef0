"""pycryptodome 3.14.0: big integers backed by the system's libgmp leaked their GMP memory, which
libgmp takes from malloc, out of Python's sight (Legrandin/pycryptodome#595, fixed in 3.14.1)."""

from Crypto.Math.Numbers import Integer

MODULUS = 2**4096 + 12345


def test_modular_arithmetic() -> None:
    a = Integer(MODULUS)
    assert int((a * a + Integer(7)) % 10) == int((MODULUS * MODULUS + 7) % 10)
