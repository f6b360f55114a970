"""Range codecs: canonical text, range_send's binary layout, and storage keys sorting as range_cmp."""

from __future__ import annotations

import pytest

from compute import pgtypes as T
from compute.sql.api import SqlError


@pytest.mark.parametrize(("oid", "text", "shown"), [
    (T.INT4RANGE, "[1,5]", "[1,6)"),
    (T.INT4RANGE, "(1,5)", "[2,5)"),
    (T.INT4RANGE, "[3,3)", "empty"),
    (T.INT8RANGE, "(,)", "(,)"),
    (T.NUMRANGE, "(-1.50,2]", "(-1.50,2]"),
    (T.DATERANGE, "[2020-01-30,2020-02-01]", "[2020-01-30,2020-02-02)"),
    (T.TSRANGE, '["2020-01-01 00:00:00",)', '["2020-01-01 00:00:00",)'),
])
def test_text_and_binary_round_trip(oid: int, text: str, shown: str) -> None:
    stored = T.decode_text(oid, text.encode())
    assert T.encode_text(oid, stored).decode() == shown
    assert T.decode_binary(oid, T.encode_binary(oid, stored)) == stored


def test_binary_layout_is_postgres() -> None:
    stored = T.decode_text(T.INT4RANGE, b"[1,5)")
    assert T.encode_binary(T.INT4RANGE, stored) == bytes([0x02, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 5])
    assert T.encode_binary(T.INT4RANGE, T.decode_text(T.INT4RANGE, b"empty")) == b"\x01"


def test_keys_sort_like_range_cmp() -> None:
    ordered = ["empty", "(,1)", "(,5)", "[-10,0)", "[-1.5,0)", "[-1.5,0]", "[1,2)", "[1,2]", "[1,)", "(1,2)",
               "[10.25,11)"]
    keys = [T.decode_text(T.NUMRANGE, t.encode()) for t in ordered]
    assert keys == sorted(keys)


@pytest.mark.parametrize("text", ["[5,1]", "[1,5", "1,5", "[1,5)x"])
def test_bad_input(text: str) -> None:
    with pytest.raises(SqlError) as err:
        T.decode_text(T.INT4RANGE, text.encode())
    assert err.value.sqlstate in ("22P02", "22000")
