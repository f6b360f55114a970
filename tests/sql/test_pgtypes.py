"""Codecs between SQLite storage values and PostgreSQL's text and binary wire formats."""

from __future__ import annotations

import struct

import pytest

from compute import pgtypes as T
from compute.sql.api import SqlError


@pytest.mark.parametrize(
    ("oid", "value", "text"),
    [
        (T.BOOL, 1, b"t"),
        (T.BOOL, 0, b"f"),
        (T.INT2, -5, b"-5"),
        (T.INT4, 2147483647, b"2147483647"),
        (T.INT8, -(2**63), b"-9223372036854775808"),
        (T.FLOAT8, 1.0, b"1"),
        (T.FLOAT8, 0.1, b"0.1"),
        (T.FLOAT8, 1e15, b"1e+15"),
        (T.FLOAT8, 123456789012345.0, b"123456789012345"),
        (T.FLOAT8, 1.5e-5, b"1.5e-05"),
        (T.FLOAT8, float("inf"), b"Infinity"),
        (T.FLOAT8, float("-inf"), b"-Infinity"),
        (T.FLOAT8, float("nan"), b"NaN"),
        (T.FLOAT8, -0.0, b"-0"),
        (T.FLOAT8, 1 / 3, b"0.3333333333333333"),
        (T.FLOAT4, 0.1, b"0.1"),
        (T.FLOAT4, 1234567.0, b"1.234567e+06"),
        (T.FLOAT4, 100000.0, b"100000"),
        (T.NUMERIC, "12.50", b"12.50"),
        (T.NUMERIC, 7, b"7"),
        (T.TEXT, "héllo", "héllo".encode()),
        (T.BYTEA, b"\x00\xab", b"\\x00ab"),
        (T.DATE, "2024-01-02", b"2024-01-02"),
        (T.TIMESTAMP, "2024-01-02 03:04:05.123456", b"2024-01-02 03:04:05.123456"),
        (T.INT4_ARRAY, "[1,2,null]", b"{1,2,NULL}"),
        (T.TEXT_ARRAY, '["a b","","NULL","q\\"x"]', b'{"a b","","NULL","q\\"x"}'),
        (T.BOOL_ARRAY, "[1,0]", b"{t,f}"),
    ],
)
def test_encode_text(oid: int, value: object, text: bytes) -> None:
    assert T.encode_text(oid, value) == text


