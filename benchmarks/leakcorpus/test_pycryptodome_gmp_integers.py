"""pycryptodome 3.14.0: big integers backed by the system's libgmp leaked their GMP memory, which
libgmp takes from malloc, out of Python's sight (Legrandin/pycryptodome#595, fixed in 3.14.1).

Needs libgmp (Debian: libgmp10); without it pycryptodome uses its own integers and the import
below fails, so the case is never measured on the wrong code.
"""

from Crypto.Math._IntegerGMP import IntegerGMP

MODULUS = 2**4096 + 12345


def test_modular_arithmetic() -> None:
    a = IntegerGMP(MODULUS)
    assert int((a * a + IntegerGMP(7)) % 10) == int((MODULUS * MODULUS + 7) % 10)
