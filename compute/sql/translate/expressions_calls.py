"""The expression compiler's calls and accessors: function calls (through the function
table of compute/sql/functions/registry.py), aggregates with FILTER/WITHIN GROUP, window calls,
SQL-standard special forms (EXTRACT, SUBSTRING, TRIM, CURRENT_*), arrays, subscripts, json
operators, AT TIME ZONE.

A mixin of ExprCompiler (translate/expressions.py); ``self`` is the compiler."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.functions.casts import TYPED_ARG_OIDS, typed_call
from compute.sql.functions.registry import HANDLERS
from compute.sql.functions.srf import JSON_SRFS as JSON_SRFS
from compute.sql.functions.srf import SET_RETURNING as SET_RETURNING
from compute.sql.functions.srf import srf_array as srf_array
from compute.sql.functions.srf import stored_element as stored_element
from compute.sql.functions.user import user_call
from compute.sql.translate.expressions_core import (
    ExprCore,
)
from compute.sql.translate.scope import (
    Scope,
    fn,
    lit_int,
    quote,
    raw,
)
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


class CallsMixin(ExprCore):
    """Calls, arrays and json (see the module docstring)."""

    # -------------------------------------------------------------- functions
    def c_Anonymous(self, node: exp.Anonymous, scope: Scope) -> tuple[exp.Expression, Ty]:
        name = node.name.lower()
        if name == "array" and node.expressions and isinstance(node.expressions[0], (exp.Select, exp.Union)):
            sub_sql, cols = self.query.subquery(node.expressions[0], scope)
            elem = cols[0].ty if cols else ty.TEXT
            if elem.is_array and elem.element.oid not in (T.JSON, T.JSONB):  # one more dimension
                return fn("pg_array_accum", raw(f"(SELECT json_group_array(json(x.{quote(cols[0].name)})) "
                                                f"FROM ({sub_sql}) AS x)"), lit_int(0)), Ty(elem.oid)
            if elem.is_array:
                raise SqlError("0A000", "multidimensional arrays of json are not supported")
            item: exp.Expression = raw(f"x.{quote(cols[0].name)}")
            if elem.oid in (T.JSON, T.JSONB, T.BYTEA):  # stored as ARRAY[...] stores elements
                item = self.json_arg(item, elem)
            return raw(f"(SELECT json_group_array({self.sql(item)}) FROM ({sub_sql}) AS x)"), Ty(
                ty.array_of(elem.oid))
        handler = HANDLERS.get(name)
        if handler is None and self.state.catalog.routines.functions:  # CREATE FUNCTION (functions/user.py)
            called = user_call(cast("ExprCompiler", self), node, scope)
            if called is not None:
                return called
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
        if not TYPED_ARG_OIDS.isdisjoint(t.oid for t in types):
            typed = typed_call(cast("ExprCompiler", self), name, args, types)
            if typed is not None:
                return typed
        out, rt = handler(cast("ExprCompiler", self), args, types, node, scope)
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
        existing = self.state.catalog.existing_path()  # the session's search path (translate/schemas.py)
        return (exp.Literal.string(existing[0]) if existing else exp.Null()), ty.NAME

    def c_CurrentCatalog(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return fn("current_database"), ty.NAME

    def c_Array(self, node: exp.Array, scope: Scope) -> tuple[exp.Expression, Ty]:
        compiled = [self.compile(e, scope) for e in node.expressions]
        elem = ty.UNKNOWN
        for _, t in compiled:
            elem = ty.common_type(elem, t)
        if elem.oid == T.UNKNOWN:
            elem = ty.TEXT
        if elem.is_array:  # ARRAY[[1,2],[3,4]], ARRAY[a, b] of arrays: one more dimension
            inner = ty.UNKNOWN
            for _, t in compiled:
                inner = ty.common_type(inner, t.element if t.is_array else t)
            elem = Ty(ty.array_of(inner.oid if inner.oid != T.UNKNOWN else T.TEXT))
            return fn("pg_array_nest", *(self.coerce(o, t, elem) for o, t in compiled)), elem
        items = [self.json_arg(self.coerce(o, t, elem), elem) for o, t in compiled]
        return fn("json_array", *items), Ty(ty.array_of(elem.oid))

    def c_Bracket(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        arr, at = self.compile(node.this, scope)
        if len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Slice):
            if isinstance(node.this, exp.Bracket):
                raise SqlError("0A000", "slices of multidimensional arrays are not supported")
            bounds = node.expressions[0]
            args: list[exp.Expression] = [arr]
            for bound in (bounds.this, bounds.expression):
                args += [self.typed(bound, scope, ty.INT4), lit_int(1)] if bound is not None else [exp.Null(), lit_int(0)]
            return fn("pg_array_slice", *args), at if at.is_array else Ty(T.TEXT_ARRAY)
        if len(node.expressions) != 1:
            raise SqlError("0A000", "subscripts of multidimensional arrays are not supported")
        if isinstance(node.this, exp.Bracket):  # a[i][j]: one element of a multidimensional array
            return self.array_subscripts(node, scope)
        index_node = node.expressions[0]
        if at.oid == T.NAME:  # name is a char array: name[i] is its (i+1)-th byte (pg_dump: typname[0])
            index = self.typed(index_node, scope, ty.INT4)
            return fn("substr", arr, raw(f"({self.sql(index)}) + 1"), lit_int(1)), Ty(T.CHAR)
        elem = Ty(at.element.oid, at.typmod) if at.is_array else ty.TEXT  # c[1] of char(3)[] is a char(3)
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

    def array_subscripts(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        """a[i][j]...: the element at those subscripts (NULL outside the array)."""
        indexes: list[exp.Expression] = []
        while isinstance(node, exp.Bracket):
            if len(node.expressions) != 1 or isinstance(node.expressions[0], exp.Slice):
                raise SqlError("0A000", "slices of multidimensional arrays are not supported")
            indexes.insert(0, node.expressions[0])
            node = node.this
        arr, at = self.compile(node, scope)
        if not at.is_array:
            raise SqlError("42804", f"cannot subscript type {T.format_type(at.oid)} because it does not support subscripting")
        elem = Ty(at.element.oid, at.typmod)
        args = [self.typed(i, scope, ty.INT4) for i in indexes]
        return self.array_element(arr, fn("pg_array_path", *args), elem), elem

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
            schema = node.this.name
            if schema not in ("public", "pg_catalog") or (
                    schema == "public" and inner.name.lower() not in HANDLERS and self.state.catalog.routines.functions):
                called = user_call(cast("ExprCompiler", self), inner, scope, schema=schema)  # functions/user.py
                if called is None:
                    raise SqlError("42883", f"function {schema}.{inner.name.lower()}("
                                            f"{', '.join(self._arg_type_names(inner, scope))}) does not exist",
                                   hint="No function matches the given name and argument types. You might need "
                                        "to add explicit type casts.")
                return called
            return self.compile(inner, scope)
        raise SqlError("0A000", "composite field access is not supported")

    def c_StartsWith(self, node: exp.StartsWith, scope: Scope) -> tuple[exp.Expression, Ty]:
        """``text ^@ text``."""
        left = self.typed(node.this, scope, ty.TEXT)
        right = self.typed(node.expression, scope, ty.TEXT)
        return fn("pg_starts_with", left, right), ty.BOOL

    def c_Kwarg(self, node: exp.Kwarg, scope: Scope) -> tuple[exp.Expression, Ty]:
        """A named argument, as in make_interval(days => 3)."""
        value, t = self.compile(node.expression, scope)
        return exp.Kwarg(this=node.this.copy(), expression=value), t