@pytest.mark.parametrize(
    ("oid", "text", "value"),
    [
        (T.BOOL, b"true", 1),
        (T.BOOL, b" YES ", 1),
        (T.BOOL, b"off", 0),
        (T.INT4, b" 42 ", 42),
        (T.INT8, b"-9223372036854775808", -(2**63)),
        (T.FLOAT8, b"Infinity", float("inf")),
        (T.FLOAT8, b"1e3", 1000.0),
        (T.NUMERIC, b"1.50", "1.50"),
        (T.NUMERIC, b"1e3", "1000"),
        (T.NUMERIC, b"-0.0015", "-0.0015"),
        (T.DATE, b"2024-1-2", "2024-01-02"),
        (T.TIMESTAMP, b"2024-01-02T03:04:05.5", "2024-01-02 03:04:05.5"),
        (T.TIMESTAMP, b"2024-01-02 03:04", "2024-01-02 03:04:00"),
        (T.TIMESTAMPTZ, b"2024-01-02 03:04:05+02", "2024-01-02 01:04:05+00"),
        (T.TIME, b"3:04:05", "03:04:05"),
        (T.INTERVAL, b"1 day 2 hours", "1 day 02:00:00"),
        (T.INTERVAL, b"1 year 2 mons 3 days 04:05:06.5", "1 year 2 mons 3 days 04:05:06.5"),
        (T.INTERVAL, b"-90 minutes", "-01:30:00"),
        (T.UUID, b"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        (T.BYTEA, b"\\x0aff", b"\n\xff"),
        (T.BYTEA, b"a\\134b", b"a\\b"),
        (T.JSONB, b'{"b": 1, "a": [1, 2.50]}', '{"a": [1, 2.50], "b": 1}'),
        (T.INT4_ARRAY, b"{1, 2,NULL}", "[1,2,null]"),
        (T.TEXT_ARRAY, b'{a,"b c",""}', '["a","b c",""]'),
    ],
)
def test_decode_text(oid: int, text: bytes, value: object) -> None:
    assert T.decode_text(oid, text) == value


def test_timestamptz_input_uses_session_zone() -> None:
    assert T.decode_text(T.TIMESTAMPTZ, b"2024-07-01 12:00:00", tz="Europe/Paris") == "2024-07-01 10:00:00+00"


@pytest.mark.parametrize(
    ("oid", "text", "sqlstate", "message"),
    [
        (T.INT4, b"abc", "22P02", 'invalid input syntax for type integer: "abc"'),
        (T.INT4, b"2147483648", "22003", 'value "2147483648" is out of range for type integer'),
        (T.INT2, b"40000", "22003", 'value "40000" is out of range for type smallint'),
        (T.INT8, b"1.5", "22P02", 'invalid input syntax for type bigint: "1.5"'),
        (T.BOOL, b"maybe", "22P02", 'invalid input syntax for type boolean: "maybe"'),
        (T.FLOAT8, b"x1", "22P02", 'invalid input syntax for type double precision: "x1"'),
        (T.FLOAT8, b"1e400", "22003", 'value "1e400" is out of range for type double precision'),
        (T.NUMERIC, b"1.2.3", "22P02", 'invalid input syntax for type numeric: "1.2.3"'),
        (T.UUID, b"nope", "22P02", 'invalid input syntax for type uuid: "nope"'),
        (T.DATE, b"2024-02-30", "22008", 'date/time field value out of range: "2024-02-30"'),
    ],
)
def test_decode_errors(oid: int, text: bytes, sqlstate: str, message: str) -> None:
    with pytest.raises(SqlError) as info:
        T.decode_text(oid, text)
    assert info.value.sqlstate == sqlstate
    assert info.value.message == message


@pytest.mark.parametrize(
    ("oid", "value"),
    [
        (T.BOOL, 1),
        (T.INT2, -3),
        (T.INT4, 123456),
        (T.INT8, 2**40),
        (T.FLOAT8, 2.5),
        (T.NUMERIC, "0.0001"),
        (T.NUMERIC, "-123.40"),
        (T.NUMERIC, "100000000000000000000"),
        (T.NUMERIC, "NaN"),
        (T.TEXT, "abc"),
        (T.BYTEA, b"\x01\x02"),
        (T.DATE, "2024-02-29"),
        (T.TIME, "13:14:15.5"),
        (T.TIMESTAMP, "1999-12-31 23:59:59.999999"),
        (T.TIMESTAMPTZ, "2024-01-02 03:04:05+00"),
        (T.INTERVAL, "1 year 2 mons 3 days 04:05:06"),
        (T.UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        (T.JSONB, '{"a": 1}'),
        (T.INT4_ARRAY, "[1,null,3]"),
        (T.TEXT_ARRAY, '["x","y"]'),
    ],
)
def test_binary_roundtrip(oid: int, value: object) -> None:
    assert T.decode_binary(oid, T.encode_binary(oid, value)) == value


def test_binary_formats_match_postgresql() -> None:
    assert T.encode_binary(T.INT4, 1) == b"\x00\x00\x00\x01"
    assert T.encode_binary(T.DATE, "2000-01-02") == struct.pack("!i", 1)
    assert T.encode_binary(T.TIMESTAMP, "2000-01-01 00:00:01") == struct.pack("!q", 1_000_000)
    # numeric 12345.678: ndigits 3, weight 1, positive, dscale 3, digits 1 2345 6780
    assert T.encode_binary(T.NUMERIC, "12345.678") == struct.pack("!hhHH3H", 3, 1, 0, 3, 1, 2345, 6780)
    assert T.encode_binary(T.JSONB, "{}") == b"\x01{}"


def test_type_metadata() -> None:
    assert T.type_name(T.INT4) == "int4" and T.type_length(T.INT8) == 8 and T.type_length(T.TEXT) == -1
    assert T.format_type(T.VARCHAR, T.char_typmod(10)) == "character varying(10)"
    assert T.format_type(T.NUMERIC, T.numeric_typmod(10, 2)) == "numeric(10,2)"
    assert T.format_type(T.BPCHAR, -1) == "bpchar"
    assert T.TYPES[T.INT4_ARRAY].elem_oid == T.INT4 and T.TYPES[T.INT4].array_oid == T.INT4_ARRAY
    assert T.text_encoder(T.BOOL)(1) == b"t"
