"""Wire codecs keyed by OID (one dict lookup per value), arrays and records, and the public
encode/decode API. Arrays live here because their element codecs are these same tables."""

from __future__ import annotations

import datetime as _dt
import functools
import json
import re
import struct
import uuid as _uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import compute.pgtypes.multidim as _md
import compute.pgtypes.ranges as _ranges
from compute.pgtypes.bits import binary_decoder as bits_binary_decoder
from compute.pgtypes.bits import binary_encoder as bits_binary_encoder
from compute.pgtypes.bits import text_decoder as bits_text_decoder
from compute.pgtypes.bits import text_encoder as bits_text_encoder
from compute.pgtypes.datetimes import (
    WIDE_MARKS,
    datetime_text,
    dec_date_bin,
    dec_time_bin,
    dec_timestamp_bin,
    dec_timestamptz_bin,
    dec_timetz_bin,
    enc_date_bin,
    enc_timestamp_bin,
    enc_timestamptz_bin,
    enc_timetz_bin,
    format_interval,
    interval_parts,
    parse_date,
    parse_interval,
    parse_time,
    parse_timestamp,
    parse_timestamptz,
    parse_timetz,
    time_micros,
    timestamp_from_storage,
    timestamptz_from_storage,
)
from compute.pgtypes.network import binary_decoder as net_binary_decoder
from compute.pgtypes.network import binary_encoder as net_binary_encoder
from compute.pgtypes.network import text_decoder as net_text_decoder
from compute.pgtypes.network import text_encoder as net_text_encoder
from compute.pgtypes.oids import (
    BIT,
    BOOL,
    BPCHAR,
    BYTEA,
    CHAR,
    CIDR,
    DATE,
    ELEMENT_OF,
    FIRST_USER_OID,
    FLOAT4,
    FLOAT8,
    INET,
    INT2,
    INT4,
    INT8,
    INTERVAL,
    JSON,
    JSONB,
    NAME,
    NUMERIC,
    OID,
    PG_LSN,
    RECORD,
    REGCLASS,
    REGPROC,
    REGTYPE,
    TEXT,
    TIME,
    TIMESTAMP,
    TIMESTAMPTZ,
    TIMETZ,
    UNKNOWN,
    UUID,
    VARBIT,
    VARCHAR,
    VECTORS,
    XID,
    regtype_name,
    regtype_oid,
    type_name,
)
from compute.pgtypes.scalars import (
    as_str,
    enc_numeric,
    format_float,
    format_lsn,
    jsonb_dump,
    numeric_binary,
    numeric_from_binary,
    pack_float4,
    parse_bool,
    parse_bytea,
    parse_float,
    parse_int,
    parse_json,
    parse_jsonb,
    parse_lsn,
    parse_numeric,
    parse_uuid,
    to_decimal,
)
from compute.sqlstate import SqlError

# --------------------------------------------------------------------------- arrays

# array_out quotes elements with these (only ASCII blanks: array_isspace, not str.isspace)
_ARRAY_NEEDS_QUOTE = re.compile(r'[{}",\\ \t\n\r\v\f]')
_ARRAY_BLANKS = " \t\n\r\v\f"


def _array_elem_value(elem_oid: int, value: Any) -> Any:
    """A stored (JSON) element as the value its type's encoders take: bytea elements are stored
    as their ``\\x`` hex text, json/jsonb elements as JSON values."""
    if elem_oid == BYTEA and isinstance(value, str):
        return parse_bytea(value)
    if elem_oid == JSONB:
        return jsonb_dump(value)
    if elem_oid == JSON:
        return json.dumps(value, ensure_ascii=False)
    return value


def array_elem_value(elem_oid: int, value: Any) -> Any:
    """A stored array element as a scalar of ``elem_oid`` (json/jsonb as their text)."""
    return _array_elem_value(elem_oid, value)


def array_elem_storage(elem_oid: int, value: Any) -> Any:
    """A scalar of ``elem_oid`` as an array element is stored (the inverse of array_elem_value)."""
    if elem_oid in (JSON, JSONB) and isinstance(value, str):
        return json.loads(value)
    return _storage_json(value)


