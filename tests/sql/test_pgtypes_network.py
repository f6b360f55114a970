"""inet/cidr codecs: text and binary round trips, and storage keys that sort as network_cmp."""

from __future__ import annotations

import pytest

from compute import pgtypes as T
from compute.sql.api import SqlError


@pytest.mark.parametrize(("oid", "text", "shown"), [
    (T.INET, "10.1.2.3", "10.1.2.3"),
    (T.INET, "10.1.2.3/24", "10.1.2.3/24"),
    (T.INET, "2001:DB8::1/64", "2001:db8::1/64"),
    (T.INET, "::ffff:1.2.3.4", "::ffff:1.2.3.4"),
    (T.CIDR, "10/8", "10.0.0.0/8"),
    (T.CIDR, "192.168", "192.168.0.0/24"),
    (T.CIDR, "::1", "::1/128"),
])
def test_text_and_binary_round_trip(oid: int, text: str, shown: str) -> None:
    stored = T.decode_text(oid, text.encode())
    assert T.encode_text(oid, stored).decode() == shown
    wire = T.encode_binary(oid, stored)
    assert wire[2] == (1 if oid == T.CIDR else 0)  # the is_cidr byte
    assert T.decode_binary(oid, wire) == stored


def test_binary_layout_is_postgres() -> None:
    stored = T.decode_text(T.INET, b"10.1.2.3/24")
    assert T.encode_binary(T.INET, stored) == bytes([2, 24, 0, 4, 10, 1, 2, 3])


def test_keys_sort_like_network_cmp() -> None:
    ordered = ["0.0.0.0/0", "9.255.255.255", "10.0.0.0/8", "10.0.0.0/16", "10.0.0.1/24", "10.0.0.1",
               "10.1.0.0/16", "192.168.1.1", "::/0", "::1"]
    keys = [T.decode_text(T.INET, t.encode()) for t in ordered]
    assert keys == sorted(keys)


@pytest.mark.parametrize(("oid", "text"), [(T.INET, "10.1.2.3/33"), (T.INET, "1.2.3"), (T.INET, "x"),
                                           (T.CIDR, "10.1.2.3/8")])
def test_bad_input_is_22p02(oid: int, text: str) -> None:
    with pytest.raises(SqlError) as err:
        T.decode_text(oid, text.encode())
    assert err.value.sqlstate == "22P02"
