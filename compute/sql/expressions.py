"""Expression typing and rewriting: PostgreSQL expression -> (SQLite expression, PostgreSQL type).

Every expression is compiled bottom-up. Compiling returns the rewritten sqlglot node (which the
SQLite generator prints) and its PostgreSQL type, so that parent nodes can pick the right
operator implementation (exact numeric UDFs, timestamp arithmetic...), unknown-typed literals
and parameters take their type from context (``col = $1`` makes $1 the column's type), and
result columns carry the right type OIDs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from compute import pgtypes as T
from compute.sql import types as ty
from compute.sql.api import SqlError
from compute.sql.catalog import FIRST_USER_OID, Catalog, EnumType, Table
from compute.sql.enums import check_label
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.query import QueryCompiler


# ------------------------------------------------------------------------------ helpers


def fn(name: str, *args: exp.Expression) -> exp.Expression:
    """A call to an SQLite function/UDF, printed verbatim."""
    return exp.Anonymous(this=name, expressions=list(args))


def lit_int(value: int) -> exp.Expression:
    if value < 0:
        return exp.Paren(this=exp.Literal.number(value))
    return exp.Literal.number(value)


def raw(sql: str) -> exp.Expression:
    """Raw SQLite text (already quoted/safe)."""
    return exp.Var(this=sql)


def storage_literal(value: Any) -> exp.Expression:
    """A Python storage value as an SQLite literal."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Literal.number(1 if value else 0)
    if isinstance(value, int):
        return lit_int(value)
    if isinstance(value, float):
        if value != value:  # SQLite cannot hold a NaN double: floats store NaN as 'NaN'
            return exp.Literal.string("NaN")
        if value in (float("inf"), float("-inf")):
            return raw("9e999" if value > 0 else "(-9e999)")
        text = repr(value)
        return exp.Paren(this=exp.Literal.number(text)) if value < 0 else exp.Literal.number(text)
    if isinstance(value, bytes):
        return raw("X'" + value.hex() + "'")
    return exp.Literal.string(str(value))


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ident(name: str) -> exp.Identifier:
    return exp.Identifier(this=name, quoted=True)


