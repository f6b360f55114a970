"""PostgreSQL types as the translator sees them: (oid, typmod) plus resolution helpers."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp

from compute import pgtypes as T
from compute.sql.api import SqlError

if TYPE_CHECKING:
    from compute.sql.catalog.catalog import Catalog


# The catalog of the statement being translated (set by translator.translate_statement): arrays of
# enum types are arrays too, but their OIDs belong to one database, so they resolve through it.
CURRENT_CATALOG: ContextVar[Catalog | None] = ContextVar("strata_current_catalog", default=None)


def _user_element(oid: int) -> int | None:
    catalog = CURRENT_CATALOG.get() if oid >= 16384 else None
    enum = catalog.enum_of_array(oid) if catalog is not None else None
    return enum.oid if enum is not None else None


def array_of(elem_oid: int, default: int = T.TEXT_ARRAY) -> int:
    """The array type of ``elem_oid`` (built-in, or an enum's array type)."""
    found = T.ARRAY_OF.get(elem_oid)
    if found is not None:
        return found
    catalog = CURRENT_CATALOG.get() if elem_oid >= 16384 else None
    enum = catalog.enum_by_oid(elem_oid) if catalog is not None else None
    return enum.array_oid if enum is not None else default


@dataclass(frozen=True, slots=True)
class Ty:
    oid: int
    typmod: int = -1

    @property
    def is_array(self) -> bool:
        return self.oid in T.ELEMENT_OF or _user_element(self.oid) is not None

    @property
    def element(self) -> Ty:
        found = T.ELEMENT_OF.get(self.oid)
        if found is None:
            found = _user_element(self.oid)
        return Ty(T.TEXT if found is None else found)


UNKNOWN = Ty(T.UNKNOWN)
TEXT = Ty(T.TEXT)
BOOL = Ty(T.BOOL)
INT2 = Ty(T.INT2)
INT4 = Ty(T.INT4)
INT8 = Ty(T.INT8)
FLOAT4 = Ty(T.FLOAT4)
FLOAT8 = Ty(T.FLOAT8)
NUMERIC = Ty(T.NUMERIC)
NAME = Ty(T.NAME)
TIMESTAMPTZ = Ty(T.TIMESTAMPTZ)
TIMESTAMP = Ty(T.TIMESTAMP)
DATE = Ty(T.DATE)
TIME = Ty(T.TIME)
INTERVAL = Ty(T.INTERVAL)
OID = Ty(T.OID)

INTS = (T.INT2, T.INT4, T.INT8)
INT_RANK = {T.INT2: 0, T.INT4: 1, T.INT8: 2}
FLOATS = (T.FLOAT4, T.FLOAT8)
STRINGS = (T.TEXT, T.VARCHAR, T.BPCHAR, T.NAME, T.CHAR)
OIDLIKE = (T.OID, T.REGCLASS, T.REGTYPE, T.REGPROC, T.REGNAMESPACE, T.REGROLE, T.XID)
DATETIMES = (T.DATE, T.TIMESTAMP, T.TIMESTAMPTZ)

_DTYPE_OIDS: dict[str, int] = {
    "INT": T.INT4,
    "SMALLINT": T.INT2,
    "BIGINT": T.INT8,
    "TINYINT": T.INT2,
    "TEXT": T.TEXT,
    "CHAR": T.BPCHAR,
    "BPCHAR": T.BPCHAR,
    "INET": T.INET,
    "BIT": T.BIT,
    "INT4RANGE": T.INT4RANGE,
    "INT8RANGE": T.INT8RANGE,
    "NUMRANGE": T.NUMRANGE,
    "DATERANGE": T.DATERANGE,
    "TSRANGE": T.TSRANGE,
    "TSTZRANGE": T.TSTZRANGE,
    "NCHAR": T.BPCHAR,
    "VARCHAR": T.VARCHAR,
    "NVARCHAR": T.VARCHAR,
    "DECIMAL": T.NUMERIC,
    "TIMESTAMP": T.TIMESTAMP,
    "DATETIME": T.TIMESTAMP,
    "TIMESTAMPTZ": T.TIMESTAMPTZ,
    "BOOLEAN": T.BOOL,
    "DOUBLE": T.FLOAT8,
    "FLOAT": T.FLOAT4,
    "VARBINARY": T.BYTEA,
    "BINARY": T.BYTEA,
    "DATE": T.DATE,
    "TIME": T.TIME,
    "TIMETZ": T.TIMETZ,
    "INTERVAL": T.INTERVAL,
    "UUID": T.UUID,
    "JSON": T.JSON,
    "JSONB": T.JSONB,
    "OID": T.OID,
    "REGCLASS": T.REGCLASS,
    "REGTYPE": T.REGTYPE,
    "REGPROC": T.REGPROC,
    "REGNAMESPACE": T.REGNAMESPACE,
    "REGROLE": T.REGROLE,
    "NAME": T.NAME,
    "SERIAL": T.INT4,
    "BIGSERIAL": T.INT8,
    "SMALLSERIAL": T.INT2,
}

SERIAL_KINDS = {"SERIAL": T.INT4, "BIGSERIAL": T.INT8, "SMALLSERIAL": T.INT2}


def _dtype_name(dt: exp.DataType | exp.Expression) -> str:
    this = dt.this
    if hasattr(this, "name") and not isinstance(this, str):
        return str(this.name)
    text = str(this)
    return text.split(".")[-1].upper()


def _int_param(node: exp.Expression) -> int:
    inner = node.this if isinstance(node, exp.DataTypeParam) else node
    if not isinstance(inner, exp.Literal):  # varchar($1) is a syntax error, not varchar(1)
        raise SqlError("42601", f"invalid type modifier {inner.sql()}")
    try:
        return int(inner.name)
    except (ValueError, AttributeError):
        raise SqlError("42601", f"invalid type modifier {inner.sql()}") from None


def _bit_length(param: exp.Expression) -> int:
    """bit(n) / bit varying(n): the typmod is the length itself."""
    length = _int_param(param)
    if length < 1:
        raise SqlError("22023", "length for type bit must be at least 1")
    return length


def resolve_type(dt: exp.Expression, catalog: Catalog | None = None) -> Ty:
    """A sqlglot DataType (as parsed from PostgreSQL) -> Ty, or 42704 for unknown names.

    With a catalog, the names of its enum types (and their arrays) resolve too."""
    name = _dtype_name(dt)
    params = list(dt.expressions) if isinstance(dt, exp.DataType) else []
    if name == "ARRAY":
        if not params:
            raise SqlError("42601", "array type without element type")
        elem = resolve_type(params[0], catalog)
        if elem.oid in T.ELEMENT_OF:  # int[][] is int[]: an array type has any number of dimensions
            return elem
        enum = catalog.enum_by_oid(elem.oid) if catalog is not None else None
        if enum is not None:
            return Ty(enum.array_oid)
        arr = T.ARRAY_OF.get(elem.oid)
        if arr is None:
            raise SqlError("0A000", f"arrays of type {T.type_name(elem.oid)} are not supported")
        return Ty(arr, elem.typmod)  # an array's typmod is its element's (atttypmod of char(3)[] is 7)
    if name == "USERDEFINED":
        kind = dt.args.get("kind")
        schema = None
        if isinstance(kind, exp.Dot):
            type_name = kind.expression.name
            quoted = bool(kind.expression.args.get("quoted"))
            schema = kind.this.name
        elif kind is not None:
            type_name = kind.name
            quoted = bool(kind.args.get("quoted"))
        else:
            type_name = dt.sql()
            quoted = False
        key = f'"{type_name}"' if quoted and type_name == "char" else type_name.lower()
        oid = T.TYPE_NAMES.get(key)
        if oid is None and catalog is not None:
            # by its key: schema.name outside public, by the search path (translate/schemas.py)
            enum = catalog.enum(catalog.qualify(schema, type_name if quoted else type_name.lower(), "type"))
            oid = enum.oid if enum is not None else None
        if oid is None:
            raise SqlError("42704", f'type "{type_name}" does not exist')
        if oid == T.VARBIT and params:
            return Ty(oid, _bit_length(params[0]))
        return Ty(oid)
    oid = _DTYPE_OIDS.get(name)
    if oid is None:
        raise SqlError("0A000", f"type {dt.sql(dialect='postgres').lower()} is not supported")
    if name == "DOUBLE" and params and _int_param(params[0]) <= 24:
        return FLOAT4
    typmod = -1
    if oid in (T.BPCHAR, T.VARCHAR):
        if params:
            length = _int_param(params[0])
            if length < 1:
                raise SqlError("22023", f"length for type {'char' if oid == T.BPCHAR else 'varchar'} must be at least 1")
            typmod = T.char_typmod(length)
        elif oid == T.BPCHAR and name == "CHAR":
            typmod = T.char_typmod(1)
    elif oid == T.BIT:
        typmod = _bit_length(params[0]) if params else 1
    elif oid == T.NUMERIC and params:
        precision = _int_param(params[0])
        scale = _int_param(params[1]) if len(params) > 1 else 0
        if not 1 <= precision <= 1000:
            raise SqlError("22023", f"NUMERIC precision {precision} must be between 1 and 1000")
        typmod = T.numeric_typmod(precision, scale)
    elif oid in (T.TIMESTAMP, T.TIMESTAMPTZ, T.TIME) and params:
        typmod = _int_param(params[0])
    return Ty(oid, typmod)


TYPMOD_ELEMENTS = (T.BPCHAR, T.VARCHAR, T.NUMERIC, T.BIT, T.VARBIT, T.TIMESTAMP, T.TIMESTAMPTZ, T.TIME)


def array_typmod(t: Ty) -> bool:
    """An array whose element typmod changes stored values (varchar(2)[], numeric(5,2)[]):
    the value needs pg_typmod / pg_cast with the typmod, applied per element."""
    return t.typmod >= 0 and T.ELEMENT_OF.get(t.oid) in TYPMOD_ELEMENTS


def is_serial(dt: exp.Expression) -> bool:
    return _dtype_name(dt) in SERIAL_KINDS


def category(oid: int) -> str:
    info = T.TYPES.get(oid)
    return info.category if info else "U"


def common_type(a: Ty, b: Ty) -> Ty:
    """The type a UNION/CASE/COALESCE of ``a`` and ``b`` resolves to (simplified)."""
    if a.oid == T.UNKNOWN:
        return TEXT if b.oid == T.UNKNOWN else b
    if b.oid == T.UNKNOWN or a == b:
        return a
    if a.oid == b.oid:
        return Ty(a.oid)
    if a.oid >= 16384 or b.oid >= 16384:  # enums match only themselves
        catalog = CURRENT_CATALOG.get()
        name = catalog.format_type if catalog is not None else T.format_type
        raise SqlError("42804", f"types {name(a.oid)} and {name(b.oid)} cannot be matched")
    if a.oid in INTS and b.oid in INTS:
        return a if INT_RANK[a.oid] >= INT_RANK[b.oid] else b
    numeric = (*INTS, T.NUMERIC)
    if a.oid in numeric and b.oid in numeric:
        return NUMERIC
    if a.oid in (*numeric, *FLOATS) and b.oid in (*numeric, *FLOATS):
        return FLOAT8
    if a.oid in STRINGS and b.oid in STRINGS:
        return TEXT
    if {a.oid, b.oid} <= set(DATETIMES):
        return TIMESTAMPTZ if T.TIMESTAMPTZ in (a.oid, b.oid) else TIMESTAMP
    return a
