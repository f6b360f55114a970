"""Type OIDs and the built-in type table (our pg_type): names, lengths, array types,
format_type(). A leaf module: everything else in compute.pgtypes builds on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# --------------------------------------------------------------------------- OIDs

BOOL = 16
BYTEA = 17
CHAR = 18  # "char", the one-byte internal type
NAME = 19
INT8 = 20
INT2 = 21
INT2VECTOR = 22
INT4 = 23
REGPROC = 24
TEXT = 25
OID = 26
XID = 28
OIDVECTOR = 30
JSON = 114
PG_NODE_TREE = 194
FLOAT4 = 700
FLOAT8 = 701
UNKNOWN = 705
BPCHAR = 1042
VARCHAR = 1043
DATE = 1082
TIME = 1083
TIMESTAMP = 1114
TIMESTAMPTZ = 1184
INTERVAL = 1186
TIMETZ = 1266
NUMERIC = 1700
REGCLASS = 2205
REGTYPE = 2206
RECORD = 2249
VOID = 2278
UUID = 2950
JSONB = 3802
REGNAMESPACE = 4089
REGROLE = 4096
ACLITEM = 1033

BOOL_ARRAY = 1000
BYTEA_ARRAY = 1001
CHAR_ARRAY = 1002
NAME_ARRAY = 1003
INT2_ARRAY = 1005
INT4_ARRAY = 1007
TEXT_ARRAY = 1009
BPCHAR_ARRAY = 1014
VARCHAR_ARRAY = 1015
INT8_ARRAY = 1016
FLOAT4_ARRAY = 1021
FLOAT8_ARRAY = 1022
OID_ARRAY = 1028
ACLITEM_ARRAY = 1034
TIMESTAMP_ARRAY = 1115
DATE_ARRAY = 1182
TIME_ARRAY = 1183
TIMESTAMPTZ_ARRAY = 1185
INTERVAL_ARRAY = 1187
NUMERIC_ARRAY = 1231
UUID_ARRAY = 2951
JSON_ARRAY = 199
JSONB_ARRAY = 3807
REGTYPE_ARRAY = 2211
PG_LSN = 3220  # a WAL position: stored as its int64 byte offset, written X/Y in hex
PG_LSN_ARRAY = 3221
INET = 869  # stored as a sort key (compute/pgtypes/network.py), printed from it
CIDR = 650
INET_ARRAY = 1041
CIDR_ARRAY = 651
BIT = 1560  # stored as TEXT of '0'/'1' (compute/pgtypes/bits.py); typmod is the length itself
BIT_ARRAY = 1561
VARBIT = 1562
VARBIT_ARRAY = 1563
# range types: stored as sort keys (compute/pgtypes/ranges.py)
INT4RANGE = 3904
NUMRANGE = 3906
TSRANGE = 3908
TSTZRANGE = 3910
DATERANGE = 3912
INT8RANGE = 3926
RANGE_TYPES = (INT4RANGE, NUMRANGE, TSRANGE, TSTZRANGE, DATERANGE, INT8RANGE)


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """One row of our pg_type: what RowDescription and pg_type need."""

    oid: int
    name: str  # pg_type.typname
    length: int  # typlen (-1 varlena, -2 cstring)
    category: str  # typcategory: B bool, N numeric, S string, D datetime, T timespan, U user, A array
    array_oid: int = 0  # typarray
    elem_oid: int = 0  # typelem for arrays
    sqlite_type: str = "TEXT"  # column type in our STRICT tables
    display: str = ""  # format_type() output, e.g. "integer"


def _t(oid: int, name: str, length: int, cat: str, arr: int, sqlite: str, display: str) -> TypeInfo:
    return TypeInfo(oid, name, length, cat, arr, 0, sqlite, display)


_BASE = [
    _t(BOOL, "bool", 1, "B", BOOL_ARRAY, "INT", "boolean"),
    _t(BYTEA, "bytea", -1, "U", BYTEA_ARRAY, "BLOB", "bytea"),
    _t(CHAR, "char", 1, "Z", CHAR_ARRAY, "TEXT", '"char"'),
    _t(NAME, "name", 64, "S", NAME_ARRAY, "TEXT", "name"),
    _t(INT8, "int8", 8, "N", INT8_ARRAY, "INT", "bigint"),
    _t(INT2, "int2", 2, "N", INT2_ARRAY, "INT", "smallint"),
    TypeInfo(INT2VECTOR, "int2vector", -1, "A", 1006, INT2, "TEXT", "int2vector"),
    _t(INT4, "int4", 4, "N", INT4_ARRAY, "INT", "integer"),
    _t(REGPROC, "regproc", 4, "N", 1008, "INT", "regproc"),
    _t(TEXT, "text", -1, "S", TEXT_ARRAY, "TEXT", "text"),
    _t(OID, "oid", 4, "N", OID_ARRAY, "INT", "oid"),
    _t(XID, "xid", 4, "U", 1011, "INT", "xid"),
    TypeInfo(OIDVECTOR, "oidvector", -1, "A", 1013, OID, "TEXT", "oidvector"),
    _t(JSON, "json", -1, "U", JSON_ARRAY, "TEXT", "json"),
    _t(PG_NODE_TREE, "pg_node_tree", -1, "Z", 0, "TEXT", "pg_node_tree"),
    # ANY, not REAL: a STRICT REAL column refuses the TEXT 'NaN' that stands for a float NaN
    _t(FLOAT4, "float4", 4, "N", FLOAT4_ARRAY, "ANY", "real"),
    _t(FLOAT8, "float8", 8, "N", FLOAT8_ARRAY, "ANY", "double precision"),
    _t(UNKNOWN, "unknown", -2, "X", 0, "TEXT", "unknown"),
    _t(ACLITEM, "aclitem", 12, "U", ACLITEM_ARRAY, "TEXT", "aclitem"),
    _t(BPCHAR, "bpchar", -1, "S", BPCHAR_ARRAY, "TEXT", "character"),
    _t(VARCHAR, "varchar", -1, "S", VARCHAR_ARRAY, "TEXT", "character varying"),
    _t(DATE, "date", 4, "D", DATE_ARRAY, "TEXT", "date"),
    _t(TIME, "time", 8, "D", TIME_ARRAY, "TEXT", "time without time zone"),
    _t(TIMESTAMP, "timestamp", 8, "D", TIMESTAMP_ARRAY, "TEXT", "timestamp without time zone"),
    _t(TIMESTAMPTZ, "timestamptz", 8, "D", TIMESTAMPTZ_ARRAY, "TEXT", "timestamp with time zone"),
    _t(INTERVAL, "interval", 16, "T", INTERVAL_ARRAY, "TEXT", "interval"),
    _t(TIMETZ, "timetz", 12, "D", 1270, "TEXT", "time with time zone"),
    _t(NUMERIC, "numeric", -1, "N", NUMERIC_ARRAY, "TEXT", "numeric"),
    _t(REGCLASS, "regclass", 4, "N", 2210, "INT", "regclass"),
    _t(REGTYPE, "regtype", 4, "N", REGTYPE_ARRAY, "INT", "regtype"),
    _t(REGNAMESPACE, "regnamespace", 4, "N", 4090, "INT", "regnamespace"),
    _t(REGROLE, "regrole", 4, "N", 4097, "INT", "regrole"),
    _t(RECORD, "record", -1, "P", 2287, "TEXT", "record"),
    _t(VOID, "void", 4, "P", 0, "TEXT", "void"),
    _t(UUID, "uuid", 16, "U", UUID_ARRAY, "TEXT", "uuid"),
    _t(JSONB, "jsonb", -1, "U", JSONB_ARRAY, "TEXT", "jsonb"),
    _t(PG_LSN, "pg_lsn", 8, "U", PG_LSN_ARRAY, "INT", "pg_lsn"),
    _t(INET, "inet", -1, "I", INET_ARRAY, "TEXT", "inet"),
    _t(CIDR, "cidr", -1, "I", CIDR_ARRAY, "TEXT", "cidr"),
    _t(BIT, "bit", -1, "V", BIT_ARRAY, "TEXT", "bit"),
    _t(VARBIT, "varbit", -1, "V", VARBIT_ARRAY, "TEXT", "bit varying"),
    _t(INT4RANGE, "int4range", -1, "R", INT4RANGE + 1, "TEXT", "int4range"),
    _t(NUMRANGE, "numrange", -1, "R", NUMRANGE + 1, "TEXT", "numrange"),
    _t(TSRANGE, "tsrange", -1, "R", TSRANGE + 1, "TEXT", "tsrange"),
    _t(TSTZRANGE, "tstzrange", -1, "R", TSTZRANGE + 1, "TEXT", "tstzrange"),
    _t(DATERANGE, "daterange", -1, "R", DATERANGE + 1, "TEXT", "daterange"),
    _t(INT8RANGE, "int8range", -1, "R", INT8RANGE + 1, "TEXT", "int8range"),
]

TYPES: dict[int, TypeInfo] = {t.oid: t for t in _BASE}
for _base in _BASE:
    if _base.array_oid and _base.array_oid not in TYPES:
        TYPES[_base.array_oid] = TypeInfo(
            _base.array_oid,
            "_" + _base.name,
            -1,
            "A",
            0,
            _base.oid,
            "TEXT",
            _base.display + "[]",
        )

ARRAY_OF: dict[int, int] = {t.oid: t.array_oid for t in _BASE if t.array_oid}
_OID_BY_DISPLAY: dict[str, int] = {t.display: t.oid for t in TYPES.values()}  # format_type() name -> oid
ELEMENT_OF: dict[int, int] = {t.oid: t.elem_oid for t in TYPES.values() if t.elem_oid}
# int2vector / oidvector are stored like arrays (JSON) but subscripted from 0 and written "1 2".
VECTORS = (INT2VECTOR, OIDVECTOR)

# Type names as written in SQL (after lower-casing) -> OID.
TYPE_NAMES: dict[str, int] = {
    "bool": BOOL,
    "boolean": BOOL,
    "bytea": BYTEA,
    '"char"': CHAR,
    "name": NAME,
    "int8": INT8,
    "bigint": INT8,
    "bigserial": INT8,
    "serial8": INT8,
    "int2": INT2,
    "smallint": INT2,
    "smallserial": INT2,
    "serial2": INT2,
    "int4": INT4,
    "int": INT4,
    "integer": INT4,
    "serial": INT4,
    "serial4": INT4,
    "text": TEXT,
    "oid": OID,
    "xid": XID,
    "json": JSON,
    "float4": FLOAT4,
    "real": FLOAT4,
    "float8": FLOAT8,
    "float": FLOAT8,
    "double precision": FLOAT8,
    "double": FLOAT8,
    "bpchar": BPCHAR,
    "char": BPCHAR,
    "character": BPCHAR,
    "varchar": VARCHAR,
    "character varying": VARCHAR,
    "date": DATE,
    "time": TIME,
    "time without time zone": TIME,
    "timetz": TIMETZ,
    "time with time zone": TIMETZ,
    "timestamp": TIMESTAMP,
    "timestamp without time zone": TIMESTAMP,
    "timestamptz": TIMESTAMPTZ,
    "timestamp with time zone": TIMESTAMPTZ,
    "interval": INTERVAL,
    "numeric": NUMERIC,
    "decimal": NUMERIC,
    "regclass": REGCLASS,
    "regtype": REGTYPE,
    "regproc": REGPROC,
    "regnamespace": REGNAMESPACE,
    "regrole": REGROLE,
    "uuid": UUID,
    "jsonb": JSONB,
    "bit varying": VARBIT,
    "pg_lsn": PG_LSN,
    "unknown": UNKNOWN,
    "void": VOID,
    "record": RECORD,
}
for _info in list(TYPES.values()):
    TYPE_NAMES.setdefault(_info.name, _info.oid)

INTEGER_TYPES = frozenset({INT2, INT4, INT8, OID, REGCLASS, REGTYPE, REGPROC, XID})
NUMERIC_TYPES = frozenset({INT2, INT4, INT8, FLOAT4, FLOAT8, NUMERIC, OID})
STRING_TYPES = frozenset({TEXT, VARCHAR, BPCHAR, NAME, CHAR, UNKNOWN})


def type_name(oid: int) -> str:
    """typname for an OID (``"int4"``); unknown OIDs print as their number."""
    info = TYPES.get(oid)
    return info.name if info else str(oid)


def type_length(oid: int) -> int:
    info = TYPES.get(oid)
    return info.length if info else -1


def format_type(oid: int, typmod: int = -1) -> str:
    """PostgreSQL's format_type(): ``character varying(10)``, ``numeric(10,2)``, ``integer``."""
    info = TYPES.get(oid)
    if info is None:
        return "???"
    base = info.display
    if typmod < 0:
        return "bpchar" if oid == BPCHAR else base
    if oid in ELEMENT_OF:  # an array's typmod is its element's: character(3)[]
        return format_type(ELEMENT_OF[oid], typmod) + "[]"
    if oid in (BPCHAR, VARCHAR):
        return f"{base}({typmod - 4})"
    if oid in (BIT, VARBIT):
        return f"{base}({typmod})"
    if oid == NUMERIC:
        mod = typmod - 4
        return f"numeric({(mod >> 16) & 0xFFFF},{mod & 0xFFFF})"
    if oid in (TIMESTAMP, TIMESTAMPTZ, TIME, TIMETZ):
        head, _, tail = base.partition(" ")
        return f"{head}({typmod}) {tail}".rstrip()
    return base


def numeric_typmod(precision: int, scale: int = 0) -> int:
    return ((precision << 16) | scale) + 4


def char_typmod(length: int) -> int:
    return length + 4


def regtype_name(oid: int) -> str:
    """regtypeout of a built-in type: its SQL name (bpchar is "character", not "bpchar")."""
    if oid == BPCHAR:
        return "character"
    if oid == UNKNOWN:
        return "unknown"
    return format_type(oid) if oid in TYPES else str(oid)


def regtype_oid(value: Any) -> int:
    """A regtype storage value: an OID, or a type name (pg_typeof() yields the name)."""
    if isinstance(value, str) and not value.isdigit():
        return _OID_BY_DISPLAY.get(value, TYPE_NAMES.get(value, 0))
    return int(value)


FIRST_USER_OID = 16384  # OIDs from here on are user-defined types (enums), stored as their label text
