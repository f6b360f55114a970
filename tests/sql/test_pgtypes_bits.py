"""bit / varbit codecs: text forms (B, X prefixes), varbit_send's binary layout, digit errors."""

from __future__ import annotations

import pytest

from compute import pgtypes as T
from compute.sql.api import SqlError


@pytest.mark.parametrize(("text", "stored"), [("101", "101"), ("B0110", "0110"), ("X1F", "00011111"), ("", "")])
def test_text_input(text: str, stored: str) -> None:
    assert T.decode_text(T.VARBIT, text.encode()) == stored
    assert T.encode_text(T.BIT, stored) == stored.encode()


@pytest.mark.parametrize("bits", ["1", "101", "10101010", "101010101", ""])
def test_binary_round_trip_and_layout(bits: str) -> None:
    wire = T.encode_binary(T.VARBIT, bits)
    assert int.from_bytes(wire[:4], "big") == len(bits)
    assert len(wire) == 4 + (len(bits) + 7) // 8
    assert T.decode_binary(T.BIT, wire) == bits


def test_bad_digits_are_22p02() -> None:
    for text in ("102", "Xg"):
        with pytest.raises(SqlError) as err:
            T.decode_text(T.BIT, text.encode())
        assert err.value.sqlstate == "22P02"
