"""Set-returning functions (generate_series, unnest, json_*_elements, ...): their rows as a
JSON array read with json_each()."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.functions.common import scalar_registrar, type_names
from compute.sql.functions.numeric import num_out
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import (
    Handler,
    Scope,
    Srf,
    fn,
    ident,
    is_string_literal,
    lit_int,
    quote,
    raw,
)
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


# JSON set-returning functions: row type, and the column name PostgreSQL gives them in FROM
JSON_SRFS: dict[str, tuple[int, str]] = {
    "jsonb_array_elements": (T.JSONB, "value"), "jsonb_array_elements_text": (T.TEXT, "value"),
    "jsonb_object_keys": (T.TEXT, "jsonb_object_keys"),
    "json_array_elements": (T.JSON, "value"), "json_array_elements_text": (T.TEXT, "value"),
    "json_object_keys": (T.TEXT, "json_object_keys"),
}


SET_RETURNING = ("generate_series", "unnest", "generate_subscripts", "regexp_matches", "pg_listening_channels",
                 *JSON_SRFS)


def srf_array(c: ExprCompiler, name: str, args: list[exp.Expression],
              types: list[Ty]) -> tuple[exp.Expression, Ty]:
    """unnest / generate_series / generate_subscripts: (JSON array of the rows, row type).

    The rows are then read with SQLite's json_each(), in FROM or joined for a SELECT list."""
    if name == "unnest":
        if len(args) != 1:
            raise SqlError("42883", f"function unnest({', '.join(type_names(types))}) does not exist")
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
        if at.element.oid not in (T.JSON, T.JSONB):  # a multidimensional array unnests all its elements
            if isinstance(arr, (exp.Column, exp.Literal)):  # '[[' starts a nested array: O(1) to check
                nested = exp.EQ(this=fn("substr", arr, lit_int(1), lit_int(2)), expression=exp.Literal.string("[["))
                arr = exp.Case(ifs=[exp.If(this=nested, true=fn("pg_array_flat", arr))], default=arr)
            else:  # an expression is not computed twice: the function returns a 1-D array as it is
                arr = fn("pg_array_flat", arr)
        return arr, at.element
    if name == "pg_listening_channels":  # the session's LISTENs (functions/admin.py's UDF)
        if args:
            raise SqlError("42883", f"function pg_listening_channels({', '.join(type_names(types))}) does not exist")
        return fn("strata_listening_channels_json"), ty.TEXT
    if name == "regexp_matches":
        if len(args) not in (2, 3):
            raise SqlError("42883", f"function regexp_matches({', '.join(type_names(types))}) does not exist")
        texts = [c.coerce(a, t, ty.TEXT) for a, t in zip(args, types, strict=True)]
        return fn("pg_regexp_matches_json", *texts), Ty(T.TEXT_ARRAY)
    if name in JSON_SRFS:
        if len(args) != 1:
            raise SqlError("42883", f"function {name}({', '.join(type_names(types))}) does not exist")
        doc_type = Ty(T.JSONB) if name.startswith("jsonb") else Ty(T.JSON)
        if types[0].oid not in (T.JSON, T.JSONB, T.UNKNOWN):
            raise SqlError("42883", f"function {name}({', '.join(type_names(types))}) does not exist",
                           hint="No function matches the given name and argument types. You might need to add "
                                "explicit type casts.")
        doc = c.coerce(args[0], types[0], doc_type)
        return fn("pg_json_srf", doc, exp.Literal.string(name)), Ty(JSON_SRFS[name][0])
    if name == "generate_subscripts":
        if len(args) not in (2, 3) or not types[0].is_array and types[0].oid != T.UNKNOWN:
            raise SqlError("42883", f"function generate_subscripts({', '.join(type_names(types))}) does not exist")
        dim = c.coerce(args[1], types[1], ty.INT4)
        reverse = c.coerce(args[2], types[2], ty.BOOL) if len(args) == 3 else lit_int(0)
        lower = lit_int(0 if types[0].oid in T.VECTORS else 1)
        return fn("pg_subscripts_json", args[0], dim, lower, reverse), ty.INT4
    if len(args) not in (2, 3):
        raise SqlError("42883", f"function generate_series({', '.join(type_names(types))}) does not exist")
    datetimes = (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE)
    if any(t.oid in datetimes for t in types[:2]) or (len(types) == 3 and types[2].oid == T.INTERVAL):
        if len(args) != 3:
            raise SqlError("42883", f"function generate_series({', '.join(type_names(types))}) does not exist")
        kind = ty.TIMESTAMP if T.TIMESTAMP in (types[0].oid, types[1].oid) and not any(
            t.oid in (T.TIMESTAMPTZ, T.DATE) for t in types[:2]) else ty.TIMESTAMPTZ
        ends = [c.coerce(a, t, kind) for a, t in zip(args[:2], types[:2], strict=True)]
        step = c.coerce(args[2], types[2], ty.INTERVAL)
        return fn("pg_ts_series_json", *ends, step, lit_int(kind.oid)), kind
    if any(t.oid in (T.NUMERIC, *ty.FLOATS) for t in types):
        if any(t.oid in ty.FLOATS for t in types):
            raise SqlError("42883", f"function generate_series({', '.join(type_names(types))}) does not exist")
        nums = [c.coerce(a, t, ty.NUMERIC) for a, t in zip(args, types, strict=True)]
        return fn("pg_num_series_json", *nums), ty.NUMERIC
    if any(t.oid not in (*ty.INTS, T.UNKNOWN) for t in types):
        raise SqlError("42883", f"function generate_series({', '.join(type_names(types))}) does not exist")
    result = ty.INT8 if any(t.oid == T.INT8 for t in types) else ty.INT4
    return fn("pg_series_json", *(c.coerce(a, t, result) for a, t in zip(args, types, strict=True))), result


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