def _array_elem_text(elem_oid: int, value: Any) -> str:
    if value is None:
        return "NULL"
    if elem_oid == BOOL:
        return "t" if value else "f"
    value = _array_elem_value(elem_oid, value)
    text = _TEXT_ENCODERS.get(elem_oid, _enc_text_default)(value).decode()
    if text == "" or text.upper() == "NULL" or _ARRAY_NEEDS_QUOTE.search(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def array_values(value: Any) -> list[Any]:
    """Storage (JSON text) to a Python list."""
    if isinstance(value, list):
        return value
    parsed = json.loads(value)
    if not isinstance(parsed, list):
        raise SqlError("22P02", f'malformed array literal: "{value}"')
    return parsed


def format_array(elem_oid: int, value: Any) -> str:
    if elem_oid == JSONB and isinstance(value, str):  # keep numbers exact
        items = json.loads(value, parse_float=Decimal)
    else:
        items = array_values(value)
    nested = elem_oid not in (JSON, JSONB)  # a json element may itself be a JSON array
    return "{" + ",".join(
        format_array(elem_oid, v) if nested and isinstance(v, list) else _array_elem_text(elem_oid, v)
        for v in items
    ) + "}"


def parse_array_literal(text: str) -> list[str | None]:
    """Split a one-dimensional PostgreSQL array literal ``{a,"b c",NULL}`` into element texts."""
    body = text.strip(_ARRAY_BLANKS)
    if body.startswith("[") and "=" in body:
        body = body.split("=", 1)[1].strip(_ARRAY_BLANKS)
    if not (body.startswith("{") and body.endswith("}")):
        raise SqlError("22P02", f'malformed array literal: "{text}"', detail='Array value must start with "{" or dimension information.')
    inner = body[1:-1]
    items: list[str | None] = []
    if not inner.strip(_ARRAY_BLANKS):
        return items
    i = 0
    while i <= len(inner):
        while i < len(inner) and inner[i] in _ARRAY_BLANKS:
            i += 1
        if i < len(inner) and inner[i] == '"':
            i += 1
            buf = []
            while i < len(inner) and inner[i] != '"':
                if inner[i] == "\\":
                    i += 1
                buf.append(inner[i])
                i += 1
            i += 1
            items.append("".join(buf))
            while i < len(inner) and inner[i] in _ARRAY_BLANKS:
                i += 1
        else:
            start = i
            while i < len(inner) and inner[i] != ",":
                i += 1
            raw = inner[start:i].strip(_ARRAY_BLANKS)
            if raw.startswith("{"):
                raise SqlError("0A000", "multidimensional arrays are not supported")
            items.append(None if raw.upper() == "NULL" else raw)
        if i < len(inner) and inner[i] != ",":
            raise SqlError("22P02", f'malformed array literal: "{text}"')
        i += 1
    return items


def _storage_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return value


def parse_array(elem_oid: int, text: str) -> str:
    parser = _TEXT_DECODERS.get(elem_oid, _dec_text)
    if elem_oid in (JSON, JSONB):  # stored as JSON values, as ARRAY[...] stores them
        def parser(data: bytes | str) -> Any:
            return json.loads(parse_json(as_str(data)))
    body = _array_body(text)
    if body.find("{", 1) > 0:  # '{{1,2},{3,4}}': nested JSON arrays
        nested = _md.parse_nested_literal(text, body)
        return json.dumps(_md.map_nested(nested, lambda item: _storage_json(parser(item.encode()))),
                          separators=(",", ":"), ensure_ascii=False)
    values = [None if item is None else _storage_json(parser(item.encode())) for item in parse_array_literal(text)]
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)


def _array_body(text: str) -> str:
    """An array literal without blanks around it and without its ``[1:2]=`` dimensions."""
    body = text.strip(_ARRAY_BLANKS)
    if body.startswith("[") and "=" in body:
        body = body.split("=", 1)[1].strip(_ARRAY_BLANKS)
    return body


def _vector_binary(elem_oid: int, value: Any) -> bytes:
    """int2vector / oidvector send: a one-dimensional array whose lower bound is 0."""
    items = [int(v) for v in array_values(value)]
    if not items:
        return struct.pack("!iii", 0, 0, elem_oid)
    pack = "!h" if elem_oid == INT2 else "!I"
    out = [struct.pack("!iiiii", 1, 0, elem_oid, len(items), 0)]
    out.extend(struct.pack("!i", struct.calcsize(pack)) + struct.pack(pack, v) for v in items)
    return b"".join(out)