def is_string_literal(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and node.is_string


# ------------------------------------------------------------------------------ scopes


@dataclass
class SourceColumn:
    name: str
    ty: Ty
    table_oid: int = 0
    attnum: int = 0
    sql_name: str | None = None  # the SQLite column name when it differs from ``name``


@dataclass
class Source:
    """A relation visible in a FROM clause."""

    alias: str  # the name PostgreSQL qualifies columns with
    sql_alias: str  # the SQLite name for the same relation
    columns: list[SourceColumn]
    table: Table | None = None
    inline: dict[str, tuple[exp.Expression, Ty]] | None = None  # lateral one-row subselect
    hidden_using: set[str] = field(default_factory=set)
    # USING/NATURAL columns of a FULL or RIGHT join: the unqualified name means the merged value
    merged_using: dict[str, tuple[exp.Expression, Ty]] = field(default_factory=dict)

    def find(self, name: str) -> SourceColumn | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None


@dataclass
class Srf:
    """A set-returning function call in a SELECT list: its rows as a JSON array, joined as ``alias``."""

    alias: str
    array: exp.Expression


@dataclass
class Scope:
    parent: Scope | None = None
    sources: list[Source] = field(default_factory=list)
    ctes: dict[str, tuple[list[SourceColumn], bool]] = field(default_factory=dict)
    outputs: dict[str, Ty] = field(default_factory=dict)  # SELECT aliases (ORDER BY may use them)
    output_types: list[Ty] = field(default_factory=list)  # by position (ORDER BY 2)
    ambiguous_outputs: frozenset[str] = frozenset()  # names of two different SELECT items (42702)
    aggregate_ok: bool = True
    excluded: Source | None = None  # ON CONFLICT ... EXCLUDED
    srfs: list[Srf] | None = None  # set while compiling a SELECT list: where its SRF calls go
    # column order of SELECT * once a USING/NATURAL join reordered it (merged columns first)
    star_order: list[tuple[Source, SourceColumn]] | None = None

    def cte(self, name: str) -> list[SourceColumn] | None:
        scope: Scope | None = self
        while scope is not None:
            found = scope.ctes.get(name)
            if found is not None:
                return found[0]
            scope = scope.parent
        return None


@dataclass
class Params:
    """Parameter types inferred so far ($n -> oid, 0 = not yet known)."""

    types: dict[int, int] = field(default_factory=dict)
    fixed: dict[int, int] = field(default_factory=dict)  # types the client declared in Parse

    def note(self, n: int) -> Ty:
        if n in self.fixed and self.fixed[n]:
            self.types[n] = self.fixed[n]
        oid = self.types.setdefault(n, 0)
        return Ty(oid) if oid else ty.UNKNOWN

    def assign(self, n: int, t: Ty) -> None:
        if not self.types.get(n) and t.oid != T.UNKNOWN:
            self.types[n] = t.oid

    def oids(self) -> tuple[int, ...]:
        if not self.types:
            return ()
        count = max(self.types)
        return tuple(self.types.get(i, 0) or T.TEXT for i in range(1, count + 1))


# ------------------------------------------------------------------------------ functions

Handler = Callable[["ExprCompiler", list[exp.Expression], list[Ty], exp.Expression, Scope], tuple[exp.Expression, Ty]]
FUNCTIONS: dict[str, Handler] = {}


def register(*names: str) -> Callable[[Handler], Handler]:
    def deco(func: Handler) -> Handler:
        for name in names:
            FUNCTIONS[name] = func
        return func

    return deco


def _simple(sqlite_name: str, result: Ty | Callable[[list[Ty]], Ty], *names: str, write: bool = False,
            off_loop: bool = False) -> None:
    def handler(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: Scope) -> tuple[exp.Expression, Ty]:
        if off_loop:
            c.state.off_loop = True
        if write:
            c.state.is_write = True
            c.state.write_command = c.state.write_command or f"{node.name.lower()}()"
        rt = result(types) if callable(result) else result
        return fn(sqlite_name, *args), rt

    for name in names:
        FUNCTIONS[name] = handler


def _first(types: list[Ty]) -> Ty:
    return ty.TEXT if not types or types[0].oid == T.UNKNOWN else Ty(types[0].oid)


_simple("pg_now", ty.TIMESTAMPTZ, "now", "transaction_timestamp")
_simple("pg_statement_timestamp", ty.TIMESTAMPTZ, "statement_timestamp")
_simple("pg_clock_timestamp", ty.TIMESTAMPTZ, "clock_timestamp")
_simple("version", ty.TEXT, "version")
_simple("current_database", ty.NAME, "current_database")
_simple("pg_backend_pid", ty.INT4, "pg_backend_pid")
_simple("inet_server_port", ty.INT4, "inet_server_port")
_simple("current_schemas", Ty(T.NAME_ARRAY), "current_schemas")
_simple("gen_random_uuid", Ty(T.UUID), "gen_random_uuid", "uuid_generate_v4")
_simple("pg_random", ty.FLOAT8, "random")
_simple("pg_format_type", ty.TEXT, "format_type")
_simple("pg_encoding_to_char", ty.NAME, "pg_encoding_to_char")
_simple("pg_get_userbyid", ty.NAME, "pg_get_userbyid")
_simple("pg_table_is_visible", ty.BOOL, "pg_table_is_visible", "pg_type_is_visible", "pg_function_is_visible")
_simple("pg_true", ty.BOOL, "has_table_privilege", "has_schema_privilege", "has_database_privilege",
        "has_column_privilege", "has_sequence_privilege", "has_function_privilege", "pg_has_role")
_simple("pg_get_expr", ty.TEXT, "pg_get_expr")
_simple("pg_get_indexdef", ty.TEXT, "pg_get_indexdef")
_simple("pg_get_constraintdef", ty.TEXT, "pg_get_constraintdef")
_simple("pg_get_serial_sequence", ty.TEXT, "pg_get_serial_sequence")
_simple("pg_null", ty.TEXT, "obj_description", "col_description", "shobj_description", "pg_get_viewdef",
        "pg_get_triggerdef", "pg_get_statisticsobjdef_columns", "pg_get_partkeydef", "pg_get_function_arguments",
        "pg_get_function_result")
_simple("pg_lower", ty.TEXT, "lower")
_simple("pg_upper", ty.TEXT, "upper")
_simple("pg_initcap", ty.TEXT, "initcap")
_simple("pg_concat", ty.TEXT, "concat")
_simple("pg_concat_ws", ty.TEXT, "concat_ws")
_simple("pg_md5", ty.TEXT, "md5")
_simple("pg_left", ty.TEXT, "left")
_simple("pg_right", ty.TEXT, "right")
_simple("pg_repeat", ty.TEXT, "repeat")
_simple("pg_lpad", ty.TEXT, "lpad")
_simple("pg_rpad", ty.TEXT, "rpad")
_simple("pg_split_part", ty.TEXT, "split_part")
_simple("pg_strpos", ty.INT4, "strpos")
_simple("pg_reverse", ty.TEXT, "reverse")
_simple("pg_chr", ty.TEXT, "chr")
_simple("pg_ascii", ty.INT4, "ascii")
_simple("pg_to_hex", ty.TEXT, "to_hex")
_simple("pg_btrim", ty.TEXT, "btrim")
_simple("pg_ltrim", ty.TEXT, "ltrim")
_simple("pg_rtrim", ty.TEXT, "rtrim")
_simple("replace", ty.TEXT, "replace")
_simple("pg_translate", ty.TEXT, "translate")
_simple("pg_quote_ident", ty.TEXT, "quote_ident")
_simple("pg_quote_literal", ty.TEXT, "quote_literal")
_simple("pg_octet_length", ty.INT4, "octet_length")
_simple("pg_regexp_replace", ty.TEXT, "regexp_replace")
_simple("array_position", ty.INT4, "array_position")
_simple("pg_array_length", ty.INT4, "array_length")
_simple("pg_cardinality", ty.INT4, "cardinality")


@register("array_to_string")
def _array_to_string(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                     scope: Scope) -> tuple[exp.Expression, Ty]:
    """Elements print as their type's text output (t/f, JSON, \\x hex), as array_out does."""
    if len(args) not in (2, 3):
        raise SqlError("42883", f"function array_to_string({', '.join(_type_names(types))}) does not exist")
    elem = types[0].element if types[0].is_array else ty.TEXT
    rest = [c.coerce(a, t, ty.TEXT) for a, t in zip(args[1:], types[1:], strict=True)]
    if len(rest) == 1:
        rest.append(exp.Null())
    return fn("pg_array_to_string", args[0], *rest, lit_int(elem.oid)), ty.TEXT

_simple("pg_string_to_array", Ty(T.TEXT_ARRAY), "string_to_array")
_simple("pg_array_append", _first, "array_append")
_simple("pg_array_cat", _first, "array_cat")
_simple("current_setting", ty.TEXT, "current_setting")
_simple("set_config", ty.TEXT, "set_config")
_simple("nextval", ty.INT8, "nextval", write=True)
_simple("setval", ty.INT8, "setval", write=True)
_simple("currval", ty.INT8, "currval")
_simple("lastval", ty.INT8, "lastval")
_simple("pg_sleep", Ty(T.VOID), "pg_sleep", off_loop=True)  # waits: never on the event loop
_simple("pg_random_bytes", Ty(T.BYTEA), "gen_random_bytes")
_simple("pg_age", ty.INTERVAL, "age")
_simple("pi", ty.FLOAT8, "pi")
_simple("sin", ty.FLOAT8, "sin")
_simple("cos", ty.FLOAT8, "cos")
_simple("tan", ty.FLOAT8, "tan")
_simple("atan", ty.FLOAT8, "atan")
_simple("atan2", ty.FLOAT8, "atan2")
_simple("pg_session_user", ty.NAME, "pg_session_user")
# the node's role and log positions (compute/sql/node_functions.py)
_simple("pg_is_in_recovery", ty.BOOL, "pg_is_in_recovery")
_simple("pg_current_wal_lsn", Ty(T.PG_LSN), "pg_current_wal_lsn")
_simple("pg_current_wal_insert_lsn", Ty(T.PG_LSN), "pg_current_wal_insert_lsn")
_simple("pg_current_wal_flush_lsn", Ty(T.PG_LSN), "pg_current_wal_flush_lsn")
_simple("pg_last_wal_replay_lsn", Ty(T.PG_LSN), "pg_last_wal_replay_lsn")
_simple("pg_last_wal_receive_lsn", Ty(T.PG_LSN), "pg_last_wal_receive_lsn")
_simple("pg_last_xact_replay_timestamp", ty.TIMESTAMPTZ, "pg_last_xact_replay_timestamp")
_simple("strata_node_status", Ty(T.JSON), "strata_node_status")


@register("pg_wal_lsn_diff")
def _wal_lsn_diff(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                  scope: Scope) -> tuple[exp.Expression, Ty]:
    lsn = Ty(T.PG_LSN)
    if len(args) != 2 or any(t.oid not in (T.PG_LSN, T.UNKNOWN) for t in types):
        names = ", ".join(c.state.catalog.format_type(t.oid) for t in types)
        raise SqlError("42883", f"function pg_wal_lsn_diff({names}) does not exist",
                       hint="No function matches the given name and argument types. You might need to "
                            "add explicit type casts.")
    left, right = (c.coerce(a, t, lsn) for a, t in zip(args, types, strict=True))
    return exp.Cast(this=exp.Paren(this=exp.Sub(this=left, expression=right)),
                    to=exp.DataType.build("TEXT")), ty.NUMERIC


@register("pg_promote")
def _promote(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
             scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) > 2:
        raise SqlError("42883", "function pg_promote() does not exist with more than 2 arguments")
    wanted = (ty.BOOL, ty.INT4)
    coerced = [c.coerce(a, t, w) for a, t, w in zip(args, types, wanted, strict=False)]
    c.state.off_loop = True  # blocks until the node is primary: never on the event loop
    return fn("pg_promote", *coerced), ty.BOOL


@register("count")
def _count(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
           scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("count", *args), ty.INT8


@register("sum")
def _sum(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    t = types[0] if types else ty.INT4
    if t.oid in (T.INT2, T.INT4):
        return fn("sum", *args), ty.INT8
    if t.oid in (T.INT8, T.NUMERIC):
        return fn("pg_num_sum", *args), ty.NUMERIC
    if t.oid in ty.FLOATS:
        return fn("sum", *args), Ty(t.oid)
    if t.oid == T.INTERVAL:
        return fn("pg_interval_sum", *args), ty.INTERVAL
    if t.oid == T.UNKNOWN:
        raise SqlError("42725", "function sum(unknown) is not unique")
    raise SqlError("42883", f"function sum({T.format_type(t.oid)}) does not exist")


@register("avg")
def _avg(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    t = types[0] if types else ty.INT4
    if t.oid in ty.FLOATS:
        return fn("avg", *args), ty.FLOAT8
    if t.oid in (*ty.INTS, T.NUMERIC):
        return fn("pg_avg", *args), ty.NUMERIC
    if t.oid == T.INTERVAL:
        return fn("pg_interval_avg", *args), ty.INTERVAL
    raise SqlError("42883", f"function avg({T.format_type(t.oid)}) does not exist")


@register("min", "max")
def _minmax(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
            scope: Scope) -> tuple[exp.Expression, Ty]:
    name = node.name.lower() if isinstance(node, exp.Anonymous) else "min"
    enum = c.state.catalog.enum_by_oid(types[0].oid) if types else None
    if enum is not None and len(args) == 1:  # by the labels' order, not alphabetically
        key, oid = exp.Literal.string(enum.key_json), lit_int(enum.oid)
        return fn("pg_enum_label", fn(name, fn("pg_enum_ord", args[0], key, oid)), key, oid), types[0]
    return fn(name, *args), _first(types)


@register("enum_first", "enum_last", "enum_range")
def _enum_function(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                   scope: Scope) -> tuple[exp.Expression, Ty]:
    name = node.name.lower()
    catalog = c.state.catalog
    enum = next((e for e in (catalog.enum_by_oid(t.oid) for t in types) if e is not None), None)
    if len(args) != (2 if name == "enum_range" and len(args) == 2 else 1) or enum is None:
        if len(args) == 2 and all(t.oid == T.UNKNOWN for t in types):
            raise SqlError("42804", "could not determine polymorphic type because input has type unknown")
        arg_names = ", ".join(catalog.format_type(t.oid) if t.oid != T.UNKNOWN else "unknown" for t in types)
        raise SqlError("42883", f"function {name}({arg_names}) does not exist",
                       hint="No function matches the given name and argument types. You might need to add "
                            "explicit type casts.")
    labels = exp.Literal.string(enum.key_json)
    if name != "enum_range":
        if not enum.labels:
            raise SqlError("55000", f"enum {enum.name} contains no values")
        return exp.Literal.string(enum.labels[0] if name == "enum_first" else enum.labels[-1]), Ty(enum.oid)
    if len(args) == 1:
        return fn("pg_enum_range", labels), Ty(enum.array_oid)
    low = c.coerce(args[0], types[0], Ty(enum.oid))
    high = c.coerce(args[1], types[1], Ty(enum.oid))
    if types[0].oid not in (enum.oid, T.UNKNOWN) or types[1].oid not in (enum.oid, T.UNKNOWN):
        raise SqlError("42883", f"function enum_range({catalog.format_type(types[0].oid)}, "
                                f"{catalog.format_type(types[1].oid)}) does not exist")
    return fn("pg_enum_range", labels, low, high), Ty(enum.array_oid)


@register("bool_and", "every")
def _bool_and(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("min", *args), ty.BOOL


@register("bool_or")
def _bool_or(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
             scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("max", *args), ty.BOOL


@register("array_agg")
def _array_agg(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
               scope: Scope) -> tuple[exp.Expression, Ty]:
    elem = _first(types)
    if elem.is_array:
        raise SqlError("0A000", "multidimensional arrays are not supported")
    arr = ty.array_of(elem.oid)
    if elem.oid in (T.JSON, T.JSONB, T.BYTEA) and args:  # stored as ARRAY[...] stores elements
        args = [c.json_arg(args[0], elem), *args[1:]]
    return fn("json_group_array", *args), Ty(arr)


@register("coalesce")
def _coalesce(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: Scope) -> tuple[exp.Expression, Ty]:
    result = ty.UNKNOWN
    for t in types:
        if t.oid != T.UNKNOWN:  # unknown literals/NULLs take the type of the others
            result = ty.common_type(result, t)
    coerced = [c.coerce(a, t, result) for a, t in zip(args, types, strict=True)]
    if len(coerced) == 1:
        return coerced[0], result
    return fn("coalesce", *coerced), result if result.oid != T.UNKNOWN else ty.TEXT


@register("nullif")
def _nullif(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
            scope: Scope) -> tuple[exp.Expression, Ty]:
    result = ty.common_type(types[0], types[1])
    return fn("nullif", *(c.coerce(a, t, result) for a, t in zip(args, types, strict=True))), result


@register("greatest", "least")
def _greatest(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: Scope) -> tuple[exp.Expression, Ty]:
    result = ty.UNKNOWN
    for t in types:
        if t.oid != T.UNKNOWN:
            result = ty.common_type(result, t)
    if result.oid == T.UNKNOWN:
        result = ty.TEXT
    coerced = [c.coerce(a, t, result) for a, t in zip(args, types, strict=True)]
    agg = "max" if node.name.lower() == "greatest" else "min"
    # PostgreSQL ignores NULLs; SQLite's multi-argument max/min returns NULL if any is NULL.
    if result.oid == T.NUMERIC:  # numerics are text: compare with the pgnumeric collation
        values = ", ".join(f"(CAST(({c.sql(a)}) AS TEXT))" for a in coerced)
        return raw(f"(SELECT {agg}(column1 COLLATE pgnumeric) FROM (VALUES {values}))"), result
    enum = c.state.catalog.enum_by_oid(result.oid)
    if enum is not None:  # by the labels' order
        values = ", ".join(f"({c.sql(c.sort_key(a, result))})" for a in coerced)
        key = c.sql(exp.Literal.string(enum.key_json))
        return raw(f"pg_enum_label((SELECT {agg}(column1) FROM (VALUES {values})), {key}, {enum.oid})"), result
    values = ", ".join(f"({c.sql(a)})" for a in coerced)
    return raw(f"(SELECT {agg}(column1) FROM (VALUES {values}))"), result


@register("length", "char_length", "character_length")
def _length(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
            scope: Scope) -> tuple[exp.Expression, Ty]:
    if types and types[0].oid == T.BPCHAR:
        return fn("length", fn("rtrim", args[0], exp.Literal.string(" "))), ty.INT4
    return fn("length", *args), ty.INT4


@register("abs")
def _abs(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    if types[0].oid == T.NUMERIC:
        return fn("pg_num_abs", args[0]), ty.NUMERIC
    if types[0].oid in ty.INTS:
        return fn("pg_check_int", fn("abs", args[0]), lit_int(types[0].oid)), _first(types)
    return fn("abs", args[0]), _first(types)


@register("round", "trunc")
def _round(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
           scope: Scope) -> tuple[exp.Expression, Ty]:
    name = node.name.lower()
    if types[0].oid in (*ty.FLOATS, *ty.INTS, T.UNKNOWN) and len(args) == 1:
        args, _ = _numeric_or_float(c, args, types)
        if name == "round":
            return fn("pg_frint", args[0]), ty.FLOAT8
        return fn("trunc", args[0]), ty.FLOAT8
    return fn("pg_" + name, *args), ty.NUMERIC


@register("floor", "ceil", "ceiling")
def _floor(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
           scope: Scope) -> tuple[exp.Expression, Ty]:
    name = "floor" if node.name.lower() == "floor" else "ceil"
    coerced, numeric = _numeric_or_float(c, args, types)
    if numeric:
        return fn(f"pg_num_{name}", coerced[0]), ty.NUMERIC
    return fn(name, coerced[0]), ty.FLOAT8


@register("mod")
def _mod(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    return c.arith("%", args[0], types[0], args[1], types[1])


@register("div")
def _div(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("pg_trunc", fn("pg_num_div", args[0], args[1])), ty.NUMERIC


def _numeric_or_float(c: ExprCompiler, args: list[exp.Expression], types: list[Ty]
                      ) -> tuple[list[exp.Expression], bool]:
    """Math functions exist for numeric and float8; an integer or float argument picks float8
    (the preferred type), a numeric or unknown one numeric, as PostgreSQL resolves them."""
    numeric = any(t.oid == T.NUMERIC for t in types) and not any(t.oid in ty.FLOATS for t in types)
    target = ty.NUMERIC if numeric else ty.FLOAT8
    if all(t.oid == T.UNKNOWN for t in types):
        target, numeric = ty.FLOAT8, False
    return [c.coerce(a, t, target) for a, t in zip(args, types, strict=True)], numeric


@register("sqrt", "exp", "ln", "log10")
def _transcendental(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: Scope) -> tuple[exp.Expression, Ty]:
    name = node.name.lower()
    coerced, numeric = _numeric_or_float(c, args, types)
    if numeric:
        return fn(f"pg_num_{name}", *coerced), ty.NUMERIC
    return fn(f"pg_f{name}", *coerced), ty.FLOAT8


@register("log")
def _log(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) == 1:
        coerced, numeric = _numeric_or_float(c, args, types)
        if numeric:
            return fn("pg_num_log10", *coerced), ty.NUMERIC
        return fn("pg_flog10", *coerced), ty.FLOAT8
    # log(b, x) exists only for numeric
    coerced = [c.coerce(a, t, ty.NUMERIC) for a, t in zip(args, types, strict=True)]
    return fn("pg_num_log", *coerced), ty.NUMERIC


@register("power", "pow")
def _power(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
           scope: Scope) -> tuple[exp.Expression, Ty]:
    coerced, numeric = _numeric_or_float(c, args, types)
    if numeric:
        return fn("pg_num_power", *coerced), ty.NUMERIC
    return fn("pg_fpower", *coerced), ty.FLOAT8


@register("sign")
def _sign(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
          scope: Scope) -> tuple[exp.Expression, Ty]:
    coerced, numeric = _numeric_or_float(c, args, types)
    if numeric:
        return fn("sign", fn("pg_num_cmp", coerced[0], exp.Literal.string("0"))), ty.NUMERIC
    return fn("sign", coerced[0]), ty.FLOAT8


@register("substr")
def _substr(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
            scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("substr", *args), Ty(T.BYTEA) if types and types[0].oid == T.BYTEA else ty.TEXT


@register("current_schema")
def _current_schema(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: Scope) -> tuple[exp.Expression, Ty]:
    return exp.Literal.string("public"), ty.NAME


@register("current_user", "session_user", "user", "current_role")
def _current_user(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                  scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("pg_session_user"), ty.NAME


@register("pg_typeof")
def _typeof(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
            scope: Scope) -> tuple[exp.Expression, Ty]:
    t = types[0] if types else ty.UNKNOWN
    if t.oid < FIRST_USER_OID:  # a regtype value is the type's OID (pg_typeof(1)::oid is 23)
        return lit_int(t.oid), Ty(T.REGTYPE)
    return exp.Literal.string(c.state.catalog.format_type(t.oid)), Ty(T.REGTYPE)  # an enum: its name


@register("date_trunc")
def _date_trunc(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: Scope) -> tuple[exp.Expression, Ty]:
    value, vt = args[1], types[1]
    if vt.oid == T.UNKNOWN:
        value, vt = c.coerce(value, vt, ty.TIMESTAMPTZ), ty.TIMESTAMPTZ
    if vt.oid == T.DATE:
        value, vt = c.coerce(value, vt, ty.TIMESTAMPTZ), ty.TIMESTAMPTZ
    return fn("pg_date_trunc", args[0], value, lit_int(vt.oid)), Ty(vt.oid)


@register("__grouping_null")
def _grouping_null(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                   scope: Scope) -> tuple[exp.Expression, Ty]:
    """A grouping column outside the current grouping set (grouping_sets.py): NULL of its type."""
    return exp.Null(), types[0]


@register("current_timestamp", "localtimestamp", "current_time", "localtime")
def _now_precision(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                   scope: Scope) -> tuple[exp.Expression, Ty]:
    """current_timestamp(p) and friends: the transaction time rounded to p fractional digits."""
    name = node.name.lower()
    base, result = {"current_timestamp": ("pg_now", ty.TIMESTAMPTZ), "localtimestamp": ("pg_localtimestamp", ty.TIMESTAMP),
                    "current_time": ("pg_current_time", ty.TIME), "localtime": ("pg_current_time", ty.TIME)}[name]
    if len(args) != 1 or not isinstance(args[0], exp.Literal) or args[0].is_string:
        raise SqlError("42601", f"syntax error at or near \"{name}\"")
    precision = min(int(args[0].this), 6)
    return fn("pg_typmod", fn(base), lit_int(result.oid), lit_int(precision)), result


@register("timezone")
def _timezone(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", f"function timezone({', '.join(_type_names(types))}) does not exist")
    return c.at_time_zone(args[1], types[1], c.coerce(args[0], types[0], ty.TEXT))


@register("date_part")
def _date_part(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
               scope: Scope) -> tuple[exp.Expression, Ty]:
    value, vt = args[1], types[1]
    if vt.oid == T.UNKNOWN:
        value, vt = c.coerce(value, vt, ty.TIMESTAMPTZ), ty.TIMESTAMPTZ
    return fn("pg_cast", fn("pg_extract", args[0], value, lit_int(vt.oid)), lit_int(T.NUMERIC),
              lit_int(T.FLOAT8)), ty.FLOAT8


@register("to_char")
def _to_char(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
             scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", f"function to_char({', '.join(_type_names(types))}) does not exist")
    if types[0].oid == T.UNKNOWN:
        raise SqlError("42725", f"function to_char({', '.join(_type_names(types))}) is not unique",
                       hint="Could not choose a best candidate function. You might need to add explicit type casts.")
    if types[0].oid not in _TO_CHAR_TYPES:
        raise SqlError("42883", f"function to_char({', '.join(_type_names(types))}) does not exist",
                       hint="No function matches the given name and argument types. "
                            "You might need to add explicit type casts.")
    return fn("pg_to_char", args[0], args[1], lit_int(types[0].oid)), ty.TEXT


# to_char's input types (time arrives as an interval, int2 as int4, like PostgreSQL's casts)
_TO_CHAR_TYPES = frozenset({T.INT2, T.INT4, T.INT8, T.NUMERIC, T.FLOAT4, T.FLOAT8, T.DATE, T.TIME,
                            T.TIMESTAMP, T.TIMESTAMPTZ, T.INTERVAL})


@register("to_timestamp")
def _to_timestamp(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                  scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 1:
        raise SqlError("0A000", "to_timestamp(text, text) is not supported")
    seconds = fn("pg_cast", args[0], lit_int(types[0].oid), lit_int(T.FLOAT8))
    return fn("pg_cast", fn("strftime", exp.Literal.string("%Y-%m-%d %H:%M:%f+00"), seconds,
                            exp.Literal.string("unixepoch")), lit_int(T.TEXT), lit_int(T.TIMESTAMPTZ)), ty.TIMESTAMPTZ


@register("make_date")
def _make_date(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
               scope: Scope) -> tuple[exp.Expression, Ty]:
    text = fn("printf", exp.Literal.string("%04d-%02d-%02d"), *args)
    return fn("pg_cast", text, lit_int(T.TEXT), lit_int(T.DATE)), ty.DATE


@register("string_agg")
def _string_agg(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("string_agg", *args), ty.TEXT


@register("row_number", "rank", "dense_rank", "ntile")
def _rank(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
          scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn(node.name.lower(), *args), ty.INT8 if node.name.lower() != "ntile" else ty.INT4


@register("percent_rank", "cume_dist")
def _pct(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn(node.name.lower(), *args), ty.FLOAT8


@register("lag", "lead", "first_value", "last_value", "nth_value")
def _lag(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn(node.name.lower(), *args), _first(types)


@register("num_nonnulls", "num_nulls")
def _num_nulls(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
               scope: Scope) -> tuple[exp.Expression, Ty]:
    test = "IS NOT NULL" if node.name.lower() == "num_nonnulls" else "IS NULL"
    parts = " + ".join(f"(({c.sql(a)}) {test})" for a in args) or "0"
    return raw(f"({parts})"), ty.INT4


@register("jsonb_typeof", "json_typeof")
def _json_typeof(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                 scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("pg_json_typeof", c.coerce(args[0], types[0], Ty(T.JSONB))), ty.TEXT


def _jsonb_arg(c: ExprCompiler, arg: exp.Expression, t: Ty) -> exp.Expression:
    return c.coerce(arg, t, Ty(T.JSONB)) if t.oid not in (T.JSON, T.JSONB) else arg


@register("jsonb_set")
def _jsonb_set(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
               scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) not in (3, 4):
        raise SqlError("42883", "function jsonb_set with these arguments does not exist")
    rest = [c.coerce(args[3], types[3], ty.BOOL)] if len(args) == 4 else []
    return fn("pg_jsonb_set", _jsonb_arg(c, args[0], types[0]), c.coerce(args[1], types[1], Ty(T.TEXT_ARRAY)),
              _jsonb_arg(c, args[2], types[2]), *rest), Ty(T.JSONB)


@register("jsonb_strip_nulls")
def _jsonb_strip_nulls(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                       scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("pg_jsonb_strip_nulls", _jsonb_arg(c, args[0], types[0])), Ty(T.JSONB)


@register("jsonb_array_length", "json_array_length")
def _jsonb_array_length(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                        scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("pg_jsonb_array_length", _jsonb_arg(c, args[0], types[0])), ty.INT4


@register("json_build_object", "jsonb_build_object")
def _json_build_object(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                       scope: Scope) -> tuple[exp.Expression, Ty]:
    converted = [c.json_arg(a, t) for a, t in zip(args, types, strict=True)]
    result = fn("json_object", *converted)
    if node.name.lower().startswith("jsonb"):
        return fn("pg_cast", result, lit_int(T.JSON), lit_int(T.JSONB)), Ty(T.JSONB)
    if len(args) % 2:
        raise SqlError("22023", "argument list must have even number of elements",
                       hint="The arguments of json_build_object() must consist of alternating keys and values.")
    # json keeps PostgreSQL's layout: {"k" : 2, "l" : "x"}
    pairs = [f"json_quote(CAST(({c.sql(c.to_text(args[i], types[i]))}) AS TEXT)) || ' : ' || "
             f"coalesce(json_quote({c.sql(converted[i + 1])}), 'null')" for i in range(0, len(args), 2)]
    return raw("('{' || " + " || ', ' || ".join(pairs) + " || '}')" if pairs else "'{}'"), Ty(T.JSON)


@register("json_build_array", "jsonb_build_array")
def _json_build_array(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                      scope: Scope) -> tuple[exp.Expression, Ty]:
    converted = [c.json_arg(a, t) for a, t in zip(args, types, strict=True)]
    if node.name.lower().startswith("jsonb"):
        return fn("pg_cast", fn("json_array", *converted), lit_int(T.JSON), lit_int(T.JSONB)), Ty(T.JSONB)
    items = [f"coalesce(json_quote({c.sql(v)}), 'null')" for v in converted]  # json layout: [1, "a"]
    return raw("('[' || " + " || ', ' || ".join(items) + " || ']')" if items else "'[]'"), Ty(T.JSON)


@register("json_agg", "jsonb_agg")
def _json_agg(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: Scope) -> tuple[exp.Expression, Ty]:
    oid = T.JSONB if node.name.lower().startswith("jsonb") else T.JSON
    # stays a bare aggregate call so json_agg(x ORDER BY y) keeps working; json_quote makes every
    # element JSON text (a string quoted, JSON as it is, NULL as null) for the Python aggregate
    name = "pg_jsonb_agg" if oid == T.JSONB else "pg_json_agg"
    if types[0].oid in (T.JSON, T.JSONB):  # already JSON text, in its own layout
        return fn(name, args[0]), Ty(oid)
    return fn(name, fn("json_quote", c.json_arg(args[0], types[0]))), Ty(oid)


@register("to_json", "to_jsonb", "row_to_json")
def _to_json(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
             scope: Scope) -> tuple[exp.Expression, Ty]:
    name = node.name.lower()
    oid = T.JSONB if name.endswith("jsonb") else T.JSON
    if name == "row_to_json" and (len(args) != 1 or types[0].oid != T.RECORD):
        raise SqlError("42883", f"function row_to_json({', '.join(_type_names(types))}) does not exist")
    if types[0].oid == T.RECORD:  # a row: its JSON object (see row())
        value = _record_json(c, args[0])
        return (fn("pg_cast", value, lit_int(T.JSON), lit_int(T.JSONB)), Ty(oid)) if oid == T.JSONB else (value, Ty(oid))
    value = fn("json_quote", c.json_arg(args[0], types[0]))
    if oid == T.JSONB:
        value = fn("pg_cast", value, lit_int(T.JSON), lit_int(T.JSONB))
    # a NULL argument gives NULL, not the JSON null json_quote makes of it
    return raw(f"(CASE WHEN ({c.sql(args[0])}) IS NULL THEN NULL ELSE {c.sql(value)} END)"), Ty(oid)


def _record_json(c: ExprCompiler, value: exp.Expression) -> exp.Expression:
    """A record as its JSON object: row() values already are; a (a, b) tuple gets f1, f2..."""
    if isinstance(value, exp.Tuple):
        pairs: list[exp.Expression] = []
        for i, item in enumerate(value.expressions):
            pairs += [exp.Literal.string(f"f{i + 1}"), item]
        return fn("json_object", *pairs)
    return value


@register("row")
def _row(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    """ROW(a, b): a record, kept as the JSON object {"f1": a, "f2": b} (row_to_json prints it;
    its text output is PostgreSQL's record form "(a,b)", made by the record encoder)."""
    pairs: list[exp.Expression] = []
    for i, (arg, t) in enumerate(zip(args, types, strict=True)):
        pairs += [exp.Literal.string(f"f{i + 1}"), c.json_arg(arg, t)]
    return fn("json_object", *pairs), Ty(T.RECORD)


# JSON set-returning functions: row type, and the column name PostgreSQL gives them in FROM
JSON_SRFS: dict[str, tuple[int, str]] = {
    "jsonb_array_elements": (T.JSONB, "value"), "jsonb_array_elements_text": (T.TEXT, "value"),
    "jsonb_object_keys": (T.TEXT, "jsonb_object_keys"),
    "json_array_elements": (T.JSON, "value"), "json_array_elements_text": (T.TEXT, "value"),
    "json_object_keys": (T.TEXT, "json_object_keys"),
}
SET_RETURNING = ("generate_series", "unnest", "generate_subscripts", "regexp_matches", *JSON_SRFS)


def srf_array(c: ExprCompiler, name: str, args: list[exp.Expression],
              types: list[Ty]) -> tuple[exp.Expression, Ty]:
    """unnest / generate_series / generate_subscripts: (JSON array of the rows, row type).

    The rows are then read with SQLite's json_each(), in FROM or joined for a SELECT list."""
    if name == "unnest":
        if len(args) != 1:
            raise SqlError("42883", f"function unnest({', '.join(_type_names(types))}) does not exist")
        arr, at = args[0], types[0]
        if at.oid == T.UNKNOWN:
            if is_string_literal(arr):
                raise SqlError("42725", "function unnest(unknown) is not unique",
                               hint="Could not choose a best candidate function. You might need to add explicit "
                                    "type casts.")
            arr, at = c.coerce(arr, at, Ty(T.TEXT_ARRAY)), Ty(T.TEXT_ARRAY)
        if not at.is_array:
            raise SqlError("42883", f"function unnest({T.format_type(at.oid)}) does not exist",
                           hint="No function matches the given name and argument types. You might need to add "
                                "explicit type casts.")
        return arr, at.element
    if name == "regexp_matches":
        if len(args) not in (2, 3):
            raise SqlError("42883", f"function regexp_matches({', '.join(_type_names(types))}) does not exist")
        texts = [c.coerce(a, t, ty.TEXT) for a, t in zip(args, types, strict=True)]
        return fn("pg_regexp_matches_json", *texts), Ty(T.TEXT_ARRAY)
    if name in JSON_SRFS:
        if len(args) != 1:
            raise SqlError("42883", f"function {name}({', '.join(_type_names(types))}) does not exist")
        doc_type = Ty(T.JSONB) if name.startswith("jsonb") else Ty(T.JSON)
        if types[0].oid not in (T.JSON, T.JSONB, T.UNKNOWN):
            raise SqlError("42883", f"function {name}({', '.join(_type_names(types))}) does not exist",
                           hint="No function matches the given name and argument types. You might need to add "
                                "explicit type casts.")
        doc = c.coerce(args[0], types[0], doc_type)
        return fn("pg_json_srf", doc, exp.Literal.string(name)), Ty(JSON_SRFS[name][0])
    if name == "generate_subscripts":
        if len(args) not in (2, 3) or not types[0].is_array and types[0].oid != T.UNKNOWN:
            raise SqlError("42883", f"function generate_subscripts({', '.join(_type_names(types))}) does not exist")
        dim = c.coerce(args[1], types[1], ty.INT4)
        reverse = c.coerce(args[2], types[2], ty.BOOL) if len(args) == 3 else lit_int(0)
        lower = lit_int(0 if types[0].oid in T.VECTORS else 1)
        return fn("pg_subscripts_json", args[0], dim, lower, reverse), ty.INT4
    if len(args) not in (2, 3):
        raise SqlError("42883", f"function generate_series({', '.join(_type_names(types))}) does not exist")
    datetimes = (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE)
    if any(t.oid in datetimes for t in types[:2]) or (len(types) == 3 and types[2].oid == T.INTERVAL):
        if len(args) != 3:
            raise SqlError("42883", f"function generate_series({', '.join(_type_names(types))}) does not exist")
        kind = ty.TIMESTAMP if T.TIMESTAMP in (types[0].oid, types[1].oid) and not any(
            t.oid in (T.TIMESTAMPTZ, T.DATE) for t in types[:2]) else ty.TIMESTAMPTZ
        ends = [c.coerce(a, t, kind) for a, t in zip(args[:2], types[:2], strict=True)]
        step = c.coerce(args[2], types[2], ty.INTERVAL)
        return fn("pg_ts_series_json", *ends, step, lit_int(kind.oid)), kind
    if any(t.oid in (T.NUMERIC, *ty.FLOATS) for t in types):
        if any(t.oid in ty.FLOATS for t in types):
            raise SqlError("42883", f"function generate_series({', '.join(_type_names(types))}) does not exist")
        nums = [c.coerce(a, t, ty.NUMERIC) for a, t in zip(args, types, strict=True)]
        return fn("pg_num_series_json", *nums), ty.NUMERIC
    if any(t.oid not in (*ty.INTS, T.UNKNOWN) for t in types):
        raise SqlError("42883", f"function generate_series({', '.join(_type_names(types))}) does not exist")
    result = ty.INT8 if any(t.oid == T.INT8 for t in types) else ty.INT4
    return fn("pg_series_json", *(c.coerce(a, t, result) for a, t in zip(args, types, strict=True))), result


def _type_names(types: list[Ty]) -> list[str]:
    return [T.format_type(t.oid) if t.oid != T.UNKNOWN else "unknown" for t in types]


@register(*SET_RETURNING)
def _srf(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    """In a SELECT list the call becomes a column of a json_each() joined to the row (see Srf)."""
    name = node.name.lower()
    if scope.srfs is None:
        raise SqlError("0A000", f"set-returning function {name}() is only supported in FROM or a SELECT list")
    array, row_type = srf_array(c, name, args, types)
    alias = c.query.fresh_alias("srf")
    scope.srfs.append(Srf(alias, array))
    element = stored_element(alias, row_type) if name == "unnest" else None
    return element or exp.Column(this=ident("value"), table=ident(alias)), row_type


def stored_element(table: str, elem: Ty) -> exp.Expression | None:
    """A json_each() row of an array as a scalar of the element type, where the stored element
    differs from the scalar: json/jsonb elements are JSON values (their JSON text is wanted),
    bytea elements their ``\\x`` hex text (bytes are wanted). None: the value column as is."""
    t = quote(table)
    if elem.oid in (T.JSON, T.JSONB):
        text = raw(f"(CASE WHEN {t}.type = 'null' THEN NULL ELSE ({t}.json -> {t}.fullkey) END)")
        return fn("pg_cast", text, lit_int(T.JSON), lit_int(T.JSONB)) if elem.oid == T.JSONB else text
    if elem.oid == T.BYTEA:
        return fn("pg_cast", exp.column("value", table=table), lit_int(T.TEXT), lit_int(T.BYTEA))
    return None


# ------------------------------------------------------------------------------ compiler


_COMPARISONS: dict[type, str] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
}


@dataclass
class State:
    """Per-statement translation state shared by all compilers of the statement."""

    catalog: Catalog
    params: Params = field(default_factory=Params)
    is_write: bool = False
    notices: list[str] = field(default_factory=list)
    write_command: str = ""  # how PostgreSQL names the write in 25006 ("nextval()", "SELECT FOR UPDATE")
    off_loop: bool = False  # calls the node (pg_promote, pg_stat_replication): never inline on the loop


class ExprCompiler:
    """Compiles expressions within a statement; see the module docstring."""

    def __init__(self, state: State, query: QueryCompiler) -> None:
        self.state = state
        self.query = query

    # -------------------------------------------------------------- entry points
    def sql(self, node: exp.Expression) -> str:
        from compute.sql.query import generate

        return generate(node)

    def compile(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        method = getattr(self, "c_" + type(node).__name__, None)
        if method is None:
            return self.c_generic(node, scope)
        out, t = method(node, scope)
        if node.args.get("negate") and not isinstance(node, exp.Is):
            return exp.Not(this=exp.Paren(this=out)), t
        return out, t

    def typed(self, node: exp.Expression, scope: Scope, target: Ty) -> exp.Expression:
        """Compile ``node`` and coerce it to ``target`` (unknown literals/params take it)."""
        out, t = self.compile(node, scope)
        return self.coerce(out, t, target)

    def condition(self, node: exp.Expression, scope: Scope) -> exp.Expression:
        out, t = self.compile(node, scope)
        if t.oid == T.UNKNOWN:
            return self.coerce(out, t, ty.BOOL)
        if t.oid != T.BOOL:
            raise SqlError("42804", f"argument of WHERE must be type boolean, not type {T.format_type(t.oid)}")
        return out

    # -------------------------------------------------------------- enums
    def enum_input(self, node: exp.Expression, enum: EnumType) -> exp.Expression:
        """Run-time enum_in(): 22P02 unless the text is one of the labels."""
        return fn("pg_enum_in", node, exp.Literal.string(enum.key_json), exp.Literal.string(enum.name),
                  lit_int(enum.oid))

    def enum_param(self, node: exp.Expression, dst: Ty) -> exp.Expression | None:
        """A parameter that takes an enum (array) type is checked when it arrives (None: not one)."""
        if dst.oid < FIRST_USER_OID:
            return None
        enum = self.state.catalog.enum_by_oid(dst.oid)
        if enum is not None:
            return self.enum_input(node, enum)
        enum = self.state.catalog.enum_of_array(dst.oid)
        if enum is not None:
            return fn("pg_enum_array_in", node, exp.Literal.string(enum.key_json),
                      exp.Literal.string(enum.name), lit_int(enum.oid))
        return None

    def sort_key(self, node: exp.Expression, t: Ty) -> exp.Expression:
        """What to compare/sort by: an enum value by its label's sort order, a timetz by its UTC
        time then zone, others as they are."""
        if t.oid == T.TIMETZ:
            return fn("pg_timetz_key", node)
        enum = self.state.catalog.enum_by_oid(t.oid)
        if enum is None:
            return node
        return fn("pg_enum_ord", node, exp.Literal.string(enum.key_json), lit_int(enum.oid))

    def _enum_cast(self, inner: exp.Expression, src: Ty, dst: Ty) -> exp.Expression | None:
        """Casts to and from enum types (None: neither side is an enum)."""
        catalog = self.state.catalog
        src_enum, dst_enum = catalog.enum_by_oid(src.oid), catalog.enum_by_oid(dst.oid)
        if catalog.enum_of_array(dst.oid) is not None and src.oid in ty.STRINGS:
            return self.enum_param(inner, dst)
        if catalog.enum_of_array(src.oid) is not None and dst.oid in ty.STRINGS:
            return fn("pg_cast", inner, lit_int(T.TEXT_ARRAY), lit_int(dst.oid), lit_int(dst.typmod))
        if src_enum is None and dst_enum is None:
            return None
        if dst_enum is not None and src.oid in ty.STRINGS:
            return self.enum_input(inner, dst_enum)
        if src_enum is not None and dst.oid in ty.STRINGS:
            return inner if dst.typmod < 0 else fn("pg_cast", inner, lit_int(T.TEXT), lit_int(dst.oid),
                                                   lit_int(dst.typmod))
        raise SqlError("42846", f"cannot cast type {catalog.format_type(src.oid)} to "
                                f"{catalog.format_type(dst.oid, dst.typmod)}")

    # -------------------------------------------------------------- coercion
    def coerce(self, node: exp.Expression, src: Ty, dst: Ty) -> exp.Expression:
        """Implicit coercion of ``node`` (type ``src``) to ``dst`` for operators/functions."""
        if dst.oid == T.UNKNOWN or src.oid == dst.oid:
            return node
        if src.oid == T.UNKNOWN:
            return self.coerce_unknown(node, dst)
        if (src.oid >= FIRST_USER_OID or dst.oid >= FIRST_USER_OID) and not (src.is_array and dst.is_array):
            # PostgreSQL has no implicit casts between enums and other types (text included)
            fmt = self.state.catalog.format_type
            raise SqlError("42883", f"no implicit conversion from {fmt(src.oid)} to {fmt(dst.oid, dst.typmod)}",
                           hint="No function matches the given name and argument types. You might need to "
                                "add explicit type casts.")
        if src.oid in ty.INTS and dst.oid in ty.FLOATS:
            return node
        if src.oid in ty.INTS and dst.oid == T.NUMERIC:
            return node
        if src.oid == T.NUMERIC and dst.oid in ty.FLOATS:
            return self.to_float(node)
        if src.oid in ty.INTS and dst.oid in ty.INTS:
            return node
        if src.oid in ty.STRINGS and dst.oid in ty.STRINGS:
            return node
        if src.oid in ty.OIDLIKE and dst.oid in (*ty.OIDLIKE, *ty.INTS):
            return node
        if src.oid in ty.INTS and dst.oid in ty.OIDLIKE:
            return node
        if src.oid == T.DATE and dst.oid == T.TIMESTAMP:
            return fn("pg_cast", node, lit_int(T.DATE), lit_int(T.TIMESTAMP))
        if src.oid in (T.DATE, T.TIMESTAMP) and dst.oid == T.TIMESTAMPTZ:
            return fn("pg_cast", node, lit_int(src.oid), lit_int(T.TIMESTAMPTZ))
        if src.oid == T.TIMESTAMPTZ and dst.oid == T.TIMESTAMP:
            return fn("pg_tstz_to_ts", node)
        if dst.oid in ty.STRINGS:
            return self.to_text(node, src)
        if src.oid in (T.JSON, T.JSONB) and dst.oid in (T.JSON, T.JSONB):
            return node
        return fn("pg_cast", node, lit_int(src.oid), lit_int(dst.oid))

    def to_float(self, node: exp.Expression) -> exp.Expression:
        if is_string_literal(node):
            try:
                return storage_literal(float(node.this))
            except ValueError:
                pass
        return exp.Cast(this=node, to=exp.DataType.build("REAL"))

    def to_text(self, node: exp.Expression, src: Ty) -> exp.Expression:
        if src.oid in ty.STRINGS or src.oid in (T.UNKNOWN, T.NUMERIC, T.DATE, T.TIMESTAMP, T.TIME,
                                                 T.UUID, T.JSON, T.JSONB, T.INTERVAL):
            return node
        if self.state.catalog.enum_by_oid(src.oid) is not None:  # stored as the label
            return node
        if src.oid in ty.INTS:
            return exp.Cast(this=node, to=exp.DataType.build("TEXT"))
        return fn("pg_cast", node, lit_int(src.oid), lit_int(T.TEXT))

    def coerce_unknown(self, node: exp.Expression, dst: Ty) -> exp.Expression:
        """An unknown-typed literal or parameter takes the type ``dst``."""
        inner = node
        while isinstance(inner, exp.Paren):
            inner = inner.this
        if isinstance(inner, exp.Parameter):
            self.state.params.assign(int(inner.name), Ty(dst.oid))
            checked = self.enum_param(node, dst)
            if checked is not None:
                return checked
            if dst.oid == T.BPCHAR and dst.typmod >= 0:
                return fn("pg_typmod", node, lit_int(dst.oid), lit_int(dst.typmod))
            if dst.oid == T.REGCLASS:
                return fn("pg_regclass", node)
            return node
        if isinstance(inner, exp.Null):
            return node
        if is_string_literal(inner):
            return self.fold_literal(inner.this, dst)
        return node

    def fold_literal(self, text: str, dst: Ty, explicit: bool = False) -> exp.Expression:
        """Run the type's input function at translation time; emit the storage value."""
        from compute.sql.functions import apply_typmod

        oid = dst.oid
        if oid >= FIRST_USER_OID:
            enum = self.state.catalog.enum_by_oid(oid)
            if enum is not None:
                return exp.Literal.string(check_label(enum, text))
            enum = self.state.catalog.enum_of_array(oid)
            if enum is not None:
                items = T.parse_array_literal(text)
                for item in items:
                    if item is not None:
                        check_label(enum, item)
                return exp.Literal.string(json.dumps(items, separators=(",", ":"), ensure_ascii=False))
        if oid in (T.TIMESTAMPTZ, T.TIMESTAMP, T.DATE, T.TIME) and text.strip().lower() in (
            "now", "today", "tomorrow", "yesterday", "epoch", "allballs",
        ):
            return self.special_datetime(text.strip().lower(), oid)
        if oid == T.TIMESTAMPTZ and not _has_offset(text):
            T.parse_timestamptz(text)  # validate now; the zone is the session's at run time
            return fn("pg_cast", exp.Literal.string(text), lit_int(T.TEXT), lit_int(T.TIMESTAMPTZ))
        if oid == T.TIMETZ and not T.timetz_has_zone(text):
            T.parse_timetz(text)  # validate now; the offset is the session zone's at run time
            return fn("pg_cast", exp.Literal.string(text), lit_int(T.TEXT), lit_int(T.TIMETZ))
        if oid == T.REGCLASS:
            name = text.strip()
            if name.isdigit():
                return lit_int(int(name))
            lowered = name[1:-1] if name.startswith('"') else name.lower()
            for prefix in ("public.", "pg_catalog."):
                if lowered.startswith(prefix):
                    lowered = lowered[len(prefix):]
            table = self.state.catalog.table(lowered)
            if table is not None and table.oid:
                return lit_int(table.oid)
            if lowered in self.state.catalog.sequences:
                return lit_int(self.state.catalog.sequences[lowered].oid)
            return fn("pg_regclass", exp.Literal.string(name))
        if oid == T.REGTYPE:
            key = text.strip().lower()
            found = T.TYPE_NAMES.get(key)
            if found is None:
                user = text.strip().removeprefix("public.")
                user = user[1:-1] if user.startswith('"') and user.endswith('"') else user.lower()
                enum = self.state.catalog.enum(user.removesuffix("[]"))
                if enum is not None:
                    found = enum.array_oid if user.endswith("[]") else enum.oid
            if found is None:
                raise SqlError("42704", f'type "{text}" does not exist')
            return lit_int(found)
        value = T.decode_text(oid, text.encode())
        if dst.typmod >= 0:
            value = apply_typmod(value, oid, dst.typmod, explicit=explicit)
        return storage_literal(value)

    def special_datetime(self, word: str, oid: int) -> exp.Expression:
        if word == "epoch":
            value = {T.TIMESTAMPTZ: "1970-01-01 00:00:00+00", T.TIMESTAMP: "1970-01-01 00:00:00",
                     T.DATE: "1970-01-01"}.get(oid, "00:00:00")
            return exp.Literal.string(value)
        if word == "allballs":
            return exp.Literal.string("00:00:00")
        base = fn("pg_now")
        if word == "now":
            return base if oid == T.TIMESTAMPTZ else fn("pg_cast", base, lit_int(T.TIMESTAMPTZ), lit_int(oid))
        day = fn("pg_current_date")
        if word != "today":
            day = fn("pg_date_add", day, lit_int(1 if word == "tomorrow" else -1))
        if oid == T.DATE:
            return day
        return fn("pg_cast", day, lit_int(T.DATE), lit_int(oid))

    def json_arg(self, node: exp.Expression, t: Ty) -> exp.Expression:
        if t.oid in (T.JSON, T.JSONB):
            return fn("json", node)
        if t.oid == T.BOOL:
            return raw(f"(CASE WHEN ({self.sql(node)}) IS NULL THEN NULL WHEN ({self.sql(node)}) "
                       f"THEN json('true') ELSE json('false') END)")
        if t.oid in (*ty.INTS, *ty.FLOATS):
            return node
        if t.oid == T.NUMERIC:
            return fn("json", node)
        if t.is_array:
            return fn("json", node)
        if t.oid == T.UNKNOWN:
            return node
        return self.to_text(node, t)

    # -------------------------------------------------------------- leaves
    def c_Column(self, node: exp.Column, scope: Scope) -> tuple[exp.Expression, Ty]:
        if isinstance(node.this, exp.Star):
            raise SqlError("42601", "row expansion via \"*\" is not supported here")
        name = node.name
        table = node.table
        found = self.query.resolve_column(name, table, scope)
        if found is None:
            if not table and name in ("user", "current_role", "current_user", "session_user"):
                return fn("pg_session_user"), ty.NAME
            if table:
                raise SqlError("42703", f"column {table}.{name} does not exist")
            whole_row = self._whole_row(name, scope)
            if whole_row is not None:
                return whole_row
            raise SqlError("42703", f'column "{name}" does not exist')
        return found

    def _whole_row(self, alias: str, scope: Scope) -> tuple[exp.Expression, Ty] | None:
        """`t` naming a FROM item is its whole row: a record (JSON object of its columns)."""
        current: Scope | None = scope
        while current is not None:
            for src in current.sources:
                if src.alias == alias:
                    pairs: list[exp.Expression] = []
                    for col in src.columns:
                        ref, t = self.query._ref(src, col)
                        pairs += [exp.Literal.string(col.name), self.json_arg(ref, t)]
                    return fn("json_object", *pairs), Ty(T.RECORD)
            current = current.parent
        return None

    def c_Literal(self, node: exp.Literal, scope: Scope) -> tuple[exp.Expression, Ty]:
        if node.is_string:
            return exp.Literal.string(node.this), ty.UNKNOWN
        text = node.this
        if all(ch.isdigit() for ch in text):
            value = int(text)
            if value < 2**31:
                return exp.Literal.number(value), ty.INT4
            if value < 2**63:
                return exp.Literal.number(value), ty.INT8
            return exp.Literal.string(T.parse_numeric(text)), ty.NUMERIC
        return exp.Literal.string(T.parse_numeric(text)), ty.NUMERIC

    def c_ByteString(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return exp.Literal.string(node.this), ty.UNKNOWN

    c_RawString = c_ByteString
    c_National = c_ByteString
    c_HexString = c_ByteString

    def c_Boolean(self, node: exp.Boolean, scope: Scope) -> tuple[exp.Expression, Ty]:
        return exp.Literal.number(1 if node.this else 0), ty.BOOL

    def c_Null(self, node: exp.Null, scope: Scope) -> tuple[exp.Expression, Ty]:
        return exp.Null(), ty.UNKNOWN

    def c_Parameter(self, node: exp.Parameter, scope: Scope) -> tuple[exp.Expression, Ty]:
        try:
            n = int(node.name)
        except ValueError:
            raise SqlError("42601", f'syntax error at or near "${node.name}"') from None
        if n < 1 or n > 65535:
            raise SqlError("42P02", f"there is no parameter ${n}")
        param: exp.Expression = exp.Parameter(this=exp.Literal.number(n))
        t = self.state.params.note(n)
        if t.oid >= FIRST_USER_OID:  # declared as an enum (array) by the client: check the value
            param = self.enum_param(param, t) or param
        return param, t

    def c_Placeholder(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        raise SqlError("42601", 'syntax error at or near "?"')

    def c_Paren(self, node: exp.Paren, scope: Scope) -> tuple[exp.Expression, Ty]:
        inner, t = self.compile(node.this, scope)
        return exp.Paren(this=inner), t

    def c_Interval(self, node: exp.Interval, scope: Scope) -> tuple[exp.Expression, Ty]:
        value = node.this
        text = value.this if isinstance(value, exp.Literal) else value.sql()
        unit = node.args.get("unit")
        if unit is not None:
            text = f"{text} {unit.name}"
        return exp.Literal.string(T.parse_interval(text)), ty.INTERVAL

    def c_Star(self, node: exp.Star, scope: Scope) -> tuple[exp.Expression, Ty]:
        return exp.Star(), ty.UNKNOWN

    # -------------------------------------------------------------- casts
    def c_Cast(self, node: exp.Cast, scope: Scope) -> tuple[exp.Expression, Ty]:
        target = ty.resolve_type(node.args["to"], self.state.catalog)
        inner, src = self.compile(node.this, scope)
        return self.cast(inner, src, target), target

    c_TryCast = c_Cast

    def cast(self, inner: exp.Expression, src: Ty, dst: Ty) -> exp.Expression:
        """Explicit cast semantics (``x::type``)."""
        bare = inner
        while isinstance(bare, exp.Paren):
            bare = bare.this
        if src.oid == T.UNKNOWN:
            if is_string_literal(bare):
                return self.fold_literal(bare.this, dst, explicit=True)
            if isinstance(bare, exp.Parameter):
                self.state.params.assign(int(bare.name), Ty(dst.oid))
                checked = self.enum_param(inner, dst)
                if checked is not None:
                    return checked
                if dst.oid == T.REGCLASS:
                    return fn("pg_regclass", inner)
                if dst.typmod >= 0 and dst.oid in (T.BPCHAR, T.VARCHAR, T.NUMERIC):
                    return fn("pg_cast", inner, lit_int(dst.oid), lit_int(dst.oid), lit_int(dst.typmod))
                return inner
            if isinstance(bare, exp.Null):
                return inner
            src = ty.TEXT
        if src.oid != dst.oid and (src.oid >= FIRST_USER_OID or dst.oid >= FIRST_USER_OID):
            enum_cast = self._enum_cast(inner, src, dst)
            if enum_cast is not None:
                return enum_cast
        if src.oid == dst.oid:
            if dst.typmod >= 0 and dst.typmod != src.typmod and dst.oid in (T.BPCHAR, T.VARCHAR, T.NUMERIC):
                return fn("pg_cast", inner, lit_int(src.oid), lit_int(dst.oid), lit_int(dst.typmod))
            return inner
        if (src.is_array and dst.is_array and src.element.oid in ty.INTS and dst.element.oid in ty.INTS
                and ty.INT_RANK[src.element.oid] <= ty.INT_RANK[dst.element.oid]):
            return inner  # a widening integer array cast changes no stored value
        if dst.oid == T.REGCLASS and src.oid in ty.STRINGS:
            return fn("pg_regclass", inner)
        if src.oid in ty.OIDLIKE and dst.oid in ty.STRINGS:
            if src.oid == T.REGCLASS:
                return fn("pg_regclass_out", inner)
            if src.oid == T.REGTYPE:
                return fn("pg_regtype_out", inner)
            return exp.Cast(this=inner, to=exp.DataType.build("TEXT"))
        if src.oid in (*ty.INTS, *ty.OIDLIKE) and dst.oid in (*ty.OIDLIKE, T.INT8):
            return inner
        if src.oid in ty.INTS and dst.oid in ty.INTS:
            if ty.INT_RANK[src.oid] <= ty.INT_RANK[dst.oid]:
                return inner
            return fn("pg_check_int", inner, lit_int(dst.oid))
        if src.oid in ty.INTS and dst.oid == T.FLOAT8:
            return exp.Cast(this=inner, to=exp.DataType.build("REAL"))
        if src.oid in ty.INTS and dst.oid == T.NUMERIC and dst.typmod < 0:
            return exp.Cast(this=inner, to=exp.DataType.build("TEXT"))
        if src.oid == T.FLOAT4 and dst.oid == T.FLOAT8:
            return inner
        if src.oid in ty.STRINGS and dst.oid in ty.STRINGS and dst.typmod < 0:
            if src.oid == T.BPCHAR:
                return fn("rtrim", inner, exp.Literal.string(" "))
            return inner
        if src.oid in ty.INTS and dst.oid in ty.STRINGS and dst.typmod < 0:
            return exp.Cast(this=inner, to=exp.DataType.build("TEXT"))
        if src.oid == T.TIMESTAMPTZ and dst.oid == T.TIMESTAMP:
            return fn("pg_tstz_to_ts", inner)
        if src.oid == T.TIMESTAMP and dst.oid == T.TIMESTAMPTZ:
            return fn("pg_ts_to_tstz", inner)
        if src.oid in (T.JSON, T.JSONB) and dst.oid in (T.JSON, T.JSONB) and dst.oid == T.JSON:
            return inner
        return fn("pg_cast", inner, lit_int(src.oid), lit_int(dst.oid), lit_int(dst.typmod))

    # -------------------------------------------------------------- operators
    def c_And(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        left = self.condition(node.this, scope)
        right = self.condition(node.expression, scope)
        return type(node)(this=left, expression=right), ty.BOOL

    c_Or = c_And

    def c_Not(self, node: exp.Not, scope: Scope) -> tuple[exp.Expression, Ty]:
        return exp.Not(this=self.condition(node.this, scope)), ty.BOOL

    def c_Is(self, node: exp.Is, scope: Scope) -> tuple[exp.Expression, Ty]:
        left, lt = self.compile(node.this, scope)
        right = node.expression
        if isinstance(right, exp.Boolean):
            left = self.coerce(left, lt, ty.BOOL)
            out: exp.Expression = exp.Is(this=left, expression=exp.Literal.number(1 if right.this else 0))
        else:
            out = exp.Is(this=left, expression=exp.Null())
        if node.args.get("negate"):
            out = exp.Not(this=exp.Paren(this=out))
        return out, ty.BOOL

    def comparison(self, op: str, left: exp.Expression, lt: Ty, right: exp.Expression,
                   rt: Ty) -> exp.Expression:
        if lt.oid >= FIRST_USER_OID or rt.oid >= FIRST_USER_OID:
            return self._enum_comparison(op, left, lt, right, rt)
        if lt.oid == T.UNKNOWN and rt.oid != T.UNKNOWN:
            left, lt = self.coerce(left, lt, rt), rt
        elif rt.oid == T.UNKNOWN and lt.oid != T.UNKNOWN:
            right, rt = self.coerce(right, rt, lt), lt
        elif lt.oid == T.UNKNOWN and rt.oid == T.UNKNOWN:
            left = self.coerce(left, lt, ty.TEXT)
            right = self.coerce(right, rt, ty.TEXT)
            lt = rt = ty.TEXT
        elif lt.oid != rt.oid:
            numbers = (*ty.INTS, *ty.FLOATS, T.NUMERIC)
            if (lt.oid in ty.STRINGS and rt.oid in numbers) or (rt.oid in ty.STRINGS and lt.oid in numbers):
                # PostgreSQL has no implicit cast between text and numbers: `code = 1` is an error
                fmt = self.state.catalog.format_type
                shown = "=" if op in ("IS", "IS NOT") else op
                raise SqlError("42883", f"operator does not exist: {fmt(lt.oid)} {shown} {fmt(rt.oid)}",
                               hint="No operator matches the given name and argument types. You might need to "
                                    "add explicit type casts.")
            common = ty.common_type(lt, rt)
            if lt.oid == T.BPCHAR and rt.oid in ty.STRINGS:
                left = fn("rtrim", left, exp.Literal.string(" "))
            elif rt.oid == T.BPCHAR and lt.oid in ty.STRINGS:
                right = fn("rtrim", right, exp.Literal.string(" "))
            elif common.oid == T.FLOAT8 and T.NUMERIC in (lt.oid, rt.oid):
                left = self.coerce(left, lt, ty.FLOAT8)
                right = self.coerce(right, rt, ty.FLOAT8)
            elif {lt.oid, rt.oid} <= set(ty.DATETIMES):
                left = self.coerce(left, lt, common)
                right = self.coerce(right, rt, common)
            lt = rt = common if common.oid == T.NUMERIC else lt
        if lt.oid == T.INTERVAL and rt.oid == T.INTERVAL:  # by value: '24 hours' = '1 day'
            left, right = fn("pg_interval_key", left), fn("pg_interval_key", right)
        if lt.oid == T.TIMETZ and rt.oid == T.TIMETZ:  # by UTC time, then zone (timetz_cmp)
            left, right = fn("pg_timetz_key", left), fn("pg_timetz_key", right)
        if lt.oid == T.NUMERIC or rt.oid == T.NUMERIC:
            if not (_is_plain_column(left) or _is_plain_column(right)):
                cmp = fn("pg_num_cmp", left, right)
                return raw(f"({self.sql(cmp)} {op} 0)")
        cls: Any = {"=": exp.EQ, "<>": exp.NEQ, ">": exp.GT, ">=": exp.GTE, "<": exp.LT,
                                      "<=": exp.LTE, "IS": exp.NullSafeEQ, "IS NOT": exp.NullSafeNEQ}[op]
        return cls(this=left, expression=right)

    def _enum_comparison(self, op: str, left: exp.Expression, lt: Ty, right: exp.Expression,
                         rt: Ty) -> exp.Expression:
        """Enum operands compare by the labels' positions (equality is equality of labels)."""
        if lt.oid == T.UNKNOWN:
            left, lt = self.coerce(left, lt, rt), rt
        elif rt.oid == T.UNKNOWN:
            right, rt = self.coerce(right, rt, lt), lt
        catalog = self.state.catalog
        if lt.oid == rt.oid and catalog.enum_of_array(lt.oid) is not None and op in ("=", "<>", "IS", "IS NOT"):
            pass
        elif lt.oid != rt.oid or catalog.enum_by_oid(lt.oid) is None:
            fmt = self.state.catalog.format_type
            raise SqlError("42883", f"operator does not exist: {fmt(lt.oid)} {op} {fmt(rt.oid)}",
                           hint="No operator matches the given name and argument types. You might need to "
                                "add explicit type casts.")
        if op in ("<", ">", "<=", ">="):
            left, right = self.sort_key(left, lt), self.sort_key(right, rt)
        cls: Any = {"=": exp.EQ, "<>": exp.NEQ, ">": exp.GT, ">=": exp.GTE, "<": exp.LT,
                    "<=": exp.LTE, "IS": exp.NullSafeEQ, "IS NOT": exp.NullSafeNEQ}[op]
        return cls(this=left, expression=right)

    def _compare(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        op = _COMPARISONS.get(type(node)) or ("IS" if isinstance(node, exp.NullSafeEQ) else "IS NOT")
        right_node = node.expression
        if isinstance(right_node, exp.Anonymous) and right_node.name.lower() == "all" and len(
                right_node.expressions) == 1:  # sqlglot parses `x = ALL (array)` as a function call
            right_node = exp.All(this=right_node.expressions[0])
        if isinstance(right_node, (exp.Any, exp.All)):
            return self.quantified(op, node.this, right_node, scope)
        left, lt = self.compile(node.this, scope)
        right, rt = self.compile(right_node, scope)
        return self.comparison(op, left, lt, right, rt), ty.BOOL

    c_EQ = c_NEQ = c_GT = c_GTE = c_LT = c_LTE = c_NullSafeEQ = c_NullSafeNEQ = _compare

    def quantified(self, op: str, left_node: exp.Expression, quant: exp.Expression,
                   scope: Scope) -> tuple[exp.Expression, Ty]:
        left, lt = self.compile(left_node, scope)
        inner = quant.this
        while isinstance(inner, exp.Paren):
            inner = inner.this
        if isinstance(inner, (exp.Select, exp.Union, exp.Subquery)):
            query = inner.this if isinstance(inner, exp.Subquery) else inner
            sub_sql, cols = self.query.subquery(query, scope)
            if len(cols) != 1:
                raise SqlError("42601", "subquery has too many columns")
            elem_t = cols[0].ty
            left = self.coerce(left, lt, elem_t)
            source = f"SELECT x.{quote(cols[0].name)} AS v FROM ({sub_sql}) AS x"
        else:
            arr, at = self.compile(inner, scope)
            if at.oid == T.UNKNOWN:
                elem = lt if lt.oid != T.UNKNOWN else ty.TEXT
                arr_t = Ty(ty.array_of(elem.oid))
                arr = self.coerce(arr, at, arr_t)
                elem_t = arr_t.element
            elif not at.is_array:
                raise SqlError("42809", "op ANY/ALL (array) requires array on right side")
            else:
                left = self.coerce(left, lt, at.element)
                elem_t = at.element
            source = f"SELECT value AS v FROM json_each({self.sql(arr)})"
        left_sql = self.sql(left)
        if isinstance(quant, exp.Any) and op == "=":
            return raw(f"({left_sql} IN ({source}))"), ty.BOOL
        if isinstance(quant, exp.All) and op == "<>":
            return raw(f"({left_sql} NOT IN ({source}))"), ty.BOOL
        # three-valued: ANY is true if some comparison is true, ALL false if some is false;
        # otherwise NULL if some comparison is NULL
        cmp = self.sql(self.comparison(op, left, elem_t if lt.oid == T.UNKNOWN else Ty(elem_t.oid),
                                       raw("q.v"), Ty(elem_t.oid)))
        decided, value = (f"({cmp})", "1") if isinstance(quant, exp.Any) else (f"NOT ({cmp})", "0")
        return raw(f"(CASE WHEN EXISTS (SELECT 1 FROM ({source}) AS q WHERE {decided}) THEN {value} "
                   f"WHEN EXISTS (SELECT 1 FROM ({source}) AS q WHERE ({cmp}) IS NULL) THEN NULL "
                   f"ELSE {1 - int(value)} END)"), ty.BOOL

    def arith(self, op: str, left: exp.Expression, lt: Ty, right: exp.Expression,
              rt: Ty) -> tuple[exp.Expression, Ty]:
        """Arithmetic with PostgreSQL result types and exact numeric/date semantics."""
        if lt.oid == T.UNKNOWN and rt.oid == T.UNKNOWN:
            lt = rt = ty.INT4 if op != "||" else ty.TEXT
            left, right = self.coerce(left, ty.UNKNOWN, lt), self.coerce(right, ty.UNKNOWN, rt)
        # date/time arithmetic
        if lt.oid in (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE, T.TIME) or rt.oid in (
            T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE, T.TIME, T.INTERVAL
        ) or lt.oid == T.INTERVAL:
            return self.datetime_arith(op, left, lt, right, rt)
        if lt.oid == T.JSONB and op == "-":
            if rt.oid == T.UNKNOWN:
                right, rt = self.coerce(right, rt, ty.TEXT), ty.TEXT
            if rt.oid in (*ty.INTS, *ty.STRINGS):
                return fn("pg_jsonb_delete", left, right), Ty(T.JSONB)
        if lt.oid == T.UNKNOWN:
            left, lt = self.coerce(left, lt, rt), Ty(rt.oid)
        if rt.oid == T.UNKNOWN:
            right, rt = self.coerce(right, rt, lt), Ty(lt.oid)
        if lt.oid == rt.oid == T.PG_LSN and op == "-":  # the distance in bytes, as numeric
            return exp.Cast(this=exp.Paren(this=exp.Sub(this=left, expression=right)),
                            to=exp.DataType.build("TEXT")), ty.NUMERIC
        numeric_types = (*ty.INTS, *ty.FLOATS, T.NUMERIC)
        if lt.oid not in numeric_types or rt.oid not in numeric_types:
            raise SqlError(
                "42883",
                f"operator does not exist: {self.state.catalog.format_type(lt.oid)} {op} "
                f"{self.state.catalog.format_type(rt.oid)}",
                hint="No operator matches the given name and argument types. You might need to add "
                     "explicit type casts.",
            )
        if lt.oid in ty.FLOATS or rt.oid in ty.FLOATS:
            result = ty.FLOAT4 if lt.oid == rt.oid == T.FLOAT4 else ty.FLOAT8
            left = self.coerce(left, lt, ty.FLOAT8)
            right = self.coerce(right, rt, ty.FLOAT8)
            if op == "%":
                raise SqlError("42883", "operator does not exist: double precision % double precision")
            # PostgreSQL checks every float result (22003 overflow/underflow) and keeps NaN.
            name = {"+": "pg_fadd", "-": "pg_fsub", "*": "pg_fmul", "/": "pg_fdiv"}[op]
            if result.oid == T.FLOAT4:
                return fn("pg_to_float4", fn(name, left, right)), result
            return fn(name, left, right), result
        if lt.oid == T.NUMERIC or rt.oid == T.NUMERIC:
            name = {"+": "pg_num_add", "-": "pg_num_sub", "*": "pg_num_mul", "/": "pg_num_div",
                    "%": "pg_num_mod"}[op]
            return fn(name, left, right), ty.NUMERIC
        result = lt if ty.INT_RANK[lt.oid] >= ty.INT_RANK[rt.oid] else rt
        result = Ty(result.oid)
        folded = _fold_int(op, left, right, result.oid)
        if folded is not None:
            return folded, result
        if op in ("/", "%"):
            literal = _int_literal(right)
            if literal is not None and literal not in (0, -1):
                return _binary(op, left, right), result
            if op == "/":
                return fn("pg_div", left, right, lit_int(result.oid)), result
            return fn("pg_mod", left, right), result
        # SQLite computes in int64 and turns an int64 overflow into REAL; pg_check_int raises
        # PostgreSQL's 22003 for both (and for int2/int4 range).
        return fn("pg_check_int", _binary(op, left, right), lit_int(result.oid)), result

    def datetime_arith(self, op: str, left: exp.Expression, lt: Ty, right: exp.Expression,
                       rt: Ty) -> tuple[exp.Expression, Ty]:
        if lt.oid == T.UNKNOWN:
            guess = ty.INTERVAL if rt.oid in (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE) and op == "+" else rt
            if rt.oid == T.INTERVAL:
                guess = ty.INTERVAL
            left, lt = self.coerce(left, lt, guess), guess
        if rt.oid == T.UNKNOWN:
            if lt.oid == T.DATE and op in ("+", "-"):
                guess = ty.INT4
                bare = right.this if isinstance(right, exp.Paren) else right
                if is_string_literal(bare) and not bare.this.strip().lstrip("-").isdigit():
                    guess = ty.INTERVAL
            elif lt.oid == T.INTERVAL and op in ("*", "/"):
                guess = ty.FLOAT8
            elif op == "-" and lt.oid in (T.TIMESTAMP, T.TIMESTAMPTZ):
                bare = right.this if isinstance(right, exp.Paren) else right
                guess = ty.INTERVAL if is_string_literal(bare) and _looks_like_interval(bare.this) else lt
            else:
                guess = ty.INTERVAL
            right, rt = self.coerce(right, rt, guess), guess
        a, b = lt.oid, rt.oid
        if op in ("+", "-") and a in (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE, T.TIME) and b == T.INTERVAL:
            result = ty.TIMESTAMP if a == T.DATE else Ty(a)
            return fn("pg_ts_add", left, right, lit_int(a), lit_int(1 if op == "+" else -1)), result
        if op == "+" and a == T.INTERVAL and b in (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE, T.TIME):
            result = ty.TIMESTAMP if b == T.DATE else Ty(b)
            return fn("pg_ts_add", right, left, lit_int(b), lit_int(1)), result
        if op == "+" and {a, b} == {T.DATE, T.TIME}:  # date + time is the timestamp at that time
            date, clock = (left, right) if a == T.DATE else (right, left)
            return fn("pg_ts_add", date, clock, lit_int(T.DATE), lit_int(1)), ty.TIMESTAMP
        if op in ("+", "-") and a == T.DATE and b in ty.INTS:
            return fn("pg_date_add", left, right, lit_int(1 if op == "+" else -1)), ty.DATE
        if op == "+" and a in ty.INTS and b == T.DATE:
            return fn("pg_date_add", right, left, lit_int(1)), ty.DATE
        if op == "-" and a == b == T.DATE:
            return fn("pg_date_diff", left, right), ty.INT4
        if op == "-" and a == b == T.TIME:
            return fn("pg_time_diff", left, right), ty.INTERVAL
        if op == "-" and a in (T.TIMESTAMP, T.TIMESTAMPTZ) and b in (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE):
            if a != b:
                left = self.coerce(left, lt, ty.TIMESTAMPTZ)
                right = self.coerce(right, rt, ty.TIMESTAMPTZ)
                a = T.TIMESTAMPTZ
            return fn("pg_ts_diff", left, right, lit_int(a)), ty.INTERVAL
        if op in ("+", "-") and a == b == T.INTERVAL:
            return fn("pg_interval_add", left, right, lit_int(1 if op == "+" else -1)), ty.INTERVAL
        if op == "*" and a == T.INTERVAL and b in (*ty.INTS, *ty.FLOATS, T.NUMERIC):
            return fn("pg_interval_mul", left, right), ty.INTERVAL
        if op == "*" and b == T.INTERVAL and a in (*ty.INTS, *ty.FLOATS, T.NUMERIC):
            return fn("pg_interval_mul", right, left), ty.INTERVAL
        if op == "/" and a == T.INTERVAL and b in (*ty.INTS, *ty.FLOATS, T.NUMERIC):
            return fn("pg_interval_mul", left, raw(f"(1.0 / ({self.sql(right)}))")), ty.INTERVAL
        raise SqlError(
            "42883",
            f"operator does not exist: {self.state.catalog.format_type(a)} {op} "
            f"{self.state.catalog.format_type(b)}",
            hint="No operator matches the given name and argument types. You might need to add explicit "
                 "type casts.",
        )

    def _arith_node(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        ops: dict[type, str] = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}
        op = ops[type(node)]
        left, lt = self.compile(node.this, scope)
        right, rt = self.compile(node.expression, scope)
        return self.arith(op, left, lt, right, rt)

    c_Add = c_Sub = c_Mul = c_Div = c_Mod = _arith_node

    def c_IntDiv(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        left, lt = self.compile(node.this, scope)
        right, rt = self.compile(node.expression, scope)
        return self.arith("/", left, lt, right, rt)

    def c_Neg(self, node: exp.Neg, scope: Scope) -> tuple[exp.Expression, Ty]:
        inner, t = self.compile(node.this, scope)
        if isinstance(inner, exp.Literal) and t.oid in ty.INTS:
            value = -int(inner.this)
            if t.oid != T.INT4 and not isinstance(node.this, exp.Literal):  # -(x::bigint) stays bigint
                return fn("pg_check_int", lit_int(value), lit_int(t.oid)), t
            return lit_int(value), ty.INT4 if -(2**31) <= value < 2**31 else ty.INT8
        if t.oid in ty.INTS:
            return fn("pg_check_int", exp.Neg(this=inner), lit_int(t.oid)), t
        if t.oid == T.NUMERIC:
            if is_string_literal(inner) and inner.this.lower() != "nan":  # -NaN is NaN
                text = inner.this[1:] if inner.this.startswith("-") else "-" + inner.this
                return exp.Literal.string(T.parse_numeric(text)), ty.NUMERIC
            return fn("pg_num_neg", inner), ty.NUMERIC
        if t.oid == T.INTERVAL:
            return fn("pg_interval_mul", inner, lit_int(-1)), ty.INTERVAL
        if t.oid in ty.FLOATS and not (isinstance(inner, exp.Literal) and not inner.is_string):
            return fn("pg_fneg", inner), t  # -NaN is NaN (SQLite would negate the text to 0)
        if t.oid == T.UNKNOWN:
            inner = self.coerce(inner, t, ty.INT4)
            t = ty.INT4
        return exp.Neg(this=inner), t

    def c_Pow(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        left, lt = self.compile(node.this, scope)
        right, rt = self.compile(node.expression, scope)
        (left, right), numeric = _numeric_or_float(self, [left, right], [lt, rt])
        if numeric:
            return fn("pg_num_power", left, right), ty.NUMERIC
        return fn("pg_fpower", left, right), ty.FLOAT8

    def _bitwise(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        left, lt = self.compile(node.this, scope)
        right, rt = self.compile(node.expression, scope)
        left = self.coerce(left, lt, ty.INT4)
        right = self.coerce(right, rt, ty.INT4)
        result = lt if lt.oid in ty.INTS else ty.INT4
        if isinstance(node, exp.BitwiseXor):
            ls, rs = self.sql(left), self.sql(right)
            return raw(f"((({ls}) | ({rs})) - (({ls}) & ({rs})))"), result
        return type(node)(this=left, expression=right), result

    c_BitwiseAnd = c_BitwiseOr = c_BitwiseXor = c_BitwiseLeftShift = c_BitwiseRightShift = _bitwise

    def c_BitwiseNot(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        inner, t = self.compile(node.this, scope)
        return exp.BitwiseNot(this=inner), t if t.oid in ty.INTS else ty.INT4

    def c_DPipe(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        left, lt = self.compile(node.this, scope)
        right, rt = self.compile(node.expression, scope)
        if lt.is_array or rt.is_array:
            arr_t = lt if lt.is_array else rt
            if lt.is_array and rt.is_array:
                return fn("pg_array_cat", left, right), arr_t
            if lt.is_array:
                return fn("pg_array_append", left, self.coerce(right, rt, arr_t.element)), arr_t
            return fn("pg_array_cat", fn("json_array", self.coerce(left, lt, arr_t.element)), right), arr_t
        if lt.oid == T.JSONB and rt.oid in (T.JSONB, T.UNKNOWN):
            return fn("pg_jsonb_concat", left, self.coerce(right, rt, Ty(T.JSONB))), Ty(T.JSONB)
        if T.BYTEA in (lt.oid, rt.oid) and {lt.oid, rt.oid} <= {T.BYTEA, T.UNKNOWN}:
            bytea = Ty(T.BYTEA)
            return fn("pg_bytea_concat", self.coerce(left, lt, bytea), self.coerce(right, rt, bytea)), bytea
        left = self.to_text(left, lt) if lt.oid != T.UNKNOWN else left
        right = self.to_text(right, rt) if rt.oid != T.UNKNOWN else right
        if lt.oid == T.BPCHAR:
            left = fn("rtrim", left, exp.Literal.string(" "))
        if rt.oid == T.BPCHAR:
            right = fn("rtrim", right, exp.Literal.string(" "))
        return exp.DPipe(this=left, expression=right), ty.TEXT

    def c_Between(self, node: exp.Between, scope: Scope) -> tuple[exp.Expression, Ty]:
        value, vt = self.compile(node.this, scope)
        low, lowt = self.compile(node.args["low"], scope)
        high, hight = self.compile(node.args["high"], scope)
        target = vt if vt.oid != T.UNKNOWN else ty.common_type(lowt, hight)
        ge = self.comparison(">=", value, vt, low, lowt)
        le = self.comparison("<=", value, vt, high, hight)
        del target
        if node.args.get("symmetric"):  # BETWEEN SYMMETRIC: either order of the bounds
            ge2 = self.comparison(">=", value, vt, high, hight)
            le2 = self.comparison("<=", value, vt, low, lowt)
            return exp.Paren(this=exp.Or(this=exp.Paren(this=exp.And(this=ge, expression=le)),
                                         expression=exp.Paren(this=exp.And(this=ge2, expression=le2)))), ty.BOOL
        return exp.Paren(this=exp.And(this=ge, expression=le)), ty.BOOL

    def c_In(self, node: exp.In, scope: Scope) -> tuple[exp.Expression, Ty]:
        value, vt = self.compile(node.this, scope)
        query = node.args.get("query")
        if query is not None:
            inner = query.this if isinstance(query, exp.Subquery) else query
            sub_sql, cols = self.query.subquery(inner, scope)
            if cols and vt.oid == T.UNKNOWN:
                value = self.coerce(value, vt, cols[0].ty)
            elif cols and cols[0].ty.oid != vt.oid and cols[0].ty.oid == T.BPCHAR:
                value = fn("pg_typmod", value, lit_int(T.BPCHAR), lit_int(cols[0].ty.typmod))
            return raw(f"({self.sql(value)} IN ({sub_sql}))"), ty.BOOL
        items = []
        types = []
        for item in node.expressions:
            out, t = self.compile(item, scope)
            items.append(out)
            types.append(t)
        target = vt
        if target.oid == T.UNKNOWN:
            for t in types:
                target = ty.common_type(target, t)
            value = self.coerce(value, vt, target)
        numbers = (*ty.INTS, *ty.FLOATS, T.NUMERIC)
        for t in types:  # text IN (1, 2) has no operator, as with = (see comparison)
            if (target.oid in ty.STRINGS and t.oid in numbers) or (t.oid in ty.STRINGS and target.oid in numbers):
                fmt = self.state.catalog.format_type
                raise SqlError("42883", f"operator does not exist: {fmt(target.oid)} = {fmt(t.oid)}",
                               hint="No operator matches the given name and argument types. You might need to "
                                    "add explicit type casts.")
        coerced = [self.coerce(i, t, target) for i, t in zip(items, types, strict=True)]
        return exp.In(this=value, expressions=coerced), ty.BOOL

    def c_Exists(self, node: exp.Exists, scope: Scope) -> tuple[exp.Expression, Ty]:
        sub_sql, _cols = self.query.subquery(node.this, scope)
        return raw(f"EXISTS ({sub_sql})"), ty.BOOL

    def c_Subquery(self, node: exp.Subquery, scope: Scope) -> tuple[exp.Expression, Ty]:
        sub_sql, cols = self.query.subquery(node.this, scope)
        if len(cols) != 1:
            raise SqlError("42601", "subquery must return only one column")
        if _at_most_one_row(node.this):
            return raw(f"({sub_sql})"), cols[0].ty
        # more than one row is 21000 (SQLite would take the first): pg_scalar_subquery() raises it
        return raw(f"(SELECT pg_scalar_subquery(x.{quote(cols[0].name)}) FROM (SELECT * FROM ({sub_sql}) LIMIT 2) AS x)"), cols[0].ty

    def c_Select(self, node: exp.Select, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self.c_Subquery(exp.Subquery(this=node), scope)

    def c_Case(self, node: exp.Case, scope: Scope) -> tuple[exp.Expression, Ty]:
        subject = node.this
        subject_out = subject_t = None
        if subject is not None:
            subject_out, subject_t = self.compile(subject, scope)
        conds = []
        results: list[tuple[exp.Expression, Ty]] = []
        for branch in node.args.get("ifs") or []:
            if subject_out is not None and subject_t is not None:
                when, wt = self.compile(branch.this, scope)
                cond = self.comparison("=", subject_out, subject_t, when, wt)
            else:
                cond = self.condition(branch.this, scope)
            conds.append(cond)
            results.append(self.compile(branch.args["true"], scope))
        default = node.args.get("default")
        default_c = self.compile(default, scope) if default is not None else None
        result = ty.UNKNOWN
        for _, t in results + ([default_c] if default_c else []):
            result = ty.common_type(result, t)
        if result.oid == T.UNKNOWN:
            result = ty.TEXT
        ifs = [
            exp.If(this=c, true=self.coerce(r, t, result)) for c, (r, t) in zip(conds, results, strict=True)
        ]
        out = exp.Case(ifs=ifs)
        if default_c is not None:
            out.set("default", self.coerce(default_c[0], default_c[1], result))
        return out, result

    def _like(self, node: exp.Expression, scope: Scope, insensitive: bool,
              escape: exp.Expression | None = None) -> tuple[exp.Expression, Ty]:
        value, vt = self.compile(node.this, scope)
        pattern, pt = self.compile(node.expression, scope)
        value = self.coerce(value, vt, ty.TEXT)
        if vt.oid == T.BPCHAR:
            value = fn("rtrim", value, exp.Literal.string(" "))
        pattern = self.coerce(pattern, pt, ty.TEXT)
        esc = exp.Literal.string("\\") if escape is None else self.typed(escape, scope, ty.TEXT)
        if not insensitive and escape is None and is_string_literal(pattern):
            glob = _like_to_glob(pattern.this)
            if glob is not None:
                return raw(f"({self.sql(value)} GLOB {self.sql(exp.Literal.string(glob))})"), ty.BOOL
        return fn("pg_like", value, pattern, esc, lit_int(1 if insensitive else 0)), ty.BOOL

    def c_Like(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._like(node, scope, False)

    def c_ILike(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._like(node, scope, True)

    def c_Escape(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        inner = node.this
        if isinstance(inner, exp.SimilarTo):
            return self.similar_to(inner, scope, node.expression)
        out, t = self._like(inner, scope, isinstance(inner, exp.ILike), escape=node.expression)
        if inner.args.get("negate"):
            return exp.Not(this=exp.Paren(this=out)), t
        return out, t

    def c_WithinGroup(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        """percentile_cont / percentile_disc / mode() WITHIN GROUP (ORDER BY x): a Python
        aggregate that sorts the values itself (pg_ordered_set in more_functions.py)."""
        call, order = node.this, node.expression
        name = call.name.lower() if isinstance(call, exp.Anonymous) else type(call).__name__.lower()
        items = order.expressions if isinstance(order, exp.Order) else []
        if name not in ("percentile_cont", "percentile_disc", "mode") or len(items) != 1:
            raise SqlError("0A000", f"{name}() WITHIN GROUP is not supported")
        ordered = items[0]
        value, vt = self.compile(ordered.this if isinstance(ordered, exp.Ordered) else ordered, scope)
        desc = lit_int(1 if isinstance(ordered, exp.Ordered) and ordered.args.get("desc") else 0)
        if name == "mode":
            if call.expressions:
                raise SqlError("42883", "function mode(unknown) does not exist")
            fraction: exp.Expression = exp.Null()
        else:
            if len(call.expressions) != 1:
                raise SqlError("42883", f"function {name} does not exist")
            fraction = self.typed(call.expressions[0], scope, ty.FLOAT8)
        if name == "percentile_cont":
            if vt.oid not in (*ty.INTS, *ty.FLOATS, T.NUMERIC, T.UNKNOWN):
                raise SqlError("42883", f"function percentile_cont(double precision ORDER BY "
                                        f"{T.format_type(vt.oid)}) does not exist")
            value, vt = self.coerce(value, vt, ty.FLOAT8), ty.FLOAT8
        numeric = lit_int(1 if vt.oid == T.NUMERIC else 0)
        kind = exp.Literal.string(name)
        return fn("pg_ordered_set", value, fraction, desc, numeric, kind), vt if vt.oid != T.UNKNOWN else ty.TEXT

    def c_Overlaps(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        """(start1, end1) OVERLAPS (start2, end2); an end may be an interval (start + it)."""
        pairs = []
        for side in (node.this, node.expression):
            items = list(side.expressions) if isinstance(side, exp.Tuple) else []
            if len(items) != 2:
                raise SqlError("42601", "wrong number of parameters on left side of OVERLAPS expression")
            pairs.append([self.compile(item, scope) for item in items])
        kinds = {t.oid for pair in pairs for _, t in pair}
        target = ty.TIMESTAMPTZ if T.TIMESTAMPTZ in kinds else (ty.TIME if kinds <= {T.TIME, T.INTERVAL, T.UNKNOWN}
                                                                  and T.TIME in kinds else ty.TIMESTAMP)
        args: list[exp.Expression] = []
        for (start, st), (end, et) in pairs:
            start = self.coerce(start, st, target)
            if et.oid == T.INTERVAL:
                end = fn("pg_ts_add", start, end, lit_int(target.oid))
            else:
                end = self.coerce(end, et, target)
            args += [start, end]
        return fn("pg_overlaps", *args, lit_int(target.oid)), ty.BOOL

    def c_SimilarTo(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self.similar_to(node, scope, None)

    def similar_to(self, node: exp.Expression, scope: Scope,
                   escape: exp.Expression | None) -> tuple[exp.Expression, Ty]:
        """x SIMILAR TO pattern [ESCAPE e] (similar_to_regex in more_functions.py)."""
        args = [self.typed(node.this, scope, ty.TEXT), self.typed(node.expression, scope, ty.TEXT)]
        if escape is not None:
            args.append(self.typed(escape, scope, ty.TEXT))
        out = fn("pg_similar_to", *args)
        if node.args.get("negate"):
            return exp.Not(this=exp.Paren(this=out)), ty.BOOL
        return out, ty.BOOL

    def c_RegexpLike(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        value = self.typed(node.this, scope, ty.TEXT)
        pattern = self.typed(node.expression, scope, ty.TEXT)
        return fn("pg_regex", value, pattern, lit_int(0)), ty.BOOL

    def c_RegexpILike(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        value = self.typed(node.this, scope, ty.TEXT)
        pattern = self.typed(node.expression, scope, ty.TEXT)
        return fn("pg_regex", value, pattern, lit_int(1)), ty.BOOL

    def c_Collate(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self.compile(node.this, scope)

    # -------------------------------------------------------------- functions
    def c_Anonymous(self, node: exp.Anonymous, scope: Scope) -> tuple[exp.Expression, Ty]:
        name = node.name.lower()
        if name == "array" and node.expressions and isinstance(node.expressions[0], (exp.Select, exp.Union)):
            sub_sql, cols = self.query.subquery(node.expressions[0], scope)
            elem = cols[0].ty if cols else ty.TEXT
            if elem.is_array:
                raise SqlError("0A000", "multidimensional arrays are not supported")
            item: exp.Expression = raw(f"x.{quote(cols[0].name)}")
            if elem.oid in (T.JSON, T.JSONB, T.BYTEA):  # stored as ARRAY[...] stores elements
                item = self.json_arg(item, elem)
            return raw(f"(SELECT json_group_array({self.sql(item)}) FROM ({sub_sql}) AS x)"), Ty(
                ty.array_of(elem.oid))
        handler = FUNCTIONS.get(name)
        if handler is None:
            raise SqlError(
                "42883",
                f"function {name}({', '.join(self._arg_type_names(node, scope))}) does not exist",
                hint="No function matches the given name and argument types. You might need to add "
                     "explicit type casts.",
            )
        args: list[exp.Expression] = []
        types: list[Ty] = []
        distinct = False
        order: exp.Expression | None = None
        for arg in node.expressions:
            if isinstance(arg, exp.Order):
                order = arg
                arg = arg.this
            if isinstance(arg, exp.Distinct):
                distinct = True
                inner_args = list(arg.expressions)
            else:
                inner_args = [arg]
            for inner in inner_args:
                if isinstance(inner, exp.Star):
                    args.append(exp.Star())
                    types.append(ty.UNKNOWN)
                    continue
                out, t = self.compile(inner, scope)
                args.append(out)
                types.append(t)
        out, rt = handler(self, args, types, node, scope)
        if distinct and isinstance(out, exp.Anonymous) and out.expressions:
            out.set("expressions", [exp.Distinct(expressions=[out.expressions[0]]), *out.expressions[1:]])
        if isinstance(order, exp.Order) and isinstance(out, exp.Anonymous):
            compiled_order = self.query.order_by(order, scope)
            last = out.expressions[-1]
            out.set("expressions", [*out.expressions[:-1], exp.Order(this=last, expressions=compiled_order)])
        return out, rt

    def _arg_type_names(self, node: exp.Anonymous, scope: Scope) -> list[str]:
        names = []
        for arg in node.expressions:
            try:
                _, t = self.compile(arg, scope)
                names.append(T.format_type(t.oid) if t.oid != T.UNKNOWN else "unknown")
            except SqlError:
                names.append("unknown")
        return names

    def c_GroupConcat(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        this = node.this
        order = None
        if isinstance(this, exp.Order):
            order = this
            this = this.this
        distinct = isinstance(this, exp.Distinct)
        if distinct:
            this = this.expressions[0]
        value = self.typed(this, scope, ty.TEXT)
        _, vt = self.compile(this, scope)
        value = self.to_text(value, vt)
        sep = self.typed(node.args.get("separator") or exp.Literal.string(","), scope, ty.TEXT)
        if distinct:
            value = exp.Distinct(expressions=[value])
        if order is not None:
            sep = exp.Order(this=sep, expressions=self.query.order_by(order, scope))
        return fn("string_agg", value, sep), ty.TEXT

    def c_Window(self, node: exp.Window, scope: Scope) -> tuple[exp.Expression, Ty]:
        func, t = self.compile(node.this, scope)
        out = exp.Window(this=func, over=node.args.get("over"))
        partition = node.args.get("partition_by")
        if partition:
            out.set("partition_by", [self.compile(p, scope)[0] for p in partition])
        order = node.args.get("order")
        if order is not None:
            out.set("order", exp.Order(expressions=self.query.order_by(order, scope)))
        spec = node.args.get("spec")
        if spec is not None:
            out.set("spec", spec)
        return out, t

    def c_Filter(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        func, t = self.compile(node.this, scope)
        where = node.expression
        cond = self.condition(where.this if isinstance(where, exp.Where) else where, scope)
        return exp.Filter(this=func, expression=exp.Where(this=cond)), t

    def c_Extract(self, node: exp.Extract, scope: Scope) -> tuple[exp.Expression, Ty]:
        unit = node.this.name.lower() if isinstance(node.this, (exp.Var, exp.Identifier, exp.Column)) else None
        if unit is None and isinstance(node.this, exp.Literal):
            unit = node.this.this.lower()
        value, vt = self.compile(node.expression, scope)
        if vt.oid == T.UNKNOWN:
            value, vt = self.coerce(value, vt, ty.TIMESTAMPTZ), ty.TIMESTAMPTZ
        extracted = fn("pg_extract", exp.Literal.string(unit or ""), value, lit_int(vt.oid))
        # date_part() is float8, EXTRACT is numeric; sqlglot parses both as Extract.
        return extracted, ty.NUMERIC

    def c_Substring(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        value, vt = self.compile(node.this, scope)
        value = self.coerce(value, vt, ty.TEXT)
        start = node.args.get("start")
        length = node.args.get("length")
        args = [value, self.typed(start, scope, ty.INT4) if start is not None else exp.Literal.number(1)]
        if length is not None:
            args.append(self.typed(length, scope, ty.INT4))
        return fn("substr", *args), Ty(T.BYTEA) if vt.oid == T.BYTEA else ty.TEXT

    def c_Trim(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        value = self.typed(node.this, scope, ty.TEXT)
        chars = node.expression
        position = (node.args.get("position") or "BOTH").upper()
        name = {"LEADING": "pg_ltrim", "TRAILING": "pg_rtrim"}.get(position, "pg_btrim")
        args = [value]
        if chars is not None:
            args.append(self.typed(chars, scope, ty.TEXT))
        return fn(name, *args), ty.TEXT

    def c_StrPosition(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        value = self.typed(node.this, scope, ty.TEXT)
        sub = self.typed(node.args["substr"], scope, ty.TEXT)
        return fn("pg_strpos", value, sub), ty.INT4

    def c_Overlay(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        value = self.sql(self.typed(node.this, scope, ty.TEXT))
        placing = self.sql(self.typed(node.expression, scope, ty.TEXT))
        start = self.sql(self.typed(node.args["from_"] if "from_" in node.args else node.args["from"], scope, ty.INT4))
        length_node = node.args.get("for_") or node.args.get("for")
        length = self.sql(self.typed(length_node, scope, ty.INT4)) if length_node is not None else f"length({placing})"
        return raw(f"(substr({value}, 1, ({start}) - 1) || {placing} || substr({value}, ({start}) + ({length})))"), ty.TEXT

    def c_CurrentTimestamp(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return fn("pg_now"), ty.TIMESTAMPTZ

    def c_CurrentDate(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return fn("pg_current_date"), ty.DATE

    def c_CurrentTime(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return fn("pg_current_time"), Ty(T.TIMETZ)

    def c_Localtimestamp(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return fn("pg_localtimestamp"), ty.TIMESTAMP

    def c_Localtime(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return fn("pg_current_time"), ty.TIME

    def c_CurrentUser(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return fn("pg_session_user"), ty.NAME

    c_SessionUser = c_CurrentRole = c_CurrentUser

    def c_CurrentSchema(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return exp.Literal.string("public"), ty.NAME

    def c_CurrentCatalog(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return fn("current_database"), ty.NAME

    def c_Array(self, node: exp.Array, scope: Scope) -> tuple[exp.Expression, Ty]:
        compiled = [self.compile(e, scope) for e in node.expressions]
        elem = ty.UNKNOWN
        for _, t in compiled:
            elem = ty.common_type(elem, t)
        if elem.oid == T.UNKNOWN:
            elem = ty.TEXT
        if elem.is_array or any(isinstance(e, exp.Array) for e in node.expressions):
            # never store a nested array as a one-dimensional array of texts
            raise SqlError("0A000", "multidimensional arrays are not supported")
        items = [self.json_arg(self.coerce(o, t, elem), elem) for o, t in compiled]
        return fn("json_array", *items), Ty(ty.array_of(elem.oid))

    def c_Bracket(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        arr, at = self.compile(node.this, scope)
        if len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Slice):
            bounds = node.expressions[0]
            args: list[exp.Expression] = [arr]
            for bound in (bounds.this, bounds.expression):
                args += [self.typed(bound, scope, ty.INT4), lit_int(1)] if bound is not None else [exp.Null(), lit_int(0)]
            return fn("pg_array_slice", *args), at if at.is_array else Ty(T.TEXT_ARRAY)
        if len(node.expressions) != 1:
            raise SqlError("0A000", "subscripts of multidimensional arrays are not supported")
        index_node = node.expressions[0]
        elem = at.element if at.is_array else ty.TEXT
        lower = 0 if at.oid in T.VECTORS else 1  # int2vector / oidvector subscripts start at 0
        literal = index_node.this if isinstance(index_node, exp.Neg) else index_node
        if isinstance(literal, exp.Literal) and not literal.is_string:
            position = (-1 if literal is not index_node else 1) * int(literal.this) - lower
            if position < 0:
                return exp.Null(), elem
            return self.array_element(arr, exp.Literal.string(f"$[{position}]"), elem), elem
        index = self.typed(index_node, scope, ty.INT4)
        offset = f"(({self.sql(index)}) - {lower})"
        path = raw(f"('$[' || {offset} || ']')")
        return exp.Case(ifs=[exp.If(this=raw(f"{offset} >= 0"),
                                    true=self.array_element(arr, path, elem))]), elem

    def array_element(self, arr: exp.Expression, path: exp.Expression, elem: Ty) -> exp.Expression:
        """One stored array element as a scalar of its type: json/jsonb elements are JSON values
        (their JSON text is wanted), bytea elements their ``\\x`` hex text (bytes are wanted)."""
        if elem.oid in (T.JSON, T.JSONB):
            value = raw(f"({self.sql(arr)} -> {self.sql(path)})")
            text = raw(f"(CASE WHEN {self.sql(value)} = 'null' THEN NULL ELSE {self.sql(value)} END)")
            return fn("pg_cast", text, lit_int(T.JSON), lit_int(T.JSONB)) if elem.oid == T.JSONB else text
        value = fn("json_extract", arr, path)
        if elem.oid == T.BYTEA:
            return fn("pg_cast", value, lit_int(T.TEXT), lit_int(T.BYTEA))
        return value

    def c_JSONExtract(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._json_path(node, scope, as_text=False)

    def c_JSONExtractScalar(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._json_path(node, scope, as_text=True)

    def _json_doc(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        doc, dt = self.compile(node, scope)
        if dt.oid == T.UNKNOWN:
            doc, dt = self.coerce(doc, dt, Ty(T.JSONB)), Ty(T.JSONB)
        if dt.oid not in (T.JSON, T.JSONB):
            raise SqlError("42883", f"operator does not exist: {T.format_type(dt.oid)} -> unknown",
                           hint="No operator matches the given name and argument types. You might need to "
                                "add explicit type casts.")
        return doc, dt

    def _json_path(self, node: exp.Expression, scope: Scope, as_text: bool) -> tuple[exp.Expression, Ty]:
        """-> / ->>: one object key (text) or array index (integer, negative from the end)."""
        doc, dt = self._json_doc(node.this, scope)
        key_node = node.expression
        key: exp.Expression | None = None
        if isinstance(key_node, exp.JSONPath):
            parts = key_node.expressions
            if len(parts) == 2 and isinstance(parts[1], exp.JSONPathKey):
                key = exp.Literal.string(str(parts[1].this))
            elif len(parts) == 2 and isinstance(parts[1], exp.JSONPathSubscript):
                key = lit_int(int(parts[1].this))
        if key is None:
            compiled, kt = self.compile(key_node, scope)
            if kt.oid == T.UNKNOWN:
                compiled = self.coerce(compiled, kt, ty.TEXT)
            elif kt.oid not in (*ty.INTS, *ty.STRINGS):
                raise SqlError("42883", f"operator does not exist: {T.format_type(dt.oid)} -> {T.format_type(kt.oid)}")
            key = compiled
        result = ty.TEXT if as_text else Ty(dt.oid)
        return fn("pg_json_get", doc, key, lit_int(1 if as_text else 0)), result

    def _json_path_array(self, node: exp.Expression, scope: Scope, as_text: bool) -> tuple[exp.Expression, Ty]:
        """#> / #>>: a path given as text[]."""
        doc, dt = self._json_doc(node.this, scope)
        path = self.typed(node.expression, scope, Ty(T.TEXT_ARRAY))
        return fn("pg_json_path", doc, path, lit_int(1 if as_text else 0)), ty.TEXT if as_text else Ty(dt.oid)

    def c_JSONBExtract(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._json_path_array(node, scope, as_text=False)

    def c_JSONBExtractScalar(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._json_path_array(node, scope, as_text=True)

    def _containment(self, node: exp.Expression, scope: Scope, flip: bool) -> tuple[exp.Expression, Ty]:
        """@> (and <@ with flip): jsonb containment or array containment."""
        left, lt = self.compile(node.this, scope)
        right, rt = self.compile(node.expression, scope)
        if flip:
            left, lt, right, rt = right, rt, left, lt
        if lt.oid == T.UNKNOWN and rt.oid != T.UNKNOWN:
            left, lt = self.coerce(left, lt, rt), rt
        if rt.oid == T.UNKNOWN:
            right, rt = self.coerce(right, rt, lt if lt.oid != T.UNKNOWN else Ty(T.JSONB)), \
                lt if lt.oid != T.UNKNOWN else Ty(T.JSONB)
        if lt.oid == T.JSONB and rt.oid == T.JSONB:
            return fn("pg_jsonb_contains", left, right), ty.BOOL
        if lt.is_array and rt.is_array:
            return fn("pg_array_contains", left, right), ty.BOOL
        op = "<@" if flip else "@>"
        a, b = (rt, lt) if flip else (lt, rt)
        raise SqlError("42883", f"operator does not exist: {T.format_type(a.oid)} {op} {T.format_type(b.oid)}")

    def c_ArrayContainsAll(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._containment(node, scope, flip=False)

    def c_ArrayContainedBy(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._containment(node, scope, flip=True)

    c_JSONBContains = c_ArrayContainsAll

    def c_ArrayOverlaps(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        left, lt = self.compile(node.this, scope)
        right, rt = self.compile(node.expression, scope)
        if lt.oid == T.UNKNOWN:
            left, lt = self.coerce(left, lt, rt), rt
        if rt.oid == T.UNKNOWN:
            right, rt = self.coerce(right, rt, lt), lt
        if not (lt.is_array and rt.is_array):
            raise SqlError("42883", f"operator does not exist: {T.format_type(lt.oid)} && {T.format_type(rt.oid)}")
        return fn("pg_array_overlaps", left, right), ty.BOOL

    def _json_exists(self, node: exp.Expression, scope: Scope, mode: int) -> tuple[exp.Expression, Ty]:
        doc, _ = self._json_doc(node.this, scope)
        key = self.typed(node.expression, scope, ty.TEXT if mode == 0 else Ty(T.TEXT_ARRAY))
        return fn("pg_jsonb_exists", doc, key, lit_int(mode)), ty.BOOL

    def c_JSONBContainsTopKey(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._json_exists(node, scope, 0)

    def c_JSONBContainsAnyTopKeys(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._json_exists(node, scope, 1)

    def c_JSONBContainsAllTopKeys(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._json_exists(node, scope, 2)

    def c_AtTimeZone(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        value, vt = self.compile(node.this, scope)
        zone = self.typed(node.args["zone"], scope, ty.TEXT)
        return self.at_time_zone(value, vt, zone)

    def at_time_zone(self, value: exp.Expression, vt: Ty, zone: exp.Expression) -> tuple[exp.Expression, Ty]:
        """x AT TIME ZONE z / timezone(z, x): timestamp <-> timestamptz through the zone z."""
        if vt.oid in (T.UNKNOWN, T.DATE):  # unknown and date read as timestamptz, as in PostgreSQL
            value, vt = self.coerce(value, vt, ty.TIMESTAMPTZ), ty.TIMESTAMPTZ
        if vt.oid == T.TIMESTAMP:
            return fn("pg_at_time_zone", value, zone, lit_int(T.TIMESTAMP)), ty.TIMESTAMPTZ
        if vt.oid == T.TIMESTAMPTZ:
            return fn("pg_at_time_zone", value, zone, lit_int(T.TIMESTAMPTZ)), ty.TIMESTAMP
        raise SqlError("42883", f"function timezone(unknown, {T.format_type(vt.oid)}) does not exist")

    def c_Tuple(self, node: exp.Tuple, scope: Scope) -> tuple[exp.Expression, Ty]:
        items = [self.compile(e, scope)[0] for e in node.expressions]
        return exp.Tuple(expressions=items), Ty(T.RECORD)

    def c_Alias(self, node: exp.Alias, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self.compile(node.this, scope)

    def c_Dot(self, node: exp.Dot, scope: Scope) -> tuple[exp.Expression, Ty]:
        # schema-qualified function (public.f(...)) or composite field access
        inner = node.expression
        if isinstance(inner, exp.Anonymous):
            return self.compile(inner, scope)
        raise SqlError("0A000", "composite field access is not supported")

    def c_generic(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        raise SqlError("0A000", f"{type(node).__name__} expressions are not supported ({node.sql(dialect='postgres')[:60]})")


_ONE_ROW_AGGREGATES = {"count", "sum", "avg", "min", "max", "bool_and", "bool_or", "every", "string_agg",
                       "array_agg", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg"}


def _at_most_one_row(node: exp.Expression) -> bool:
    """A scalar subquery that cannot return two rows (no FROM, LIMIT 1, or a plain aggregate)."""
    if not isinstance(node, exp.Select):
        return False
    limit = node.args.get("limit")
    if isinstance(limit, exp.Limit) and _int_literal(limit.expression) in (0, 1):
        return True
    if node.args.get("from") is None and node.args.get("from_") is None and not node.args.get("joins"):
        return not node.args.get("where")
    if node.args.get("group") or len(node.expressions) != 1:
        return False
    item = node.expressions[0]
    item = item.this if isinstance(item, exp.Alias) else item
    if isinstance(item, exp.Window):
        return False
    if isinstance(item, exp.AggFunc):
        return True
    return isinstance(item, exp.Anonymous) and item.name.lower() in _ONE_ROW_AGGREGATES


def _int_literal(node: exp.Expression) -> int | None:
    """The value of an integer literal (possibly negative/parenthesised), else None."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(node.this)
        except ValueError:
            return None
    if isinstance(node, exp.Neg):
        inner = _int_literal(node.this)
        return None if inner is None else -inner
    return None


def _fold_int(op: str, left: exp.Expression, right: exp.Expression, oid: int) -> exp.Expression | None:
    """Constant-fold integer arithmetic on literals, raising PostgreSQL's errors like its planner."""
    a, b = _int_literal(left), _int_literal(right)
    if a is None or b is None:
        return None
    if op in ("/", "%") and b == 0:
        raise SqlError("22012", "division by zero")
    if op == "+":
        value = a + b
    elif op == "-":
        value = a - b
    elif op == "*":
        value = a * b
    elif op == "/":
        value = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
    elif op == "%":
        value = abs(a) % abs(b) * (1 if a >= 0 else -1)
    else:
        return None
    return lit_int(T.check_int_range(oid, value))


def _binary(op: str, left: exp.Expression, right: exp.Expression) -> exp.Expression:
    if op == "/":
        # sqlglot's Div means true division (it would add CAST AS REAL); we want SQLite's operator.
        from compute.sql.query import generate

        return raw(f"({generate(left)} / {generate(right)})")
    cls: Any = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul, "/": exp.Div, "%": exp.Mod}[op]
    return cls(this=left, expression=right)


def _is_plain_column(node: exp.Expression) -> bool:
    return isinstance(node, exp.Column)


def _has_offset(text: str) -> bool:
    body = text.strip()
    if body.lower() in ("infinity", "-infinity"):
        return True
    import re

    return bool(re.search(r"(Z|UTC|GMT|[+-]\d{1,2}(:?\d{2})?)\s*$", body[10:] if len(body) > 10 else "", re.I))


def _looks_like_interval(text: str) -> bool:
    try:
        T.interval_parts(text)
        return True
    except SqlError:
        return False


def _like_to_glob(pattern: str) -> str | None:
    """A LIKE pattern (default escape) as an equivalent case-sensitive GLOB, if one exists."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                return None
            nxt = pattern[i + 1]
            out.append(f"[{nxt}]" if nxt in "*?[" else nxt)
            i += 2
            continue
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        elif ch == "]":
            out.append("]")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


from compute.sql import more_functions as _more_functions  # noqa: E402,F401  (registers more FUNCTIONS)