def _unnest_zip(*arrays: Any) -> str:
    """unnest(a, b, ...): the arrays zipped into one JSON array of rows, padded with NULL."""
    lists = [json.loads(a) if a is not None else [] for a in arrays]
    return json.dumps([list(row) for row in itertools.zip_longest(*lists)])


def _json_srf(doc: Any, name: str) -> str:
    """The rows of jsonb_array_elements[_text] / jsonb_object_keys (and json_*) as a JSON array
    of SQL values for json_each(): JSON texts, texts (JSON null -> NULL), or keys."""
    if doc is None:
        return "[]"
    value = json.loads(str(doc), parse_float=Decimal, parse_int=Decimal)
    if name.endswith("_object_keys"):
        if not isinstance(value, dict):
            kind = "an array" if isinstance(value, list) else "a scalar"
            raise SqlError("22023", f"cannot call {name} on {kind}")
        return json.dumps(list(value), ensure_ascii=False)
    if not isinstance(value, list):
        kind = "an object" if isinstance(value, dict) else "a scalar"
        raise SqlError("22023", f"cannot extract elements from {kind}")
    rows: list[str | None] = []
    for item in value:
        if name.endswith("_text") and (item is None or isinstance(item, str)):
            rows.append(item)
        else:
            rows.append(T._jsonb_dump(item))
    return json.dumps(rows, ensure_ascii=False)


MAX_SERIES = 10_000_000  # rows one generate_series() call may build in memory


HANDLERS: dict[str, Handler] = {
    **{n: _srf for n in SET_RETURNING},
}


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)
    det = {"deterministic": True}

    def series_json(start: Any, stop: Any, step: Any = 1) -> Any:
        if start is None or stop is None or step is None:
            return "[]"
        if step == 0:
            raise SqlError("22023", "step size cannot equal zero")
        end = stop + (1 if step > 0 else -1)
        return json.dumps(list(range(int(start), int(end), int(step))))

    scalar("pg_series_json", series_json, -1, True)

    def num_series_json(start: Any, stop: Any, step: Any = "1") -> Any:
        if start is None or stop is None or step is None:
            return "[]"
        a, b, d = T.to_decimal(start), T.to_decimal(stop), T.to_decimal(step)
        if d.is_zero():
            raise SqlError("22023", "step size cannot equal zero")
        if not (a.is_finite() and b.is_finite() and d.is_finite()):
            raise SqlError("22023", "start value cannot be NaN" if a.is_nan() else
                           "stop value cannot be NaN" if b.is_nan() else "step size cannot be NaN")
        rows: list[str] = []
        current = a
        while (current <= b) if d > 0 else (current >= b):
            rows.append(num_out(current))
            if len(rows) > MAX_SERIES:
                raise SqlError("54000", f"generate_series() would return more than {MAX_SERIES} rows")
            current += d
        return json.dumps(rows)

    scalar("pg_num_series_json", num_series_json, -1, True)

    def subscripts_json(arr: Any, dim: Any, lower: Any, reverse: Any) -> Any:
        """generate_subscripts(): the subscripts of dimension ``dim`` (none if it has no such one)."""
        if arr is None or dim is None:
            return None
        level: Any = json.loads(arr)
        for _ in range(int(dim) - 1):
            level = level[0] if isinstance(level, list) and level else None
        if int(dim) < 1 or not isinstance(level, list) or not level:
            return None
        subscripts = list(range(int(lower), int(lower) + len(level)))
        return json.dumps(subscripts[::-1] if reverse else subscripts)

    scalar("pg_subscripts_json", subscripts_json, 4, True)
    conn.create_scalar_function("pg_json_srf", _json_srf, 2, deterministic=True)
    conn.create_scalar_function("pg_unnest_zip", _unnest_zip, -1, **det)