def _vector_text_decoder(data: bytes | str) -> str:
    try:
        return json.dumps([int(v) for v in as_str(data).split()])
    except ValueError:
        raise SqlError("22P02", f'invalid input syntax for type vector: "{as_str(data)}"') from None


def _array_binary(elem_oid: int, value: Any) -> bytes:
    items = array_values(value)
    encoder = _BINARY_ENCODERS.get(elem_oid, _enc_text_default)
    if items and isinstance(items[0], list) and elem_oid not in (JSON, JSONB):
        return _md.binary(elem_oid, items, lambda v: encoder(_array_elem_value(elem_oid, v)))
    has_null = any(v is None for v in items)
    if not items:  # PostgreSQL sends an empty array with no dimensions
        return struct.pack("!iii", 0, 0, elem_oid)
    out = [struct.pack("!iiiii", 1, 1 if has_null else 0, elem_oid, len(items), 1)]
    for v in items:
        if v is None:
            out.append(struct.pack("!i", -1))
        else:
            data = encoder(_array_elem_value(elem_oid, v))
            out.append(struct.pack("!i", len(data)) + data)
    return b"".join(out)


def _array_from_binary(elem_oid: int, data: bytes) -> str:
    ndim, _flags, _elem = struct.unpack_from("!iii", data)
    if ndim == 0:
        return "[]"
    if ndim > _md.MAX_DIMS:
        raise SqlError("54000", f"number of array dimensions ({ndim}) exceeds the maximum allowed ({_md.MAX_DIMS})")
    shape = [struct.unpack_from("!i", data, 12 + 8 * d)[0] for d in range(ndim)]
    count = 1
    for n in shape:
        count *= n
    pos = 12 + 8 * ndim
    decoder = _BINARY_DECODERS.get(elem_oid, _dec_text)
    values: list[Any] = []
    for _ in range(count):
        (length,) = struct.unpack_from("!i", data, pos)
        pos += 4
        if length < 0:
            values.append(None)
            continue
        item = decoder(data[pos : pos + length])
        values.append(json.loads(item) if elem_oid in (JSON, JSONB) else _storage_json(item))
        pos += length
    if ndim > 1:
        values = _md.reshape(values, shape)
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- codec tables

Encoder = Callable[[Any], bytes]
Decoder = Callable[[bytes], Any]


def _enc_text_default(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, float):
        return format_float(value).encode()
    return str(value).encode()


def _enc_bool(value: Any) -> bytes:
    if isinstance(value, str):
        return b"t" if parse_bool(value) else b"f"
    return b"t" if value else b"f"


def _enc_int(value: Any) -> bytes:
    if type(value) is int:
        return b"%d" % value
    if isinstance(value, float):
        return b"%d" % round(value)
    return str(value).encode()


def _enc_regtype(value: Any) -> bytes:
    """regtypeout prints the type's name, not its OID."""
    if isinstance(value, str) and not value.isdigit():
        return value.encode()
    return regtype_name(int(value)).encode()


def _enc_record(value: Any) -> bytes:
    """record_out: "(1,a,,"x y")"; Strata keeps a row() value as a JSON object of its fields."""
    text = value if isinstance(value, str) else str(value)
    if not text.startswith("{"):
        return text.encode()
    fields = []
    for item in json.loads(text, parse_float=Decimal).values():
        if item is None:
            fields.append("")
            continue
        if isinstance(item, bool):
            field = "t" if item else "f"
        elif isinstance(item, (dict, list)):
            field = json.dumps(item, ensure_ascii=False)
        else:
            field = str(item)
        if field == "" or any(ch in field for ch in '(),"\\ \t\n'):
            field = '"' + field.replace("\\", "\\\\").replace('"', '""') + '"'
        fields.append(field)
    return ("(" + ",".join(fields) + ")").encode()


def _enc_record_bin(value: Any) -> bytes:
    """record_send: field count, then each field's type OID and binary value. A stored row()
    keeps its fields' values, not their types: integers go as int4/int8, decimals as numeric,
    booleans as bool, JSON objects and arrays as jsonb, everything else as text."""
    text = value if isinstance(value, str) else str(value)
    if not text.startswith("{"):
        raise SqlError("0A000", "binary output of this record is not supported")
    items = list(json.loads(text, parse_float=Decimal).values())
    out = [struct.pack("!i", len(items))]
    for item in items:
        if item is None:
            out.append(struct.pack("!Ii", TEXT, -1))
            continue
        if isinstance(item, bool):
            oid = BOOL
        elif isinstance(item, int):
            oid = INT4 if -(2**31) <= item < 2**31 else INT8
        elif isinstance(item, Decimal):
            oid = NUMERIC
        elif isinstance(item, (dict, list)):
            oid, item = JSONB, jsonb_dump(item)
        else:
            oid = TEXT
        data = _BINARY_ENCODERS[oid](item)
        out.append(struct.pack("!Ii", oid, len(data)) + data)
    return b"".join(out)


def _enc_float8(value: Any) -> bytes:
    return format_float(float(value)).encode()


def _enc_float4(value: Any) -> bytes:
    return format_float(float(value), single=True).encode()


def _enc_bytea(value: Any) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    return b"\\x" + value.hex().encode()


def _enc_datetime_text(value: Any) -> bytes:
    """date/timestamp: stored text is the ISO output, except for BC years and years past 9999."""
    if value.__class__ is str:
        return (datetime_text(value) if value[:1] in WIDE_MARKS else value).encode()
    return _enc_text_default(value)


def _array_text_encoder(elem_oid: int) -> Encoder:
    return lambda value: format_array(elem_oid, value).encode()


_TEXT_ENCODERS: dict[int, Encoder] = {
    RECORD: _enc_record,
    PG_LSN: lambda v: format_lsn(v).encode(),
    BOOL: _enc_bool,
    INT2: _enc_int,
    INT4: _enc_int,
    INT8: _enc_int,
    OID: _enc_int,
    XID: _enc_int,
    REGCLASS: _enc_int,
    REGTYPE: _enc_regtype,
    REGPROC: _enc_int,
    FLOAT4: _enc_float4,
    FLOAT8: _enc_float8,
    NUMERIC: enc_numeric,
    BYTEA: _enc_bytea,
    DATE: _enc_datetime_text,
    TIMESTAMP: _enc_datetime_text,
}
_TEXT_ENCODERS.update({INET: net_text_encoder(False), CIDR: net_text_encoder(True), BIT: bits_text_encoder, VARBIT: bits_text_encoder})
for _arr, _elem in ELEMENT_OF.items():
    _TEXT_ENCODERS[_arr] = _array_text_encoder(_elem)
for _vec in VECTORS:
    _TEXT_ENCODERS[_vec] = lambda value: " ".join(str(v) for v in array_values(value)).encode()


def _pack(fmt: str) -> Encoder:
    packer = struct.Struct(fmt).pack
    return lambda value: packer(value)


def _enc_bin_str(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else _enc_text_default(value)


def _enc_bin_bytes(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _enc_bin_uuid(value: Any) -> bytes:
    return _uuid.UUID(value).bytes


def _enc_bin_interval(value: Any) -> bytes:
    months, days, micros = interval_parts(value)
    return struct.pack("!qii", micros, days, months)


def _array_binary_encoder(elem_oid: int) -> Encoder:
    return lambda value: _array_binary(elem_oid, value)


_pack_q = struct.Struct("!q").pack
_pack_i = struct.Struct("!i").pack
_pack_h = struct.Struct("!h").pack
_pack_d = struct.Struct("!d").pack
_pack_f = struct.Struct("!f").pack
_pack_I = struct.Struct("!I").pack

_BINARY_ENCODERS: dict[int, Encoder] = {
    RECORD: _enc_record_bin,
    BOOL: lambda v: b"\x01" if v else b"\x00",
    INT2: lambda v: _pack_h(int(v)),
    INT4: lambda v: _pack_i(int(v)),
    INT8: lambda v: _pack_q(int(v)),
    PG_LSN: lambda v: _pack_q(int(v)),
    OID: lambda v: _pack_I(int(v)),
    XID: lambda v: _pack_I(int(v)),
    REGCLASS: lambda v: _pack_I(int(v)),
    REGTYPE: lambda v: _pack_I(regtype_oid(v)),
    REGPROC: lambda v: _pack_I(int(v)),
    FLOAT4: lambda v: pack_float4(float(v)),
    FLOAT8: lambda v: _pack_d(float(v)),
    NUMERIC: numeric_binary,
    BYTEA: _enc_bin_bytes,
    TEXT: _enc_bin_str,
    VARCHAR: _enc_bin_str,
    BPCHAR: _enc_bin_str,
    NAME: _enc_bin_str,
    CHAR: lambda v: _enc_bin_str(v) or b"\x00",  # charsend: the empty "char" is one zero byte
    JSON: _enc_bin_str,
    JSONB: lambda v: b"\x01" + _enc_bin_str(v),
    DATE: enc_date_bin,
    TIME: lambda v: _pack_q(time_micros(v)),
    TIMETZ: enc_timetz_bin,
    TIMESTAMP: enc_timestamp_bin,
    TIMESTAMPTZ: enc_timestamptz_bin,
    INTERVAL: _enc_bin_interval,
    UUID: _enc_bin_uuid,
}
_BINARY_ENCODERS.update({INET: net_binary_encoder(False), CIDR: net_binary_encoder(True), BIT: bits_binary_encoder, VARBIT: bits_binary_encoder})
for _arr, _elem in ELEMENT_OF.items():
    _BINARY_ENCODERS[_arr] = _array_binary_encoder(_elem)
for _vec in VECTORS:
    _BINARY_ENCODERS[_vec] = functools.partial(_vector_binary, ELEMENT_OF[_vec])


def _dec_text(data: bytes | str) -> str:
    return as_str(data)


def _wrap(fn: Callable[[str], Any]) -> Decoder:
    return lambda data: fn(as_str(data))


def _int_decoder(oid: int) -> Decoder:
    return lambda data: parse_int(oid, as_str(data))


def _float_storage(value: float) -> float | str:
    """SQLite stores a NaN double as NULL, so a float NaN is kept as the TEXT 'NaN'."""
    return "NaN" if value != value else value


def _float_decoder(oid: int) -> Decoder:
    return lambda data: _float_storage(parse_float(oid, as_str(data)))


def _array_text_decoder(elem_oid: int) -> Decoder:
    return lambda data: parse_array(elem_oid, as_str(data))


def _dec_char(data: bytes) -> str:
    text = as_str(data)
    return text[:1]


def _dec_oidlike(data: bytes) -> int:
    text = as_str(data)
    return parse_int(OID, text)


def _dec_regclass(data: bytes) -> int | str:
    """A regclass parameter may be a relation name: the query resolves it (``pg_regclass``)."""
    text = as_str(data).strip()
    return parse_int(OID, text) if text.isdigit() else text


_TEXT_DECODERS: dict[int, Decoder] = {
    BOOL: _wrap(parse_bool),
    INT2: _int_decoder(INT2),
    INT4: _int_decoder(INT4),
    INT8: _int_decoder(INT8),
    OID: _dec_oidlike,
    XID: _dec_oidlike,
    REGCLASS: _dec_regclass,
    REGTYPE: _dec_oidlike,
    FLOAT4: _float_decoder(FLOAT4),
    FLOAT8: _float_decoder(FLOAT8),
    NUMERIC: _wrap(parse_numeric),
    BYTEA: _wrap(parse_bytea),
    TEXT: _dec_text,
    VARCHAR: _dec_text,
    BPCHAR: _dec_text,
    NAME: _dec_text,
    CHAR: _dec_char,
    UNKNOWN: _dec_text,
    JSON: _wrap(parse_json),
    JSONB: _wrap(parse_jsonb),
    DATE: _wrap(parse_date),
    TIME: _wrap(parse_time),
    TIMESTAMP: _wrap(parse_timestamp),
    TIMESTAMPTZ: _wrap(parse_timestamptz),
    INTERVAL: _wrap(parse_interval),
    UUID: _wrap(parse_uuid),
    PG_LSN: _wrap(parse_lsn),
}
_TEXT_DECODERS.update({INET: net_text_decoder(False), CIDR: net_text_decoder(True), BIT: bits_text_decoder, VARBIT: bits_text_decoder})
for _arr, _elem in ELEMENT_OF.items():
    _TEXT_DECODERS[_arr] = _array_text_decoder(_elem)
for _vec in VECTORS:
    _TEXT_DECODERS[_vec] = _vector_text_decoder


def _unpack(fmt: str) -> Callable[[bytes], Any]:
    unpacker = struct.Struct(fmt).unpack

    def decode(data: bytes) -> Any:
        try:
            return unpacker(data)[0]
        except struct.error:
            raise SqlError("08P01", "incorrect binary data format in bind parameter") from None

    return decode


def _dec_bin_interval(data: bytes) -> str:
    micros, days, months = struct.unpack("!qii", data)
    return format_interval(months, days, micros)


def _array_binary_decoder(elem_oid: int) -> Decoder:
    return lambda data: _array_from_binary(elem_oid, data)


def _dec_bin_bool(data: bytes) -> int:
    return 1 if data[:1] != b"\x00" else 0


def _dec_bin_jsonb(data: bytes) -> str:
    return parse_jsonb(as_str(data[1:]))


def _dec_bin_uuid(data: bytes) -> str:
    return str(_uuid.UUID(bytes=bytes(data)))


def _dec_bin_float4(data: bytes) -> float | str:
    (value,) = struct.unpack("!f", data)
    return _float_storage(float(value))


def _dec_bin_float8(data: bytes) -> float | str:
    (value,) = struct.unpack("!d", data)
    return _float_storage(value)


_BINARY_DECODERS: dict[int, Decoder] = {
    BOOL: _dec_bin_bool,
    INT2: _unpack("!h"),
    INT4: _unpack("!i"),
    INT8: _unpack("!q"),
    PG_LSN: _unpack("!q"),
    OID: _unpack("!I"),
    XID: _unpack("!I"),
    REGCLASS: _unpack("!I"),
    REGTYPE: _unpack("!I"),
    FLOAT4: _dec_bin_float4,
    FLOAT8: _dec_bin_float8,
    NUMERIC: numeric_from_binary,
    BYTEA: bytes,
    TEXT: _dec_text,
    VARCHAR: _dec_text,
    BPCHAR: _dec_text,
    NAME: _dec_text,
    CHAR: _dec_text,
    UNKNOWN: _dec_text,
    JSON: _wrap(parse_json),
    JSONB: _dec_bin_jsonb,
    DATE: dec_date_bin,
    TIME: dec_time_bin,
    TIMETZ: dec_timetz_bin,
    TIMESTAMP: dec_timestamp_bin,
    TIMESTAMPTZ: dec_timestamptz_bin,
    INTERVAL: _dec_bin_interval,
    UUID: _dec_bin_uuid,
}
_BINARY_DECODERS.update({INET: net_binary_decoder(False), CIDR: net_binary_decoder(True), BIT: bits_binary_decoder, VARBIT: bits_binary_decoder})
for _arr, _elem in ELEMENT_OF.items():
    _BINARY_DECODERS[_arr] = _array_binary_decoder(_elem)


# --------------------------------------------------------------------------- ranges


def _range_element_text(sub: int) -> Callable[[Any], str]:
    encoder = _TEXT_ENCODERS.get(sub, _enc_text_default)
    return lambda value: encoder(value).decode()


def _range_codecs(oid: int) -> tuple[Encoder, Encoder, Callable[[bytes | str, str], str], Decoder]:
    sub = _ranges.SUBTYPE[oid]
    text_out = _range_element_text(sub)
    binary_out = _BINARY_ENCODERS[sub]

    def enc_text(value: Any) -> bytes:
        if value[:1] not in ("0", "1"):  # already range text (array elements are stored as text)
            return str(value).encode()
        return _ranges.format_range(_ranges.from_key(sub, value), text_out).encode()

    def enc_binary(value: Any) -> bytes:
        if value[:1] not in ("0", "1"):
            value = dec_text(value)
        return _ranges.to_binary(_ranges.from_key(sub, value), binary_out)

    def dec_text(data: bytes | str, tz: str = "UTC") -> str:
        def element(elem_oid: int, text: str) -> Any:
            return decode_text(elem_oid, text, tz)
        return _ranges.key(sub, _ranges.parse(oid, as_str(data), element))

    def dec_binary(data: bytes) -> str:
        return _ranges.key(sub, _ranges.from_binary(oid, data, decode_binary))

    return enc_text, enc_binary, dec_text, dec_binary


def _in_utc(decoder: Callable[[bytes | str, str], str]) -> Decoder:
    return lambda data: decoder(data, "UTC")


_RANGE_TEXT_DECODERS: dict[int, Callable[[bytes | str, str], str]] = {}
for _range_oid in _ranges.SUBTYPE:
    (_TEXT_ENCODERS[_range_oid], _BINARY_ENCODERS[_range_oid], _RANGE_TEXT_DECODERS[_range_oid],
     _BINARY_DECODERS[_range_oid]) = _range_codecs(_range_oid)
    _TEXT_ENCODERS[_range_oid + 1] = _array_text_encoder(_range_oid)
    _BINARY_ENCODERS[_range_oid + 1] = _array_binary_encoder(_range_oid)
    _TEXT_DECODERS[_range_oid] = _in_utc(_RANGE_TEXT_DECODERS[_range_oid])
    _TEXT_DECODERS[_range_oid + 1] = _array_text_decoder(_range_oid)
    _BINARY_DECODERS[_range_oid + 1] = _array_binary_decoder(_range_oid)


# --------------------------------------------------------------------------- public API


def text_encoder(oid: int) -> Encoder:
    """The text-format encoder for ``oid``; sessions fetch it once per result column."""
    return _TEXT_ENCODERS.get(oid, _enc_text_default)


def binary_encoder(oid: int) -> Encoder:
    return _BINARY_ENCODERS.get(oid, _enc_bin_str)


def has_binary(oid: int) -> bool:
    """Whether we can send/receive ``oid`` in binary format."""
    return oid in _BINARY_ENCODERS or oid >= FIRST_USER_OID


def user_array_encoder(elem_oid: int, binary: bool) -> Encoder:
    """Arrays of an enum type: elements are labels (text); the binary header names the enum."""
    if binary:
        return lambda value: _array_binary(elem_oid, value)
    return lambda value: format_array(elem_oid, value).encode()


def encode_text(oid: int, value: Any) -> bytes:
    """Storage value -> PostgreSQL text format bytes (value is never None)."""
    return _TEXT_ENCODERS.get(oid, _enc_text_default)(value)


def encode_binary(oid: int, value: Any) -> bytes:
    """Storage value -> PostgreSQL binary format bytes."""
    encoder = _BINARY_ENCODERS.get(oid)
    if encoder is None and oid >= FIRST_USER_OID:
        encoder = _enc_bin_str  # enum types: the binary form is the label
    if encoder is None:
        raise SqlError("0A000", f"binary output of type {type_name(oid)} is not supported")
    try:
        return encoder(value)
    except (ValueError, TypeError, struct.error) as exc:
        raise SqlError("22P02", f"cannot encode value for type {type_name(oid)}: {exc}") from None


def decode_text(oid: int, data: bytes | str, tz: str = "UTC", order: str = "MDY") -> Any:
    """PostgreSQL text format -> storage value; ``tz`` is the session TimeZone (timestamptz),
    ``order`` DateStyle's field order (date, timestamp[tz])."""
    if oid == TIMESTAMPTZ:
        return parse_timestamptz(as_str(data), tz, order)
    if order != "MDY" and oid in (DATE, TIMESTAMP):
        return parse_date(as_str(data), order) if oid == DATE else parse_timestamp(as_str(data), order)
    if oid == TIMETZ:
        return parse_timetz(as_str(data), tz)
    if oid == _ranges.TSTZRANGE:
        return _RANGE_TEXT_DECODERS[oid](data, tz)
    decoder = _TEXT_DECODERS.get(oid)
    if decoder is None:
        return as_str(data)
    return decoder(data)  # type: ignore[arg-type]


def decode_binary(oid: int, data: bytes) -> Any:
    """PostgreSQL binary format -> storage value."""
    decoder = _BINARY_DECODERS.get(oid)
    if decoder is None and oid >= FIRST_USER_OID:
        if b"\x00" in data:  # an array of an enum (labels never contain NUL): array storage
            return _array_from_binary(TEXT, data)
        return as_str(data)  # enum types: the binary form is the label
    if decoder is None:
        raise SqlError("0A000", f"binary input of type {type_name(oid)} is not supported")
    try:
        return decoder(data)
    except struct.error:
        raise SqlError("22P03", f"incorrect binary data format for type {type_name(oid)}") from None


def storage_to_python(oid: int, value: Any) -> Any:
    """Convenience for tests and UDFs: a storage value as a natural Python object."""
    if value is None:
        return None
    if oid == BOOL:
        return bool(value)
    if oid == NUMERIC:
        return to_decimal(value)
    if oid == DATE:
        return _dt.date.fromisoformat(value)
    if oid == TIMESTAMP:
        return timestamp_from_storage(value)
    if oid == TIMESTAMPTZ:
        return timestamptz_from_storage(value)
    if oid in ELEMENT_OF:
        return array_values(value)
    return value
